#!/usr/bin/python3
"""gen_qround_model: tests/gen/qround, QuantizeLinear f32 -> int8 at its edges (emu_quant,
tests/test_emulation.sh quant; the Cortex-M4F's vcvtr form in codegen/cg_quant.c).

    /usr/bin/python3 tools/gen_qround_model.py

x [1, 96]: NaN, +-inf, +-1e30, +-0, denormals, exact ties (x / scale = k + 0.5 with a scale of a
power of two), values either side of the +-256 bounds and of the saturation, random values.
Three QuantizeLinear outputs (int8, compared byte for byte with the interpreter): zero points
3, -128 (no NaN check on the M4: vcvtr's 0 + zp is the interpreter's -128) and 127.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os

import numpy as np

from kiln_model import ModelBuilder, save_npy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gen",
                   "qround")
rng = np.random.default_rng(19)


def main():
    special = [np.nan, -np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0, 1e-45, -1e-45, 1e-38,
               0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 63.75, -63.75, 64.25, -64.25, 127.75,
               128.0, 128.25, -128.25, -127.75, 3e9, -3e9, 2.5, -2.5, 0.5, -0.5]
    x = np.concatenate([np.array(special, np.float32),
                        rng.uniform(-80, 80, 64).astype(np.float32)]).reshape(1, 96)
    mb = ModelBuilder("qround", doc="QuantizeLinear edge values (tools/gen_qround_model.py)")
    mb.input("x", [1, 96])
    for k, scale, zp in ((1, 0.5, 3), (2, 0.37, -128), (3, 0.25, 127)):
        mb.initializer(f"s{k}", np.array(scale, np.float32))
        mb.initializer(f"z{k}", np.array(zp, np.int8))
        mb.node("QuantizeLinear", ["x", f"s{k}", f"z{k}"], [f"y{k}"], name=f"q{k}")
        mb.output(f"y{k}", [1, 96], "i8")
    mb.save(OUT)
    save_npy(os.path.join(OUT, "inputs", "x.npy"), x)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
