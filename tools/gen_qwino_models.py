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
import os

import numpy as np

from kiln_model import ModelBuilder, rounded, save_npy

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen")


def conv_a_weights(rng):
    w = rng.uniform(-0.3, 0.3, (13, 11, 3, 3))
    w[0] = 0.3
    w[1] = 0.3 * np.where(np.indices((11, 3, 3)).sum(axis=0) % 2 == 0, 1.0, -1.0)
    w[2] = 0.3
    w[2][:, [0, 0, 2, 2], [0, 2, 0, 2]] = -0.3
    return w


def model(name, sign, rng):
    x = rng.uniform(0, 1.0, (2, 11, 9, 7))
    x[rng.uniform(size=x.shape) < 0.3] = 1.0  # at the top of the range: x - x_zp = 255
    x = (sign * x).astype(np.float32)
    wa, ba = conv_a_weights(rng), rng.uniform(-0.2, 0.2, 13)
    wb, bb = rng.uniform(-0.3, 0.3, (8, 13, 3, 3)), rng.uniform(-0.2, 0.2, 8)
    mb = ModelBuilder(name, doc=f"int8 Winograd edge cases (tools/gen_qwino_models.py), input sign "
                      f"{sign:+d}")
    mb.input("x", [2, 11, 9, 7])
    for k, a in (("wa", wa), ("ba", ba), ("wb", wb), ("bb", bb)):
        mb.initializer(k, rounded(a))
    mb.node("Conv", ["x", "wa", "ba"], ["ya"], dict(kernel_shape=[3, 3], pads=[2, 0, 0, 1]),
            name="conv_a")
    mb.node("Conv", ["ya", "wb", "bb"], ["yb"], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            name="conv_b")
    mb.output("ya", [2, 13, 9, 6])
    mb.output("yb", [2, 8, 9, 6])
    out = os.path.join(ROOT, name)
    mb.save(out)
    save_npy(os.path.join(out, "inputs", "x.npy"), x)


def main():
    rng = np.random.default_rng(5)
    model("qwino_pos", 1, rng)
    model("qwino_neg", -1, rng)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
