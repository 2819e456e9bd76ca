'use strict';
// Shared helpers for the Facegate peer (@vladmandic/face-api on the tfjs wasm backend in Node).
// Everything is loaded from local files: the wasm binaries from node_modules, the detector and
// landmark models from the face-api package's model/ folder, the recognition model from
// <repo>/models (the same files the C++ engine loads). Nothing is fetched over the network.

const fs = require('fs');
const path = require('path');

const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const jpeg = require('jpeg-js');
const { PNG } = require('pngjs');

const REPO = path.resolve(__dirname, '..', '..');
const PKG_DIR = path.dirname(require.resolve('@vladmandic/face-api/package.json'));
const WASM_DIR = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
const FACEAPI_MODEL_DIR = path.join(PKG_DIR, 'model');
const RECOGNITION_MODEL_DIR = process.env.FACEGATE_MODELS || path.join(REPO, 'models');

function versions() {
  const pkg = (name) => JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve(`${name}/package.json`)), 'package.json'), 'utf8')).version;
  return {
    face_api: pkg('@vladmandic/face-api'),
    tfjs: tf.version.tfjs,
    tfjs_backend_wasm: pkg('@tensorflow/tfjs-backend-wasm'),
    jpeg_js: pkg('jpeg-js'),
    pngjs: pkg('pngjs'),
    node: process.versions.node,
  };
}

// Select the wasm backend, with its .wasm files taken from node_modules (never a CDN).
async function initBackend({ threads } = {}) {
  if (!fs.existsSync(path.join(WASM_DIR, 'tfjs-backend-wasm.wasm'))) {
    throw new Error(`tfjs wasm binaries not found in ${WASM_DIR}: run bench/peer/install.sh`);
  }
  wasm.setWasmPaths(WASM_DIR);
  if (threads) wasm.setThreadsCount(threads);
  const ok = await tf.setBackend('wasm');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'wasm') throw new Error(`could not select the tfjs wasm backend (got ${tf.getBackend()})`);
  return {
    backend: tf.getBackend(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    threads: wasm.getThreadsCount(),
  };
}

function mustExist(file) {
  if (!fs.existsSync(file)) throw new Error(`model file missing: ${file}`);
}

// detector: 'ssd' (ssd_mobilenetv1, face-api's default) or 'tiny' (tiny_face_detector).
async function loadModels({ detector = 'ssd', recognition = true, landmarks = true } = {}) {
  if (detector === 'ssd') {
    mustExist(path.join(FACEAPI_MODEL_DIR, 'ssd_mobilenetv1_model-weights_manifest.json'));
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(FACEAPI_MODEL_DIR);
  } else if (detector === 'tiny') {
    mustExist(path.join(FACEAPI_MODEL_DIR, 'tiny_face_detector_model-weights_manifest.json'));
    await faceapi.nets.tinyFaceDetector.loadFromDisk(FACEAPI_MODEL_DIR);
  } else if (detector !== 'none') {
    throw new Error(`unknown detector ${detector} (ssd|tiny)`);
  }
  if (landmarks) {
    mustExist(path.join(FACEAPI_MODEL_DIR, 'face_landmark_68_model-weights_manifest.json'));
    await faceapi.nets.faceLandmark68Net.loadFromDisk(FACEAPI_MODEL_DIR);
  }
  if (recognition) {
    mustExist(path.join(RECOGNITION_MODEL_DIR, 'face_recognition_model-weights_manifest.json'));
    mustExist(path.join(RECOGNITION_MODEL_DIR, 'face_recognition_model.bin'));
    await faceapi.nets.faceRecognitionNet.loadFromDisk(RECOGNITION_MODEL_DIR);
  }
}

function detectorOptions(detector) {
  return detector === 'tiny'
    ? new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 })
    : new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
}

// Decode a JPEG or PNG buffer to packed RGB (Uint8Array, row-major, 3 bytes per pixel).
// No EXIF orientation handling (the demo photos and our captures carry none).
function decodeImage(buf) {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) {
    const png = PNG.sync.read(buf);
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = png.data[j]; rgb[i + 1] = png.data[j + 1]; rgb[i + 2] = png.data[j + 2];
    }
    return { width: png.width, height: png.height, data: rgb };
  }
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 120, maxMemoryUsageInMB: 1024 });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error('not a JPEG or PNG');
}

function toTensor(img) {
  // int32 like face-api's own node examples (tf.node.decodeImage gives int32 too).
  return tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
}

// Write packed RGB as an 8-bit RGB PNG (colour type 2, no alpha).
function encodePngRgb(img) {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 9 });
}

// dlib's get_face_chip_details(shape, size, padding) for 68 points: a similarity transform from
// the chip to the image fitted (least squares) on the mean face shape of points 17..67 without
// eyebrows (17-26) and lower lip (55-59, 65-67). Returns chip->image as complex multiplier z=(a,b)
// and translation (tx,ty): x = a*c - b*r + tx, y = b*c + a*r + ty.
const MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
  0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
  0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
  0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
  0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
  0.553364, 0.490127, 0.42689];
const MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
  0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
  0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
  0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
  0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
  0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
  0.784792, 0.824182, 0.831803, 0.824182];

function faceChipTransform(points68, size = 150, padding = 0.25) {
  const from = []; const to = [];
  for (let i = 17; i < 68; i++) {
    if ((i >= 55 && i <= 59) || (i >= 65 && i <= 67) || (i >= 17 && i <= 26)) continue;
    from.push([size * (padding + MEAN_X[i - 17]) / (2 * padding + 1), size * (padding + MEAN_Y[i - 17]) / (2 * padding + 1)]);
    to.push([points68[i].x, points68[i].y]);
  }
  const n = from.length;
  let fx = 0; let fy = 0; let tx = 0; let ty = 0;
  for (let i = 0; i < n; i++) { fx += from[i][0]; fy += from[i][1]; tx += to[i][0]; ty += to[i][1]; }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let num1 = 0; let num2 = 0; let den = 0;
  for (let i = 0; i < n; i++) {
    const ax = from[i][0] - fx; const ay = from[i][1] - fy;
    const bx = to[i][0] - tx; const by = to[i][1] - ty;
    num1 += ax * bx + ay * by; // Re(conj(a) * b)
    num2 += ax * by - ay * bx; // Im(conj(a) * b)
    den += ax * ax + ay * ay;
  }
  const a = num1 / den; const b = num2 / den;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

// Compose a chip-space pre-transform: shift (dx,dy) chip pixels, rotate by deg about the chip
// centre, mirror horizontally. Returns a new chip->image transform.
function adjustTransform(T, { dx = 0, dy = 0, deg = 0, size = 150 } = {}) {
  // p_img = T(R(p - c) + c + d)  with R rotation by deg.
  const c = (size - 1) / 2;
  const cr = Math.cos(deg * Math.PI / 180); const sr = Math.sin(deg * Math.PI / 180);
  // inner: q = R p + (c - R c + d)
  const ia = cr; const ib = sr;
  const itx = c - (cr * c - sr * c) + dx; const ity = c - (sr * c + cr * c) + dy;
  return {
    a: T.a * ia - T.b * ib,
    b: T.a * ib + T.b * ia,
    tx: T.a * itx - T.b * ity + T.tx,
    ty: T.b * itx + T.a * ity + T.ty,
  };
}

// Bilinear resampling of the chip (like dlib's extract_image_chip with interpolate_bilinear):
// pixels outside the image are black; values rounded to nearest and clamped to 0..255.
function extractChip(img, T, size = 150, { mirror = false } = {}) {
  const out = new Uint8Array(size * size * 3);
  const { width: W, height: H, data } = img;
  for (let r = 0; r < size; r++) {
    for (let c0 = 0; c0 < size; c0++) {
      const c = mirror ? size - 1 - c0 : c0;
      const x = T.a * c - T.b * r + T.tx;
      const y = T.b * c + T.a * r + T.ty;
      const o = (r * size + c0) * 3;
      const x0 = Math.floor(x); const y0 = Math.floor(y);
      if (x0 < 0 || y0 < 0 || x0 + 1 >= W || y0 + 1 >= H) continue; // black
      const fx = x - x0; const fy = y - y0;
      const i00 = (y0 * W + x0) * 3; const i01 = i00 + 3; const i10 = i00 + W * 3; const i11 = i10 + 3;
      for (let k = 0; k < 3; k++) {
        const v = (1 - fy) * ((1 - fx) * data[i00 + k] + fx * data[i01 + k]) + fy * ((1 - fx) * data[i10 + k] + fx * data[i11 + k]);
        out[o + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width: size, height: size, data: out };
}

// Descriptor of a 150x150 RGB chip exactly as given (no resize happens inside face-api for a
// 150x150 input: NetInput.toBatchTensor only resizes when the size differs).
async function chipDescriptor(chip) {
  if (chip.width !== 150 || chip.height !== 150) throw new Error(`chip must be 150x150, got ${chip.width}x${chip.height}`);
  const t = toTensor(chip);
  try {
    return Float32Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t));
  } finally {
    t.dispose();
  }
}

function l2(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}
function norm(a) { return l2(a, new Float32Array(a.length)); }

module.exports = {
  tf, wasm, faceapi, REPO, WASM_DIR, FACEAPI_MODEL_DIR, RECOGNITION_MODEL_DIR,
  versions, initBackend, loadModels, detectorOptions, decodeImage, toTensor, encodePngRgb,
  faceChipTransform, adjustTransform, extractChip, chipDescriptor, l2, norm,
};
