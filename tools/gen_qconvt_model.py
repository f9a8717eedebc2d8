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
import os

import numpy as np

from kiln_model import ModelBuilder, rounded, save_npy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qconvt")
rng = np.random.default_rng(12)


def w(*shape, s=0.5):
    return rounded(rng.uniform(-1, 1, shape) * s)


def main():
    mb = ModelBuilder("qconvt", doc="int8 sub-pixel QLinearConvTranspose for emu_quant "
                      "(tools/gen_qconvt_model.py, numpy seed 12)")
    mb.input("x", [1, 5, 4, 5])
    for name, shape, s in (("w1", (5, 7, 3, 3), 0.5), ("b1", (7,), 0.2), ("w2", (7, 6, 4, 4), 0.5),
                           ("w3", (6, 3, 2, 3), 0.5), ("b3", (3,), 0.2)):
        mb.initializer(name, w(*shape, s=s))
    mb.node("ConvTranspose", ["x", "w1", "b1"], ["c1"], dict(kernel_shape=[3, 3], strides=[2, 2],
            pads=[1, 0, 0, 1], output_padding=[1, 0]), name="up1")
    mb.node("Relu", ["c1"], ["r1"], name="relu1")
    mb.node("ConvTranspose", ["r1", "w2"], ["c2"], dict(kernel_shape=[4, 4], strides=[3, 3],
            pads=[1, 1, 1, 1], output_padding=[2, 1]), name="up2")
    mb.node("Relu", ["c2"], ["r2"], name="relu2")
    mb.node("ConvTranspose", ["r2", "w3", "b3"], ["y"], dict(kernel_shape=[2, 3], strides=[2, 3],
            pads=[0, 1, 0, 1]), name="up3")
    # 4x5 -> (4-1)*2-1+3+1 = 9 x (5-1)*2-1+3 = 10 -> (9-1)*3-2+4+2 = 28 x (10-1)*3-2+4+1 = 30
    # -> (28-1)*2+2 = 56 x (30-1)*3-2+3 = 88
    mb.output("y", [1, 3, 56, 88])
    mb.save(OUT)
    save_npy(os.path.join(OUT, "inputs", "x.npy"), rng.standard_normal((1, 5, 4, 5)))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
