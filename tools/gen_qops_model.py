#!/usr/bin/python3
"""gen_qops_model: tests/gen/qops, the int8 ops model of emu_quant (tests/test_emulation.sh quant).

    /usr/bin/python3 tools/gen_qops_model.py

Concat of inputs with different parameters (QConcat requantizes), AveragePool with and without the
padding counted and ceil_mode (QAveragePool), a grouped stride-2 ConvTranspose with output_padding
(QLinearConvTranspose) and an embedding Gather whose ids come from the input (int8 table). Random
weights and input from numpy seed 11; the golden is `kiln run --quantize=int8` on the host.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qops")
rng = np.random.default_rng(11)


def w(*shape, s=0.5):
    return [round(float(v), 5) for v in (rng.uniform(-1, 1, shape) * s).ravel()]


def init(name, shape, data):
    return {"name": name, "dtype": "f32", "shape": list(shape), "data": data}


def node(op, ins, outs, name, **attrs):
    n = {"name": name, "op": op, "inputs": ins, "outputs": outs}
    if attrs:
        n["attrs"] = attrs
    return n


def main():
    inits = [init("w1", (4, 3, 3, 3), w(4, 3, 3, 3)), init("w2", (3, 3, 1, 1), w(3, 3, 1, 1, s=1.5)),
             init("b2", (3,), w(3, s=0.5)), init("wt", (10, 2, 3, 3), w(10, 2, 3, 3)),
             init("bt", (4,), w(4, s=0.2)), init("table", (6, 2), w(6, 2, s=2.0)),
             init("lo", (), [0.0]), init("hi", (), [5.0])]
    nodes = [node("Conv", ["x", "w1"], ["c1"], "conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], ["r1"], "relu1"),
             node("Conv", ["x", "w2", "b2"], ["c2"], "conv2", kernel_shape=[1, 1]),
             node("Concat", ["r1", "c2", "x"], ["cat"], "concat", axis=1),
             node("AveragePool", ["cat"], ["ap"], "pool_incl", kernel_shape=[3, 3], strides=[2, 2],
                  pads=[1, 1, 1, 1], count_include_pad=1),
             node("AveragePool", ["ap"], ["ap2"], "pool_excl", kernel_shape=[2, 2],
                  pads=[1, 0, 0, 1], ceil_mode=1),
             node("ConvTranspose", ["ap2", "wt", "bt"], ["ct"], "up", kernel_shape=[3, 3],
                  strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1], group=2),
             node("Relu", ["ct"], ["y"], "relu2"),
             node("Mul", ["x", "x"], ["x2"], "square"),
             node("Clip", ["x2", "lo", "hi"], ["xc"], "clip"),
             node("Cast", ["xc"], ["ids"], "ids", to=7),
             node("Gather", ["table", "ids"], ["e"], "embed", axis=0)]
    m = {"format": "kiln-model", "version": 1, "opset": 17, "name": "qops",
         "doc": "int8 QConcat, QAveragePool, QLinearConvTranspose and Gather for emu_quant "
                "(tools/gen_qops_model.py, numpy seed 11)",
         "inputs": [{"name": "x", "dtype": "f32", "shape": [1, 3, 8, 8]}],
         "outputs": [{"name": "y", "dtype": "f32", "shape": [1, 4, 8, 8]},
                     {"name": "e", "dtype": "f32", "shape": [1, 3, 8, 8, 2]}], "initializers": inits, "nodes": nodes}
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(m, f)
    np.save(os.path.join(OUT, "inputs", "x.npy"), rng.standard_normal((1, 3, 8, 8)).astype(np.float32))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
