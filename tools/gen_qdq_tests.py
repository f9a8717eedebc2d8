#!/usr/bin/python3
"""gen_qdq_tests: pre-quantized ONNX models for the QDQ import (tests/onnx/qdq/, ctest qdq_import).

    /usr/bin/python3 tools/gen_qdq_tests.py

Each case is a folder with model.onnx, inputs/<name>.npy, golden/<name>.npy and expect.txt
("heads=N step=S": the qdq pass must make N QLinearConv/QGemm nodes; outputs may differ from the
golden by at most one step S of the output's scale, 0: exactly). The goldens are numpy
implementations of the ONNX semantics: QuantizeLinear = saturate(round_half_even(x / scale) +
zero_point) with the division in float32, DequantizeLinear = (q - zero_point) * scale in float32,
the float ops in float64 rounded to float32, the QLinear ops as ONNX defines them (integer
accumulation, the real multiplier in float64, round half to even). The weights and scales come
from a fixed seed; the models are what ONNX Runtime's quantize_static writes (QuantFormat.QDQ:
u8 activations, per-channel i8 weights with axis, i32 bias with scale x_scale * w_scale).
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "onnx", "qdq")
rng = np.random.default_rng(1010)

# ---- numpy reference of the ONNX semantics ---------------------------------------------------


def bshape(s, axis, rank):
    s = np.asarray(s)
    if s.ndim == 0 or s.size == 1:
        return s.reshape(())
    shape = [1] * rank
    shape[axis] = s.size
    return s.reshape(shape)


def quantize(x, s, zp, axis=1):
    zp = np.asarray(zp)
    info = np.iinfo(zp.dtype)
    s = bshape(np.asarray(s, np.float32), axis, x.ndim)
    v = np.rint((x.astype(np.float32) / s).astype(np.float32))
    return np.clip(v + bshape(zp, axis, x.ndim).astype(np.float64), info.min, info.max).astype(zp.dtype)


def dequantize(q, s, zp, axis=1):
    s = bshape(np.asarray(s, np.float32), axis, q.ndim)
    z = bshape(np.asarray(zp), axis, q.ndim).astype(np.int64)
    return ((q.astype(np.int64) - z).astype(np.float32) * s).astype(np.float32)


def conv2d(x, w, b=None, stride=1, pad=0):
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j].astype(np.float64))
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, m, 1, 1)
    return y


def qparams(x, dtype):
    """Activation scale / zero point of x's range (widened to 0), as ORT's MinMax calibrator."""
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s = np.float32((hi - lo) / 255.0)
    if dtype == np.uint8:
        return s, np.uint8(np.clip(round(-lo / s), 0, 255))
    return s, np.int8(np.clip(round(-128 - lo / s), -128, 127))


def weights_i8(shape, axis=None):
    w = rng.standard_normal(shape).astype(np.float32) * 0.3
    if axis is None:
        s = np.float32(np.abs(w).max() / 127)
        return np.clip(np.rint(w / s), -127, 127).astype(np.int8), s
    red = tuple(i for i in range(len(shape)) if i != axis)
    s = (np.abs(w).max(axis=red) / 127).astype(np.float32)
    return np.clip(np.rint(w / bshape(s, axis, len(shape))), -127, 127).astype(np.int8), s


# ---- writing a case ------------------------------------------------------------------------


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save_case(name, nodes, inits, inputs, outputs, feeds, golden, heads, step, opset=13,
              joins=None, integer=None):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "golden"))
    vi = [helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
          for n, a in feeds.items()]
    vo = [helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
          for n, a in golden.items()]
    g = helper.make_graph(nodes, name, vi, vo, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString(deterministic=True))
    for n, a in feeds.items():
        np.save(os.path.join(d, "inputs", n + ".npy"), a)
    for n, a in golden.items():
        np.save(os.path.join(d, "golden", n + ".npy"), a)
    with open(os.path.join(d, "expect.txt"), "w") as f:
        f.write("heads=%d step=%.9g%s%s\n" % (heads, step, "" if joins is None else
                                                " joins=%d" % joins,
                                                "" if integer is None else " integer=%d" % integer))


def Q(x, s, z, y, name, **kw):
    return helper.make_node("QuantizeLinear", [x, s, z], [y], name=name, **kw)


def DQ(x, s, z, y, name, **kw):
    return helper.make_node("DequantizeLinear", [x, s, z] if z else [x, s], [y], name=name, **kw)


# ---- cases -----------------------------------------------------------------------------------


def qdq_cnn():
    """ORT's QDQ form of Conv-Relu, MaxPool, Conv (float bias), Reshape, Gemm: three int8 heads,
    MaxPool and Reshape on int8 between Q/DQ of equal parameters."""
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    w1, w1s = weights_i8((8, 3, 3, 3), axis=0)
    w2, w2s = weights_i8((8, 8, 3, 3))
    w3, w3s = weights_i8((10, 32), axis=0)
    b2 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    xs, xz = qparams(x * 1.2, np.uint8)
    xd = dequantize(quantize(x, xs, xz), xs, xz)
    b1 = np.rint(rng.standard_normal(8) * 40).astype(np.int32)
    b1s = (xs * w1s).astype(np.float32)
    a1 = np.maximum(conv2d(xd, dequantize(w1, w1s, np.zeros(8, np.int8), 0),
                           dequantize(b1, b1s, np.int32(0), 0), pad=1), 0).astype(np.float32)
    s1, z1 = qparams(a1, np.uint8)
    z1 = np.uint8(0)
    a1d = dequantize(quantize(a1, s1, z1), s1, z1)
    a1d = a1d.reshape(1, 8, 4, 2, 4, 2).max(axis=(3, 5))  # MaxPool 2x2 / 2
    a1d = dequantize(quantize(a1d, s1, z1), s1, z1)
    a2 = conv2d(a1d, dequantize(w2, w2s, np.int8(0)), b2, stride=2, pad=1).astype(np.float32)
    s2, z2 = qparams(a2, np.uint8)
    a2d = dequantize(quantize(a2, s2, z2), s2, z2).reshape(1, 32)
    b3 = np.rint(rng.standard_normal(10) * 40).astype(np.int32)
    b3s = (s2 * w3s).astype(np.float32)
    a3 = (a2d.astype(np.float64) @ dequantize(w3, w3s, np.zeros(10, np.int8), 0).T.astype(
        np.float64) + dequantize(b3, b3s, np.int32(0), 0)).astype(np.float32)
    s3, z3 = qparams(a3, np.int8)
    y = dequantize(quantize(a3, s3, z3), s3, z3)
    inits = [init("xs", xs), init("xz", xz), init("w1", w1), init("w1s", w1s),
             init("w1z", np.zeros(8, np.int8)), init("b1", b1), init("b1s", b1s),
             init("s1", s1), init("z1", z1), init("w2", w2), init("w2s", w2s),
             init("w2z", np.int8(0)), init("b2", b2), init("s2", s2), init("z2", z2),
             init("shape", np.array([1, 32], np.int64)), init("w3", w3), init("w3s", w3s),
             init("w3z", np.zeros(10, np.int8)), init("b3", b3), init("b3s", b3s),
             init("s3", s3), init("z3", z3)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"), DQ("xq", "xs", "xz", "xd", "x_dq"),
             DQ("w1", "w1s", "w1z", "w1d", "w1_dq", axis=0), DQ("b1", "b1s", None, "b1d", "b1_dq", axis=0),
             helper.make_node("Conv", ["xd", "w1d", "b1d"], ["c1"], name="conv1", pads=[1] * 4,
                              kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             Q("r1", "s1", "z1", "r1q", "r1_q"), DQ("r1q", "s1", "z1", "r1d0", "r1_dq"),
             helper.make_node("MaxPool", ["r1d0"], ["p1"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2]),
             Q("p1", "s1", "z1", "p1q", "p1_q"), DQ("p1q", "s1", "z1", "r1d", "p1_dq"),
             DQ("w2", "w2s", "w2z", "w2d", "w2_dq"),
             helper.make_node("Conv", ["r1d", "w2d", "b2"], ["c2"], name="conv2", pads=[1] * 4,
                              strides=[2, 2]),
             Q("c2", "s2", "z2", "c2q", "c2_q"), DQ("c2q", "s2", "z2", "c2d", "c2_dq"),
             helper.make_node("Reshape", ["c2d", "shape"], ["f"], name="flatten"),
             Q("f", "s2", "z2", "fq", "f_q"), DQ("fq", "s2", "z2", "fd", "f_dq"),
             DQ("w3", "w3s", "w3z", "w3d", "w3_dq", axis=0), DQ("b3", "b3s", None, "b3d", "b3_dq", axis=0),
             helper.make_node("Gemm", ["fd", "w3d", "b3d"], ["g"], name="fc", transB=1),
             Q("g", "s3", "z3", "gq", "g_q"), DQ("gq", "s3", "z3", "y", "y_dq")]
    save_case("qdq_cnn", nodes, inits, [], [], {"x": x}, {"y": y}, heads=3, step=float(s3))


def qdq_matmul_fallback():
    """MatMul with per-column weights (an int8 head), then Sigmoid and a MatMul whose weights are
    quantized along the wrong axis: both stay float between their Q/DQ nodes."""
    x = rng.standard_normal((4, 16)).astype(np.float32)
    w1, w1s = weights_i8((16, 12), axis=1)
    w2, w2s = weights_i8((12, 6), axis=0)
    xs, xz = qparams(x, np.int8)
    xd = dequantize(quantize(x, xs, xz), xs, xz)
    a1 = (xd.astype(np.float64) @ dequantize(w1, w1s, np.zeros(12, np.int8), 1)).astype(np.float32)
    s1, z1 = qparams(a1, np.int8)
    a1d = dequantize(quantize(a1, s1, z1), s1, z1)
    sg = (1 / (1 + np.exp(-a1d.astype(np.float64)))).astype(np.float32)
    s2, z2 = np.float32(1 / 255), np.uint8(0)
    sgd = dequantize(quantize(sg, s2, z2), s2, z2)
    a3 = (sgd.astype(np.float64) @ dequantize(w2, w2s, np.zeros(12, np.int8), 0)).astype(np.float32)
    s3, z3 = qparams(a3, np.int8)
    y = dequantize(quantize(a3, s3, z3), s3, z3)
    inits = [init("xs", xs), init("xz", xz), init("w1", w1), init("w1s", w1s),
             init("w1z", np.zeros(12, np.int8)), init("s1", s1), init("z1", z1),
             init("s2", s2), init("z2", z2), init("w2", w2), init("w2s", w2s),
             init("w2z", np.zeros(12, np.int8)), init("s3", s3), init("z3", z3)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"), DQ("xq", "xs", "xz", "xd", "x_dq"),
             DQ("w1", "w1s", "w1z", "w1d", "w1_dq", axis=1),
             helper.make_node("MatMul", ["xd", "w1d"], ["m1"], name="mm1"),
             Q("m1", "s1", "z1", "m1q", "m1_q"), DQ("m1q", "s1", "z1", "m1d", "m1_dq"),
             helper.make_node("Sigmoid", ["m1d"], ["sg"], name="sigmoid"),
             Q("sg", "s2", "z2", "sgq", "sg_q"), DQ("sgq", "s2", "z2", "sgd", "sg_dq"),
             DQ("w2", "w2s", "w2z", "w2d", "w2_dq", axis=0),
             helper.make_node("MatMul", ["sgd", "w2d"], ["m2"], name="mm2"),
             Q("m2", "s3", "z3", "m2q", "m2_q"), DQ("m2q", "s3", "z3", "y", "y_dq")]
    save_case("qdq_matmul_fallback", nodes, inits, [], [], {"x": x}, {"y": y}, heads=1,
              step=float(s3))


def requant_ref(acc, m, zp, dtype):
    info = np.iinfo(dtype)
    return np.clip(np.rint(acc.astype(np.float64) * m) + int(zp), info.min, info.max).astype(dtype)


def qlinear_conv():
    """ONNX QLinearConv: u8 activations, per-channel i8 weights, i32 bias, u8 output."""
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w, ws = weights_i8((4, 2, 3, 3), axis=0)
    xs, xz = qparams(x, np.uint8)
    xq = quantize(x, xs, xz)
    b = np.rint(rng.standard_normal(4) * 30).astype(np.int32)
    acc = conv2d(xq.astype(np.float64) - int(xz), w.astype(np.float64), b, pad=1)
    real = dequantize(np.rint(acc).astype(np.int32), (xs * ws).astype(np.float32), np.int32(0), 1)
    ys, yz = qparams(real, np.uint8)
    m = (np.float64(xs) * ws.astype(np.float64) / np.float64(ys)).reshape(1, 4, 1, 1)
    yq = requant_ref(acc, m, yz, np.uint8)
    y = dequantize(yq, ys, yz)
    inits = [init("xs", xs), init("xz", xz), init("w", w), init("ws", ws),
             init("wz", np.zeros(4, np.int8)), init("ys", ys), init("yz", yz), init("b", b)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                              ["yq"], name="qconv", pads=[1] * 4),
             DQ("yq", "ys", "yz", "y", "y_dq")]
    save_case("qlinear_conv", nodes, inits, [], [], {"x": x}, {"y": y}, heads=1, step=float(ys))


def qlinear_matmul():
    """ONNX QLinearMatMul: i8 activations, per-column i8 weights, i8 output."""
    x = rng.standard_normal((3, 8)).astype(np.float32)
    w, ws = weights_i8((8, 5), axis=1)
    xs, xz = qparams(x, np.int8)
    xq = quantize(x, xs, xz)
    acc = (xq.astype(np.int64) - int(xz)) @ w.astype(np.int64)
    real = acc * (np.float64(xs) * ws.astype(np.float64))
    ys, yz = qparams(real, np.int8)
    yq = requant_ref(acc, np.float64(xs) * ws.astype(np.float64) / np.float64(ys), yz, np.int8)
    y = dequantize(yq, ys, yz)
    inits = [init("xs", xs), init("xz", xz), init("w", w), init("ws", ws),
             init("wz", np.zeros(5, np.int8)), init("ys", ys), init("yz", yz)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"),
             helper.make_node("QLinearMatMul", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
                              ["yq"], name="qmm"),
             DQ("yq", "ys", "yz", "y", "y_dq")]
    save_case("qlinear_matmul", nodes, inits, [], [], {"x": x}, {"y": y}, heads=1, step=float(ys))


def integer_ops():
    """MatMulInteger (u8 input, u8 weights with zero points) and ConvInteger (i8): exact i32."""
    a = rng.integers(0, 256, (3, 8)).astype(np.uint8)
    b = rng.integers(0, 256, (8, 4)).astype(np.uint8)
    az, bz = np.uint8(128), np.uint8(7)
    ym = (a.astype(np.int64) - int(az)) @ (b.astype(np.int64) - int(bz))
    x = rng.integers(-128, 128, (1, 1, 5, 5)).astype(np.int8)
    w = rng.integers(-128, 128, (2, 1, 3, 3)).astype(np.int8)
    xz = np.int8(-5)
    yc = np.rint(conv2d(x.astype(np.float64) - int(xz), w.astype(np.float64))).astype(np.int64)
    inits = [init("b", b), init("az", az), init("bz", bz), init("w", w), init("xz", xz)]
    nodes = [helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["ym"], name="mmi"),
             helper.make_node("ConvInteger", ["x", "w", "xz"], ["yc"], name="convi")]
    save_case("integer_ops", nodes, inits, [], [], {"a": a, "x": x},
              {"ym": ym.astype(np.int32), "yc": yc.astype(np.int32)}, heads=0, step=0,
              integer=2)


def avg_pool3(x):
    """AveragePool 3x3, stride 1, pads 1, count_include_pad 1, in float64."""
    n, c, h, w = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    return sum(xp[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9


def qdq_joins():
    """ORT's QDQ form of two Conv branches joined by Add (+ Relu) and Concat with different
    parameters, an AveragePool (3x3, pads, count_include_pad) wrapped in its input's parameters and
    a GlobalAveragePool: 2 heads and 4 int8 joins (QAdd, QConcat, QAveragePool,
    QGlobalAveragePool)."""
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    w1, w1s = weights_i8((4, 3, 3, 3), axis=0)
    w2, w2s = weights_i8((4, 3, 1, 1), axis=0)
    xs, xz = qparams(x, np.uint8)
    xd = dequantize(quantize(x, xs, xz), xs, xz)
    z4 = np.zeros(4, np.int8)
    c1 = np.maximum(conv2d(xd, dequantize(w1, w1s, z4, 0), pad=1), 0).astype(np.float32)
    s1, z1 = qparams(c1, np.uint8)
    c1d = dequantize(quantize(c1, s1, z1), s1, z1)
    c2 = conv2d(xd, dequantize(w2, w2s, z4, 0)).astype(np.float32)
    s2, z2 = qparams(c2, np.uint8)
    c2d = dequantize(quantize(c2, s2, z2), s2, z2)
    a = np.maximum(c1d.astype(np.float64) + c2d, 0).astype(np.float32)
    sa, za = qparams(a, np.uint8)
    ad = dequantize(quantize(a, sa, za), sa, za)
    cat = np.concatenate([ad, c2d], axis=1)
    sc, zc = qparams(cat, np.uint8)
    catd = dequantize(quantize(cat, sc, zc), sc, zc)
    ap = avg_pool3(catd).astype(np.float32)
    apd = dequantize(quantize(ap, sc, zc), sc, zc)
    gp = apd.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)
    sg, zg = qparams(gp, np.uint8)
    y = dequantize(quantize(gp, sg, zg), sg, zg)
    inits = [init("xs", xs), init("xz", xz), init("w1", w1), init("w1s", w1s), init("wz", z4),
             init("w2", w2), init("w2s", w2s), init("s1", s1), init("z1", z1), init("s2", s2),
             init("z2", z2), init("sa", sa), init("za", za), init("sc", sc), init("zc", zc),
             init("sg", sg), init("zg", zg)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"), DQ("xq", "xs", "xz", "xd", "x_dq"),
             DQ("w1", "w1s", "wz", "w1d", "w1_dq", axis=0),
             DQ("w2", "w2s", "wz", "w2d", "w2_dq", axis=0),
             helper.make_node("Conv", ["xd", "w1d"], ["c1"], name="conv1", pads=[1] * 4),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             Q("r1", "s1", "z1", "r1q", "r1_q"), DQ("r1q", "s1", "z1", "r1d", "r1_dq"),
             helper.make_node("Conv", ["xd", "w2d"], ["c2"], name="conv2"),
             Q("c2", "s2", "z2", "c2q", "c2_q"), DQ("c2q", "s2", "z2", "c2d", "c2_dq"),
             DQ("c2q", "s2", "z2", "c2e", "c2_dq2"),
             helper.make_node("Add", ["r1d", "c2d"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["ar"], name="relu2"),
             Q("ar", "sa", "za", "aq", "a_q"), DQ("aq", "sa", "za", "ad", "a_dq"),
             helper.make_node("Concat", ["ad", "c2e"], ["cat"], name="concat", axis=1),
             Q("cat", "sc", "zc", "catq", "cat_q"), DQ("catq", "sc", "zc", "catd", "cat_dq"),
             helper.make_node("AveragePool", ["catd"], ["ap"], name="avgpool", kernel_shape=[3, 3],
                              pads=[1] * 4, count_include_pad=1),
             Q("ap", "sc", "zc", "apq", "ap_q"), DQ("apq", "sc", "zc", "apd", "ap_dq"),
             helper.make_node("GlobalAveragePool", ["apd"], ["gp"], name="gap"),
             Q("gp", "sg", "zg", "gq", "g_q"), DQ("gq", "sg", "zg", "y", "y_dq")]
    save_case("qdq_joins", nodes, inits, [], [], {"x": x}, {"y": y}, heads=2, step=float(sg),
              joins=4)


def conv_transpose2d(x, w, b, stride, pad, out_pad=0):
    """ConvTranspose (one group) in float64: every input pixel scattered through every tap."""
    n, c, h, wd = x.shape
    _, m, kh, kw = w.shape
    full = np.zeros((n, m, (h - 1) * stride + kh + out_pad, (wd - 1) * stride + kw + out_pad))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "nc,cmij->nmij", x[:, :, i, j].astype(np.float64), w.astype(np.float64))
    oh = (h - 1) * stride - 2 * pad + kh + out_pad
    ow = (wd - 1) * stride - 2 * pad + kw + out_pad
    return full[:, :, pad:pad + oh, pad:pad + ow] + np.asarray(b, np.float64).reshape(1, m, 1, 1)


def qdq_convtranspose():
    """ORT's QDQ form of a ConvTranspose (stride 2, pads 1, output_padding 1) with per-channel
    weights along axis 1 and an i32 bias, then Relu: one QLinearConvTranspose head."""
    x = rng.standard_normal((1, 5, 4, 3)).astype(np.float32)
    w, ws = weights_i8((5, 3, 3, 3), axis=1)
    xs, xz = qparams(x, np.uint8)
    xd = dequantize(quantize(x, xs, xz), xs, xz)
    b = np.rint(rng.standard_normal(3) * 40).astype(np.int32)
    bs = (xs * ws).astype(np.float32)
    a = np.maximum(conv_transpose2d(xd, dequantize(w, ws, np.zeros(3, np.int8), 1),
                                    dequantize(b, bs, np.int32(0), 0), 2, 1, 1), 0).astype(np.float32)
    s1, z1 = qparams(a, np.uint8)
    y = dequantize(quantize(a, s1, z1), s1, z1)
    inits = [init("xs", xs), init("xz", xz), init("w", w), init("ws", ws),
             init("wz", np.zeros(3, np.int8)), init("b", b), init("bs", bs), init("s1", s1),
             init("z1", z1)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"), DQ("xq", "xs", "xz", "xd", "x_dq"),
             DQ("w", "ws", "wz", "wd", "w_dq", axis=1), DQ("b", "bs", None, "bd", "b_dq", axis=0),
             helper.make_node("ConvTranspose", ["xd", "wd", "bd"], ["ct"], name="up",
                              kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4,
                              output_padding=[1, 1]),
             helper.make_node("Relu", ["ct"], ["r"], name="relu"),
             Q("r", "s1", "z1", "rq", "r_q"), DQ("rq", "s1", "z1", "y", "y_dq")]
    save_case("qdq_convtranspose", nodes, inits, [], [], {"x": x}, {"y": y}, heads=1,
              step=float(s1))


def qdq_convtranspose_grouped():
    """ConvTranspose with 2 groups and per-channel weights along axis 1 (one scale per channel of
    a group, shared by the groups; ONNX's DequantizeLinear axis 1 of [C, M/group, kh, kw]), an i32
    bias with per-output-channel scales, stride 2, pads 1, output_padding 1, then Relu: one
    QLinearConvTranspose head (the qdq pass repeats the scales per output channel)."""
    x = rng.standard_normal((1, 6, 3, 4)).astype(np.float32)
    w, ws = weights_i8((6, 2, 3, 3), axis=1)
    xs, xz = qparams(x, np.uint8)
    xd = dequantize(quantize(x, xs, xz), xs, xz)
    b = np.rint(rng.standard_normal(4) * 40).astype(np.int32)
    bs = (xs * np.tile(ws, 2)).astype(np.float32)
    wd = dequantize(w, ws, np.zeros(2, np.int8), 1)
    bd = dequantize(b, bs, np.int32(0), 0)
    ct = np.concatenate([conv_transpose2d(xd[:, 3 * g:3 * g + 3], wd[3 * g:3 * g + 3],
                                          bd[2 * g:2 * g + 2], 2, 1, 1) for g in range(2)], axis=1)
    a = np.maximum(ct, 0).astype(np.float32)
    s1, z1 = qparams(a, np.uint8)
    y = dequantize(quantize(a, s1, z1), s1, z1)
    inits = [init("xs", xs), init("xz", xz), init("w", w), init("ws", ws),
             init("wz", np.zeros(2, np.int8)), init("b", b), init("bs", bs), init("s1", s1),
             init("z1", z1)]
    nodes = [Q("x", "xs", "xz", "xq", "x_q"), DQ("xq", "xs", "xz", "xd", "x_dq"),
             DQ("w", "ws", "wz", "wd", "w_dq", axis=1), DQ("b", "bs", None, "bd", "b_dq", axis=0),
             helper.make_node("ConvTranspose", ["xd", "wd", "bd"], ["ct"], name="up",
                              kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4,
                              output_padding=[1, 1], group=2),
             helper.make_node("Relu", ["ct"], ["r"], name="relu"),
             Q("r", "s1", "z1", "rq", "r_q"), DQ("rq", "s1", "z1", "y", "y_dq")]
    save_case("qdq_convtranspose_grouped", nodes, inits, [], [], {"x": x}, {"y": y}, heads=1,
              step=float(s1))


def dynamic_quantize(x):
    """DynamicQuantizeLinear as ONNX defines it (u8; the range widened to 0; f32 arithmetic; scale
    1 for an all-zero tensor, as ONNX Runtime)."""
    lo, hi = np.float32(min(x.min(), 0)), np.float32(max(x.max(), 0))
    s = np.float32(1) if hi == lo else np.float32(np.float32(hi - lo) / np.float32(255))
    zp = np.uint8(np.clip(np.rint(np.float32(-lo) / s), 0, 255))
    q = np.clip(np.rint((x / s).astype(np.float32)) + np.float64(zp), 0, 255).astype(np.uint8)
    return q, s, zp


def ort_dynamic_head(name, x, w, ws, wz, nodes):
    """The nodes ONNX Runtime's quantize_dynamic writes for MatMul `name` (x @ w) or Conv (w of
    rank 4): DynamicQuantizeLinear of x, MatMulInteger / ConvInteger, Cast to float, Mul of the two
    scales, Mul of the product by it; returns the output's name."""
    conv = name.startswith("Conv")
    nodes += [helper.make_node("DynamicQuantizeLinear", [x],
                               [x + "_quantized", x + "_scale", x + "_zero_point"],
                               name=x + "_QuantizeLinear"),
              helper.make_node("ConvInteger" if conv else "MatMulInteger",
                               [x + "_quantized", w + "_quantized", x + "_zero_point",
                                w + "_zero_point"], [name + "_out_output_quantized"],
                               name=name + "_quant"),
              helper.make_node("Cast", [name + "_out_output_quantized"],
                               [name + "_out_output_quantized_cast_output"],
                               name=name + "_out_output_quantized_cast", to=TensorProto.FLOAT),
              helper.make_node("Mul", [x + "_scale", w + "_scale"],
                               [name + "_quant_scales_mul:0"], name=name + "_quant_scales_mul"),
              helper.make_node("Mul", [name + "_out_output_quantized_cast_output",
                                       name + "_quant_scales_mul:0"], [name + "_out"],
                               name=name + "_quant_output_scale_mul")]
    return name + "_out"


def ref_dynamic_head(x, w, ws, wz, conv=False, big=False):
    """big: sums past 2^24 allowed (exact only where the product runs in integers)"""
    q, s, zp = dynamic_quantize(x)
    a = q.astype(np.int64) - int(zp)
    wi = w.astype(np.int64) - np.asarray(wz).astype(np.int64)
    acc = np.rint(conv2d(a, wi)).astype(np.int64) if conv else a @ wi
    assert big or np.abs(acc).max() < 2**24
    return acc.astype(np.int32).astype(np.float32) * np.float32(s * np.float32(ws))


def dynamic_mlp():
    """ONNX Runtime's quantize_dynamic form (QOperator, u8 activations, i8 weights) of a
    MatMul+Add+Relu, MatMul (per-channel weights, per_channel=True)+Add MLP on [2, 3, 16], and of a
    Conv with bias (ConvInteger, the bias reshaped and added): DynamicQuantizeLinear ->
    MatMulInteger / ConvInteger -> Cast -> Mul(scales) -> Mul, all float outside the integer op."""
    x = (rng.standard_normal((2, 3, 16)) * 1.5).astype(np.float32)
    w1, w1s = weights_i8((16, 12))
    w2, w2s = weights_i8((12, 5), axis=1)
    b1 = (rng.standard_normal(12) * 0.2).astype(np.float32)
    b2 = (rng.standard_normal(5) * 0.2).astype(np.float32)
    z5 = np.zeros(5, np.int8)
    h = np.maximum(ref_dynamic_head(x, w1, w1s, np.int8(0)) + b1, 0).astype(np.float32)
    y = (ref_dynamic_head(h, w2, w2s, z5) + b2).astype(np.float32)
    c = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    wc, wcs = weights_i8((4, 3, 3, 3))
    bc = (rng.standard_normal(4) * 0.2).astype(np.float32)
    yc = (ref_dynamic_head(c, wc, wcs, np.int8(0), conv=True) + bc.reshape(1, 4, 1, 1))
    nodes = []
    m1 = ort_dynamic_head("MatMul_0", "x", "W1", w1s, 0, nodes)
    nodes += [helper.make_node("Add", [m1, "B1"], ["h_pre"], name="Add_1"),
              helper.make_node("Relu", ["h_pre"], ["h"], name="Relu_2")]
    m2 = ort_dynamic_head("MatMul_3", "h", "W2", w2s, z5, nodes)
    nodes.append(helper.make_node("Add", [m2, "B2"], ["y"], name="Add_4"))
    # MatMul of two activations (with MatMulConstBOnly=False; quantize_dynamic's default is
    # True, constant B only): h is quantized once (reused from MatMul_3), its transpose on its
    # own
    hq, hs, hz = dynamic_quantize(h)
    ht = np.ascontiguousarray(h.transpose(0, 2, 1))
    tq, ts, tz = dynamic_quantize(ht)
    acc = (hq.astype(np.int64) - int(hz)) @ (tq.astype(np.int64) - int(tz))
    yp = acc.astype(np.int32).astype(np.float32) * np.float32(hs * ts)
    nodes += [helper.make_node("Transpose", ["h"], ["ht"], name="Transpose_6", perm=[0, 2, 1]),
              helper.make_node("DynamicQuantizeLinear", ["ht"],
                               ["ht_quantized", "ht_scale", "ht_zero_point"],
                               name="ht_QuantizeLinear"),
              helper.make_node("MatMulInteger", ["h_quantized", "ht_quantized", "h_zero_point",
                                                 "ht_zero_point"], ["yp_output_quantized"],
                               name="MatMul_7_quant"),
              helper.make_node("Cast", ["yp_output_quantized"],
                               ["yp_output_quantized_cast_output"],
                               name="yp_output_quantized_cast", to=TensorProto.FLOAT),
              helper.make_node("Mul", ["h_scale", "ht_scale"], ["MatMul_7_quant_scales_mul:0"],
                               name="MatMul_7_quant_scales_mul"),
              helper.make_node("Mul", ["yp_output_quantized_cast_output",
                                       "MatMul_7_quant_scales_mul:0"], ["yp"],
                               name="MatMul_7_quant_output_scale_mul")]
    mc = ort_dynamic_head("Conv_5", "c", "Wc", wcs, 0, nodes)
    nodes += [helper.make_node("Reshape", ["Bc", "Bc_reshape_shape"], ["Bc_reshaped"],
                               name="Bc_reshape"),
              helper.make_node("Add", [mc, "Bc_reshaped"], ["yc"], name="Conv_5_bias_add")]
    inits = [init("W1_quantized", w1), init("W1_scale", w1s), init("W1_zero_point", np.int8(0)),
             init("B1", b1), init("W2_quantized", w2), init("W2_scale", w2s),
             init("W2_zero_point", z5), init("B2", b2), init("Wc_quantized", wc),
             init("Wc_scale", wcs), init("Wc_zero_point", np.int8(0)), init("Bc", bc),
             init("Bc_reshape_shape", np.array([1, -1, 1, 1], np.int64))]
    save_case("dynamic_mlp", nodes, inits, [], [], {"x": x, "c": c},
              {"y": y, "yp": yp, "yc": yc.astype(np.float32)}, heads=0, step=0, integer=3)


def dynamic_gather():
    """quantize_dynamic's embedding (GatherQuant): Gather of the i8 table by i64 ids gives an i8
    tensor with the table's scale and zero point, which the next MatMulInteger reuses (no
    DynamicQuantizeLinear: ORT quantizes a tensor once), and a DequantizeLinear for a float
    reader (the residual Add)."""
    ids = rng.integers(0, 10, (2, 4)).astype(np.int64)
    e, es = weights_i8((10, 6))
    w, ws = weights_i8((6, 6))
    g = e[ids]
    acc = g.astype(np.int64) @ w.astype(np.int64)
    m = acc.astype(np.int32).astype(np.float32) * np.float32(es * ws)
    y = (m + dequantize(g, es, np.int8(0))).astype(np.float32)
    nodes = [helper.make_node("Gather", ["E_quantized", "ids"], ["emb_quantized"],
                              name="Gather_0_quant"),
             helper.make_node("MatMulInteger", ["emb_quantized", "W_quantized", "E_zero_point",
                                                "W_zero_point"], ["m_output_quantized"],
                              name="MatMul_1_quant"),
             helper.make_node("Cast", ["m_output_quantized"], ["m_output_quantized_cast_output"],
                              name="m_output_quantized_cast", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["E_scale", "W_scale"], ["MatMul_1_quant_scales_mul:0"],
                              name="MatMul_1_quant_scales_mul"),
             helper.make_node("Mul", ["m_output_quantized_cast_output",
                                      "MatMul_1_quant_scales_mul:0"], ["m"],
                              name="MatMul_1_quant_output_scale_mul"),
             helper.make_node("DequantizeLinear", ["emb_quantized", "E_scale", "E_zero_point"],
                              ["emb"], name="emb_DequantizeLinear"),
             helper.make_node("Add", ["m", "emb"], ["y"], name="Add_2")]
    inits = [init("E_quantized", e), init("E_scale", es), init("E_zero_point", np.int8(0)),
             init("W_quantized", w), init("W_scale", ws), init("W_zero_point", np.int8(0))]
    save_case("dynamic_gather", nodes, inits, [], [], {"ids": ids}, {"y": y}, heads=0, step=0,
              integer=1)


def weights_u8(shape, axis=None):
    """ONNX Runtime's QUInt8 weights: asymmetric, the range widened to 0, zero point
    round(-min / scale) (per column along axis 1 with per_channel)."""
    w = rng.standard_normal(shape).astype(np.float32) * 0.3
    red = None if axis is None else tuple(i for i in range(len(shape)) if i != axis)
    lo = np.minimum(w.min(axis=red), 0)
    hi = np.maximum(w.max(axis=red), 0)
    s = ((hi - lo) / 255).astype(np.float32)
    zp = np.clip(np.rint(-lo / s), 0, 255).astype(np.uint8)
    sb, zb = (s, zp) if axis is None else (bshape(s, axis, len(shape)), bshape(zp, axis, len(shape)))
    q = np.clip(np.rint(w / sb) + zb.astype(np.float64), 0, 255).astype(np.uint8)
    return q, s, zp


def dynamic_int8():
    """quantize_dynamic's MatMulInteger on the int8 GEMM kernel: rows M > 1 (x [2, 5, 19]), K not
    a multiple of 4 (19, 37), N not a multiple of the kernel's strips (37, 70, 9, 6), run-time
    zero points that are not 0, i8 weights (ORT's default), u8 weights (QUInt8: per tensor and
    per channel, zero points not 0) and i8 weights with non-zero zero points per column."""
    x = (rng.standard_normal((2, 5, 19)) * 1.3 - 0.4).astype(np.float32)
    w1, w1s = weights_i8((19, 37))
    b1 = (rng.standard_normal(37) * 0.2).astype(np.float32)
    w2, w2s, w2z = weights_u8((37, 70))
    w3, w3s, w3z = weights_u8((37, 9), axis=1)
    w4 = rng.integers(-100, 100, (37, 6)).astype(np.int8)
    w4s = np.float32(0.01)
    w4z = rng.integers(-20, 20, 6).astype(np.int8)
    h = np.maximum(ref_dynamic_head(x, w1, w1s, np.int8(0)) + b1, 0).astype(np.float32)
    assert dynamic_quantize(x)[2] != 0 and dynamic_quantize(h)[2] == 0
    # h >= 0 (a Relu): its zero point is 0; hn = h - 0.5 gives a non-zero one
    hn = (h - np.float32(0.5)).astype(np.float32)
    assert dynamic_quantize(hn)[2] != 0
    y2 = ref_dynamic_head(hn, w2, w2s, w2z)
    y3 = ref_dynamic_head(hn, w3, w3s, w3z)
    y4 = ref_dynamic_head(hn, w4, w4s, w4z)
    nodes = []
    m1 = ort_dynamic_head("MatMul_0", "x", "W1", w1s, 0, nodes)
    nodes += [helper.make_node("Add", [m1, "B1"], ["h_pre"], name="Add_1"),
              helper.make_node("Relu", ["h_pre"], ["h"], name="Relu_2"),
              helper.make_node("Sub", ["h", "half"], ["hn"], name="Sub_3")]
    m2 = ort_dynamic_head("MatMul_4", "hn", "W2", w2s, w2z, nodes)
    # hn is quantized once; the next two reuse its DynamicQuantizeLinear
    for name, w, out in (("MatMul_5", "W3", "y3"), ("MatMul_6", "W4", "y4")):
        nodes += [helper.make_node("MatMulInteger", ["hn_quantized", w + "_quantized",
                                                     "hn_zero_point", w + "_zero_point"],
                                   [name + "_q"], name=name + "_quant"),
                  helper.make_node("Cast", [name + "_q"], [name + "_f"], name=name + "_cast",
                                   to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["hn_scale", w + "_scale"], [name + "_s"],
                                   name=name + "_quant_scales_mul"),
                  helper.make_node("Mul", [name + "_f", name + "_s"], [out],
                                   name=name + "_quant_output_scale_mul")]
    nodes.append(helper.make_node("Identity", [m2], ["y2"], name="Identity_7"))
    # K = 600 with sums past 2^24 (x2 > 0: zero point 0, codes up to 255; weights mostly 127):
    # exact only in integers (a float accumulation would round them)
    x2 = (np.abs(rng.standard_normal((3, 600))) * 0.1 + 5.0).astype(np.float32)
    w5 = np.where(rng.random((600, 33)) < 0.97, 127, rng.integers(-127, 128, (600, 33))).astype(np.int8)
    w5s = np.float32(0.002)
    q2, _, _ = dynamic_quantize(x2)
    assert np.abs(q2.astype(np.int64) @ w5.astype(np.int64)).max() > 2**24
    y5 = ref_dynamic_head(x2, w5, w5s, np.int8(0), big=True)
    ort_dynamic_head("MatMul_8", "x2", "W5", w5s, 0, nodes)
    nodes[-1].output[0] = "y5"
    inits = [init("W1_quantized", w1), init("W1_scale", w1s), init("W1_zero_point", np.int8(0)),
             init("B1", b1), init("half", np.float32(0.5)),
             init("W2_quantized", w2), init("W2_scale", w2s), init("W2_zero_point", w2z),
             init("W3_quantized", w3), init("W3_scale", w3s), init("W3_zero_point", w3z),
             init("W4_quantized", w4), init("W4_scale", w4s), init("W4_zero_point", w4z),
             init("W5_quantized", w5), init("W5_scale", w5s), init("W5_zero_point", np.int8(0))]
    save_case("dynamic_int8", nodes, inits, [], [], {"x": x, "x2": x2},
              {"y2": y2.astype(np.float32), "y3": y3.astype(np.float32),
               "y4": y4.astype(np.float32), "y5": y5.astype(np.float32)}, heads=0, step=0,
              integer=5)


def conv_int(a, w, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1):
    """ONNX ConvInteger's sums in int64: a = x - x_zp [N, C, H, W] (the padding 0, i.e. x_zp),
    w = w - w_zp [M, C/group, kh, kw]; pads (top, left, bottom, right)."""
    n, c, h, wd = a.shape
    m, cg, kh, kw = w.shape
    ap = np.pad(a.astype(np.int64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                patch = ap[:, g * cg:(g + 1) * cg, i * dil[0]:i * dil[0] + stride[0] * oh:stride[0],
                           j * dil[1]:j * dil[1] + stride[1] * ow:stride[1]]
                y[:, g * mg:(g + 1) * mg] += np.einsum(
                    "nchw,mc->nmhw", patch, w[g * mg:(g + 1) * mg, :, i, j].astype(np.int64))
    return y


def dynamic_conv():
    """quantize_dynamic's ConvInteger on the int8 conv kernel: DynamicQuantizeLinear (run-time
    zero points, not 0) -> ConvInteger -> Cast -> Mul(scales) [-> bias Add], ORT's node names.
    Odd channel counts (5, 7), stride 2 with pads, asymmetric pads, i8 weights (per tensor, zero
    point 0: ORT's default), u8 weights with per-channel zero points (scale [1, M, 1, 1]), a
    depthwise conv (group 6, i8 zero points not 0, dilation 2), a grouped one (group 3, u8
    weights, zero point 128), a 1-D conv at batch 2, K = 576 with sums past 2^24 (exact in
    integers; the float path rounded them), a 16 x 16 stride-1 conv of 3 channels (the Arm DSP's
    wide pairs), a 16-channel 3x3 (its int8 Winograd) and a 1-channel 5x5 (wide pairs), an
    8-channel 3x3 of i8 data with its i32 sums as the output (Winograd, raw) and an 8-channel
    16 x 16 3x3 (VNNI's direct form)."""
    nodes, inits = [], []

    def head(name, x, xv, w, ws, wz, scale_shape=None, **attrs):
        """ORT's nodes for Conv `name`; returns (output name, float golden)"""
        q, s, zp = dynamic_quantize(xv)
        wzb = np.asarray(wz).reshape([-1] + [1] * (w.ndim - 1)) if np.asarray(wz).size > 1 else wz
        a = q.astype(np.int64) - int(zp)
        wi = w.astype(np.int64) - np.asarray(wzb).astype(np.int64)
        if w.ndim == 3:  # 1-D: as [N, C, 1, W]
            pads = attrs.get("pads", [0, 0])
            acc = conv_int(a[:, :, None, :], wi[:, :, None, :], (1, attrs.get("strides", [1])[0]),
                           (0, pads[0], 0, pads[1]), group=attrs.get("group", 1))[:, :, 0, :]
        else:
            p = attrs.get("pads", [0, 0, 0, 0])
            acc = conv_int(a, wi, tuple(attrs.get("strides", [1, 1])), (p[0], p[1], p[2], p[3]),
                           tuple(attrs.get("dilations", [1, 1])), attrs.get("group", 1))
        wsa = np.asarray(ws, np.float32)
        sc = (np.float32(s) * wsa).astype(np.float32)
        if wsa.size > 1:
            sc = sc.reshape(scale_shape)
        y = (acc.astype(np.int32).astype(np.float32) * sc).astype(np.float32)
        nodes.extend([
            helper.make_node("DynamicQuantizeLinear", [x],
                             [x + "_quantized", x + "_scale", x + "_zero_point"],
                             name=x + "_QuantizeLinear"),
            helper.make_node("ConvInteger", [x + "_quantized", name + "_W_quantized",
                                             x + "_zero_point", name + "_W_zero_point"],
                             [name + "_output_quantized"], name=name + "_quant", **attrs),
            helper.make_node("Cast", [name + "_output_quantized"],
                             [name + "_output_quantized_cast_output"],
                             name=name + "_output_quantized_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [x + "_scale", name + "_W_scale"],
                             [name + "_quant_scales_mul:0"], name=name + "_quant_scales_mul"),
            helper.make_node("Mul", [name + "_output_quantized_cast_output",
                                     name + "_quant_scales_mul:0"], [name + "_out"],
                             name=name + "_quant_output_scale_mul")])
        inits.extend([init(name + "_W_quantized", w),
                      init(name + "_W_scale", wsa.reshape(scale_shape) if wsa.size > 1 else wsa),
                      init(name + "_W_zero_point", wz)])
        return name + "_out", y

    x = (rng.standard_normal((1, 5, 9, 11)) * 1.2 - 0.3).astype(np.float32)
    w0, w0s = weights_i8((7, 5, 3, 3))
    b0 = (rng.standard_normal(7) * 0.2).astype(np.float32)
    c0, r0 = head("Conv_0", "x", x, w0, w0s, np.int8(0), strides=[2, 2], pads=[1, 1, 1, 1])
    h = np.maximum((r0 + b0.reshape(1, 7, 1, 1)).astype(np.float32), 0).astype(np.float32)
    hn = (h - np.float32(0.5)).astype(np.float32)
    assert dynamic_quantize(x)[2] != 0 and dynamic_quantize(hn)[2] != 0
    nodes += [helper.make_node("Reshape", ["B0", "B_shape"], ["B0_reshaped"], name="B0_reshape"),
              helper.make_node("Add", [c0, "B0_reshaped"], ["h_pre"], name="Conv_0_bias_add"),
              helper.make_node("Relu", ["h_pre"], ["h"], name="Relu_1"),
              helper.make_node("Sub", ["h", "half"], ["hn"], name="Sub_2")]
    inits += [init("B0", b0), init("B_shape", np.array([1, -1, 1, 1], np.int64)),
              init("half", np.float32(0.5))]
    # u8 weights, per-channel zero points and scales; asymmetric pads
    w1, w1s, w1z = weights_u8((6, 7, 3, 3), axis=0)
    assert (w1z != 128).any()
    c1, y1 = head("Conv_3", "hn", hn, w1, w1s, w1z, scale_shape=(1, 6, 1, 1), pads=[1, 2, 0, 1])
    b1 = (rng.standard_normal(6) * 0.2).astype(np.float32)
    y1 = (y1 + b1.reshape(1, 6, 1, 1)).astype(np.float32)
    nodes += [helper.make_node("Reshape", ["B1", "B_shape"], ["B1_reshaped"], name="B1_reshape"),
              helper.make_node("Add", [c1, "B1_reshaped"], ["y1"], name="Conv_3_bias_add")]
    inits.append(init("B1", b1))
    # depthwise on y1: i8 weights with non-zero per-channel zero points, stride 2, dilation 2
    w2 = rng.integers(-90, 90, (6, 1, 3, 3)).astype(np.int8)
    w2z = rng.integers(-9, 9, 6).astype(np.int8)
    w2s = np.full(6, 0.01, np.float32) + np.arange(6, dtype=np.float32) * np.float32(0.001)
    c2, y2 = head("Conv_4", "y1", y1, w2, w2s, w2z, scale_shape=(6, 1, 1), group=6,
                  strides=[2, 2], dilations=[2, 2], pads=[2, 2, 2, 2])
    nodes[-1].output[0] = "y2"
    # grouped (3 groups of 2 channels, 3 outputs each) on y1 (its quantization reused): u8
    # weights with zero point 128 (no row term), a 1x3 kernel
    w3 = rng.integers(0, 256, (9, 2, 1, 3)).astype(np.uint8)
    q1, s1, z1 = dynamic_quantize(y1)
    a = q1.astype(np.int64) - int(z1)
    acc3 = conv_int(a, w3.astype(np.int64) - 128, pads=(0, 1, 0, 1), group=3)
    y3 = (acc3.astype(np.int32).astype(np.float32) * np.float32(s1 * np.float32(0.004))).astype(
        np.float32)
    nodes += [helper.make_node("ConvInteger", ["y1_quantized", "Conv_5_W_quantized",
                                               "y1_zero_point", "Conv_5_W_zero_point"],
                               ["Conv_5_output_quantized"], name="Conv_5_quant", group=3,
                               pads=[0, 1, 0, 1]),
              helper.make_node("Cast", ["Conv_5_output_quantized"],
                               ["Conv_5_output_quantized_cast_output"],
                               name="Conv_5_output_quantized_cast", to=TensorProto.FLOAT),
              helper.make_node("Mul", ["y1_scale", "Conv_5_W_scale"],
                               ["Conv_5_quant_scales_mul:0"], name="Conv_5_quant_scales_mul"),
              helper.make_node("Mul", ["Conv_5_output_quantized_cast_output",
                                       "Conv_5_quant_scales_mul:0"], ["y3"],
                               name="Conv_5_quant_output_scale_mul")]
    inits += [init("Conv_5_W_quantized", w3), init("Conv_5_W_scale", np.float32(0.004)),
              init("Conv_5_W_zero_point", np.uint8(128))]
    # K = 64 * 9 = 576 with sums past 2^24: x2 > 0 (zero point 0, codes up to 255), weights
    # mostly 127
    x2 = (np.abs(rng.standard_normal((1, 64, 6, 6))) * 0.1 + 5.0).astype(np.float32)
    w4 = np.where(rng.random((5, 64, 3, 3)) < 0.97, 127,
                  rng.integers(-127, 128, (5, 64, 3, 3))).astype(np.int8)
    q2, _, _ = dynamic_quantize(x2)
    big = conv_int(q2.astype(np.int64), w4.astype(np.int64))
    assert np.abs(big).max() > 2**24
    c4, y4 = head("Conv_6", "x2", x2, w4, np.float32(0.002), np.int8(0))
    nodes[-1].output[0] = "y4"
    # 1-D at batch 2, stride 2, pads
    x3 = rng.standard_normal((2, 3, 10)).astype(np.float32)
    w5, w5s = weights_i8((4, 3, 3))
    c5, y5 = head("Conv_7", "x3", x3, w5, w5s, np.int8(0), strides=[2], pads=[1, 1])
    nodes[-1].output[0] = "y5"
    # 16 x 16, 3x3, stride 1, pads 1, 3 channels (a first layer: the interleaved copy on VNNI,
    # the wide pairs form on the Arm DSP); u8 weights with one zero point that is not 128
    x4 = (rng.standard_normal((1, 3, 16, 16)) - 0.2).astype(np.float32)
    w6, w6s, w6z = weights_u8((8, 3, 3, 3))
    assert w6z != 128
    c6, y6 = head("Conv_9", "x4", x4, w6, w6s, w6z, pads=[1, 1, 1, 1])
    nodes[-1].output[0] = "y6"
    # the Cortex-M4's forms (a generator of their own: the cases after this one keep their data):
    # 16 -> 16 channels, 3x3, stride 1, pads 1 on 10 x 10 (the int8 Winograd F(2x2, 3x3) of the
    # Arm DSP, by its cost model), u8 weights with per-channel zero points at the ends of the range
    # (w - w_zp reaching -255 and 255; U up to 9 * 255), a [1, 16, 1, 1] scale; and a 1-channel
    # 5x5 conv on 12 x 12 (the wide pairs form of a first layer: taps paired along the rows)
    r2 = np.random.default_rng(2026)
    x5 = (r2.standard_normal((1, 16, 10, 10)) * 0.8 + 0.1).astype(np.float32)
    w7 = r2.integers(0, 256, (16, 16, 3, 3)).astype(np.uint8)
    w7z = r2.integers(0, 256, 16).astype(np.uint8)
    w7z[0], w7z[1] = 0, 255
    w7[0, 0, 1, 1], w7[1, 0, 1, 1], w7[1, 3] = 255, 0, 0
    w7s = (np.float32(0.001) + r2.random(16).astype(np.float32) * np.float32(0.002)).astype(
        np.float32)
    c7, y7 = head("Conv_10", "x5", x5, w7, w7s, w7z, scale_shape=(1, 16, 1, 1), pads=[1, 1, 1, 1])
    nodes[-1].output[0] = "y7"
    x6 = (r2.standard_normal((1, 1, 12, 12)) - 0.4).astype(np.float32)
    w8 = r2.integers(-127, 128, (6, 1, 5, 5)).astype(np.int8)
    c8, y8 = head("Conv_11", "x6", x6, w8, np.float32(0.003), np.int8(0), pads=[2, 2, 2, 2])
    nodes[-1].output[0] = "y8"
    # i8 data (a QuantizeLinear with zero point -100, not quantize_dynamic's form) into an
    # 8 -> 8 channel 3x3 on 6 x 6, i8 weights with per-channel zero points, the raw i32 sums as
    # the output (no Cast and Mul to fuse): the Arm DSP Winograd with i8 data and i32 stores
    x7 = (r2.standard_normal((1, 8, 6, 6)) * 1.5).astype(np.float32)
    q7 = np.clip(np.rint(x7 / np.float32(0.02)) - 100, -128, 127).astype(np.int8)
    w9 = r2.integers(-128, 128, (8, 8, 3, 3)).astype(np.int8)
    w9z = r2.integers(-128, 128, 8).astype(np.int8)
    w9z[0] = 127
    y9 = conv_int(q7.astype(np.int64) + 100, w9.astype(np.int64) - w9z.reshape(8, 1, 1, 1),
                  pads=(1, 1, 1, 1)).astype(np.int32)
    nodes += [helper.make_node("QuantizeLinear", ["x7", "x7_scale", "x7_zero_point"],
                               ["x7_quantized"], name="x7_QuantizeLinear"),
              helper.make_node("ConvInteger", ["x7_quantized", "Conv_12_W_quantized",
                                               "x7_zero_point", "Conv_12_W_zero_point"], ["y9"],
                               name="Conv_12_quant", pads=[1, 1, 1, 1])]
    inits += [init("x7_scale", np.float32(0.02)), init("x7_zero_point", np.int8(-100)),
              init("Conv_12_W_quantized", w9), init("Conv_12_W_zero_point", w9z)]
    # 8 -> 8 channels, 3x3, stride 1, pads 1 on 16 x 16 (VNNI's direct conv: not a first layer,
    # rows of 16 pixels; the Arm DSP Winograd), u8 weights with per-channel zero points (the
    # window term), a [1, 8, 1, 1] scale
    x8 = (r2.standard_normal((1, 8, 16, 16)) - 0.3).astype(np.float32)
    w10 = r2.integers(0, 256, (8, 8, 3, 3)).astype(np.uint8)
    w10z = r2.integers(60, 200, 8).astype(np.uint8)
    w10s = (np.float32(0.002) + r2.random(8).astype(np.float32) * np.float32(0.001)).astype(
        np.float32)
    c10, y10 = head("Conv_13", "x8", x8, w10, w10s, w10z, scale_shape=(1, 8, 1, 1),
                    pads=[1, 1, 1, 1])
    nodes[-1].output[0] = "y10"
    save_case("dynamic_conv", nodes, inits, [], [],
              {"x": x, "x2": x2, "x3": x3, "x4": x4, "x5": x5, "x6": x6, "x7": x7, "x8": x8},
              {"y1": y1, "y2": y2, "y3": y3, "y4": y4, "y5": y5, "y6": y6, "y7": y7, "y8": y8,
               "y9": y9, "y10": y10}, heads=0, step=0, integer=11)


def main():
    os.makedirs(OUT, exist_ok=True)
    qdq_cnn()
    qdq_matmul_fallback()
    qlinear_conv()
    qlinear_matmul()
    integer_ops()
    qdq_joins()
    qdq_convtranspose()
    dynamic_mlp()
    dynamic_gather()
    dynamic_int8()
    dynamic_conv()
    qdq_convtranspose_grouped()
    print("QDQ cases in", OUT)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
