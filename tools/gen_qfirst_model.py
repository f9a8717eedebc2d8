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
import os

import numpy as np

from kiln_model import ModelBuilder, rounded, save_npy

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen")


def main():
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, (2, 3, 10, 10)).astype(np.float32)
    wa, ba = rng.uniform(-0.5, 0.5, (3, 3, 3, 3)), rng.uniform(-0.2, 0.2, 3)
    wc, bc = rng.uniform(-0.5, 0.5, (1, 3, 1, 1)), rng.uniform(-0.2, 0.2, 1)
    wd, bd = rng.uniform(-0.3, 0.3, (4, 1, 5, 5)), rng.uniform(-0.2, 0.2, 4)
    wg, bg = rng.uniform(-0.1, 0.1, (7, 270)), rng.uniform(-0.2, 0.2, 7)
    wf, bf = rng.uniform(-0.5, 0.5, (5, 3, 1, 1)), rng.uniform(-0.2, 0.2, 5)
    wh, bh = rng.uniform(-0.2, 0.2, (5, 5, 5, 5)), rng.uniform(-0.2, 0.2, 5)
    mb = ModelBuilder("qfirst", doc="int8 first-layer convolutions without im2col "
                      "(tools/gen_qfirst_model.py)")
    mb.input("x", [2, 3, 10, 10])
    for k, a in (("wa", wa), ("ba", ba), ("wc", wc), ("bc", bc), ("wd", wd), ("bd", bd),
                 ("wg", wg), ("bg", bg), ("wf", wf), ("bf", bf), ("wh", wh), ("bh", bh)):
        mb.initializer(k, rounded(a))
    mb.node("Conv", ["x", "wa", "ba"], ["ya"], dict(kernel_shape=[3, 3], pads=[1, 2, 0, 0]),
            name="conv_a")
    mb.node("Conv", ["x", "wc", "bc"], ["z"], dict(kernel_shape=[1, 1]), name="conv_c")
    mb.node("Conv", ["z", "wd", "bd"], ["yd"], dict(kernel_shape=[5, 5], pads=[2, 1, 0, 1]),
            name="conv_d")
    mb.node("Flatten", ["ya"], ["f"], dict(axis=1), name="flat")
    mb.node("Gemm", ["f", "wg", "bg"], ["yg"], dict(transB=1), name="fc")
    mb.node("Conv", ["x", "wf", "bf"], ["z5"], dict(kernel_shape=[1, 1]), name="conv_f")
    mb.node("Conv", ["z5", "wh", "bh"], ["yh"], dict(kernel_shape=[5, 5], pads=[1, 0, 2, 2]),
            name="conv_h")
    for k, shape in (("ya", [2, 3, 9, 10]), ("yd", [2, 4, 8, 8]), ("yg", [2, 7]),
                     ("yh", [2, 5, 9, 8])):
        mb.output(k, shape)
    out = os.path.join(ROOT, "qfirst")
    mb.save(out)
    save_npy(os.path.join(out, "inputs", "x.npy"), x)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
