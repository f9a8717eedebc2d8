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
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qpool")
rng = np.random.default_rng(13)


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
    inits = [init("wa", (10, 9, 3, 3)), init("ba", (10,), 0.2), init("wb", (8, 9, 3, 3)),
             init("wc", (8, 9, 3, 3)), init("wd", (8, 9, 3, 3)), init("bd", (8,), 0.2),
             init("we", (12, 10, 3, 3)), init("be", (12,), 0.2), init("wdw", (10, 1, 3, 3), 0.8),
             init("wf", (7, 9, 3, 3)), init("bf", (7,), 0.2), init("w1", (1, 9, 1, 1)),
             init("wg", (8, 1, 3, 3), 0.8), init("wh", (6, 3, 3, 3)), init("ws", (8, 9, 3, 3))]
    nodes = [
        node("Conv", ["x", "wa", "ba"], ["a"], "conv_a", **k3),
        node("Relu", ["a"], ["ar"], "relu_a"),
        node("MaxPool", ["ar"], ["pa"], "pool_a", **p2),
        node("Conv", ["x", "wb"], ["b"], "conv_b", **k3),
        node("MaxPool", ["b"], ["pb"], "pool_b", pads=[0, 0, 1, 1], **p2),
        node("Conv", ["x", "wc"], ["c"], "conv_c", **k3),
        node("MaxPool", ["c"], ["pc"], "pool_c", ceil_mode=1, **p2),
        node("Conv", ["x", "wd", "bd"], ["yd"], "conv_d", **k3),
        node("MaxPool", ["yd"], ["pd"], "pool_d", **p2),
        node("Conv", ["pa", "we", "be"], ["e"], "conv_e", **k3),
        node("MaxPool", ["e"], ["pe"], "pool_e", **p2),
        node("Conv", ["pa", "wdw"], ["dw"], "conv_dw", group=10, **k3),
        node("Relu", ["dw"], ["dwr"], "relu_dw"),
        node("MaxPool", ["dwr"], ["pdw"], "pool_dw", **p2),
        node("Conv", ["x", "wf", "bf"], ["f"], "conv_f", kernel_shape=[3, 3], pads=[1, 2, 0, 1]),
        node("Relu", ["f"], ["fr"], "relu_f"),
        node("MaxPool", ["fr"], ["pf"], "pool_f", **p2),
        node("Conv", ["x", "w1"], ["x1"], "conv_1"),
        node("Conv", ["x1", "wg"], ["gg"], "conv_g", **k3),
        node("MaxPool", ["gg"], ["pg"], "pool_g", **p2),
        node("Conv", ["x", "wh"], ["hh"], "conv_h", group=3, **k3),
        node("MaxPool", ["hh"], ["ph"], "pool_h", **p2),
        node("Conv", ["x", "ws"], ["ss"], "conv_s", strides=[2, 2], **k3),
        node("MaxPool", ["ss"], ["ps"], "pool_s", **p2),
    ]
    outs = {"pa": [2, 10, 5, 3], "pb": [2, 8, 6, 4], "pc": [2, 8, 6, 4], "pd": [2, 8, 5, 3],
            "yd": [2, 8, 11, 7], "pe": [2, 12, 2, 1], "pdw": [2, 10, 2, 1], "pf": [2, 7, 5, 4],
            "pg": [2, 8, 5, 3], "ph": [2, 6, 5, 3], "ps": [2, 8, 3, 2]}
    m = {"format": "kiln-model", "version": 1, "opset": 17, "name": "qpool",
         "doc": "fused int8 MaxPool cases (tools/gen_qpool_model.py)",
         "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 9, 11, 7]}],
         "outputs": [{"name": k, "dtype": "f32", "shape": v} for k, v in outs.items()],
         "initializers": inits, "nodes": nodes}
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(m, f, separators=(", ", ": "))
        f.write("\n")
    np.save(os.path.join(OUT, "inputs", "x.npy"), rng.uniform(-1, 1, (2, 9, 11, 7)).astype(np.float32))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
