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
codegen/cg_quant.c qavg_divide) on the lookups' and conv_u's bytes. Every output comes straight from an int8 op
(DequantizeLinear only): bit for bit. Random weights and input from numpy seed 17.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qlut")
rng = np.random.default_rng(17)


def init(name, shape, s=0.3):
    return {"name": name, "dtype": "f32", "shape": list(shape),
            "data": [round(float(v), 5) for v in (rng.uniform(-1, 1, shape) * s).ravel()]}


def node(op, ins, outs, name, **attrs):
    n = {"name": name, "op": op, "inputs": ins, "outputs": outs}
    if attrs:
        n["attrs"] = attrs
    return n


def main():
    k3 = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    p2 = {"kernel_shape": [2, 2], "strides": [2, 2]}
    inits = [init("wa", (8, 10, 3, 3)), init("ba", (8,), 0.2), init("wb", (7, 10, 3, 3)),
             init("bb", (7,), 0.2), init("w1", (1, 10, 1, 1)), init("wg", (6, 1, 5, 5), 0.6),
             init("wp", (8, 10, 3, 3)), init("wq", (9, 10, 3, 3)), init("wdw", (10, 1, 3, 3), 0.8),
             init("wt", (6, 10, 3, 3)), init("wu", (5, 6, 1, 1)), init("wr", (4, 10, 3, 3)),
             init("ws", (5, 10, 3, 3)), init("wv", (3, 5, 1, 1)),
             init("f1", (12, 8 * 4 * 3), 0.2), init("c1", (12,), 0.2), init("f2", (5, 12), 0.5),
             init("c2", (5,), 0.2)]
    nodes = [
        node("Conv", ["x", "wa", "ba"], ["a"], "conv_a", **k3),
        node("Tanh", ["a"], ["ta"], "tanh_a"),
        node("Conv", ["x", "wb", "bb"], ["b"], "conv_b", strides=[2, 2], **k3),
        node("Sigmoid", ["b"], ["sb"], "sig_b"),
        node("Conv", ["x", "w1"], ["x1"], "conv_1"),
        node("Conv", ["x1", "wg"], ["g"], "conv_g", kernel_shape=[5, 5], pads=[2, 1, 2, 3]),
        node("Tanh", ["g"], ["tg"], "tanh_g"),
        node("Conv", ["x", "wp"], ["p"], "conv_p", **k3),
        node("MaxPool", ["p"], ["pp"], "pool_p", **p2),
        node("Tanh", ["pp"], ["tp"], "tanh_p"),
        node("Conv", ["x", "wq"], ["q"], "conv_q", strides=[2, 2], **k3),
        node("Tanh", ["q"], ["tq"], "tanh_q"),
        node("MaxPool", ["tq"], ["pq"], "pool_q", **p2),
        node("Conv", ["x", "wdw"], ["dw"], "conv_dw", group=10, **k3),
        node("Sigmoid", ["dw"], ["sdw"], "sig_dw"),
        node("Conv", ["x", "wt"], ["t"], "conv_t", **k3),
        node("Tanh", ["t"], ["tt"], "tanh_t"),
        node("Conv", ["tt", "wu"], ["u"], "conv_u"),
        node("Conv", ["x", "wr"], ["r"], "conv_r", **k3),
        node("Tanh", ["r"], ["tr"], "tanh_r"),
        node("Conv", ["x", "ws"], ["s"], "conv_s", **k3),
        node("Tanh", ["s"], ["ts"], "tanh_s"),
        node("Conv", ["s", "wv"], ["v"], "conv_v"),
        node("Flatten", ["tp"], ["fl"], "flat"),
        node("Gemm", ["fl", "f1", "c1"], ["h1"], "fc1", transB=1),
        node("Tanh", ["h1"], ["th1"], "tanh_1"),
        node("Gemm", ["th1", "f2", "c2"], ["h2"], "fc2", transB=1),
        node("Sigmoid", ["h2"], ["sh2"], "sig_2"),
        node("AveragePool", ["ta"], ["av4"], "avg_4", **p2),
        node("AveragePool", ["u"], ["av8"], "avg_8", kernel_shape=[2, 4], strides=[1, 3]),
        node("AveragePool", ["tg"], ["av2"], "avg_2", kernel_shape=[1, 2]),
    ]
    outs = {"ta": [2, 8, 9, 7], "sb": [2, 7, 5, 4], "tg": [2, 6, 9, 7], "pq": [2, 9, 2, 2],
            "sdw": [2, 10, 9, 7], "tt": [2, 6, 9, 7], "u": [2, 5, 9, 7], "r": [2, 4, 9, 7],
            "tr": [2, 4, 9, 7], "ts": [2, 5, 9, 7], "v": [2, 3, 9, 7], "sh2": [2, 5],
            "av4": [2, 8, 4, 3], "av8": [2, 5, 8, 2], "av2": [2, 6, 9, 6]}
    m = {"format": "kiln-model", "version": 1, "opset": 17, "name": "qlut",
         "doc": "fused int8 lookup cases (tools/gen_qlut_model.py)",
         "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 10, 9, 7]}],
         "outputs": [{"name": k, "dtype": "f32", "shape": v} for k, v in outs.items()],
         "initializers": inits, "nodes": nodes}
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(m, f, separators=(", ", ": "))
        f.write("\n")
    np.save(os.path.join(OUT, "inputs", "x.npy"), rng.uniform(-1, 1, (2, 10, 9, 7)).astype(np.float32))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
