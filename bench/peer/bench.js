#!/usr/bin/env node
'use strict';
// Speed of the peer (@vladmandic/face-api, tfjs wasm backend) for the side-by-side in
// docs/BENCHMARKS.md. Prints one JSON object per line.
//
// Whole pipeline per image (file bytes already in memory; decode + detect + landmarks + descriptor):
//   node bench/peer/bench.js [--iterations N] [--warmup W] [--detector ssd|tiny] [--stages] IMAGE...
// Descriptor only, on a 150x150 chip (face-api's computeFaceDescriptor on a ready uint8 tensor):
//   node bench/peer/bench.js --chip [--iterations N] [--warmup W] CHIP.png...
//
// --stages adds a second loop that times the stages separately with face-api's building blocks
// (decode, detectAllFaces, extractFaceTensors + faceLandmark68Net, aligned extract +
// faceRecognitionNet), reported as stages_median_ms; the headline median/p90 always come from
// face-api's own chained call detectAllFaces().withFaceLandmarks().withFaceDescriptors().

const fs = require('fs');
const os = require('os');
const path = require('path');
const peer = require('./peer');

const { tf, faceapi } = peer;

function usage(msg) {
  if (msg) console.error(`bench: ${msg}`);
  console.error('usage: bench.js [--iterations N] [--warmup W] [--detector ssd|tiny] [--threads T] [--stages] IMAGE...\n'
    + '       bench.js --chip [--iterations N] [--warmup W] CHIP.png...');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { iterations: 20, warmup: 3, detector: 'ssd', chip: false, stages: false, threads: 0, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => { const v = Number(argv[++i]); if (!Number.isInteger(v) || v < 0) usage(`${a} needs a non-negative integer`); return v; };
    if (a === '--iterations' || a === '-n') o.iterations = num();
    else if (a === '--warmup' || a === '-w') o.warmup = num();
    else if (a === '--threads') o.threads = num();
    else if (a === '--detector') { o.detector = argv[++i]; if (!['ssd', 'tiny'].includes(o.detector)) usage('--detector is ssd or tiny'); }
    else if (a === '--chip') o.chip = true;
    else if (a === '--stages') o.stages = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.files.push(a);
  }
  if (!o.files.length) usage('no input files');
  if (o.iterations < 1) usage('--iterations must be >= 1');
  return o;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
// CPU time (user + system, all threads of this process) since c0, in ms: less sensitive to other
// load on the machine than wall time; the wasm backend itself runs on one thread here.
const cpuMs = (c0) => { const d = process.cpuUsage(c0); return (d.user + d.system) / 1000; };

function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const r = (x) => Number(x.toFixed(2));
  return { median_ms: r(median), p90_ms: r(q(0.9)), min_ms: r(s[0]), max_ms: r(s[s.length - 1]) };
}

async function pipelineOnce(buf, opts) {
  const img = peer.decodeImage(buf);
  const t = peer.toTensor(img);
  try {
    const res = await faceapi.detectAllFaces(t, opts).withFaceLandmarks().withFaceDescriptors();
    return { img, faces: res.length };
  } finally {
    t.dispose();
  }
}

async function stagesOnce(buf, opts) {
  const ms = {};
  let t0 = nowMs();
  const img = peer.decodeImage(buf);
  const t = peer.toTensor(img);
  ms.decode = nowMs() - t0;
  try {
    t0 = nowMs();
    const dets = await faceapi.detectAllFaces(t, opts);
    ms.detect = nowMs() - t0;

    t0 = nowMs();
    const crops = await faceapi.extractFaceTensors(t, dets);
    const lms = crops.length ? await faceapi.nets.faceLandmark68Net.detectLandmarks(crops) : [];
    crops.forEach((c) => c.dispose());
    const landmarks = (Array.isArray(lms) ? lms : [lms]).map((l, i) => l.shiftBy(dets[i].box.x, dets[i].box.y));
    ms.landmarks = nowMs() - t0;

    t0 = nowMs();
    const faces = await faceapi.extractFaceTensors(t, landmarks.map((l) => l.align()));
    for (const f of faces) { await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(f); f.dispose(); }
    ms.descriptor = nowMs() - t0;
  } finally {
    t.dispose();
  }
  return ms;
}

async function benchImage(file, o, info) {
  const buf = fs.readFileSync(file);
  const opts = peer.detectorOptions(o.detector);
  let faces = 0; let width = 0; let height = 0;
  for (let i = 0; i < o.warmup; i++) await pipelineOnce(buf, opts);
  const times = []; const cpu = [];
  for (let i = 0; i < o.iterations; i++) {
    const c0 = process.cpuUsage(); const t0 = nowMs();
    const r = await pipelineOnce(buf, opts);
    times.push(nowMs() - t0); cpu.push(cpuMs(c0));
    ({ faces } = r); ({ width, height } = r.img);
  }
  const out = {
    mode: 'pipeline', image: file, width, height, faces, ...stats(times), cpu_median_ms: stats(cpu).median_ms, iterations: o.iterations, warmup: o.warmup,
    backend: info.backend, threads: info.threads, simd: info.simd, detector: o.detector === 'ssd' ? 'ssd_mobilenetv1' : 'tiny_face_detector',
  };
  if (o.stages) {
    const per = { decode: [], detect: [], landmarks: [], descriptor: [] };
    for (let i = 0; i < Math.min(o.warmup, 1); i++) await stagesOnce(buf, opts);
    for (let i = 0; i < o.iterations; i++) {
      const ms = await stagesOnce(buf, opts);
      for (const k of Object.keys(per)) per[k].push(ms[k]);
    }
    out.stages_median_ms = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, stats(v).median_ms]));
  }
  return out;
}

async function benchChip(file, o, info) {
  const img = peer.decodeImage(fs.readFileSync(file));
  if (img.width !== 150 || img.height !== 150) throw new Error(`${file}: chip must be 150x150, is ${img.width}x${img.height}`);
  const t = peer.toTensor(img);
  try {
    for (let i = 0; i < o.warmup; i++) await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t);
    const times = []; const cpu = [];
    for (let i = 0; i < o.iterations; i++) {
      const c0 = process.cpuUsage(); const t0 = nowMs();
      await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t);
      times.push(nowMs() - t0); cpu.push(cpuMs(c0));
    }
    return {
      mode: 'descriptor', image: file, width: img.width, height: img.height, faces: 1, ...stats(times), cpu_median_ms: stats(cpu).median_ms,
      iterations: o.iterations, warmup: o.warmup, backend: info.backend, threads: info.threads, simd: info.simd,
    };
  } finally {
    t.dispose();
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const f of o.files) if (!fs.existsSync(f)) usage(`no such file: ${f}`);
  const info = await peer.initBackend({ threads: o.threads || undefined });
  await peer.loadModels(o.chip ? { detector: 'none', landmarks: false } : { detector: o.detector });
  for (const f of o.files) {
    const r = o.chip ? await benchChip(f, o, info) : await benchImage(f, o, info);
    r.image = path.relative(process.cwd(), path.resolve(f)) || f;
    r.loadavg_1m = Number(os.loadavg()[0].toFixed(2)); // machine load at the end of this image's run
    r.cpu = os.cpus()[0].model.trim();
    console.log(JSON.stringify(r));
  }
}

main().catch((e) => { console.error(`bench: ${e.stack || e}`); process.exit(1); });
