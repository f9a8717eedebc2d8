#!/usr/bin/env node
// ort_generate.js: greedy token generation under ONNX Runtime (npm onnxruntime-node, CPU, one
// thread) with the one-token decode step of tools/gpt_bench_models.py (step.onnx): the KV cache
// is an input and an output, copied back in every call -- the way an exported decode step runs
// there, the peer of `kiln build --generate` in bench/bench_generate.sh. Benchmark peer only.
//
//   NODE_PATH=build/bench-ort/node_modules node bench/ort_generate.js STEP.onnx PROMPT_IDS N
//
// PROMPT_IDS: comma-separated token ids. Feeds the prompt one token per call, then N greedy
// tokens (argmax, the first on ties). Prints one JSON line: {"ids": [...], "prompt_ms",
// "decode_ms", "tokens_per_s"} (tokens/s of the N generated tokens, as the Kiln generator).
'use strict';
const ort = require('onnxruntime-node');

const OPTIONS = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
};

async function main() {
  const [file, promptArg, nArg] = process.argv.slice(2);
  if (!file || !promptArg || !nArg) {
    process.stderr.write('usage: ort_generate.js STEP.onnx PROMPT_IDS N\n');
    process.exit(2);
  }
  const prompt = promptArg.split(',').map(Number);
  const n = Number(nArg);
  const session = await ort.InferenceSession.create(file, OPTIONS);
  // the cache shape [L, CTX, H, DH]: tools/gpt_bench_models.py writes it beside the model
  const shape = JSON.parse(require('fs').readFileSync(file.replace(/\.onnx$/, '.json'))).cache;
  const size = shape.reduce((a, b) => a * b, 1);
  let pastK = new ort.Tensor('float32', new Float32Array(size), shape);
  let pastV = new ort.Tensor('float32', new Float32Array(size), shape);
  const ids = [];
  let last = 0;
  const step = async (token, pos) => {
    const feeds = {
      tok: new ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1]),
      pos: new ort.Tensor('int64', BigInt64Array.from([BigInt(pos)]), [1]),
      past_k: pastK,
      past_v: pastV,
    };
    const out = await session.run(feeds);
    pastK = out.present_k; // the cache goes back in next call
    pastV = out.present_v;
    const logits = out.logits.data;
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  };
  for (let w = 0; w < 3; w++) await step(prompt[0], 0); // warm-up (the cache is reset below)
  pastK = new ort.Tensor('float32', new Float32Array(size), shape);
  pastV = new ort.Tensor('float32', new Float32Array(size), shape);
  const t0 = process.hrtime.bigint();
  let pos = 0;
  for (const t of prompt) last = await step(t, pos++);
  const t1 = process.hrtime.bigint();
  ids.push(last);
  while (ids.length < n) ids.push(await step(ids[ids.length - 1], pos++));
  const t2 = process.hrtime.bigint();
  const decodeMs = Number(t2 - t1) / 1e6;
  process.stdout.write(JSON.stringify({
    ids,
    prompt_ms: Number(t1 - t0) / 1e6,
    decode_ms: decodeMs,
    tokens_per_s: n / (decodeMs / 1e3),
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
