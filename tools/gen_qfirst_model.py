#!/usr/bin/python3
"""gen_qfirst_model: tests/gen/qfirst, the int8 first-layer convolutions that the Cortex-M4 runs
without im2col (codegen/cg_quant.c lower_qconv_pairs_wide), for emu_quant (tests/test_emulation.sh
quant), bit for bit against the interpreter.

    /usr/bin/python3 tools/gen_qfirst_model.py

x [2, 3, 10, 10] (batch 2) -> conv_a (3 -> 3 channels, 3x3, pads 1/2/0/0: channel pairs with
the odd last channel's half at weight 0, asymmetric pads, one partial block of output channels)
-> output ya; x -> conv_c (1x1, 3 -> 1) -> conv_d (1 -> 4 channels, 5x5, pads 2/1/0/1: tap pairs
of a kernel row with its odd last tap at weight 0, a partial block of 3 + 1 output channels)
-> output yd; x -> conv_f (1x1, 3 -> 5) -> conv_h (5 -> 5 channels, 5x5, pads 1/0/2/2: 75 steps,
more than are unrolled at once: a loop over the kernel rows, the odd last channel at weight 0)
-> output yh; ya flattened -> Gemm (K = 270, not a multiple of 4; N = 7, a partial strip of
4 columns: the M4's batch-1 QGemm tile on strip-major weights) -> output yg. The outputs come
straight from the int8 operators (DequantizeLinear only).
Weights and inputs from numpy seed 7.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen")


def init(name, a):
    return {"name": name, "dtype": "f32", "shape": list(a.shape),
            "data": [round(float(v), 5) for v in a.ravel()]}


def main():
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, (2, 3, 10, 10)).astype(np.float32)
    wa, ba = rng.uniform(-0.5, 0.5, (3, 3, 3, 3)), rng.uniform(-0.2, 0.2, 3)
    wc, bc = rng.uniform(-0.5, 0.5, (1, 3, 1, 1)), rng.uniform(-0.2, 0.2, 1)
    wd, bd = rng.uniform(-0.3, 0.3, (4, 1, 5, 5)), rng.uniform(-0.2, 0.2, 4)
    wg, bg = rng.uniform(-0.1, 0.1, (7, 270)), rng.uniform(-0.2, 0.2, 7)
    wf, bf = rng.uniform(-0.5, 0.5, (5, 3, 1, 1)), rng.uniform(-0.2, 0.2, 5)
    wh, bh = rng.uniform(-0.2, 0.2, (5, 5, 5, 5)), rng.uniform(-0.2, 0.2, 5)
    m = {
        "format": "kiln-model", "version": 1, "opset": 17, "name": "qfirst",
        "doc": "int8 first-layer convolutions without im2col (tools/gen_qfirst_model.py)",
        "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 3, 10, 10]}],
        "outputs": [{"name": "ya", "dtype": "f32", "shape": [2, 3, 9, 10]},
                    {"name": "yd", "dtype": "f32", "shape": [2, 4, 8, 8]},
                    {"name": "yg", "dtype": "f32", "shape": [2, 7]},
                    {"name": "yh", "dtype": "f32", "shape": [2, 5, 9, 8]}],
        "initializers": [init("wa", wa), init("ba", ba), init("wc", wc), init("bc", bc),
                         init("wd", wd), init("bd", bd), init("wg", wg), init("bg", bg),
                         init("wf", wf), init("bf", bf), init("wh", wh), init("bh", bh)],
        "nodes": [
            {"name": "conv_a", "op": "Conv", "inputs": ["x", "wa", "ba"], "outputs": ["ya"],
             "attrs": {"kernel_shape": [3, 3], "pads": [1, 2, 0, 0]}},
            {"name": "conv_c", "op": "Conv", "inputs": ["x", "wc", "bc"], "outputs": ["z"],
             "attrs": {"kernel_shape": [1, 1]}},
            {"name": "conv_d", "op": "Conv", "inputs": ["z", "wd", "bd"], "outputs": ["yd"],
             "attrs": {"kernel_shape": [5, 5], "pads": [2, 1, 0, 1]}},
            {"name": "flat", "op": "Flatten", "inputs": ["ya"], "outputs": ["f"],
             "attrs": {"axis": 1}},
            {"name": "fc", "op": "Gemm", "inputs": ["f", "wg", "bg"], "outputs": ["yg"],
             "attrs": {"transB": 1}},
            {"name": "conv_f", "op": "Conv", "inputs": ["x", "wf", "bf"], "outputs": ["z5"],
             "attrs": {"kernel_shape": [1, 1]}},
            {"name": "conv_h", "op": "Conv", "inputs": ["z5", "wh", "bh"], "outputs": ["yh"],
             "attrs": {"kernel_shape": [5, 5], "pads": [1, 0, 2, 2]}},
        ],
    }
    out = os.path.join(ROOT, "qfirst")
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, separators=(", ", ": "))
        f.write("\n")
    np.save(os.path.join(out, "inputs", "x.npy"), x)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
