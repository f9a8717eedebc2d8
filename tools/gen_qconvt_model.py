#!/usr/bin/python3
"""gen_qconvt_model: tests/gen/qconvt, the int8 sub-pixel ConvTranspose model of emu_quant.

    /usr/bin/python3 tools/gen_qconvt_model.py

Three ConvTranspose layers that `--conv=subpixel` puts on qconvtranspose-subpixel (tests/
test_emulation.sh quant asserts it in `kiln inspect`): 5 -> 7 channels, 3x3 stride 2 with
asymmetric pads and output_padding; 7 -> 6, 4x4 stride 3 with output_padding (2, 1); 6 -> 3, a
2x3 kernel with strides (2, 3) (one tap per row phase) and a bias. Relu between them (folded into
the requantization). Weights per output channel (the quantize pass). Random weights and input
from numpy seed 12; the golden is `kiln run --quantize=int8` on the host.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qconvt")
rng = np.random.default_rng(12)


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
    inits = [init("w1", (5, 7, 3, 3), w(5, 7, 3, 3)), init("b1", (7,), w(7, s=0.2)),
             init("w2", (7, 6, 4, 4), w(7, 6, 4, 4)),
             init("w3", (6, 3, 2, 3), w(6, 3, 2, 3)), init("b3", (3,), w(3, s=0.2))]
    nodes = [node("ConvTranspose", ["x", "w1", "b1"], ["c1"], "up1", kernel_shape=[3, 3],
                  strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0]),
             node("Relu", ["c1"], ["r1"], "relu1"),
             node("ConvTranspose", ["r1", "w2"], ["c2"], "up2", kernel_shape=[4, 4],
                  strides=[3, 3], pads=[1, 1, 1, 1], output_padding=[2, 1]),
             node("Relu", ["c2"], ["r2"], "relu2"),
             node("ConvTranspose", ["r2", "w3", "b3"], ["y"], "up3", kernel_shape=[2, 3],
                  strides=[2, 3], pads=[0, 1, 0, 1])]
    # 4x5 -> (4-1)*2-1+3+1 = 9 x (5-1)*2-1+3 = 10 -> (9-1)*3-2+4+2 = 28 x (10-1)*3-2+4+1 = 30
    # -> (28-1)*2+2 = 56 x (30-1)*3-2+3 = 88
    m = {"format": "kiln-model", "version": 1, "opset": 17, "name": "qconvt",
         "doc": "int8 sub-pixel QLinearConvTranspose for emu_quant (tools/gen_qconvt_model.py, "
                "numpy seed 12)",
         "inputs": [{"name": "x", "dtype": "f32", "shape": [1, 5, 4, 5]}],
         "outputs": [{"name": "y", "dtype": "f32", "shape": [1, 3, 56, 88]}],
         "initializers": inits, "nodes": nodes}
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(m, f)
    np.save(os.path.join(OUT, "inputs", "x.npy"), rng.standard_normal((1, 5, 4, 5)).astype(np.float32))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
