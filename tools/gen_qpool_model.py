#!/usr/bin/python3
"""gen_qpool_model: tests/gen/qpool, the fused int8 MaxPool cases of emu_quant (tests/test_emulation.sh
quant; passes/pass_qpool.c).

    /usr/bin/python3 tools/gen_qpool_model.py

x [2, 9, 11, 7] (batch 2, odd sizes: a floor-mode pool drops the last row and column). Fused on
the Cortex-M4 (compiled with --conv=winograd): in the Winograd conv_a (Relu folded) -> MaxPool
2x2/2 and conv_e (no Relu, 10 -> 12 channels on a 5x3 plane) -> MaxPool; in the im2col pairs
tile conv_f (7 output channels: a partial block of 3; asymmetric pads, 10x8 output) -> MaxPool
and conv_g (1 input channel: pairs in Conv order), conv_h (3 groups of 3 channels) and conv_s
(stride 2, a 6x4 output) -> MaxPool; on scalar targets (M4, M0+) the
depthwise conv_dw (the loop nest) -> MaxPool. Refused: a pool with pads (conv_b), ceil_mode (conv_c), a conv
output that is also a model output (conv_d). Every output comes straight from an int8 op
(DequantizeLinear only): bit for bit. Random weights and input from numpy seed 13.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os

import numpy as np

from kiln_model import ModelBuilder, rounded, save_npy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qpool")
rng = np.random.default_rng(13)


def main():
    mb = ModelBuilder("qpool", doc="fused int8 MaxPool cases (tools/gen_qpool_model.py)")
    mb.input("x", [2, 9, 11, 7])
    for name, shape, s in (("wa", (10, 9, 3, 3), 0.3), ("ba", (10,), 0.2), ("wb", (8, 9, 3, 3), 0.3),
                           ("wc", (8, 9, 3, 3), 0.3), ("wd", (8, 9, 3, 3), 0.3), ("bd", (8,), 0.2),
                           ("we", (12, 10, 3, 3), 0.3), ("be", (12,), 0.2),
                           ("wdw", (10, 1, 3, 3), 0.8), ("wf", (7, 9, 3, 3), 0.3), ("bf", (7,), 0.2),
                           ("w1", (1, 9, 1, 1), 0.3), ("wg", (8, 1, 3, 3), 0.8),
                           ("wh", (6, 3, 3, 3), 0.3), ("ws", (8, 9, 3, 3), 0.3)):
        mb.initializer(name, rounded(rng.uniform(-1, 1, shape) * s))
    k3 = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    p2 = {"kernel_shape": [2, 2], "strides": [2, 2]}
    for op, ins, out, name, attrs in (
            ("Conv", ["x", "wa", "ba"], "a", "conv_a", k3),
            ("Relu", ["a"], "ar", "relu_a", {}),
            ("MaxPool", ["ar"], "pa", "pool_a", p2),
            ("Conv", ["x", "wb"], "b", "conv_b", k3),
            ("MaxPool", ["b"], "pb", "pool_b", dict(pads=[0, 0, 1, 1], **p2)),
            ("Conv", ["x", "wc"], "c", "conv_c", k3),
            ("MaxPool", ["c"], "pc", "pool_c", dict(ceil_mode=1, **p2)),
            ("Conv", ["x", "wd", "bd"], "yd", "conv_d", k3),
            ("MaxPool", ["yd"], "pd", "pool_d", p2),
            ("Conv", ["pa", "we", "be"], "e", "conv_e", k3),
            ("MaxPool", ["e"], "pe", "pool_e", p2),
            ("Conv", ["pa", "wdw"], "dw", "conv_dw", dict(group=10, **k3)),
            ("Relu", ["dw"], "dwr", "relu_dw", {}),
            ("MaxPool", ["dwr"], "pdw", "pool_dw", p2),
            ("Conv", ["x", "wf", "bf"], "f", "conv_f", dict(kernel_shape=[3, 3], pads=[1, 2, 0, 1])),
            ("Relu", ["f"], "fr", "relu_f", {}),
            ("MaxPool", ["fr"], "pf", "pool_f", p2),
            ("Conv", ["x", "w1"], "x1", "conv_1", {}),
            ("Conv", ["x1", "wg"], "gg", "conv_g", k3),
            ("MaxPool", ["gg"], "pg", "pool_g", p2),
            ("Conv", ["x", "wh"], "hh", "conv_h", dict(group=3, **k3)),
            ("MaxPool", ["hh"], "ph", "pool_h", p2),
            ("Conv", ["x", "ws"], "ss", "conv_s", dict(strides=[2, 2], **k3)),
            ("MaxPool", ["ss"], "ps", "pool_s", p2)):
        mb.node(op, ins, [out], attrs, name=name)
    outs = {"pa": [2, 10, 5, 3], "pb": [2, 8, 6, 4], "pc": [2, 8, 6, 4], "pd": [2, 8, 5, 3],
            "yd": [2, 8, 11, 7], "pe": [2, 12, 2, 1], "pdw": [2, 10, 2, 1], "pf": [2, 7, 5, 4],
            "pg": [2, 8, 5, 3], "ph": [2, 6, 5, 3], "ps": [2, 8, 3, 2]}
    for k, v in outs.items():
        mb.output(k, v)
    mb.save(OUT)
    save_npy(os.path.join(OUT, "inputs", "x.npy"), rng.uniform(-1, 1, (2, 9, 11, 7)))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
