#!/usr/bin/python3
"""gen_qlut_model: tests/gen/qlut, the fused int8 lookup cases of emu_quant (tests/test_emulation.sh
quant; passes/pass_qpool.c, IrNode.lookup).

    /usr/bin/python3 tools/gen_qlut_model.py

x [2, 10, 9, 7] (batch 2, odd sizes). On scalar targets (Cortex-M4, M0+; compiled with
--conv=winograd) each Tanh / Sigmoid (an int8 QLookup) that alone reads a conv or Gemm joins it:
the Winograd conv_a -> Tanh; the im2col pairs tile conv_b (stride 2, 7 output channels: a partial
block) -> Sigmoid; conv_g (1 input channel: the first-layer pairs form) -> Tanh; the Winograd
conv_p -> MaxPool 2x2/2 (fused too) -> Tanh; conv_q -> Tanh -> MaxPool (the lookup fused, the pool
stays a node: it reads the lookup); the depthwise conv_dw (the loop nest) -> Sigmoid; conv_t ->
Tanh whose output is a model output and read by conv_u too; the QGemms fc1 -> Tanh and
fc2 -> Sigmoid. Refused: conv_r -> Tanh where conv_r's output is also a model output, conv_s ->
Tanh where conv_s's output is read by conv_v too. QAveragePools of 2x2/2, 2x4 and 1x2 windows
inside the input (counts 4, 8 and 2: the scalar targets' shift form of the rounding division,
codegen/cg_quant.c qavg_divide) on the lookups' and conv_u's bytes. Every output comes straight
from an int8 op (DequantizeLinear only): bit for bit. Random weights and input from numpy seed 17.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os

import numpy as np

from kiln_model import ModelBuilder, save_npy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qlut")
rng = np.random.default_rng(17)


def init(mb, name, shape, s=0.3):
    mb.initializer(name, np.round(rng.uniform(-1, 1, shape) * s, 5).astype(np.float32))


def main():
    k3 = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    p2 = {"kernel_shape": [2, 2], "strides": [2, 2]}
    mb = ModelBuilder("qlut", doc="fused int8 lookup cases (tools/gen_qlut_model.py)")
    mb.input("x", [2, 10, 9, 7])
    init(mb, "wa", (8, 10, 3, 3))
    init(mb, "ba", (8,), 0.2)
    init(mb, "wb", (7, 10, 3, 3))
    init(mb, "bb", (7,), 0.2)
    init(mb, "w1", (1, 10, 1, 1))
    init(mb, "wg", (6, 1, 5, 5), 0.6)
    init(mb, "wp", (8, 10, 3, 3))
    init(mb, "wq", (9, 10, 3, 3))
    init(mb, "wdw", (10, 1, 3, 3), 0.8)
    init(mb, "wt", (6, 10, 3, 3))
    init(mb, "wu", (5, 6, 1, 1))
    init(mb, "wr", (4, 10, 3, 3))
    init(mb, "ws", (5, 10, 3, 3))
    init(mb, "wv", (3, 5, 1, 1))
    init(mb, "f1", (12, 8 * 4 * 3), 0.2)
    init(mb, "c1", (12,), 0.2)
    init(mb, "f2", (5, 12), 0.5)
    init(mb, "c2", (5,), 0.2)
    mb.node("Conv", ["x", "wa", "ba"], ["a"], k3, name="conv_a")
    mb.node("Tanh", ["a"], ["ta"], name="tanh_a")
    mb.node("Conv", ["x", "wb", "bb"], ["b"], dict(strides=[2, 2], **k3), name="conv_b")
    mb.node("Sigmoid", ["b"], ["sb"], name="sig_b")
    mb.node("Conv", ["x", "w1"], ["x1"], name="conv_1")
    mb.node("Conv", ["x1", "wg"], ["g"], dict(kernel_shape=[5, 5], pads=[2, 1, 2, 3]),
            name="conv_g")
    mb.node("Tanh", ["g"], ["tg"], name="tanh_g")
    mb.node("Conv", ["x", "wp"], ["p"], k3, name="conv_p")
    mb.node("MaxPool", ["p"], ["pp"], p2, name="pool_p")
    mb.node("Tanh", ["pp"], ["tp"], name="tanh_p")
    mb.node("Conv", ["x", "wq"], ["q"], dict(strides=[2, 2], **k3), name="conv_q")
    mb.node("Tanh", ["q"], ["tq"], name="tanh_q")
    mb.node("MaxPool", ["tq"], ["pq"], p2, name="pool_q")
    mb.node("Conv", ["x", "wdw"], ["dw"], dict(group=10, **k3), name="conv_dw")
    mb.node("Sigmoid", ["dw"], ["sdw"], name="sig_dw")
    mb.node("Conv", ["x", "wt"], ["t"], k3, name="conv_t")
    mb.node("Tanh", ["t"], ["tt"], name="tanh_t")
    mb.node("Conv", ["tt", "wu"], ["u"], name="conv_u")
    mb.node("Conv", ["x", "wr"], ["r"], k3, name="conv_r")
    mb.node("Tanh", ["r"], ["tr"], name="tanh_r")
    mb.node("Conv", ["x", "ws"], ["s"], k3, name="conv_s")
    mb.node("Tanh", ["s"], ["ts"], name="tanh_s")
    mb.node("Conv", ["s", "wv"], ["v"], name="conv_v")
    mb.node("Flatten", ["tp"], ["fl"], name="flat")
    mb.node("Gemm", ["fl", "f1", "c1"], ["h1"], dict(transB=1), name="fc1")
    mb.node("Tanh", ["h1"], ["th1"], name="tanh_1")
    mb.node("Gemm", ["th1", "f2", "c2"], ["h2"], dict(transB=1), name="fc2")
    mb.node("Sigmoid", ["h2"], ["sh2"], name="sig_2")
    mb.node("AveragePool", ["ta"], ["av4"], p2, name="avg_4")
    mb.node("AveragePool", ["u"], ["av8"], dict(kernel_shape=[2, 4], strides=[1, 3]),
            name="avg_8")
    mb.node("AveragePool", ["tg"], ["av2"], dict(kernel_shape=[1, 2]), name="avg_2")
    outs = {"ta": [2, 8, 9, 7], "sb": [2, 7, 5, 4], "tg": [2, 6, 9, 7], "pq": [2, 9, 2, 2],
            "sdw": [2, 10, 9, 7], "tt": [2, 6, 9, 7], "u": [2, 5, 9, 7], "r": [2, 4, 9, 7],
            "tr": [2, 4, 9, 7], "ts": [2, 5, 9, 7], "v": [2, 3, 9, 7], "sh2": [2, 5],
            "av4": [2, 8, 4, 3], "av8": [2, 5, 8, 2], "av2": [2, 6, 9, 6]}
    for k, v in outs.items():
        mb.output(k, v)
    mb.save(OUT)
    save_npy(os.path.join(OUT, "inputs", "x.npy"), rng.uniform(-1, 1, (2, 10, 9, 7)))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
