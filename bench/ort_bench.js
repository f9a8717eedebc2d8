#!/usr/bin/env node
// ort_bench.js: latency of one ONNX model under ONNX Runtime (npm onnxruntime-node, CPU, one
// thread), the peer that bench/bench_ort.sh compares Kiln with. ONNX Runtime is a benchmark peer
// only: nothing outside bench/ uses it.
//
//   NODE_PATH=build/bench-ort/node_modules node bench/ort_bench.js MODEL.onnx INPUT_DIR OUT_DIR \
//       --runs N [--overhead ADD.onnx] [--warmup W]
//
// Reads INPUT_DIR/<input name>.npy for every graph input, runs W warm-up calls, then N timed
// calls of `await session.run(feeds)` (process.hrtime around each call), and writes every
// output to OUT_DIR/<output name>.npy. With --overhead, a one-Add model is timed the same way,
// in blocks interleaved with the model's (same process, same conditions): its median is the
// binding's per-call overhead (JS tensor wrapping, setImmediate, output copies) that the bench
// subtracts. Prints one JSON line: {"model": {median, min, p90}, "overhead": {...}} in us.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function usage() {
  process.stderr.write('usage: ort_bench.js MODEL.onnx INPUT_DIR OUT_DIR --runs N ' +
                       '[--overhead ADD.onnx] [--warmup W]\n');
  process.exit(2);
}

// .npy (format 1.0 to 3.0, little-endian, C order) -> ort.Tensor
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array],
};
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${file}: unsupported .npy header ${header}`);
  }
  const t = NPY_TYPES[descr[1]];
  if (!t) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const off = hstart + hlen;
  const bytes = buf.subarray(off);
  const copy = new ArrayBuffer(bytes.length); // aligned copy for the typed array
  new Uint8Array(copy).set(bytes);
  const data = t[0] === 'bool' ? new Uint8Array(copy).map((v) => v !== 0) : new t[1](copy);
  return new ort.Tensor(t[0], t[0] === 'bool' ? Array.from(data) : data, dims);
}

// ort.Tensor -> .npy (format 1.0)
function writeNpy(file, tensor) {
  const descr = {float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1'}[tensor.type];
  if (!descr) throw new Error(`output type ${tensor.type} not supported`);
  const dims = tensor.dims.map(String);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'; // total multiple of 64
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const d = tensor.data;
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

function stats(us) {
  const s = Float64Array.from(us).sort();
  return {median: s[s.length >> 1], min: s[0], p90: s[Math.floor(s.length * 9 / 10)], n: s.length};
}

const OPTIONS = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
};

async function load(file, inputDir) {
  const session = await ort.InferenceSession.create(file, OPTIONS);
  const feeds = {};
  for (const name of session.inputNames) feeds[name] = readNpy(path.join(inputDir, name + '.npy'));
  return {session, feeds};
}

async function timeRuns(m, n, out) {
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await m.session.run(m.feeds);
    out.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
}

async function main() {
  const args = process.argv.slice(2);
  const pos = [];
  let runs = 0, warmup = -1, overheadFile = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs' && i + 1 < args.length) runs = parseInt(args[++i], 10);
    else if (args[i] === '--warmup' && i + 1 < args.length) warmup = parseInt(args[++i], 10);
    else if (args[i] === '--overhead' && i + 1 < args.length) overheadFile = args[++i];
    else if (args[i].startsWith('-')) usage();
    else pos.push(args[i]);
  }
  if (pos.length !== 3 || !(runs > 0)) usage();
  const [modelFile, inputDir, outDir] = pos;
  if (warmup < 0) warmup = Math.max(5, Math.min(100, runs >> 2));
  const model = await load(modelFile, inputDir);
  const add = overheadFile ? await load(overheadFile, path.join(path.dirname(overheadFile), 'inputs')) : null;
  // warm-up, then blocks of model runs and Add runs, alternating
  const result = await model.session.run(model.feeds);
  const mt = [], at = [];
  await timeRuns(model, warmup, []);
  if (add) await timeRuns(add, warmup, []);
  const blocks = Math.min(10, runs);
  for (let b = 0; b < blocks; b++) {
    const n = Math.floor(runs * (b + 1) / blocks) - Math.floor(runs * b / blocks);
    await timeRuns(model, n, mt);
    if (add) await timeRuns(add, n, at);
  }
  fs.mkdirSync(outDir, {recursive: true});
  for (const name of model.session.outputNames) writeNpy(path.join(outDir, name + '.npy'), result[name]);
  const report = {model: stats(mt), ort_version: ort.env.versions.node};
  if (add) report.overhead = stats(at);
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench.js: ${e.stack || e}\n`);
  process.exit(1);
});
