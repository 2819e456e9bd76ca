#!/usr/bin/env node
'use strict';
// Produces tests/face/data/reference/: aligned 150x150 face chips (RGB PNG) from the demo photos
// and the 128-d descriptor face-api computes for exactly those chip pixels.
//
//   node bench/peer/make_reference.js [--out DIR] [--demo DIR]
//
// Pipeline per photo: jpeg-js decode -> ssd_mobilenetv1 (minConfidence 0.5) -> face_landmark_68
// -> dlib-style alignment (get_face_chip_details(shape, 150, 0.25) re-implemented in peer.js,
// bilinear, rounded to uint8) -> chip PNG; descriptor = faceRecognitionNet.computeFaceDescriptor
// on the uint8 chip tensor (150x150, so face-api does not resize it). Each PNG is read back and
// its descriptor recomputed from the decoded file: must be bit-identical.

const fs = require('fs');
const path = require('path');
const peer = require('./peer');

const { tf, faceapi } = peer;

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

const OUT = path.resolve(arg('--out', path.join(peer.REPO, 'tests', 'face', 'data', 'reference')));
const DEMO = path.resolve(arg('--demo', path.join(peer.REPO, 'models', 'demo')));
const PHOTOS = [1, 2, 3, 4, 5, 6].map((i) => `sample${i}.jpg`);
const PER_PHOTO = 2; // the two highest-scoring faces of each photo -> 12 distinct people
const SIZE = 150;
const PADDING = 0.25;
// Benchmark capture: a 640x480 window (no scaling) of one photo centred on one reference face,
// JPEG quality 90 via jpeg-js. Must contain exactly one face for face-api (checked).
const CAPTURE = { file: 'capture_640x480.jpg', of: 4, width: 640, height: 480, quality: 90 };

// Extra crops of an already chosen face: same person, different pixels.
const VARIANTS = [
  { of: 0, variant: 'shift_x8', adjust: { dx: 8 } },
  { of: 3, variant: 'mirror', mirror: true },
  { of: 6, variant: 'rotate_5deg', adjust: { deg: 5 } },
];

const round9 = (x) => Number(x.toPrecision(9)); // float32 round-trips with 9 significant digits

function stringify(v, ind) {
  const scalar = (x) => x === null || typeof x !== 'object';
  if (scalar(v)) return JSON.stringify(v);
  const flat = Array.isArray(v) ? v.every((x) => scalar(x) || (Array.isArray(x) && x.every(scalar))) : Object.values(v).every(scalar) && Object.keys(v).length <= 6;
  if (flat) {
    return Array.isArray(v)
      ? `[${v.map((x) => (scalar(x) ? JSON.stringify(x) : `[${x.map((y) => JSON.stringify(y)).join(', ')}]`)).join(', ')}]`
      : `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${JSON.stringify(x)}`).join(', ')}}`;
  }
  const ind2 = `${ind}  `;
  return Array.isArray(v)
    ? `[\n${v.map((x) => ind2 + stringify(x, ind2)).join(',\n')}\n${ind}]`
    : `{\n${Object.entries(v).map(([k, x]) => `${ind2}${JSON.stringify(k)}: ${stringify(x, ind2)}`).join(',\n')}\n${ind}}`;
}

async function makeCapture(face, img) {
  const { width: W, height: H } = CAPTURE;
  const [bx, by, bw, bh] = face.box;
  const x0 = Math.max(0, Math.min(img.width - W, Math.round(bx + bw / 2 - W / 2)));
  const y0 = Math.max(0, Math.min(img.height - H, Math.round(by + bh / 2 - H / 2)));
  const rgba = Buffer.alloc(W * H * 4);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const s = ((y0 + r) * img.width + x0 + c) * 3; const d = (r * W + c) * 4;
      rgba[d] = img.data[s]; rgba[d + 1] = img.data[s + 1]; rgba[d + 2] = img.data[s + 2]; rgba[d + 3] = 255;
    }
  }
  const jpg = require('jpeg-js').encode({ data: rgba, width: W, height: H }, CAPTURE.quality).data;
  fs.writeFileSync(path.join(OUT, CAPTURE.file), jpg);
  // Check it as the benchmark will see it: decoded from the file, face-api's whole pipeline.
  const dec = peer.decodeImage(fs.readFileSync(path.join(OUT, CAPTURE.file)));
  const t = peer.toTensor(dec);
  const res = await faceapi.detectAllFaces(t, peer.detectorOptions('ssd')).withFaceLandmarks();
  t.dispose();
  if (res.length !== 1) throw new Error(`${CAPTURE.file}: expected exactly one face, face-api finds ${res.length}`);
  const T = peer.faceChipTransform(res[0].landmarks.positions, SIZE, PADDING);
  const d = await peer.chipDescriptor(peer.extractChip(dec, T, SIZE));
  const b = res[0].detection.box;
  return {
    file: CAPTURE.file,
    source: face.source,
    crop: [x0, y0, W, H],
    jpeg_quality: CAPTURE.quality,
    bytes: jpg.length,
    person: face.person,
    same_face_as: `chip_${CAPTURE.of}.png`,
    box: [b.x, b.y, b.width, b.height].map((x) => Math.round(x)),
    score: Number(res[0].detection.score.toFixed(4)),
    distance_to_same_face_chip: Number(peer.l2(d, face.descriptor).toFixed(4)),
    note: 'distance between the aligned-chip descriptor computed on this JPEG (re-detected, re-encoded) and the chip of the same face',
  };
}

async function main() {
  const backendInfo = await peer.initBackend();
  await peer.loadModels({ detector: 'ssd' });
  const v = peer.versions();
  fs.mkdirSync(OUT, { recursive: true });

  const chips = []; // { file, source, box, score, transform, variant, of, person, img, descriptor }
  const transforms = [];
  const images = {};
  for (const photo of PHOTOS) {
    const img = peer.decodeImage(fs.readFileSync(path.join(DEMO, photo)));
    images[photo] = img;
    const t = peer.toTensor(img);
    const dets = await faceapi.detectAllFaces(t, peer.detectorOptions('ssd')).withFaceLandmarks();
    t.dispose();
    dets.sort((p, q) => q.detection.score - p.detection.score);
    const chosen = dets.slice(0, PER_PHOTO).sort((p, q) => p.detection.box.x - q.detection.box.x);
    console.error(`${photo}: ${img.width}x${img.height}, ${dets.length} faces, using ${chosen.length}`);
    chosen.forEach((d, k) => {
      const T = peer.faceChipTransform(d.landmarks.positions, SIZE, PADDING);
      const b = d.detection.box;
      chips.push({
        source: photo,
        person: `${photo.replace('.jpg', '')}_${String.fromCharCode(97 + k)}`,
        box: [b.x, b.y, b.width, b.height].map((x) => Math.round(x)),
        score: Number(d.detection.score.toFixed(4)),
        variant: 'aligned',
        T,
      });
      transforms.push(T);
    });
  }
  for (const vdef of VARIANTS) {
    const base = chips[vdef.of];
    chips.push({
      ...base,
      variant: vdef.variant,
      of: vdef.of,
      T: peer.adjustTransform(base.T, { ...(vdef.adjust || {}), size: SIZE }),
      mirror: !!vdef.mirror,
    });
  }

  // Extract, save, describe, verify.
  for (let i = 0; i < chips.length; i++) {
    const c = chips[i];
    c.file = `chip_${i}.png`;
    const chip = peer.extractChip(images[c.source], c.T, SIZE, { mirror: c.mirror });
    c.descriptor = await peer.chipDescriptor(chip);
    const png = peer.encodePngRgb(chip);
    fs.writeFileSync(path.join(OUT, c.file), png);
    const back = peer.decodeImage(fs.readFileSync(path.join(OUT, c.file)));
    if (back.width !== SIZE || back.height !== SIZE || Buffer.compare(Buffer.from(back.data), Buffer.from(chip.data)) !== 0) {
      throw new Error(`${c.file}: PNG read-back differs from the chip fed to the network`);
    }
    const d2 = await peer.chipDescriptor(back);
    if (peer.l2(d2, c.descriptor) !== 0) throw new Error(`${c.file}: descriptor from the PNG differs (${peer.l2(d2, c.descriptor)})`);
    c.bytes = png.length;
  }

  // The 640x480 one-face capture for the benchmarks.
  const capture = await makeCapture(chips[CAPTURE.of], images[chips[CAPTURE.of].source]);

  // Independent check of the wasm numbers: the same chips on tfjs' pure-JS cpu backend.
  let cpuMax = 0;
  await tf.setBackend('cpu');
  for (const c of chips) {
    const d = await peer.chipDescriptor(peer.decodeImage(fs.readFileSync(path.join(OUT, c.file))));
    cpuMax = Math.max(cpuMax, peer.l2(d, c.descriptor));
  }
  await tf.setBackend('wasm');

  const pairs = { same: [], diffCertain: [], crossClose: [], crossAll: [] };
  for (let i = 0; i < chips.length; i++) {
    for (let j = i + 1; j < chips.length; j++) {
      const d = peer.l2(chips[i].descriptor, chips[j].descriptor);
      const ab = [chips[i].file, chips[j].file];
      if (chips[i].person === chips[j].person) pairs.same.push(ab);
      else if (chips[i].source === chips[j].source) pairs.diffCertain.push(ab);
      else { pairs.crossAll.push(d); if (d < 0.6) pairs.crossClose.push(ab); }
    }
  }

  const ref = {
    generator: 'bench/peer/make_reference.js',
    face_api_version: v.face_api,
    tfjs_version: v.tfjs,
    tfjs_backend_wasm_version: v.tfjs_backend_wasm,
    node_version: v.node,
    backend: 'wasm',
    wasm_simd: backendInfo.simd,
    wasm_threads: backendInfo.threads,
    preprocessing: 'face-api: (rgb - mean) / 255, mean = [122.782, 117.001, 104.298]; dlib divides by 256 (same means)',
    recognition_model: 'models/face_recognition_model-weights_manifest.json + .bin (@vladmandic/face-api@1.7.15 model/)',
    detection: 'face-api ssd_mobilenetv1 (minConfidence 0.5) + face_landmark_68, jpeg-js decode; two highest-scoring faces per photo',
    chip: 'dlib get_face_chip_details(shape68, 150, 0.25) similarity transform, fitted on face-api\'s 68 landmarks; bilinear, rounded to uint8; outside the image = black. '
      + 'transform maps chip (c,r) to image (x,y): x = a*c - b*r + tx, y = b*c + a*r + ty (before mirroring: a mirrored chip takes column 149-c)',
    descriptor: 'faceRecognitionNet.computeFaceDescriptor on the 150x150 uint8 RGB chip exactly as stored in the PNG (no resize)',
    cpu_backend_max_l2: Number(cpuMax.toExponential(3)),
    capture,
    box_format: 'box = face-api detection [x, y, width, height] in pixels of the source photo (models/demo/<source>)',
    persons: 'person = <photo>_<a|b>: a/b left to right among the two highest-scoring faces of that photo. Same label = same face (certain). '
      + 'Different labels in the same photo = different people (certain). Across photos identity is NOT verified: the demo photos look like one '
      + 'photo shoot and some people may appear in more than one; treat cross-photo pairs as presumed different (see pairs.cross_photo_below_0_6).',
    pairs: {
      same_person: pairs.same,
      different_person_same_photo: pairs.diffCertain,
      cross_photo_below_0_6: pairs.crossClose,
    },
    chips: chips.map((c) => ({
      file: c.file,
      source: c.source,
      person: c.person,
      variant: c.variant,
      ...(c.of !== undefined ? { same_face_as: `chip_${c.of}.png` } : {}),
      box: c.box,
      score: c.score,
      transform: { a: round9(c.T.a), b: round9(c.T.b), tx: round9(c.T.tx), ty: round9(c.T.ty), mirror: !!c.mirror },
      norm: Number(peer.norm(c.descriptor).toFixed(6)),
      descriptor: Array.from(c.descriptor, round9),
    })),
  };
  // Pretty JSON, but arrays of numbers/strings (and small objects of scalars) stay on one line.
  const body = stringify(ref, '');
  fs.writeFileSync(path.join(OUT, 'reference.json'), `${body}\n`);

  // Summary: norms and same/different distances.
  const byFile = Object.fromEntries(chips.map((c) => [c.file, c]));
  const dist = ([a, b]) => peer.l2(byFile[a].descriptor, byFile[b].descriptor);
  const r4 = (x) => Number(x.toFixed(4));
  const range = (ds) => (ds.length ? [r4(Math.min(...ds)), r4(Math.max(...ds))] : []);
  const norms = chips.map((c) => peer.norm(c.descriptor));
  const summary = {
    out: path.relative(peer.REPO, OUT),
    versions: v,
    backend: backendInfo,
    chips: chips.length,
    png_bytes: { min: Math.min(...chips.map((c) => c.bytes)), max: Math.max(...chips.map((c) => c.bytes)) },
    norm: { min: r4(Math.min(...norms)), max: r4(Math.max(...norms)) },
    cpu_backend_max_l2: cpuMax,
    capture,
    same_person: pairs.same.map((ab) => ({ a: ab[0], b: ab[1], variant: byFile[ab[1]].variant, d: r4(dist(ab)) })),
    different_person_same_photo: { pairs: pairs.diffCertain.length, min_max: range(pairs.diffCertain.map(dist)) },
    cross_photo_presumed_different: { pairs: pairs.crossAll.length, min_max: range(pairs.crossAll),
      below_0_6: pairs.crossClose.map((ab) => ({ a: ab[0], b: ab[1], d: r4(dist(ab)) })) },
  };
  console.log(JSON.stringify(summary, null, 2));
}

main().catch((e) => { console.error(`make_reference: ${e.stack || e}`); process.exit(1); });
