#!/usr/bin/python3
"""gen_qwino_models: tests/gen/qwino_pos and tests/gen/qwino_neg, the int8 Winograd edge cases
of emu_quant (tests/test_emulation.sh quant, compiled with --conv=winograd for the Cortex-M4).

    /usr/bin/python3 tools/gen_qwino_models.py

Each model: x [2, 11, 9, 7] (batch 2, odd channels, odd sizes) -> conv_a (11 -> 13 channels: a
partial block of output channels, asymmetric pads 2/0/0/1: an odd output height, partial tiles)
-> output ya; conv_a -> conv_b (13 -> 8, pads 1) -> output yb. Both outputs come straight from
the int8 convolutions (DequantizeLinear only), so the M4 must equal the interpreter bit for bit.
The bounds of the transform are hit: qwino_pos's input is >= 0 with many values at its maximum
(activation zero point -128: x - x_zp reaches 255), qwino_neg's <= 0 (zero point 127); in
conv_a, output channel 0 has every weight at +max (quantized 127: |U| = 9 * 127 at point
(1, 1)), channel 1 alternates +max/-max, channel 2 puts -max in the corners and +max elsewhere.
Weights and inputs from numpy seed 5.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen")


def conv_a_weights(rng):
    w = rng.uniform(-0.3, 0.3, (13, 11, 3, 3))
    w[0] = 0.3
    w[1] = 0.3 * np.where(np.indices((11, 3, 3)).sum(axis=0) % 2 == 0, 1.0, -1.0)
    w[2] = 0.3
    w[2][:, [0, 0, 2, 2], [0, 2, 0, 2]] = -0.3
    return w


def init(name, a):
    return {"name": name, "dtype": "f32", "shape": list(a.shape),
            "data": [round(float(v), 5) for v in a.ravel()]}


def model(name, sign, rng):
    x = rng.uniform(0, 1.0, (2, 11, 9, 7))
    x[rng.uniform(size=x.shape) < 0.3] = 1.0  # at the top of the range: x - x_zp = 255
    x = (sign * x).astype(np.float32)
    wa, ba = conv_a_weights(rng), rng.uniform(-0.2, 0.2, 13)
    wb, bb = rng.uniform(-0.3, 0.3, (8, 13, 3, 3)), rng.uniform(-0.2, 0.2, 8)
    m = {
        "format": "kiln-model", "version": 1, "opset": 17, "name": name,
        "doc": f"int8 Winograd edge cases (tools/gen_qwino_models.py), input sign {sign:+d}",
        "inputs": [{"name": "x", "dtype": "f32", "shape": [2, 11, 9, 7]}],
        "outputs": [{"name": "ya", "dtype": "f32", "shape": [2, 13, 9, 6]},
                    {"name": "yb", "dtype": "f32", "shape": [2, 8, 9, 6]}],
        "initializers": [init("wa", wa), init("ba", ba), init("wb", wb), init("bb", bb)],
        "nodes": [
            {"name": "conv_a", "op": "Conv", "inputs": ["x", "wa", "ba"], "outputs": ["ya"],
             "attrs": {"kernel_shape": [3, 3], "pads": [2, 0, 0, 1]}},
            {"name": "conv_b", "op": "Conv", "inputs": ["ya", "wb", "bb"], "outputs": ["yb"],
             "attrs": {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}},
        ],
    }
    out = os.path.join(ROOT, name)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, separators=(", ", ": "))
        f.write("\n")
    np.save(os.path.join(out, "inputs", "x.npy"), x)


def main():
    rng = np.random.default_rng(5)
    model("qwino_pos", 1, rng)
    model("qwino_neg", -1, rng)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
