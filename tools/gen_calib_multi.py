#!/usr/bin/python3
"""gen_calib_multi: calibration samples for models with several / integer inputs (tests/calib/,
ctest cli_misc: `--calibrate` of bert_qa and its error cases; docs/quantization.md).

    /usr/bin/python3 tools/gen_calib_multi.py

bert_qa/: 4 samples of examples/bert_qa's three i64 inputs in the three accepted forms: a folder
input_ids/ of one-sample files stored as i32 (converted to the input's i64), attention_mask.npy
with the 4 samples one after another, a folder token_type_ids/. Each sample: random token ids in
[1, 96), a question segment (type 0) of 5-9 tokens, 0-4 padding positions (mask 0).
bad_count/ (2 samples of input_ids, 1 of the others), missing/ (no token_type_ids),
f32_ids/ (input_ids as f32): the errors of --calibrate. gather_i32_ok.npy / gather_i32_big.npy:
i64 samples for tests/ops/gather_embedding_i32's i32 input (narrowed: 2 samples; one value outside i32).
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import shutil

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "calib")
rng = np.random.default_rng(1017)
S = 24


def sample():
    ids = rng.integers(1, 96, (1, S)).astype(np.int64)
    q = int(rng.integers(5, 10))
    pad = int(rng.integers(0, 5))
    tt = np.zeros((1, S), np.int64)
    tt[0, q:] = 1
    mask = np.ones((1, S), np.int64)
    if pad:
        mask[0, S - pad:] = 0
        ids[0, S - pad:] = 0
    return ids, mask, tt


def folder(*parts):
    d = os.path.join(OUT, *parts)
    os.makedirs(d, exist_ok=True)
    return d


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    samples = [sample() for _ in range(4)]
    d = folder("bert_qa")
    for k, (ids, _, tt) in enumerate(samples):
        np.save(os.path.join(folder("bert_qa", "input_ids"), "s%d.npy" % k), ids.astype(np.int32))
        np.save(os.path.join(folder("bert_qa", "token_type_ids"), "s%d.npy" % k), tt)
    np.save(os.path.join(d, "attention_mask.npy"), np.concatenate([s[1] for s in samples]))
    ids, mask, tt = samples[0]
    d = folder("bad_count")
    np.save(os.path.join(d, "input_ids.npy"), np.concatenate([ids, ids]))
    np.save(os.path.join(d, "attention_mask.npy"), mask)
    np.save(os.path.join(d, "token_type_ids.npy"), tt)
    d = folder("missing")
    np.save(os.path.join(d, "input_ids.npy"), ids)
    np.save(os.path.join(d, "attention_mask.npy"), mask)
    d = folder("f32_ids")
    np.save(os.path.join(d, "input_ids.npy"), ids.astype(np.float32))
    np.save(os.path.join(d, "attention_mask.npy"), mask)
    np.save(os.path.join(d, "token_type_ids.npy"), tt)
    # tests/ops/gather_embedding_i32 (i32 indices [2, 3] into 20 rows): two samples stored as i64
    # (narrowed), and one with a value outside i32 (an error naming the element)
    ids = rng.integers(0, 20, (4, 3)).astype(np.int64)
    np.save(os.path.join(OUT, "gather_i32_ok.npy"), ids)
    ids[3, 1] = 1 << 40
    np.save(os.path.join(OUT, "gather_i32_big.npy"), ids)
    print("calibration samples in", OUT)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
