#!/usr/bin/python3
"""gen_qops_model: tests/gen/qops, the int8 ops model of emu_quant (tests/test_emulation.sh quant).

    /usr/bin/python3 tools/gen_qops_model.py

Concat of inputs with different parameters (QConcat requantizes), AveragePool with and without the
padding counted and ceil_mode (QAveragePool), a grouped stride-2 ConvTranspose with output_padding
(QLinearConvTranspose) and an embedding Gather whose ids come from the input (int8 table). Random
weights and input from numpy seed 11; the golden is `kiln run --quantize=int8` on the host.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os

import numpy as np

from kiln_model import ModelBuilder, rounded, save_npy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qops")
rng = np.random.default_rng(11)


def w(*shape, s=0.5):
    return rounded(rng.uniform(-1, 1, shape) * s)


def main():
    mb = ModelBuilder("qops", doc="int8 QConcat, QAveragePool, QLinearConvTranspose and Gather for "
                      "emu_quant (tools/gen_qops_model.py, numpy seed 11)")
    mb.input("x", [1, 3, 8, 8])
    for name, shape, s in (("w1", (4, 3, 3, 3), 0.5), ("w2", (3, 3, 1, 1), 1.5), ("b2", (3,), 0.5),
                           ("wt", (10, 2, 3, 3), 0.5), ("bt", (4,), 0.2), ("table", (6, 2), 2.0)):
        mb.initializer(name, w(*shape, s=s))
    mb.initializer("lo", np.float32(0.0))
    mb.initializer("hi", np.float32(5.0))
    mb.node("Conv", ["x", "w1"], ["c1"], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]), name="conv1")
    mb.node("Relu", ["c1"], ["r1"], name="relu1")
    mb.node("Conv", ["x", "w2", "b2"], ["c2"], dict(kernel_shape=[1, 1]), name="conv2")
    mb.node("Concat", ["r1", "c2", "x"], ["cat"], dict(axis=1), name="concat")
    mb.node("AveragePool", ["cat"], ["ap"], dict(kernel_shape=[3, 3], strides=[2, 2],
            pads=[1, 1, 1, 1], count_include_pad=1), name="pool_incl")
    mb.node("AveragePool", ["ap"], ["ap2"], dict(kernel_shape=[2, 2], pads=[1, 0, 0, 1],
            ceil_mode=1), name="pool_excl")
    mb.node("ConvTranspose", ["ap2", "wt", "bt"], ["ct"], dict(kernel_shape=[3, 3], strides=[2, 2],
            pads=[1, 1, 1, 1], output_padding=[1, 1], group=2), name="up")
    mb.node("Relu", ["ct"], ["y"], name="relu2")
    mb.node("Mul", ["x", "x"], ["x2"], name="square")
    mb.node("Clip", ["x2", "lo", "hi"], ["xc"], name="clip")
    mb.node("Cast", ["xc"], ["ids"], dict(to=7), name="ids")
    mb.node("Gather", ["table", "ids"], ["e"], dict(axis=0), name="embed")
    mb.output("y", [1, 4, 8, 8])
    mb.output("e", [1, 3, 8, 8, 2])
    mb.save(OUT)
    save_npy(os.path.join(OUT, "inputs", "x.npy"), rng.standard_normal((1, 3, 8, 8)))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
