#!/usr/bin/python3
"""gen_sparse_tests: small Gemm/MatMul/Conv cases whose constant weights hold exact zeros at
densities 0%, 1%, 50%, 99% and 100%, on edge shapes (1 row, 1 reduction, column counts around
the vector widths, strides, groups, depthwise, dilation), for the sparse kernels (issue 11).

Writes tests/sparse/<case>/{model.json, inputs/, golden/} and tests/sparse/MANIFEST; goldens
from a float64 numpy reference. tests/CMakeLists.txt runs them through test_models with every
sparse kernel forced (--sparse block|csr|unrolled) against the interpreter and the golden.

Run with Debian's Python:  /usr/bin/python3 tools/gen_sparse_tests.py
"""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_model import ModelBuilder, save_npy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "sparse")


def sparse(rng, shape, density):
    w = rng.uniform(-1, 1, shape)
    keep = rng.uniform(0, 1, shape) < density
    if density >= 1.0:
        keep[...] = True
    w = np.where(keep, w, 0.0)
    return w.astype(np.float32)


def conv2d(x, w, b, stride, pad, dil, group):
    n, c, h, wd = x.shape
    m, cpg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, m, oh, ow))
    mpg = m // group
    for o in range(m):
        g = o // mpg
        for ic in range(cpg):
            for y0 in range(kh):
                for x0 in range(kw):
                    patch = xp[:, g * cpg + ic, y0 * dil:y0 * dil + stride * (oh - 1) + 1:stride,
                               x0 * dil:x0 * dil + stride * (ow - 1) + 1:stride]
                    y[:, o] += w[o, ic, y0, x0] * patch
        y[:, o] += b[o]
    return y


def gemm_case(name, M, K, N, density, trans_b, relu, seed):
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, (M, K)).astype(np.float32)
    w = sparse(rng, (N, K) if trans_b else (K, N), density)
    b = rng.uniform(-1, 1, (N,)).astype(np.float32)
    g.input("x", [M, K])
    g.output("y", [M, N])
    ins = ["x", g.initializer("w", w), g.initializer("b", b)]
    y = (x.astype(np.float64) @ (w.T if trans_b else w).astype(np.float64)) + b
    if relu:
        g.node("Gemm", ins, ["g"], {"transB": int(trans_b)})
        g.node("Relu", ["g"], ["y"])
        y = np.maximum(y, 0)
    else:
        g.node("Gemm", ins, ["y"], {"transB": int(trans_b)})
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": y.astype(np.float32)})
    return int((w != 0).sum())


def matmul_case(name, lead, K, N, density, seed):
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, lead + [K]).astype(np.float32)
    w = sparse(rng, (K, N), density)
    g.input("x", lead + [K])
    g.output("y", lead + [N])
    g.node("MatMul", ["x", g.initializer("w", w)], ["y"])
    y = x.astype(np.float64) @ w.astype(np.float64)
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": y.astype(np.float32)})
    return int((w != 0).sum())


def conv_case(name, n, c, h, w_, m, k, stride, pad, dil, group, density, seed):
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, (n, c, h, w_)).astype(np.float32)
    w = sparse(rng, (m, c // group, k, k), density)
    b = rng.uniform(-1, 1, (m,)).astype(np.float32)
    y = conv2d(x.astype(np.float64), w.astype(np.float64), b, stride, pad, dil, group)
    g.input("x", list(x.shape))
    g.output("y", list(y.shape))
    g.node("Conv", ["x", g.initializer("w", w), g.initializer("b", b)], ["c"],
           {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [pad] * 4,
            "dilations": [dil, dil], "group": group})
    g.node("Relu", ["c"], ["y"])
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": np.maximum(y, 0).astype(np.float32)})


def dead_channels(rng, w, b, dead):
    """Zero output channels `dead` of weight w (channels on axis 0) and bias b."""
    w[dead] = 0.0
    b[dead] = 0.0
    return w, b


def prune_chain_case(name, seed):
    """conv(4->6, channels 1 and 4 all zero) relu mul(per-channel scale [6,1,1]) maxpool
    conv(6->5, channel 2 zero) relu flatten gemm(->7, neurons 0 and 6 zero) relu gemm(->3): the
    prune pass removes 2 + 1 + 2 channels losslessly (the scale shrinks with them); the output
    (3 wide) stays."""
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, (1, 4, 6, 6)).astype(np.float32)
    w1, b1 = dead_channels(rng, rng.uniform(-1, 1, (6, 4, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 6).astype(np.float32), [1, 4])
    w2, b2 = dead_channels(rng, rng.uniform(-1, 1, (5, 6, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 5).astype(np.float32), [2])
    w3, b3 = dead_channels(rng, rng.uniform(-1, 1, (7, 5 * 3 * 3)).astype(np.float32),
                           rng.uniform(-1, 1, 7).astype(np.float32), [0, 6])
    w4, b4 = rng.uniform(-1, 1, (3, 7)).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    g.input("x", [1, 4, 6, 6])
    g.output("y", [1, 3])
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    g.node("Conv", ["x", g.initializer("w1", w1), g.initializer("b1", b1)], ["c1"], conv)
    scale = rng.uniform(0.5, 2, (6, 1, 1)).astype(np.float32)
    g.node("Relu", ["c1"], ["r0"])
    g.node("Mul", ["r0", g.initializer("scale", scale)], ["r1"])
    g.node("MaxPool", ["r1"], ["p1"], {"kernel_shape": [2, 2], "strides": [2, 2]})
    g.node("Conv", ["p1", g.initializer("w2", w2), g.initializer("b2", b2)], ["c2"], conv)
    g.node("Relu", ["c2"], ["r2"])
    g.node("Flatten", ["r2"], ["f"], {"axis": 1})
    g.node("Gemm", ["f", g.initializer("w3", w3), g.initializer("b3", b3)], ["h"], {"transB": 1})
    g.node("Relu", ["h"], ["hr"])
    g.node("Gemm", ["hr", g.initializer("w4", w4), g.initializer("b4", b4)], ["y"], {"transB": 1})
    r1 = np.maximum(conv2d(x.astype(np.float64), w1, b1, 1, 1, 1, 1), 0) * scale
    p1 = r1.reshape(1, 6, 3, 2, 3, 2).max(axis=(3, 5))
    r2 = np.maximum(conv2d(p1, w2, b2, 1, 1, 1, 1), 0)
    h = np.maximum(r2.reshape(1, -1) @ w3.T.astype(np.float64) + b3, 0)
    y = h @ w4.T.astype(np.float64) + b4
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": y.astype(np.float32)})


def prune_residual_case(name, seed, dead_b=0):
    """conv a (channel 0 zero) relu; conv b (channel dead_b zero) on it; Add(a, b) relu; conv c:
    a's and b's channels are tied by the residual Add: channel 0 is removed from a, b (output
    and input channels) and c when it is zero in both (dead_b 0), nothing otherwise."""
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, (1, 3, 5, 5)).astype(np.float32)
    wa, ba = dead_channels(rng, rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 4).astype(np.float32), [0])
    wb, bb = dead_channels(rng, rng.uniform(-1, 1, (4, 4, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 4).astype(np.float32), [dead_b])
    wc, bc = rng.uniform(-1, 1, (2, 4, 1, 1)).astype(np.float32), rng.uniform(-1, 1, 2).astype(np.float32)
    g.input("x", [1, 3, 5, 5])
    g.output("y", [1, 2, 5, 5])
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    g.node("Conv", ["x", g.initializer("wa", wa), g.initializer("ba", ba)], ["a"], conv)
    g.node("Relu", ["a"], ["ar"])
    g.node("Conv", ["ar", g.initializer("wb", wb), g.initializer("bb", bb)], ["b"], conv)
    g.node("Add", ["ar", "b"], ["s"])
    g.node("Relu", ["s"], ["sr"])
    g.node("Conv", ["sr", g.initializer("wc", wc), g.initializer("bc", bc)], ["y"],
           {"kernel_shape": [1, 1]})
    ar = np.maximum(conv2d(x.astype(np.float64), wa, ba, 1, 1, 1, 1), 0)
    sr = np.maximum(ar + conv2d(ar, wb, bb, 1, 1, 1, 1), 0)
    y = conv2d(sr, wc, bc, 1, 0, 1, 1)
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": y.astype(np.float32)})


def prune_concat_case(name, seed):
    """conv a (4 channels, channel 0 zero) relu and conv b (2 channels, channel 1 zero) on x,
    Concat along the channels, relu, conv c 1x1: a's channel 0 goes from a and c's input 0,
    b's channel 1 from b and c's input 5 (its offset 4 in the Concat)."""
    rng = np.random.RandomState(seed)
    g = ModelBuilder(name)
    x = rng.uniform(-1, 1, (1, 3, 5, 5)).astype(np.float32)
    wa, ba = dead_channels(rng, rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 4).astype(np.float32), [0])
    wb, bb = dead_channels(rng, rng.uniform(-1, 1, (2, 3, 3, 3)).astype(np.float32),
                           rng.uniform(-1, 1, 2).astype(np.float32), [1])
    wc, bc = rng.uniform(-1, 1, (2, 6, 1, 1)).astype(np.float32), rng.uniform(-1, 1, 2).astype(np.float32)
    g.input("x", [1, 3, 5, 5])
    g.output("y", [1, 2, 5, 5])
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    g.node("Conv", ["x", g.initializer("wa", wa), g.initializer("ba", ba)], ["a"], conv)
    g.node("Relu", ["a"], ["ar"])
    g.node("Conv", ["x", g.initializer("wb", wb), g.initializer("bb", bb)], ["b"], conv)
    g.node("Concat", ["ar", "b"], ["cat"], {"axis": 1})
    g.node("Relu", ["cat"], ["cr"])
    g.node("Conv", ["cr", g.initializer("wc", wc), g.initializer("bc", bc)], ["y"],
           {"kernel_shape": [1, 1]})
    x64 = x.astype(np.float64)
    ar = np.maximum(conv2d(x64, wa, ba, 1, 1, 1, 1), 0)
    cr = np.maximum(np.concatenate([ar, conv2d(x64, wb, bb, 1, 1, 1, 1)], axis=1), 0)
    y = conv2d(cr, wc, bc, 1, 0, 1, 1)
    g.save_case(os.path.join(OUT, name), {"x": x}, {"y": y.astype(np.float32)})


def qsparse_model(directory, seed=11):
    """tests/gen/qsparse (emu_quant): five Conv(+Relu) branches of one input, each at one
    density (50%, 1%, 99%, 100%, 0%) and edge shape (3x3 pad 1; 1x1 with 7 (odd) outputs;
    depthwise-style groups 5 with stride 2 and asymmetric pads; dilation 2; 5x3 stride 2), so
    that the int8 sparse conv (--quantize=int8 --sparse=csr) is checked bit for bit against
    the interpreter on the emulated targets. No golden: the test takes `kiln run --quantize`'s."""
    rng = np.random.RandomState(seed)
    g = ModelBuilder("qsparse", doc="int8 sparse conv shapes and densities for emu_quant "
                     "(tools/gen_sparse_tests.py)")
    x = rng.uniform(-1, 1, (1, 5, 9, 7)).astype(np.float32)
    g.input("x", list(x.shape))
    branches = (  # m, kh, kw, group, stride, pads, dilation, density
        (8, 3, 3, 1, 1, [1, 1, 1, 1], 1, 0.5),
        (7, 1, 1, 1, 1, [0, 0, 0, 0], 1, 0.01),
        (10, 3, 3, 5, 2, [1, 0, 2, 1], 1, 0.99),
        (4, 3, 3, 1, 1, [2, 2, 2, 2], 2, 1.0),
        (3, 5, 3, 1, 2, [1, 2, 0, 1], 1, 0.0))
    for i, (m, kh, kw, grp, s, pads, dil, d) in enumerate(branches):
        w = sparse(rng, (m, 5 // grp, kh, kw), d)
        if d > 0 and not w.any():  # 1% of 35 weights: keep one nonzero
            w.flat[17] = 0.75
        b = rng.uniform(-0.2, 0.2, (m,)).astype(np.float32)
        oh = (9 + pads[0] + pads[2] - dil * (kh - 1) - 1) // s + 1
        ow = (7 + pads[1] + pads[3] - dil * (kw - 1) - 1) // s + 1
        g.output("y%d" % i, [1, m, oh, ow])
        g.node("Conv", ["x", g.initializer("w%d" % i, w), g.initializer("b%d" % i, b)],
               ["c%d" % i], {"kernel_shape": [kh, kw], "strides": [s, s], "pads": pads,
                             "dilations": [dil, dil], "group": grp})
        g.node("Relu", ["c%d" % i], ["y%d" % i])
    g.save(directory)
    os.makedirs(os.path.join(directory, "inputs"), exist_ok=True)
    save_npy(os.path.join(directory, "inputs", "x.npy"), x)


def main():
    qsparse_model(os.path.join(ROOT, "tests", "gen", "qsparse"))
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    names, matrix, small = [], [], []
    seed = 0
    for d in (0.0, 0.01, 0.5, 0.99, 1.0):
        tag = "d%03d" % round(d * 100)
        for (M, K, N, tb, relu) in ((1, 64, 33, True, True), (3, 7, 17, False, False),
                                    (2, 1, 5, True, False), (1, 40, 16, False, True)):
            name = "gemm_%s_%dx%dx%d%s" % (tag, M, K, N, "_t" if tb else "")
            nnz = gemm_case(name, M, K, N, d, tb, relu, seed)
            names.append(name)
            matrix.append(name)
            if nnz <= 512:  # IR_SPARSE_UNROLL_MAX
                small.append(name)
            seed += 1
        name = "matmul_%s" % tag
        matmul_case(name, [2, 3], 9, 20, d, seed)
        names.append(name)
        matrix.append(name)
        small.append(name)
        seed += 1
        for (c, h, w, m, k, s, p, dil, grp) in ((3, 7, 5, 8, 3, 1, 1, 1, 1),
                                                 (4, 9, 9, 6, 3, 2, 1, 1, 2),
                                                 (4, 6, 6, 4, 3, 1, 2, 2, 4),
                                                 (5, 4, 4, 3, 1, 1, 0, 1, 1)):
            name = "conv_%s_c%dm%dk%ds%dg%d" % (tag, c, m, k, s, grp)
            conv_case(name, 2 if c == 5 else 1, c, h, w, m, k, s, p, dil, grp, d, seed)
            names.append(name)
            seed += 1
    prune_chain_case("prune_chain", 1000)
    prune_residual_case("prune_residual", 1001)
    prune_residual_case("prune_residual_tied", 1002, dead_b=1)
    prune_concat_case("prune_concat", 1003)
    names += ["prune_chain", "prune_residual", "prune_residual_tied", "prune_concat"]
    # every case (sparse-csr applies to all), the Gemm/MatMul ones (sparse-block), those with at
    # most IR_SPARSE_UNROLL_MAX nonzeros (sparse-unrolled)
    for file, cases in (("MANIFEST", names), ("MANIFEST_matrix", matrix),
                        ("MANIFEST_unrolled", small)):
        with open(os.path.join(OUT, file), "w") as f:
            f.write("# generated by tools/gen_sparse_tests.py\n")
            for n in cases:
                f.write(n + "\n")
    print("%d cases in %s" % (len(names), OUT))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
