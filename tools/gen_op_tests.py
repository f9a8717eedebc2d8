#!/usr/bin/python3
"""gen_op_tests: per-op test cases for Kiln under tests/ops/<case>/.

Each case directory holds model.json (+ weights.bin when an initializer has more than 64
elements), inputs/<name>.npy and golden/<name>.npy. Goldens are computed by PyTorch
(torch.nn.functional & co.) in float32; inputs and weights are random with a seed derived from
the case name (crc32), so adding a case never changes the others. tests/ops/MANIFEST lists the
case directories, sorted.

Run with Debian's Python (it has torch):  /usr/bin/python3 tools/gen_op_tests.py
The script deletes and recreates tests/ops/. tools/check_goldens.py re-checks every golden
against an independent numpy reference.

Where PyTorch has no direct equivalent of an ONNX feature the golden is built from PyTorch
pieces, see the comments at the helpers:
  * asymmetric pads (Conv, pools): F.pad first, then the op with padding=0;
  * ConvTranspose asymmetric pads: transposed conv with padding=0, zero-extend by
    output_padding, then crop pads (ONNX defines the output as exactly that crop);
  * AveragePool count_include_pad=0 with asymmetric pads: sum / number of valid cells;
  * auto_pad SAME_UPPER / SAME_LOWER: explicit pads computed per the ONNX formula.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import shutil
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_model import DTYPES, ModelBuilder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "ops")
MAX_ELEMS = 50000

CASES = []


class Case:
    """One test case: a ModelBuilder plus the sample inputs and the PyTorch goldens."""

    def __init__(self, name, doc=None):
        self.name = name
        self.mb = ModelBuilder(name, doc=doc)
        self.rng = np.random.RandomState(zlib.crc32(name.encode()))
        self.inputs = {}
        self.goldens = {}
        self.elems = 0
        CASES.append(self)

    # random data (float32)
    def uniform(self, shape, lo=-1.0, hi=1.0):
        return self.rng.uniform(lo, hi, size=shape).astype(np.float32)

    def normal(self, shape, scale=1.0):
        return (self.rng.standard_normal(size=shape) * scale).astype(np.float32)

    def away_from_zero(self, shape, lo=0.5, hi=2.0):
        """Random magnitudes in [lo, hi] with random signs (safe divisors)."""
        mag = self.rng.uniform(lo, hi, size=shape)
        sign = np.where(self.rng.uniform(size=shape) < 0.5, -1.0, 1.0)
        return (mag * sign).astype(np.float32)

    def input(self, name, arr, dtype="f32"):
        arr = np.array(arr, dtype=DTYPES[dtype], order="C")
        self.mb.input(name, arr.shape, dtype)
        self.inputs[name] = arr
        self.elems += arr.size
        return torch.from_numpy(arr.copy())

    def init(self, name, arr, dtype=None):
        arr = np.asarray(arr)
        self.mb.initializer(name, arr, dtype=dtype)
        self.elems += arr.size
        if arr.dtype.kind == "f":
            return torch.from_numpy(np.array(arr, dtype=np.float32))
        return arr

    def node(self, op, inputs, outputs, attrs=None, name=None):
        return self.mb.node(op, inputs, outputs, attrs, name)

    def output(self, name, tensor, dtype="f32"):
        arr = np.array(tensor.detach().numpy().astype(DTYPES[dtype]), order="C")
        self.mb.output(name, arr.shape, dtype)
        self.goldens[name] = arr
        self.elems += arr.size

    def save(self):
        assert self.elems <= MAX_ELEMS, "%s: %d elements" % (self.name, self.elems)
        self.mb.save_case(os.path.join(OUT, self.name), self.inputs, self.goldens)


def t_pad(x, pads, value=0.0):
    """ONNX pads [top, left, bottom, right] -> F.pad on the last two dims."""
    pt, pl, pb, pr = pads
    return F.pad(x, (pl, pr, pt, pb), value=value)


def same_pads(mode, in_sp, k_eff, strides):
    """ONNX auto_pad SAME_UPPER/SAME_LOWER -> explicit [top, left, bottom, right]."""
    b, e = [], []
    for n, k, s in zip(in_sp, k_eff, strides):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        lo, hi = total // 2, total - total // 2
        if mode == "SAME_UPPER":   # extra padding at the end
            b.append(lo); e.append(hi)
        else:                      # SAME_LOWER: extra padding at the beginning
            b.append(hi); e.append(lo)
    return b + e


# ====================================================================== Gemm
def gemm(name, M, K, N, transA=0, transB=0, alpha=None, beta=None, c_shape="N",
         b_input=False, explicit=False):
    c = Case(name)
    A = c.input("a", c.uniform((K, M) if transA else (M, K)))
    Bnp = c.uniform((N, K) if transB else (K, N))
    B = c.input("b", Bnp) if b_input else c.init("b", Bnp)
    ins = ["a", "b"]
    At = A.t() if transA else A
    Bt = B.t() if transB else B
    al = 1.0 if alpha is None else alpha
    be = 1.0 if beta is None else beta
    if c_shape is None:
        y = al * torch.mm(At, Bt)
    else:
        shape = {"N": (N,)}.get(c_shape, c_shape)
        C = c.init("c", c.uniform(shape))
        ins.append("c")
        if transB and not transA and alpha is None and beta is None and shape == (N,):
            y = F.linear(A, B, C)              # exactly nn.Linear
        else:
            y = torch.addmm(C.expand(M, N), At, Bt, beta=be, alpha=al)
    attrs = {}
    if transA or explicit:
        attrs["transA"] = transA
    if transB or explicit:
        attrs["transB"] = transB
    if alpha is not None or explicit:
        attrs["alpha"] = al
    if beta is not None or explicit:
        attrs["beta"] = be
    c.node("Gemm", ins, ["y"], attrs, name="gemm")
    c.output("y", y)


def gemm_cases():
    gemm("gemm_basic", 4, 8, 5)
    gemm("gemm_transb_linear", 3, 16, 7, transB=1)
    gemm("gemm_transa", 5, 6, 4, transA=1, c_shape=(1, 4))
    gemm("gemm_transa_transb", 6, 5, 7, transA=1, transB=1, c_shape=(6, 7))
    gemm("gemm_alpha_beta", 4, 9, 3, alpha=0.5, beta=2.0, c_shape=(4, 3))
    gemm("gemm_bias_1xn_defaults_explicit", 2, 10, 6, c_shape=(1, 6), explicit=True)
    gemm("gemm_bias_mx1", 5, 4, 3, transB=1, c_shape=(5, 1), beta=-1.5)
    gemm("gemm_bias_scalar", 3, 7, 4, c_shape=(1,), alpha=2.0)
    gemm("gemm_no_bias", 7, 3, 9, c_shape=None, transB=1, alpha=0.25)
    gemm("gemm_b_input", 4, 6, 5, b_input=True, beta=0.5)
    gemm("gemm_m1_k1", 1, 1, 8, transB=1)


# ==================================================================== MatMul
def matmul(name, a_shape, b_shape, b_input=False):
    c = Case(name)
    A = c.input("a", c.uniform(a_shape))
    Bnp = c.uniform(b_shape)
    B = c.input("b", Bnp) if b_input else c.init("b", Bnp)
    c.node("MatMul", ["a", "b"], ["y"], name="matmul")
    c.output("y", torch.matmul(A, B))


def matmul_cases():
    matmul("matmul_2d", (5, 7), (7, 3))
    matmul("matmul_1d_1d", (6,), (6,), b_input=True)       # scalar output, shape []
    matmul("matmul_1d_2d", (5,), (5, 4))
    matmul("matmul_2d_1d", (3, 5), (5,))
    matmul("matmul_3d_batched", (2, 3, 4), (2, 4, 5), b_input=True)
    matmul("matmul_3d_2d_broadcast", (3, 4, 6), (6, 2))
    matmul("matmul_2d_3d_broadcast", (4, 6), (3, 6, 2), b_input=True)
    matmul("matmul_4d_broadcast", (2, 1, 3, 4), (3, 4, 5), b_input=True)


# ====================================================================== Conv
def conv(name, x_shape, M, k, strides=None, pads=None, dil=None, group=None, bias=True,
         auto_pad=None, explicit=False):
    N, C, H, W = x_shape
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = tuple(strides or (1, 1))
    d = tuple(dil or (1, 1))
    g = group or 1
    p = list(pads or (0, 0, 0, 0))
    c = Case(name)
    x = c.input("x", c.uniform(x_shape))
    fan_in = (C // g) * k[0] * k[1]
    w = c.init("w", c.uniform((M, C // g) + k, -1, 1) / np.float32(np.sqrt(fan_in)))
    ins = ["x", "w"]
    b = None
    if bias:
        b = c.init("b", c.uniform((M,)))
        ins.append("b")
    attrs = {"kernel_shape": list(k)}
    k_eff = [(k[i] - 1) * d[i] + 1 for i in range(2)]
    if auto_pad is not None:
        attrs["auto_pad"] = auto_pad
        p = [0, 0, 0, 0] if auto_pad == "VALID" else same_pads(auto_pad, (H, W), k_eff, s)
    elif pads is not None or explicit:
        attrs["pads"] = p
    if strides is not None or explicit:
        attrs["strides"] = list(s)
    if dil is not None or explicit:
        attrs["dilations"] = list(d)
    if group is not None or explicit:
        attrs["group"] = g
    if p[0] == p[2] and p[1] == p[3]:
        y = F.conv2d(x, w, b, stride=s, padding=(p[0], p[1]), dilation=d, groups=g)
    else:  # asymmetric: pad explicitly, then convolve without padding
        y = F.conv2d(t_pad(x, p), w, b, stride=s, padding=0, dilation=d, groups=g)
    c.node("Conv", ins, ["y"], attrs, name="conv")
    c.output("y", y)


def conv_cases():
    conv("conv_3x3_basic", (1, 3, 8, 8), 4, 3)
    conv("conv_1x1_stride2_nobias", (2, 6, 7, 7), 4, 1, strides=(2, 2), bias=False)
    conv("conv_stride2_pad1", (1, 3, 11, 11), 8, 3, strides=(2, 2), pads=(1, 1, 1, 1))
    conv("conv_stride_gt_kernel", (1, 2, 13, 13), 3, 2, strides=(3, 3))
    conv("conv_pad2_5x5", (1, 3, 10, 10), 4, 5, pads=(2, 2, 2, 2))
    conv("conv_pad3_gt_half_kernel", (1, 2, 6, 6), 3, 3, pads=(3, 3, 3, 3))
    conv("conv_asym_pads", (1, 3, 8, 9), 4, 3, pads=(0, 1, 2, 3))
    conv("conv_batch3", (3, 4, 8, 8), 6, 3, pads=(1, 1, 1, 1), bias=False)
    conv("conv_odd_rect_kernel", (1, 3, 7, 11), 5, (3, 5), strides=(1, 2), pads=(1, 2, 1, 2))
    conv("conv_dilation2", (1, 3, 12, 12), 4, 3, dil=(2, 2), pads=(2, 2, 2, 2))
    conv("conv_dilation_rect", (1, 2, 11, 13), 3, (3, 2), dil=(1, 3), strides=(2, 1))
    conv("conv_groups2", (1, 4, 8, 8), 6, 3, group=2, pads=(1, 1, 1, 1))
    conv("conv_groups3_stride2", (2, 6, 9, 9), 9, 3, group=3, strides=(2, 2))
    conv("conv_depthwise", (1, 8, 10, 10), 8, 3, group=8, pads=(1, 1, 1, 1))
    conv("conv_depthwise_stride2", (1, 6, 11, 11), 6, 3, group=6, strides=(2, 2),
         pads=(1, 1, 1, 1))
    conv("conv_depthwise_multiplier2", (1, 4, 8, 8), 8, 3, group=4, pads=(0, 1, 2, 1))
    conv("conv_all_attrs_explicit", (1, 4, 9, 10), 4, 3, explicit=True)
    conv("conv_autopad_same_upper", (1, 3, 10, 9), 4, 4, strides=(2, 2), auto_pad="SAME_UPPER")
    conv("conv_autopad_same_lower", (1, 3, 10, 9), 4, 4, strides=(2, 2), auto_pad="SAME_LOWER")


# ============================================================= ConvTranspose
def conv_transpose(name, x_shape, M, k, strides=None, pads=None, dil=None, group=None,
                   out_pad=None, bias=True, output_shape=None, explicit=False):
    N, C, H, W = x_shape
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = tuple(strides or (1, 1))
    d = tuple(dil or (1, 1))
    g = group or 1
    op = tuple(out_pad or (0, 0))
    p = list(pads or (0, 0, 0, 0))
    c = Case(name)
    x = c.input("x", c.uniform(x_shape))
    w = c.init("w", c.uniform((C, M // g) + k) / np.float32(np.sqrt(C // g * k[0] * k[1])))
    ins = ["x", "w"]
    b = None
    if bias:
        b = c.init("b", c.uniform((M,)))
        ins.append("b")
    attrs = {"kernel_shape": list(k)}
    k_eff = [(k[i] - 1) * d[i] + 1 for i in range(2)]
    if output_shape is not None:
        # ONNX: pads derived from output_shape; total padding chosen even so that the
        # SAME_UPPER/LOWER split question does not arise.
        attrs["output_shape"] = list(output_shape)
        tot = [s[i] * ([H, W][i] - 1) + op[i] + k_eff[i] - output_shape[i] for i in range(2)]
        assert all(t >= 0 and t % 2 == 0 for t in tot), tot
        p = [tot[0] // 2, tot[1] // 2, tot[0] // 2, tot[1] // 2]
    elif pads is not None or explicit:
        attrs["pads"] = p
    if strides is not None or explicit:
        attrs["strides"] = list(s)
    if dil is not None or explicit:
        attrs["dilations"] = list(d)
    if group is not None or explicit:
        attrs["group"] = g
    if out_pad is not None or explicit:
        attrs["output_padding"] = list(op)
    sym = p[0] == p[2] and p[1] == p[3]
    if sym and all(op[i] < max(s[i], d[i]) for i in range(2)):
        y = F.conv_transpose2d(x, w, b, stride=s, padding=(p[0], p[1]), output_padding=op,
                               groups=g, dilation=d)
    else:
        # ONNX output = full transposed conv (no padding), zero-extended at the end by
        # output_padding, cropped by pads [top, left, bottom, right], plus bias.
        full = F.conv_transpose2d(x, w, None, stride=s, padding=0, groups=g, dilation=d)
        full = F.pad(full, (0, op[1], 0, op[0]))
        Hf, Wf = full.shape[2], full.shape[3]
        y = full[:, :, p[0]:Hf - p[2], p[1]:Wf - p[3]]
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
    c.node("ConvTranspose", ins, ["y"], attrs, name="convtranspose")
    c.output("y", y)


def conv_transpose_cases():
    conv_transpose("convtranspose_3x3_basic", (1, 3, 5, 5), 4, 3)
    conv_transpose("convtranspose_1x1", (1, 6, 4, 5), 3, 1, bias=False)
    conv_transpose("convtranspose_stride2", (1, 4, 5, 5), 3, 3, strides=(2, 2))
    conv_transpose("convtranspose_k4_s2_p1", (2, 8, 4, 4), 4, 4, strides=(2, 2),
                   pads=(1, 1, 1, 1))
    conv_transpose("convtranspose_output_padding", (1, 3, 5, 6), 2, 3, strides=(2, 2),
                   pads=(1, 1, 1, 1), out_pad=(1, 1))
    conv_transpose("convtranspose_stride_gt_kernel", (1, 2, 4, 4), 3, 2, strides=(3, 3),
                   out_pad=(2, 1))
    conv_transpose("convtranspose_asym_pads", (1, 3, 5, 5), 4, 3, strides=(2, 2),
                   pads=(0, 1, 2, 0))
    conv_transpose("convtranspose_groups2", (1, 4, 5, 5), 6, 3, group=2, strides=(2, 1),
                   pads=(1, 0, 1, 0))
    conv_transpose("convtranspose_depthwise", (1, 4, 6, 6), 4, 3, group=4, strides=(2, 2))
    conv_transpose("convtranspose_dilation2", (1, 3, 5, 5), 2, 3, dil=(2, 2), pads=(1, 1, 1, 1))
    conv_transpose("convtranspose_rect_all_attrs", (2, 3, 4, 5), 4, (2, 3), strides=(2, 3),
                   pads=(0, 1, 0, 1), out_pad=(1, 2), dil=(1, 1), explicit=True)
    conv_transpose("convtranspose_output_shape", (1, 3, 4, 4), 2, 4, strides=(2, 2),
                   output_shape=(8, 8))


# ==================================================================== pools
def pool_shape(n, pb, pe, k_eff, s, ceil_mode):
    num = n + pb + pe - k_eff
    o = (-(-num // s) if ceil_mode else num // s) + 1
    # keep clear of the ambiguous edge (last ceil window starting inside the end pad)
    assert not ceil_mode or (o - 1) * s < n + pb
    return o


def maxpool(name, x_shape, k, strides=None, pads=None, dil=None, ceil_mode=None,
            auto_pad=None, negative=False, explicit=False):
    N, C, H, W = x_shape
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = tuple(strides or (1, 1))
    d = tuple(dil or (1, 1))
    p = list(pads or (0, 0, 0, 0))
    c = Case(name)
    xnp = c.uniform(x_shape, -3.0, -0.5) if negative else c.uniform(x_shape)
    x = c.input("x", xnp)
    attrs = {"kernel_shape": list(k)}
    k_eff = [(k[i] - 1) * d[i] + 1 for i in range(2)]
    if auto_pad is not None:
        attrs["auto_pad"] = auto_pad
        p = same_pads(auto_pad, (H, W), k_eff, s)
    elif pads is not None or explicit:
        attrs["pads"] = p
    if strides is not None or explicit:
        attrs["strides"] = list(s)
    if dil is not None or explicit:
        attrs["dilations"] = list(d)
    if ceil_mode is not None or explicit:
        attrs["ceil_mode"] = int(bool(ceil_mode))
    if explicit:
        attrs["storage_order"] = 0
    cm = bool(ceil_mode)
    for i in range(2):
        pool_shape([H, W][i], p[i], p[i + 2], k_eff[i], s[i], cm)
    if p[0] == p[2] and p[1] == p[3] and p[0] <= k[0] // 2 and p[1] <= k[1] // 2:
        y = F.max_pool2d(x, k, s, (p[0], p[1]), d, ceil_mode=cm)
    else:  # pad with -inf (pads never win a max), then pool without padding
        y = F.max_pool2d(t_pad(x, p, float("-inf")), k, s, 0, d, ceil_mode=cm)
    c.node("MaxPool", ["x"], ["y"], attrs, name="maxpool")
    c.output("y", y)


def maxpool_cases():
    maxpool("maxpool_2x2_stride2", (1, 3, 8, 8), 2, strides=(2, 2))
    maxpool("maxpool_3x3_stride1_pad1", (2, 2, 7, 7), 3, pads=(1, 1, 1, 1))
    maxpool("maxpool_ceil_mode", (1, 2, 7, 9), 2, strides=(2, 2), ceil_mode=1)
    maxpool("maxpool_ceil_mode_pads", (1, 2, 8, 8), 3, strides=(2, 2), pads=(1, 1, 1, 1),
            ceil_mode=1)
    maxpool("maxpool_asym_pads_negative", (1, 3, 6, 7), 3, strides=(2, 2), pads=(0, 2, 2, 1),
            negative=True)
    maxpool("maxpool_pad2_negative", (1, 2, 5, 5), 5, pads=(2, 2, 2, 2), negative=True)
    maxpool("maxpool_stride_gt_kernel", (1, 2, 11, 11), 2, strides=(3, 3))
    maxpool("maxpool_dilation2", (1, 2, 9, 9), 2, dil=(2, 2), strides=(1, 1))
    maxpool("maxpool_rect_odd", (3, 2, 7, 10), (3, 2), strides=(2, 3), pads=(1, 0, 1, 0))
    maxpool("maxpool_all_attrs_explicit", (1, 3, 6, 6), 2, strides=(2, 2), explicit=True)
    maxpool("maxpool_autopad_same_upper", (1, 2, 7, 8), 3, strides=(2, 2),
            auto_pad="SAME_UPPER", negative=True)
    maxpool("maxpool_autopad_same_lower", (1, 2, 7, 8), 2, strides=(2, 2),
            auto_pad="SAME_LOWER", negative=True)


def avgpool(name, x_shape, k, strides=None, pads=None, ceil_mode=None, cip=None,
            explicit=False, doc=None):
    N, C, H, W = x_shape
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = tuple(strides or (1, 1))
    p = list(pads or (0, 0, 0, 0))
    c = Case(name, doc=doc)
    x = c.input("x", c.uniform(x_shape))
    attrs = {"kernel_shape": list(k)}
    if pads is not None or explicit:
        attrs["pads"] = p
    if strides is not None or explicit:
        attrs["strides"] = list(s)
    if ceil_mode is not None or explicit:
        attrs["ceil_mode"] = int(bool(ceil_mode))
    if cip is not None or explicit:
        attrs["count_include_pad"] = int(bool(cip))
    cm, inc = bool(ceil_mode), bool(cip)
    for i in range(2):
        pool_shape([H, W][i], p[i], p[i + 2], k[i], s[i], cm)
    if p[0] == p[2] and p[1] == p[3] and p[0] <= k[0] // 2 and p[1] <= k[1] // 2:
        # PyTorch's divisor with count_include_pad=True counts the pads but not the ceil_mode
        # overhang past the end pad; that is the semantics these goldens pin down.
        y = F.avg_pool2d(x, k, s, (p[0], p[1]), ceil_mode=cm, count_include_pad=inc)
    elif inc:
        # zero-pad explicitly: pads count in the divisor, a ceil overhang (past the
        # explicitly padded tensor) does not, same as above
        y = F.avg_pool2d(t_pad(x, p), k, s, 0, ceil_mode=cm, count_include_pad=True)
    else:
        # sum over the window / number of real input cells in it
        ssum = F.avg_pool2d(t_pad(x, p), k, s, 0, ceil_mode=cm)
        cnt = F.avg_pool2d(t_pad(torch.ones_like(x), p), k, s, 0, ceil_mode=cm)
        y = ssum / cnt
    c.node("AveragePool", ["x"], ["y"], attrs, name="averagepool")
    c.output("y", y)


CEIL_INCLUDE_DOC = ("ceil_mode=1 with count_include_pad=1: the divisor counts the explicit "
                    "pads but not the cells a ceil-mode window hangs over past the end pad "
                    "(PyTorch/onnxruntime behaviour; the ONNX opset-17 text does not say).")


def avgpool_cases():
    avgpool("averagepool_2x2_stride2", (1, 3, 8, 8), 2, strides=(2, 2))
    avgpool("averagepool_3x3_pad1_include", (2, 2, 7, 7), 3, pads=(1, 1, 1, 1), cip=1)
    avgpool("averagepool_3x3_pad1_exclude", (2, 2, 7, 7), 3, pads=(1, 1, 1, 1), cip=0)
    avgpool("averagepool_ceil_exclude", (1, 2, 7, 9), 2, strides=(2, 2), ceil_mode=1)
    avgpool("averagepool_ceil_pads_exclude", (1, 2, 8, 8), 3, strides=(2, 2), pads=(1, 1, 1, 1),
            ceil_mode=1, cip=0)
    avgpool("averagepool_ceil_pads_include", (1, 2, 8, 8), 3, strides=(2, 2), pads=(1, 1, 1, 1),
            ceil_mode=1, cip=1, doc=CEIL_INCLUDE_DOC)
    avgpool("averagepool_ceil_include_nopad", (1, 2, 7, 9), 2, strides=(2, 2), ceil_mode=1,
            cip=1, doc=CEIL_INCLUDE_DOC)
    avgpool("averagepool_asym_pads_include", (1, 3, 6, 7), 3, strides=(2, 2), pads=(0, 2, 2, 1),
            cip=1)
    avgpool("averagepool_asym_pads_exclude", (1, 3, 6, 7), 3, strides=(2, 2), pads=(0, 2, 2, 1),
            cip=0)
    avgpool("averagepool_stride_gt_kernel", (1, 2, 11, 11), 2, strides=(3, 3))
    avgpool("averagepool_rect_all_attrs", (3, 2, 7, 10), (3, 2), strides=(2, 3),
            pads=(1, 0, 1, 0), explicit=True)


def gap_cases():
    for name, shape in (("globalaveragepool_basic", (1, 8, 7, 7)),
                        ("globalaveragepool_batch3_odd", (3, 5, 9, 4)),
                        ("globalaveragepool_1x1_spatial", (2, 6, 1, 1))):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        c.node("GlobalAveragePool", ["x"], ["y"], name="gap")
        c.output("y", F.adaptive_avg_pool2d(x, 1))


# =============================================================== activations
def unary(name, op, shape, fn, attrs=None, lo=-3.0, hi=3.0):
    c = Case(name)
    x = c.input("x", c.uniform(shape, lo, hi))
    c.node(op, ["x"], ["y"], attrs, name=op.lower())
    c.output("y", fn(x))


def activation_cases():
    unary("relu_4d", "Relu", (2, 3, 5, 5), F.relu)
    unary("leakyrelu_default_alpha", "LeakyRelu", (3, 4, 5), lambda x: F.leaky_relu(x, 0.01))
    unary("leakyrelu_alpha_0_2", "LeakyRelu", (2, 3, 4, 4), lambda x: F.leaky_relu(x, 0.2),
          {"alpha": 0.2})
    unary("sigmoid_4d_wide_range", "Sigmoid", (1, 3, 6, 6), torch.sigmoid, lo=-20.0, hi=20.0)
    unary("tanh_4d_wide_range", "Tanh", (1, 3, 6, 6), torch.tanh, lo=-12.0, hi=12.0)
    unary("identity_4d", "Identity", (2, 3, 4, 5), lambda x: x.clone())


def math_cases():
    unary("exp_wide_range", "Exp", (3, 4, 5), torch.exp, lo=-20.0, hi=20.0)
    unary("log_positive", "Log", (4, 6), torch.log, lo=1e-3, hi=50.0)
    unary("sqrt_positive", "Sqrt", (2, 3, 7), torch.sqrt, lo=0.0, hi=9.0)
    unary("neg_4d", "Neg", (2, 3, 2, 2), torch.neg)
    unary("abs_3d", "Abs", (3, 5, 2), torch.abs)
    unary("erf_wide_range", "Erf", (4, 25), torch.erf, lo=-5.0, hi=5.0)
    for name, shape, axis in (("logsoftmax_last_axis", (3, 10), None),
                              ("logsoftmax_axis1_3d", (2, 6, 4), 1),
                              ("logsoftmax_large_values", (2, 10), -1)):
        c = Case(name)
        lo, hi = (-50.0, 80.0) if "large" in name else (-3.0, 3.0)
        x = c.input("x", c.uniform(shape, lo, hi))
        c.node("LogSoftmax", ["x"], ["y"], None if axis is None else {"axis": axis},
               name="logsoftmax")
        c.output("y", F.log_softmax(x, dim=-1 if axis is None else axis))

    for name, shape, e, lo, hi in (("pow_square", (3, 16), 2.0, -3.0, 3.0),
                                   ("pow_cube_negative_base", (2, 3, 4), 3.0, -2.0, 2.0),
                                   ("pow_inverse_square", (4, 5), -2.0, 0.5, 3.0),
                                   ("pow_fractional", (2, 9), 1.5, 0.0, 4.0),
                                   ("pow_sqrt", (5, 4), 0.5, 0.0, 9.0)):
        c = Case(name)
        x = c.input("x", c.uniform(shape, lo, hi))
        c.init("e", np.array(e, dtype=np.float32))
        c.node("Pow", ["x", "e"], ["y"], name="pow")
        c.output("y", torch.pow(x, e))

    # GELU as exporters write it at opset <= 17: x * 0.5 * (1 + erf(x / sqrt(2)))
    c = Case("gelu_erf_decomposition")
    x = c.input("x", c.uniform((4, 32), -4.0, 4.0))
    c.init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    c.init("one", np.array(1.0, dtype=np.float32))
    c.init("half", np.array(0.5, dtype=np.float32))
    c.node("Div", ["x", "sqrt2"], ["xs"], name="div")
    c.node("Erf", ["xs"], ["e"], name="erf")
    c.node("Add", ["e", "one"], ["e1"], name="add")
    c.node("Mul", ["x", "e1"], ["xe"], name="mul")
    c.node("Mul", ["xe", "half"], ["y"], name="mul_half")
    c.output("y", F.gelu(x))


def softmax_cases():
    for name, shape, axis in (("softmax_axis0", (5, 4), 0),
                              ("softmax_axis_neg1_3d", (2, 3, 6), -1),
                              ("softmax_default_axis", (3, 8), None),
                              ("softmax_4d_axis1", (2, 5, 3, 4), 1),
                              ("softmax_large_values", (2, 10), 1)):
        c = Case(name)
        lo, hi = (-50.0, 80.0) if "large" in name else (-3.0, 3.0)
        x = c.input("x", c.uniform(shape, lo, hi))
        c.node("Softmax", ["x"], ["y"], None if axis is None else {"axis": axis}, name="softmax")
        c.output("y", F.softmax(x, dim=-1 if axis is None else axis))


def clip_cases():
    for name, lo, hi in (("clip_min_only", -0.5, None),
                         ("clip_max_only", None, 0.3),
                         ("clip_min_max", -0.4, 0.7),
                         ("clip_relu6", 0.0, 6.0),
                         ("clip_neither", None, None)):
        c = Case(name)
        x = c.input("x", c.uniform((2, 3, 4, 4), -8.0, 8.0) if name == "clip_relu6"
                    else c.uniform((3, 4, 5), -1.5, 1.5))
        ins = ["x"]
        if lo is not None:
            c.init("min", np.array(lo, dtype=np.float32))
        if hi is not None:
            c.init("max", np.array(hi, dtype=np.float32))
        if name == "clip_neither":
            pass                              # just ["x"]
        elif hi is None:
            ins = ["x", "min"]                # trailing optional input left out
        else:
            ins = ["x", "min" if lo is not None else "", "max"]
        c.node("Clip", ins, ["y"], name="clip")
        c.output("y", torch.clamp(x, min=lo, max=hi) if (lo is not None or hi is not None)
                 else x.clone())


# ============================================================ shape ops
def flatten_cases():
    for name, shape, axis in (("flatten_axis0", (2, 3, 4), 0),
                              ("flatten_axis1", (2, 3, 4, 5), 1),
                              ("flatten_default_axis", (3, 2, 5), None),
                              ("flatten_axis2", (2, 3, 4, 5), 2),
                              ("flatten_axis_neg1", (2, 3, 4, 5), -1),
                              ("flatten_axis_rank", (2, 3, 4), 3)):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        a = 1 if axis is None else (axis + len(shape) if axis < 0 else axis)
        lead = int(np.prod(shape[:a], dtype=np.int64))
        c.node("Flatten", ["x"], ["y"], None if axis is None else {"axis": axis}, name="flatten")
        c.output("y", torch.reshape(x, (lead, -1)))


def reshape_cases():
    for name, shape, target in (("reshape_4d_to_2d", (2, 3, 4, 5), [6, 20]),
                                ("reshape_zero_copy_dim", (2, 3, 4, 5), [0, 12, 5]),
                                ("reshape_minus1", (2, 3, 4, 5), [-1, 10]),
                                ("reshape_zero_and_minus1", (2, 3, 4, 5), [0, 0, -1]),
                                ("reshape_to_1d", (3, 4, 5), [-1]),
                                ("reshape_rank_extend", (6, 10), [2, 3, 1, -1, 5])):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        c.init("shape", np.array(target, dtype=np.int64))
        real = [shape[i] if t == 0 else t for i, t in enumerate(target)]
        c.node("Reshape", ["x", "shape"], ["y"], name="reshape")
        c.output("y", torch.reshape(x, real))


def concat_cases():
    # (name, axis, shapes, which ones are initializers)
    for name, axis, shapes, inits in (
            ("concat_axis0_3inputs", 0, [(2, 4), (3, 4), (1, 4)], []),
            ("concat_axis1_4d", 1, [(1, 2, 3, 3), (1, 4, 3, 3), (1, 1, 3, 3)], [1]),
            ("concat_axis_neg1", -1, [(2, 3, 2), (2, 3, 5), (2, 3, 1)], [0]),
            ("concat_axis2_4d", 2, [(2, 3, 1, 4), (2, 3, 3, 4), (2, 3, 2, 4)], [2])):
        c = Case(name)
        ts, names = [], []
        for i, sh in enumerate(shapes):
            nm = "x%d" % i
            arr = c.uniform(sh)
            ts.append(c.init(nm, arr) if i in inits else c.input(nm, arr))
            names.append(nm)
        c.node("Concat", names, ["y"], {"axis": axis}, name="concat")
        c.output("y", torch.cat(ts, dim=axis))


# ============================================================ elementwise
BINOPS = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}


def binary(name, op, a_shape, b_shape, a_init=False, b_init=False):
    c = Case(name)
    ts = []
    for nm, sh, is_init in (("a", a_shape, a_init), ("b", b_shape, b_init)):
        if op == "Div" and nm == "b":
            arr = c.away_from_zero(sh)        # divisors in +-[0.5, 2]
        else:
            arr = c.uniform(sh, -2.0, 2.0)
        ts.append(c.init(nm, arr) if is_init else c.input(nm, arr))
    c.node(op, ["a", "b"], ["y"], name=op.lower())
    c.output("y", BINOPS[op](ts[0], ts[1]))


def binary_cases():
    binary("add_same_shape_two_inputs", "Add", (3, 4), (3, 4))
    binary("add_scalar", "Add", (2, 3, 4), (), b_init=True)
    binary("add_row", "Add", (3, 4), (4,), b_init=True)
    binary("add_column", "Add", (3, 4), (3, 1), b_init=True)
    binary("add_rank_extend", "Add", (2, 3, 4, 5), (4, 5))
    binary("add_both_broadcast", "Add", (3, 1), (1, 4))
    binary("add_channel_4d", "Add", (2, 3, 4, 5), (1, 3, 1, 1), b_init=True)
    binary("add_both_broadcast_3d_lhs_init", "Add", (2, 1, 4), (3, 1), a_init=True)
    binary("sub_scalar_lhs", "Sub", (), (3, 4), a_init=True)
    binary("sub_column", "Sub", (4, 5), (4, 1))
    binary("sub_both_broadcast", "Sub", (3, 1), (1, 4))
    binary("sub_rank_extend_lhs_small", "Sub", (5,), (2, 3, 5))
    binary("mul_scalar", "Mul", (2, 3, 4, 4), (), b_init=True)
    binary("mul_row", "Mul", (3, 5), (1, 5), b_init=True)
    binary("mul_both_broadcast_4d", "Mul", (2, 1, 3, 1), (1, 4, 1, 5))
    binary("mul_channel_4d", "Mul", (1, 3, 1, 1), (2, 3, 4, 4))
    binary("div_same_shape", "Div", (3, 4), (3, 4))
    binary("div_scalar", "Div", (2, 5), (), b_init=True)
    binary("div_row", "Div", (4, 6), (6,), b_init=True)
    binary("div_column", "Div", (4, 6), (4, 1))
    binary("div_both_broadcast", "Div", (3, 1), (1, 4))
    binary("div_scalar_lhs_rank_extend", "Div", (1,), (2, 3, 4), a_init=True)


# ============================================================ normalization
def batchnorm(name, shape, eps=None, explicit=False):
    C = shape[1]
    c = Case(name)
    x = c.input("x", c.normal(shape) * 2 + 0.5)
    sc = c.init("scale", c.uniform((C,), 0.5, 1.5))
    bi = c.init("bias", c.uniform((C,), -0.5, 0.5))
    mu = c.init("mean", c.uniform((C,), -0.5, 1.0))
    var = c.init("var", c.uniform((C,), 0.2, 3.0))
    attrs = {}
    if eps is not None:
        attrs["epsilon"] = eps
    if explicit:
        attrs.update({"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0})
    c.node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], attrs, name="bn")
    c.output("y", F.batch_norm(x, mu, var, sc, bi, training=False,
                               eps=1e-5 if eps is None else eps))


def batchnorm_cases():
    batchnorm("batchnormalization_4d", (2, 4, 5, 5))
    batchnorm("batchnormalization_2d", (6, 5))
    batchnorm("batchnormalization_3d_eps", (2, 3, 7), eps=1e-2)
    batchnorm("batchnormalization_4d_attrs_explicit", (1, 8, 3, 3), explicit=True)


def dropout_cases():
    c = Case("dropout_plain")
    x = c.input("x", c.uniform((3, 8)))
    c.node("Dropout", ["x"], ["y"], name="dropout")
    c.output("y", F.dropout(x, 0.5, training=False))

    c = Case("dropout_ratio_input")
    x = c.input("x", c.uniform((2, 3, 4, 4)))
    c.init("ratio", np.array(0.3, dtype=np.float32))
    c.node("Dropout", ["x", "ratio"], ["y"], {"seed": 7}, name="dropout")
    c.output("y", F.dropout(x, 0.3, training=False))

    c = Case("dropout_training_mode_false")
    x = c.input("x", c.uniform((4, 5)))
    c.init("ratio", np.array(0.1, dtype=np.float32))
    c.init("training_mode", np.array(False), dtype="bool")
    c.node("Dropout", ["x", "ratio", "training_mode"], ["y"], name="dropout")
    c.output("y", F.dropout(x, 0.1, training=False))


# ============================================================ Pad (opset 17)
def onnx_pads_to_torch(pads, rank):
    """ONNX [b0, b1, ..., e0, e1, ...] -> F.pad's (b_last, e_last, b_prev, e_prev, ...)."""
    out = []
    for a in reversed(range(rank)):
        out += [pads[a], pads[a + rank]]
    return tuple(out)


def pad(name, shape, pads, mode=None, value=None):
    c = Case(name)
    x = c.input("x", c.uniform(shape))
    c.init("pads", np.array(pads, dtype=np.int64))
    ins = ["x", "pads"]
    if value is not None:
        c.init("value", np.array(value, dtype=np.float32))
        ins.append("value")
    attrs = {"mode": mode} if mode is not None else None
    c.node("Pad", ins, ["y"], attrs, name="pad")
    rank = len(shape)
    tpads = onnx_pads_to_torch(pads, rank)
    if mode in (None, "constant"):
        y = F.pad(x, tpads, value=0.0 if value is None else float(value))
    else:  # torch pads the trailing spatial dims only: drop the zero leading pairs
        n_sp = rank - 2
        y = F.pad(x, tpads[:2 * n_sp], mode="reflect" if mode == "reflect" else "replicate")
    c.output("y", y)


def pad_cases():
    pad("pad_constant_4d", (1, 2, 3, 4), [0, 0, 1, 2, 0, 0, 2, 0])
    pad("pad_constant_value_3d_all_axes", (2, 3, 4), [1, 0, 2, 0, 1, 1], value=1.5)
    pad("pad_constant_explicit_mode", (3, 5), [0, 2, 1, 0], mode="constant", value=-2.0)
    pad("pad_reflect_4d", (1, 2, 4, 5), [0, 0, 1, 3, 0, 0, 2, 1], mode="reflect")
    pad("pad_reflect_3d", (2, 3, 6), [0, 0, 5, 0, 0, 2], mode="reflect")
    pad("pad_edge_4d", (2, 1, 3, 4), [0, 0, 2, 1, 0, 0, 0, 3], mode="edge")

    # Pad followed by the op it folds into (passes/pass_padfold.c)
    c = Case("pad_then_conv")
    x = c.input("x", c.uniform((1, 2, 5, 6)))
    c.init("pads", np.array([0, 0, 1, 2, 0, 0, 0, 1], dtype=np.int64))
    w = c.init("w", c.uniform((3, 2, 3, 3), -0.5, 0.5))
    b = c.init("b", c.uniform((3,)))
    c.node("Pad", ["x", "pads"], ["p"], name="pad")
    c.node("Conv", ["p", "w", "b"], ["y"], {"kernel_shape": [3, 3], "pads": [1, 0, 1, 1]},
           name="conv")
    c.output("y", F.conv2d(t_pad(t_pad(x, [1, 2, 0, 1]), [1, 0, 1, 1]), w, b))

    c = Case("pad_then_averagepool")
    x = c.input("x", c.uniform((1, 2, 5, 5)))
    c.init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 0], dtype=np.int64))
    c.node("Pad", ["x", "pads"], ["p"], name="pad")
    c.node("AveragePool", ["p"], ["y"], {"kernel_shape": [2, 2], "strides": [2, 2]}, name="pool")
    c.output("y", F.avg_pool2d(t_pad(x, [1, 1, 1, 0]), 2, 2))


# ============================================================ fusion (passes/pass_fuse.c)
def fused_cases():
    """Chains the fusion pass turns into one node; -O0 runs them unfused, -O3 fused."""
    c = Case("fused_conv_bias_add_relu")
    x = c.input("x", c.uniform((1, 3, 6, 7)))
    w = c.init("w", c.uniform((3, 3, 3, 3), -0.4, 0.4))
    b = c.init("b", c.uniform((3,)))
    c.node("Conv", ["x", "w", "b"], ["h"], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
           name="conv")
    c.node("Add", ["h", "x"], ["s"], name="residual")
    c.node("Relu", ["s"], ["y"], name="relu")
    c.output("y", F.relu(F.conv2d(x, w, b, padding=1) + x))

    c = Case("fused_gemm_leakyrelu_clip")
    x = c.input("x", c.uniform((3, 8)))
    w = c.init("w", c.uniform((5, 8)))
    b = c.init("b", c.uniform((5,)))
    c.init("lo", np.array(-0.05, dtype=np.float32))
    c.init("hi", np.array(0.6, dtype=np.float32))
    c.node("Gemm", ["x", "w", "b"], ["h"], {"transB": 1, "alpha": 1.5}, name="fc")
    c.node("LeakyRelu", ["h"], ["l"], {"alpha": 0.2}, name="lrelu")
    c.node("Clip", ["l", "lo", "hi"], ["y"], name="clip")
    c.output("y", torch.clamp(F.leaky_relu(1.5 * (x @ w.T) + b, 0.2), -0.05, 0.6))

    c = Case("fused_matmul_sub_scalar_tanh")
    x = c.input("x", c.uniform((2, 3, 4)))
    w = c.init("w", c.uniform((4, 6)))
    k = c.init("k", np.array(0.25, dtype=np.float32))
    c.node("MatMul", ["x", "w"], ["h"], name="mm")
    c.node("Sub", ["k", "h"], ["d"], name="sub")
    c.node("Tanh", ["d"], ["y"], name="tanh")
    c.output("y", torch.tanh(0.25 - torch.matmul(x, w)))

    c = Case("fused_convtranspose_sigmoid_mul")
    x = c.input("x", c.uniform((1, 2, 3, 3)))
    w = c.init("w", c.uniform((2, 3, 2, 2)))
    g = c.input("g", c.uniform((1, 3, 6, 6)))
    c.node("ConvTranspose", ["x", "w"], ["h"], {"kernel_shape": [2, 2], "strides": [2, 2]},
           name="deconv")
    c.node("Sigmoid", ["h"], ["s"], name="sigmoid")
    c.node("Mul", ["g", "s"], ["y"], name="gate")
    c.output("y", g * torch.sigmoid(F.conv_transpose2d(x, w, stride=2)))

    c = Case("fused_elementwise_chain")
    x = c.input("x", c.uniform((4, 5)))
    m = c.init("m", c.uniform((4, 5)))
    s = c.init("s", c.away_from_zero((4, 5)))
    c.node("Sub", ["x", "m"], ["a"], name="sub")
    c.node("Div", ["a", "s"], ["b"], name="div")
    c.node("Relu", ["b"], ["r"], name="relu")
    c.node("Mul", ["r", "r"], ["y"], name="square")
    c.output("y", F.relu((x - m) / s) ** 2)
# ==================================================================== Gather
def gather(name, data_shape, idx, axis=None, idx_dtype="i64", data_init=True, idx_init=False):
    """Goldens: F.embedding for axis 0 (the embedding lookup), index_select elsewhere; negative
    indices are wrapped before they reach PyTorch (index_select rejects them)."""
    c = Case(name)
    D = c.init("data", c.uniform(data_shape)) if data_init else c.input("data", c.uniform(data_shape))
    idx = np.array(idx, dtype=DTYPES[idx_dtype])
    if idx_init:
        c.init("indices", idx, dtype=idx_dtype)
    else:
        c.input("indices", idx, dtype=idx_dtype)
    a = 0 if axis is None else axis
    a = a + len(data_shape) if a < 0 else a
    wrapped = torch.from_numpy(np.where(idx < 0, idx + data_shape[a], idx).astype(np.int64))
    c.node("Gather", ["data", "indices"], ["y"], None if axis is None else {"axis": axis},
           name="gather")
    if a == 0 and len(data_shape) == 2:
        y = F.embedding(wrapped, D)
    else:
        flat = torch.index_select(D, a, wrapped.reshape(-1))
        y = flat.reshape(tuple(data_shape[:a]) + tuple(idx.shape) + tuple(data_shape[a + 1:]))
    c.output("y", y)


def gather_cases():
    gather("gather_embedding_i64", (50, 8), [[3, 0, 49, 7], [7, 12, 12, 1]])
    gather("gather_embedding_i32", (20, 5), [[19, 2, 0], [5, 5, 18]], idx_dtype="i32")
    gather("gather_axis1_negative", (3, 6, 4), [-1, 0, -6, 2], axis=1, data_init=False)
    gather("gather_axis_neg1_i32", (2, 3, 5), [[4, 0], [2, -2]], axis=-1, idx_dtype="i32",
           data_init=False)
    gather("gather_scalar_index", (7, 3), 4, data_init=False, idx_init=True)


# ===================================================== reductions, layout, LayerNorm
def reduce(name, op, shape, axes=None, keepdims=None, axes_input=False, noop=None):
    c = Case(name)
    x = c.input("x", c.uniform(shape, -2.0, 2.0))
    attrs, ins = {}, ["x"]
    if axes is not None and axes_input:
        c.init("axes", np.array(axes, dtype=np.int64), dtype="i64")
        ins.append("axes")
    elif axes is not None:
        attrs["axes"] = axes
    if keepdims is not None:
        attrs["keepdims"] = keepdims
    if noop is not None:
        attrs["noop_with_empty_axes"] = noop
    c.node(op, ins, ["y"], attrs or None, name=op.lower())
    keep = True if keepdims is None else bool(keepdims)
    if axes is None and noop:
        y = x.clone()
    else:
        dims = tuple(range(len(shape))) if axes is None else tuple(axes)
        if op == "ReduceMean":
            y = torch.mean(x, dim=dims, keepdim=keep)
        elif op == "ReduceSum":
            y = torch.sum(x, dim=dims, keepdim=keep)
        elif op == "ReduceMax":
            y = torch.amax(x, dim=dims, keepdim=keep)
        elif op == "ReduceMin":
            y = torch.amin(x, dim=dims, keepdim=keep)
        elif op == "ReduceProd":   # torch.prod takes one dim: reduce them one by one
            y = x
            for dm in sorted([d % len(shape) for d in dims], reverse=True):
                y = torch.prod(y, dim=dm, keepdim=keep)
        elif op == "ReduceL1":
            y = torch.sum(x.abs(), dim=dims, keepdim=keep)
        elif op == "ReduceL2":
            y = torch.sqrt(torch.sum(x * x, dim=dims, keepdim=keep))
        elif op == "ReduceSumSquare":
            y = torch.sum(x * x, dim=dims, keepdim=keep)
        else:
            y = torch.logsumexp(x, dim=dims, keepdim=keep)
    c.output("y", y)


def reduce_cases():
    reduce("reducemean_time_axis", "ReduceMean", (2, 100, 16), axes=[1], keepdims=0)
    reduce("reducemean_last_keepdims", "ReduceMean", (3, 4, 10), axes=[-1])
    reduce("reducemean_all", "ReduceMean", (4, 5, 6))
    reduce("reducemean_two_axes", "ReduceMean", (2, 3, 4, 5), axes=[0, 2], keepdims=0)
    reduce("reducesum_axes_input", "ReduceSum", (3, 7, 5), axes=[1], axes_input=True)
    reduce("reducesum_noop_empty_axes", "ReduceSum", (3, 4), noop=1)
    reduce("reducesum_all_no_keepdims", "ReduceSum", (2, 6, 3), keepdims=0)
    reduce("reducemax_axis1", "ReduceMax", (4, 9, 3), axes=[1], keepdims=0)
    reduce("reducemax_neg_axes", "ReduceMax", (2, 3, 17), axes=[-1, -3])
    # issue 13: the other Reduce*; axes as attribute (opset <= 17) and as input (opset 18)
    reduce("reducemin_axis1", "ReduceMin", (4, 9, 3), axes=[1], keepdims=0)
    reduce("reducemin_all_axes_input", "ReduceMin", (3, 5), axes=[0, 1], axes_input=True)
    reduce("reduceprod_last", "ReduceProd", (3, 4, 6), axes=[-1])
    reduce("reduceprod_two_axes_input", "ReduceProd", (2, 3, 4), axes=[0, 2], keepdims=0,
           axes_input=True)
    reduce("reducel1_axis0", "ReduceL1", (5, 7), axes=[0])
    reduce("reducel2_last_input", "ReduceL2", (2, 3, 20), axes=[-1], keepdims=0, axes_input=True)
    reduce("reducel2_all", "ReduceL2", (3, 4, 5))
    reduce("reducesumsquare_axis1", "ReduceSumSquare", (2, 9, 4), axes=[1])
    reduce("reducelogsumexp_last", "ReduceLogSumExp", (4, 33), axes=[-1], keepdims=0)
    reduce("reducelogsumexp_two_axes_input", "ReduceLogSumExp", (3, 4, 5), axes=[0, 2],
           axes_input=True)


def transpose_cases():
    for name, shape, perm in (("transpose_2d_default", (5, 7), None),
                              ("transpose_3d_heads", (6, 2, 8), (1, 0, 2)),
                              ("transpose_4d_0213", (2, 3, 4, 5), (0, 2, 1, 3)),
                              ("transpose_4d_0231", (1, 3, 5, 4), (0, 2, 3, 1))):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        c.node("Transpose", ["x"], ["y"], None if perm is None else {"perm": list(perm)},
               name="transpose")
        c.output("y", x.permute(*(perm or tuple(reversed(range(len(shape)))))).contiguous())


def squeeze_cases():
    c = Case("squeeze_axes")
    x = c.input("x", c.uniform((1, 4, 1, 3)))
    c.init("axes", np.array([0, -2], dtype=np.int64), dtype="i64")
    c.node("Squeeze", ["x", "axes"], ["y"], name="squeeze")
    c.output("y", x.squeeze(2).squeeze(0))

    c = Case("squeeze_all_ones")
    x = c.input("x", c.uniform((1, 5, 1)))
    c.node("Squeeze", ["x"], ["y"], name="squeeze")
    c.output("y", x.squeeze())

    c = Case("unsqueeze_two_axes")
    x = c.input("x", c.uniform((3, 4)))
    c.init("axes", np.array([0, 3], dtype=np.int64), dtype="i64")
    c.node("Unsqueeze", ["x", "axes"], ["y"], name="unsqueeze")
    c.output("y", x.unsqueeze(0).unsqueeze(3))


def layernorm(name, shape, axis=None, eps=None, bias=True):
    c = Case(name)
    a = -1 if axis is None else axis
    a = a + len(shape) if a < 0 else a
    norm = tuple(shape[a:])
    x = c.input("x", c.uniform(shape, -3.0, 3.0))
    w = c.init("scale", c.uniform((int(np.prod(norm)),), 0.5, 1.5))
    ins = ["x", "scale"]
    b = None
    if bias:
        b = c.init("bias", c.uniform((int(np.prod(norm)),)))
        ins.append("bias")
    attrs = {}
    if axis is not None:
        attrs["axis"] = axis
    if eps is not None:
        attrs["epsilon"] = eps
    c.node("LayerNormalization", ins, ["y"], attrs or None, name="layernorm")
    c.output("y", F.layer_norm(x, norm, w.reshape(norm), None if b is None else b.reshape(norm),
                               1e-5 if eps is None else eps))


def layernorm_cases():
    layernorm("layernorm_last_axis", (2, 10, 64))
    layernorm("layernorm_axis1_no_bias", (3, 4, 5), axis=1, bias=False)
    layernorm("layernorm_eps", (4, 16), eps=1e-3)


# ===================================================================== Slice
def slice_case(name, shape, starts, ends, axes=None, steps=None):
    """Golden: numpy-style basic indexing of the PyTorch tensor (negative steps via flip)."""
    c = Case(name)
    x = c.input("x", c.uniform(shape))
    ins = ["x", c.mb.initializer("starts", np.array(starts, dtype=np.int64), dtype="i64"),
           c.mb.initializer("ends", np.array(ends, dtype=np.int64), dtype="i64",
                            encoding="base64")]
    if axes is not None:
        ins.append(c.mb.initializer("axes", np.array(axes, dtype=np.int64), dtype="i64"))
    if steps is not None:
        if axes is None:
            ins.append("")
        ins.append(c.mb.initializer("steps", np.array(steps, dtype=np.int64), dtype="i64"))
    c.node("Slice", ins, ["y"], name="slice")
    ref = x.numpy()
    idx = [slice(None)] * len(shape)
    for k, (b, e) in enumerate(zip(starts, ends)):
        a = axes[k] if axes is not None else k
        st = steps[k] if steps is not None else 1
        e = None if e <= -2**62 else e
        idx[a] = slice(b, e, st)
    c.output("y", torch.from_numpy(np.ascontiguousarray(ref[tuple(idx)])))


def slice_cases():
    slice_case("slice_last_axis_qkv", (1, 6, 12), [4], [8], axes=[-1])
    slice_case("slice_default_axes", (5, 7), [1, 2], [4, 6])
    slice_case("slice_steps_clamped_end", (4, 9, 3), [1, 0], [2**63 - 1, 100], axes=[1, 0],
               steps=[3, 2])
    slice_case("slice_negative_step", (3, 8), [-1, 6], [-(2**63), 0], axes=[0, 1], steps=[-1, -2])


# ============================================ comparisons, Where, Cast (dtypes)
TORCH_CMP = {"Equal": torch.eq, "Less": torch.lt, "Greater": torch.gt}


def compare_cases():
    for op, dt in (("Equal", "i64"), ("Less", "f32"), ("Greater", "i32"), ("Equal", "f32")):
        c = Case("%s_%s_broadcast" % (op.lower(), dt))
        if dt == "f32":
            a = c.input("a", np.round(c.uniform((3, 4), -2, 2) * 2) / 2)   # ties happen
            b = c.input("b", np.round(c.uniform((4,), -2, 2) * 2) / 2)
        else:
            a = c.input("a", c.rng.randint(-3, 4, size=(3, 4)), dt)
            b = c.input("b", c.rng.randint(-3, 4, size=(4,)), dt)
        c.node(op, ["a", "b"], ["y"], name=op.lower())
        c.output("y", TORCH_CMP[op](a, b), "bool")

    # the attention-mask pattern: Where(ids == pad, -inf-ish, scores)
    c = Case("where_mask_i64_compare")
    ids = c.input("ids", c.rng.randint(0, 3, size=(2, 1, 6)), "i64")
    s = c.input("scores", c.uniform((2, 4, 6)))
    c.init("pad", np.array(0, dtype=np.int64), dtype="i64")
    c.init("neg", np.array(-1e4, dtype=np.float32))
    c.node("Equal", ["ids", "pad"], ["is_pad"], name="eq")
    c.node("Where", ["is_pad", "neg", "scores"], ["y"], name="where")
    c.output("y", torch.where(ids == 0, torch.tensor(-1e4), s))

    c = Case("where_i32_values")
    cond = c.input("cond", c.rng.randint(0, 2, size=(3, 1)).astype(bool), "bool")
    x = c.input("x", c.rng.randint(-100, 100, size=(3, 5)), "i32")
    y = c.input("y", c.rng.randint(-100, 100, size=(5,)), "i32")
    c.node("Where", ["cond", "x", "y"], ["z"], name="where")
    c.output("z", torch.where(cond, x, y), "i32")

    # Cast: f32 -> i32 truncates toward zero (values inside the range), i64 -> f32, f32 -> bool,
    # bool -> f32, i64 -> i32
    for name, src, x_of, to, code, fn in (
            ("cast_f32_to_i32", "f32", lambda c: c.uniform((4, 6), -50, 50), "i32", 6,
             lambda t: t.to(torch.int32)),
            ("cast_i64_to_f32", "i64", lambda c: c.rng.randint(-10**6, 10**6, size=(3, 5)), "f32",
             1, lambda t: t.to(torch.float32)),
            ("cast_f32_to_bool", "f32", lambda c: np.where(c.uniform((5, 4)) > 0.3, 0.0,
                                                           c.uniform((5, 4))), "bool", 9,
             lambda t: t != 0),
            ("cast_bool_to_f32", "bool", lambda c: c.uniform((2, 7)) > 0, "f32", 1,
             lambda t: t.to(torch.float32)),
            ("cast_i64_to_i32", "i64", lambda c: c.rng.randint(-10**9, 10**9, size=(6,)), "i32",
             6, lambda t: t.to(torch.int32))):
        c = Case(name)
        x = c.input("x", x_of(c), src)
        c.node("Cast", ["x"], ["y"], {"to": code}, name="cast")
        c.output("y", fn(x), to)


# ===================================================================== Split
def split_cases():
    for name, shape, axis, sizes, how in (("split_equal_last_axis", (2, 4, 9), -1, [3, 3, 3], None),
                                          ("split_sizes_input", (3, 6, 2), 1, [2, 3, 1], "input"),
                                          ("split_sizes_attr_axis0", (5, 4), 0, [1, 4], "attr")):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        ins, attrs = ["x"], {"axis": axis}
        if how == "input":
            ins.append(c.mb.initializer("split", np.array(sizes, dtype=np.int64), dtype="i64"))
        elif how == "attr":
            attrs["split"] = sizes
        outs = ["y%d" % j for j in range(len(sizes))]
        c.node("Split", ins, outs, attrs, name="split")
        for o, t in zip(outs, torch.split(x, sizes, dim=axis)):
            c.output(o, t.contiguous())


# ========================================== Gelu, Shape, Constant*, Expand, Range
def gelu_cases():
    unary("gelu_default", "Gelu", (4, 25), F.gelu, lo=-6.0, hi=6.0)
    unary("gelu_tanh", "Gelu", (3, 5, 7), lambda x: F.gelu(x, approximate="tanh"),
          {"approximate": "tanh"}, lo=-6.0, hi=6.0)
    # MatMul then Gelu: at -O3 the Gelu is the MatMul's fused epilogue
    c = Case("gelu_after_matmul")
    x = c.input("x", c.uniform((3, 8)))
    w = c.init("w", c.uniform((8, 5)))
    c.node("MatMul", ["x", "w"], ["h"], name="matmul")
    c.node("Gelu", ["h"], ["y"], name="gelu")
    c.output("y", F.gelu(x @ w))


def static_cases():
    # Shape: the output is the input's (static) dims; start/end as opset 15
    for name, shape, attrs in (("shape_full", (2, 3, 4, 5), None),
                               ("shape_start_end", (2, 3, 4, 5), {"start": 1, "end": -1}),
                               ("shape_negative_start", (6, 7, 8), {"start": -2})):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        c.node("Shape", ["x"], ["s"], attrs, name="shape")
        a = attrs or {}
        c.output("s", torch.tensor(x.shape[slice(a.get("start", 0), a.get("end"))],
                                   dtype=torch.int64), "i64")

    # Constant: value_floats / value_float feeding arithmetic, value_ints / value_int as outputs
    c = Case("constant_floats_add")
    x = c.input("x", c.uniform((3, 4)))
    vals = [0.5, -1.25, 2.0, 3.75]
    c.node("Constant", [], ["k"], {"value_floats": vals}, name="k")
    c.node("Constant", [], ["s"], {"value_float": -2.5}, name="s")
    c.node("Add", ["x", "k"], ["t"], name="add")
    c.node("Mul", ["t", "s"], ["y"], name="mul")
    c.output("y", (x + torch.tensor(vals)) * -2.5)
    c = Case("constant_ints")
    c.input("x", c.uniform((2,)))
    c.node("Constant", [], ["v"], {"value_ints": [7, -3, 2**40, 0]}, name="v")
    c.node("Constant", [], ["w"], {"value_int": -9}, name="w")
    c.output("v", torch.tensor([7, -3, 2**40, 0], dtype=torch.int64), "i64")
    c.output("w", torch.tensor(-9, dtype=torch.int64), "i64")

    # ConstantOfShape: constant i64 shape, f32 fill (default 0)
    c = Case("constant_of_shape_value")
    x = c.input("x", c.uniform((2, 3, 4)))
    c.init("shape", np.array([2, 3, 4], dtype=np.int64), dtype="i64")
    c.node("ConstantOfShape", ["shape"], ["k"], {"value": [1.5]}, name="fill")
    c.node("Add", ["x", "k"], ["y"], name="add")
    c.output("y", x + torch.full((2, 3, 4), 1.5))
    c = Case("constant_of_shape_default_zero")
    c.input("x", c.uniform((2,)))
    c.init("shape", np.array([3, 5], dtype=np.int64), dtype="i64")
    c.node("ConstantOfShape", ["shape"], ["y"], name="fill")
    c.output("y", torch.zeros((3, 5)))

    # Expand: numpy (bidirectional) broadcasting of the data and the shape
    for name, xshape, shape, dt in (("expand_column_to_3d", (3, 1), [2, 3, 4], "f32"),
                                    ("expand_bidirectional", (2, 3, 1), [1, 5], "f32"),
                                    ("expand_i32_row", (1, 4), [3, 4], "i32")):
        c = Case(name)
        data = c.uniform(xshape) if dt == "f32" else c.rng.randint(-50, 50, size=xshape)
        x = c.input("x", data, dt)
        c.init("shape", np.array(shape, dtype=np.int64), dtype="i64")
        c.node("Expand", ["x", "shape"], ["y"], name="expand")
        out = np.broadcast_shapes(xshape, tuple(shape))
        c.output("y", x.expand(*out).contiguous(), dt)

    # Range: constant scalars of one dtype; length max(ceil((limit - start) / delta), 0)
    for name, dt, start, limit, delta in (("range_f32_plus_input", "f32", -1.0, 2.0, 0.25),
                                          ("range_i64_negative_delta", "i64", 10, -3, -4),
                                          ("range_i32", "i32", 0, 7, 2)):
        c = Case(name)
        for nm, v in (("start", start), ("limit", limit), ("delta", delta)):
            c.init(nm, np.array(v, dtype=DTYPES[dt]), dtype=dt)
        r = torch.arange(start, limit, delta, dtype={"f32": torch.float32, "i32": torch.int32,
                                                     "i64": torch.int64}[dt])
        if dt == "f32":
            x = c.input("x", c.uniform(tuple(r.shape)))
            c.node("Range", ["start", "limit", "delta"], ["r"], name="range")
            c.node("Add", ["x", "r"], ["y"], name="add")
            c.output("y", x + r)
        else:
            c.input("x", c.uniform((2,)))
            c.node("Range", ["start", "limit", "delta"], ["y"], name="range")
            c.output("y", r, dt)


# ============================================================ RNN, GRU, LSTM
# PyTorch gate blocks -> ONNX gate blocks: LSTM (i f g o) -> (i o f c); GRU (r z n) -> (z r h).
GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def onnx_gates(op, w, H):
    return np.concatenate([w[k * H:(k + 1) * H] for k in GATE_ORDER[op]], axis=0)


def recurrent(name, op, T, B, I, H, direction="forward", bias=True, init=False, outputs=3,
              weights_as_inputs=False, nonlinearity="tanh"):
    """Goldens from torch.nn.LSTM/GRU/RNN (seq-first); 'reverse' runs the PyTorch module on the
    time-flipped sequence and flips Y back (PyTorch has no reverse-only direction)."""
    c = Case(name)
    torch.manual_seed(zlib.crc32(name.encode()))
    D = 2 if direction == "bidirectional" else 1
    kw = {"nonlinearity": nonlinearity} if op == "RNN" else {}
    mod = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[op](
        I, H, bias=bias, bidirectional=D == 2, **kw)
    x = c.input("x", c.uniform((T, B, I), -2.0, 2.0))
    sfx = ["", "_reverse"][:D]
    W = np.stack([onnx_gates(op, getattr(mod, "weight_ih_l0" + s).detach().numpy(), H) for s in sfx])
    R = np.stack([onnx_gates(op, getattr(mod, "weight_hh_l0" + s).detach().numpy(), H) for s in sfx])
    if weights_as_inputs:   # run-time weights: the lowering's other path
        c.input("W", W)
        c.input("R", R)
    else:
        c.init("W", W)
        c.init("R", R)
    ins = ["x", "W", "R"]
    if bias:
        c.init("B", np.stack([np.concatenate([
            onnx_gates(op, getattr(mod, "bias_ih_l0" + s).detach().numpy(), H),
            onnx_gates(op, getattr(mod, "bias_hh_l0" + s).detach().numpy(), H)]) for s in sfx]))
        ins.append("B")
    state = None
    if init:
        while len(ins) < 5:
            ins.append("")
        h0 = c.input("h0", c.uniform((D, B, H)))
        ins.append("h0")
        state = h0
        if op == "LSTM":
            c0 = c.input("c0", c.uniform((D, B, H)))
            ins.append("c0")
            state = (h0, c0)
    names = ["y", "y_h", "y_c"][:outputs if op == "LSTM" else min(outputs, 2)]
    attrs = {"hidden_size": H}
    if direction != "forward":
        attrs["direction"] = direction
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if nonlinearity != "tanh":   # as torch exports it: ONNX's list, comma-joined in Kiln JSON
        attrs["activations"] = ",".join(["Relu"] * D)
    c.node(op, ins, names, attrs, name=op.lower())
    xin = torch.flip(x, [0]) if direction == "reverse" else x
    y, st = mod(xin, state)
    if direction == "reverse":
        y = torch.flip(y, [0])
    y = y.reshape(T, B, D, H).permute(0, 2, 1, 3).contiguous()
    outs = [y] + (list(st) if op == "LSTM" else [st])
    for nm, t in zip(names, outs):
        c.output(nm, t)


NP_ACTS = {
    "Sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)), "Tanh": lambda x, a, b: np.tanh(x),
    "Relu": lambda x, a, b: np.maximum(x, 0), "Affine": lambda x, a, b: a * x + b,
    "LeakyRelu": lambda x, a, b: np.where(x < 0, a * x, x),
    "ThresholdedRelu": lambda x, a, b: np.where(x > a, x, 0),
    "ScaledTanh": lambda x, a, b: a * np.tanh(b * x),
    "HardSigmoid": lambda x, a, b: np.clip(a * x + b, 0, 1),
    "Elu": lambda x, a, b: np.where(x < 0, a * (np.exp(x) - 1), x),
    "Softsign": lambda x, a, b: x / (1 + np.abs(x)), "Softplus": lambda x, a, b: np.logaddexp(0, x)}


def np_recurrent(op, X, W, R, Bias, acts, H):
    """ONNX RNN/GRU (linear_before_reset=1)/LSTM, one direction, forward, zero initial state,
    in float64; acts: [(fn, alpha, beta)] for f, g, h. Returns Y [T, 1, B, H]."""
    T, B, _ = X.shape
    f, g, hf = (acts + [None, None])[:3]
    ap = lambda a, x: NP_ACTS[a[0]](x, a[1], a[2])
    h = np.zeros((B, H))
    cst = np.zeros((B, H))
    Wb, Rb = Bias[:Bias.size // 2], Bias[Bias.size // 2:]
    ys = []
    for t in range(T):
        gx = X[t] @ W.T + Wb
        gr = h @ R.T + Rb
        if op == "RNN":
            h = ap(f, gx + gr)
        elif op == "GRU":
            z = ap(f, gx[:, :H] + gr[:, :H])
            r = ap(f, gx[:, H:2 * H] + gr[:, H:2 * H])
            hh = ap(g, gx[:, 2 * H:] + r * gr[:, 2 * H:])
            h = (1 - z) * hh + z * h
        else:
            i = ap(f, gx[:, :H] + gr[:, :H])
            o = ap(f, gx[:, H:2 * H] + gr[:, H:2 * H])
            fg = ap(f, gx[:, 2 * H:3 * H] + gr[:, 2 * H:3 * H])
            cc = ap(g, gx[:, 3 * H:] + gr[:, 3 * H:])
            cst = fg * cst + i * cc
            h = o * ap(hf, cst)
        ys.append(h)
    return np.stack(ys)[:, None]


def recurrent_activations_cases():
    """Non-default activations with their alpha/beta (numpy reference: torch's modules have
    only the defaults, and RNN's relu)."""
    for name, op, acts in (
            ("lstm_activations_hardsigmoid_softsign_elu", "LSTM",
             [("HardSigmoid", 0.3, 0.4), ("Softsign", 0, 0), ("Elu", 0.7, 0)]),
            ("gru_activations_leakyrelu_scaledtanh", "GRU",
             [("Sigmoid", 0, 0), ("ScaledTanh", 1.5, 0.6)]),
            ("rnn_activations_affine", "RNN", [("Affine", 0.5, 0.1)]),
            ("rnn_activations_thresholded_relu", "RNN", [("ThresholdedRelu", 0.2, 0)]),
            ("rnn_activations_softplus", "RNN", [("Softplus", 0, 0)]),
            # batch 1, H 16: the fused LSTM cell update (recurrent_cases) with other activations
            ("lstm_fused_activations_h16", "LSTM",
             [("HardSigmoid", 0.3, 0.4), ("Softsign", 0, 0), ("Elu", 0.7, 0)])):
        c = Case(name)
        T, B, I, H = (5, 1, 3, 16) if "fused" in name else (4, 2, 3, 5)
        G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
        x = c.input("x", c.uniform((T, B, I), -2.0, 2.0))
        W = c.init("W", c.uniform((1, G * H, I), -0.6, 0.6))
        R = c.init("R", c.uniform((1, G * H, H), -0.6, 0.6))
        Bi = c.init("B", c.uniform((1, 2 * G * H), -0.3, 0.3))
        attrs = {"hidden_size": H, "activations": ",".join(a[0] for a in acts)}
        alphas = [a[1] for a in acts if a[0] in ("Affine", "LeakyRelu", "ThresholdedRelu",
                                                 "ScaledTanh", "HardSigmoid", "Elu")]
        betas = [a[2] for a in acts if a[0] in ("Affine", "ScaledTanh", "HardSigmoid")]
        if alphas:
            attrs["activation_alpha"] = alphas
        if betas:
            attrs["activation_beta"] = betas
        if op == "GRU":
            attrs["linear_before_reset"] = 1
        c.node(op, ["x", "W", "R", "B"], ["y"], attrs, name=op.lower())
        y = np_recurrent(op, x.numpy().astype(np.float64), W.numpy()[0].astype(np.float64),
                         R.numpy()[0].astype(np.float64), Bi.numpy()[0].astype(np.float64),
                         [(a[0], np.float32(a[1]), np.float32(a[2])) for a in acts], H)
        c.output("y", torch.from_numpy(y).float())


def recurrent_cases():
    recurrent("lstm_forward", "LSTM", 5, 2, 3, 4)
    recurrent("lstm_reverse_y_only", "LSTM", 4, 1, 3, 5, direction="reverse", outputs=1)
    recurrent("lstm_bidirectional_initial_states", "LSTM", 4, 2, 3, 5,
              direction="bidirectional", init=True)
    recurrent("lstm_no_bias", "LSTM", 3, 1, 2, 3, bias=False)
    recurrent("gru_forward", "GRU", 5, 2, 3, 4)
    recurrent("gru_bidirectional_initial_h", "GRU", 4, 2, 3, 5, direction="bidirectional",
              init=True)
    recurrent("gru_reverse", "GRU", 6, 1, 4, 3, direction="reverse")
    recurrent("rnn_forward", "RNN", 5, 2, 3, 4)
    recurrent("rnn_bidirectional_no_bias", "RNN", 4, 1, 3, 6, direction="bidirectional",
              bias=False, init=True)
    recurrent("rnn_reverse", "RNN", 7, 3, 2, 4, direction="reverse")
    # nn.RNN(nonlinearity="relu"): activations ["Relu"] (issue 13)
    recurrent("rnn_relu", "RNN", 5, 2, 3, 4, nonlinearity="relu")
    recurrent("rnn_relu_bidirectional_init", "RNN", 4, 2, 3, 6, direction="bidirectional",
              init=True, nonlinearity="relu")
    recurrent_activations_cases()
    recurrent("gru_weights_as_inputs", "GRU", 4, 2, 3, 5, direction="bidirectional",
              weights_as_inputs=True)
    recurrent("lstm_weights_as_inputs", "LSTM", 3, 1, 4, 3, weights_as_inputs=True)
    # sizes past the vector width and the register tile: whole column strips plus a tail (G*H
    # = 148, 63, 70), a row tail in the projection GEMM (T*B rows), batch rows > 1 in the GEMV
    recurrent("lstm_bidirectional_batch3_h37", "LSTM", 6, 3, 19, 37, direction="bidirectional",
              init=True)
    recurrent("gru_reverse_batch3_h21_initial_h", "GRU", 5, 3, 7, 21, direction="reverse",
              init=True)
    recurrent("rnn_bidirectional_batch2_h70", "RNN", 5, 2, 9, 70, direction="bidirectional")
    recurrent("lstm_weights_as_inputs_batch2_h20", "LSTM", 4, 2, 6, 20,
              direction="bidirectional", init=True, weights_as_inputs=True)
    # projections past IR_RECURRENT_PROJ_BYTES (32 KiB) run in chunks of steps, the last one
    # shorter: 1,920 bytes a step -> 17 steps a chunk, 40 = 17 + 17 + 6; 2,304 -> 14, 30 = 14 + 14 + 2
    recurrent("lstm_bidirectional_chunked_t40", "LSTM", 40, 3, 8, 40, direction="bidirectional",
              init=True)
    recurrent("gru_reverse_chunked_weights_as_inputs", "GRU", 30, 4, 5, 48, direction="reverse",
              weights_as_inputs=True)
    # batch 1, H a multiple of the vector lanes (16 on AVX-512, 4 on NEON): the LSTM cell update
    # fused into the recurrent GEMV's epilogue (codegen/cg_seq.c, fused_gate_col's column order):
    # both directions, initial states, every output, 70 steps = chunks of 64 + 6; and no bias
    recurrent("lstm_fused_bidirectional_h32_t70", "LSTM", 70, 1, 5, 32,
              direction="bidirectional", init=True)
    recurrent("lstm_fused_reverse_no_bias_h16", "LSTM", 6, 1, 4, 16, direction="reverse",
              bias=False)


# ================================== issue 13: every dtype through data movement, new ops
def int_data(c, shape, dt, lo=-50, hi=50):
    if dt == "bool":
        return c.rng.uniform(size=shape) < 0.5
    return c.rng.randint(lo, hi, size=shape)


def dtype_movement_cases():
    """Data-movement ops on bool / i32 / i64 (they move bytes by the element size)."""
    # nn.MultiheadAttention's key-padding mask: a bool [B, S] reshaped to [B, 1, 1, S]
    c = Case("reshape_bool_mask")
    x = c.input("x", int_data(c, (2, 6), "bool"), "bool")
    c.init("shape", np.array([2, 1, 1, 6], dtype=np.int64), dtype="i64")
    c.node("Reshape", ["x", "shape"], ["y"], name="reshape")
    c.output("y", x.reshape(2, 1, 1, 6), "bool")

    c = Case("flatten_i64")
    x = c.input("x", int_data(c, (2, 3, 4), "i64", -10**12, 10**12), "i64")
    c.node("Flatten", ["x"], ["y"], {"axis": 2}, name="flatten")
    c.output("y", x.reshape(6, 4), "i64")

    c = Case("identity_bool")
    x = c.input("x", int_data(c, (3, 5), "bool"), "bool")
    c.node("Identity", ["x"], ["y"], name="identity")
    c.output("y", x.clone(), "bool")

    # torch.stack of index tensors: Unsqueeze each, Concat the i64 results
    c = Case("concat_i64_stack")
    a = c.input("a", int_data(c, (3, 4), "i64", -10**12, 10**12), "i64")
    b = c.input("b", int_data(c, (3, 4), "i64", -10**12, 10**12), "i64")
    c.init("axes", np.array([1], dtype=np.int64), dtype="i64")
    c.node("Unsqueeze", ["a", "axes"], ["ua"], name="ua")
    c.node("Unsqueeze", ["b", "axes"], ["ub"], name="ub")
    c.node("Concat", ["ua", "ub"], ["y"], {"axis": 1}, name="stack")
    c.output("y", torch.stack([a, b], 1), "i64")

    c = Case("concat_bool_axis0")
    a = c.input("a", int_data(c, (2, 3), "bool"), "bool")
    b = c.input("b", int_data(c, (1, 3), "bool"), "bool")
    c.node("Concat", ["a", "b"], ["y"], {"axis": 0}, name="concat")
    c.output("y", torch.cat([a, b], 0), "bool")

    c = Case("slice_bool_step2")
    x = c.input("x", int_data(c, (4, 7), "bool"), "bool")
    for nm, v in (("starts", [1]), ("ends", [7]), ("axes", [1]), ("steps", [2])):
        c.init(nm, np.array(v, dtype=np.int64), dtype="i64")
    c.node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"], name="slice")
    c.output("y", x[:, 1:7:2].contiguous(), "bool")

    c = Case("split_i32")
    x = c.input("x", int_data(c, (3, 5), "i32"), "i32")
    c.node("Split", ["x"], ["y0", "y1"], {"axis": 1, "split": [2, 3]}, name="split")
    for o, t in zip(["y0", "y1"], torch.split(x, [2, 3], dim=1)):
        c.output(o, t.contiguous(), "i32")

    c = Case("transpose_bool")
    x = c.input("x", int_data(c, (2, 3, 4), "bool"), "bool")
    c.node("Transpose", ["x"], ["y"], {"perm": [2, 0, 1]}, name="transpose")
    c.output("y", x.permute(2, 0, 1).contiguous(), "bool")

    c = Case("gather_i64_data")
    x = c.input("x", int_data(c, (5, 3), "i64", -10**12, 10**12), "i64")
    ids = c.input("ids", np.array([[4, 0], [-1, 2]]), "i64")
    c.node("Gather", ["x", "ids"], ["y"], {"axis": 0}, name="gather")
    c.output("y", x[torch.where(ids < 0, ids + 5, ids)], "i64")

    c = Case("expand_bool")
    x = c.input("x", int_data(c, (1, 4), "bool"), "bool")
    c.init("shape", np.array([3, 1], dtype=np.int64), dtype="i64")
    c.node("Expand", ["x", "shape"], ["y"], name="expand")
    c.output("y", x.expand(3, 4).contiguous(), "bool")

    c = Case("squeeze_i64")
    x = c.input("x", int_data(c, (3, 1, 4), "i64"), "i64")
    c.init("axes", np.array([1], dtype=np.int64), dtype="i64")
    c.node("Squeeze", ["x", "axes"], ["y"], name="squeeze")
    c.output("y", x.squeeze(1), "i64")

    c = Case("where_bool_values")
    cond = c.input("cond", int_data(c, (3, 4), "bool"), "bool")
    x = c.input("x", int_data(c, (3, 4), "bool"), "bool")
    y = c.input("y", int_data(c, (1, 4), "bool"), "bool")
    c.node("Where", ["cond", "x", "y"], ["z"], name="where")
    c.output("z", torch.where(cond, x, y), "bool")

    for name, dt, shape, pads, mode, value in (
            ("pad_i64_constant_value", "i64", (2, 3), [1, 0, 0, 2], "constant", -7),
            ("pad_bool_constant", "bool", (2, 3), [0, 1, 1, 0], "constant", None),
            ("pad_i32_reflect", "i32", (2, 4), [0, 2, 1, 3], "reflect", None),
            ("pad_i64_edge", "i64", (3, 2), [1, 1, 2, 0], "edge", None)):
        c = Case(name)
        x = c.input("x", int_data(c, shape, dt), dt)
        c.init("pads", np.array(pads, dtype=np.int64), dtype="i64")
        ins = ["x", "pads"]
        if value is not None:
            c.init("value", np.array(value, dtype=DTYPES[dt]), dtype=dt)
            ins.append("value")
        c.node("Pad", ins, ["y"], {"mode": mode}, name="pad")
        tp = (pads[1], pads[3], pads[0], pads[2])
        if mode == "constant":   # F.pad's constant mode takes numbers of any dtype
            y = F.pad(x.to(torch.int64), tp, value=value or 0).to(x.dtype)
        else:                    # reflect / replicate: float only in torch 1.13, values exact
            y = F.pad(x.to(torch.float64)[None], tp, mode={"reflect": "reflect",
                                                           "edge": "replicate"}[mode])[0]
            y = y.to(x.dtype)
        c.output("y", y, dt)


def argmax_cases():
    """ArgMax / ArgMin: i64 indices; ties are exact (small integers as floats)."""
    for name, op, dt, shape, axis, keep, last in (
            ("argmax_axis1_keepdims", "ArgMax", "f32", (2, 5, 3), 1, 1, 0),
            ("argmax_last_axis_no_keepdims", "ArgMax", "f32", (4, 9), -1, 0, 0),
            ("argmax_ties_select_last", "ArgMax", "f32", (3, 8), 1, 1, 1),
            ("argmax_ties_first", "ArgMax", "i64", (3, 8), 1, 0, 0),
            ("argmin_axis0_i32", "ArgMin", "i32", (6, 4), 0, 1, 0),
            ("argmin_ties_select_last", "ArgMin", "f32", (2, 3, 7), 2, 0, 1)):
        c = Case(name)
        ties = "ties" in name
        data = c.rng.randint(0, 3, size=shape) if ties or dt != "f32" else c.uniform(shape)
        x = c.input("x", data, dt)
        attrs = {"axis": axis, "keepdims": keep}
        if last:
            attrs["select_last_index"] = 1
        c.node(op, ["x"], ["y"], attrs, name=op.lower())
        f = torch.argmax if op == "ArgMax" else torch.argmin
        if last:   # the last extreme: the first one of the flipped axis
            n = x.shape[axis]
            y = n - 1 - f(torch.flip(x, [axis]), dim=axis, keepdim=bool(keep))
        else:      # torch returns the first extreme (documented), as ONNX's default
            y = f(x, dim=axis, keepdim=bool(keep))
        c.output("y", y, "i64")


def logical_cases():
    c = Case("not_bool")
    x = c.input("x", int_data(c, (3, 5), "bool"), "bool")
    c.node("Not", ["x"], ["y"], name="not")
    c.output("y", ~x, "bool")
    for name, op, fn in (("and_broadcast", "And", torch.logical_and),
                         ("or_broadcast", "Or", torch.logical_or),
                         ("xor_broadcast", "Xor", torch.logical_xor)):
        c = Case(name)
        a = c.input("a", int_data(c, (2, 3, 4), "bool"), "bool")
        b = c.input("b", int_data(c, (3, 1), "bool"), "bool")
        c.node(op, ["a", "b"], ["y"], name=op.lower())
        c.output("y", fn(a, b), "bool")


def scatter_nd_cases():
    # a KV-cache write K[:, :, pos] = k: every (b, h) at one position, slices of [D]
    c = Case("scatternd_kv_cache_write")
    B, H, T, D, pos = 2, 3, 5, 4, 2
    k = c.input("cache", c.uniform((B, H, T, D)))
    upd = c.input("k", c.uniform((B, H, 1, D)))
    idx = np.array([[[[b, h, pos]] for h in range(H)] for b in range(B)], dtype=np.int64)
    c.init("idx", idx, dtype="i64")
    c.node("ScatterND", ["cache", "idx", "k"], ["y"], name="scatter")
    y = k.clone()
    y[:, :, pos] = upd[:, :, 0]
    c.output("y", y)
    # the ONNX example: 1-D i64 data, element updates, run-time indices (one negative)
    c = Case("scatternd_1d_i64_runtime_indices")
    data = c.input("data", np.arange(1, 9), "i64")
    ids = c.input("ids", np.array([[4], [3], [-7], [7]]), "i64")
    upd = c.input("upd", np.array([9, 10, 11, 12]), "i64")
    c.node("ScatterND", ["data", "ids", "upd"], ["y"], name="scatter")
    y = data.clone()
    y[torch.where(ids[:, 0] < 0, ids[:, 0] + 8, ids[:, 0])] = upd
    c.output("y", y, "i64")
    # slices of rows of a bool matrix
    c = Case("scatternd_bool_rows")
    data = c.input("data", int_data(c, (4, 3), "bool"), "bool")
    c.init("ids", np.array([[2], [0]], dtype=np.int64), dtype="i64")
    upd = c.input("upd", int_data(c, (2, 3), "bool"), "bool")
    c.node("ScatterND", ["data", "ids", "upd"], ["y"], name="scatter")
    y = data.clone()
    y[[2, 0]] = upd
    c.output("y", y, "bool")


def int_arith_cases():
    """i32 / i64 Add, Sub, Mul, Div (shape arithmetic); Div truncates toward zero."""
    for name, op, dt, sa, sb in (("add_i64_broadcast", "Add", "i64", (2, 3), (3,)),
                                 ("sub_i32", "Sub", "i32", (4, 5), (4, 5)),
                                 ("mul_i64_scalar", "Mul", "i64", (3, 4), ()),
                                 ("div_i32_trunc_negative", "Div", "i32", (3, 6), (1, 6)),
                                 ("div_i64_trunc", "Div", "i64", (5,), (5,))):
        c = Case(name)
        big = 10**12 if dt == "i64" and op != "Mul" else 1000
        a = c.input("a", c.rng.randint(-big, big, size=sa), dt)
        bv = c.rng.randint(1, 40, size=sb) * np.where(c.rng.uniform(size=sb) < 0.5, -1, 1)
        b = c.input("b", bv, dt)
        c.node(op, ["a", "b"], ["y"], name=op.lower())
        fn = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul,
              "Div": lambda x, y: torch.div(x, y, rounding_mode="trunc")}[op]
        c.output("y", fn(a, b), dt)


def activation13_cases():
    """Activations and rounding added for issue 13 (f32, element-wise, fusable)."""
    unary("elu_default", "Elu", (3, 4, 5), F.elu)
    unary("elu_alpha", "Elu", (2, 30), lambda x: F.elu(x, 0.3), {"alpha": 0.3})
    unary("selu_default", "Selu", (4, 25), F.selu)
    unary("softplus_wide", "Softplus", (3, 40), F.softplus, lo=-30.0, hi=30.0)
    unary("softsign", "Softsign", (4, 6), F.softsign, lo=-10.0, hi=10.0)
    unary("hardsigmoid_default", "HardSigmoid", (3, 20),
          lambda x: torch.clamp(0.2 * x + 0.5, 0, 1), lo=-5.0, hi=5.0)
    unary("hardsigmoid_torch_attrs", "HardSigmoid", (2, 24), F.hardsigmoid,
          {"alpha": 1.0 / 6, "beta": 0.5}, lo=-5.0, hi=5.0)
    unary("hardswish", "HardSwish", (3, 20), F.hardswish, lo=-5.0, hi=5.0)
    unary("mish", "Mish", (3, 30), F.mish, lo=-8.0, hi=8.0)
    unary("reciprocal", "Reciprocal", (5, 6), torch.reciprocal, lo=0.1, hi=4.0)
    unary("sign", "Sign", (4, 5), torch.sign)
    # rounding: random values, exact halves (ties to even for Round), integers, large values
    for name, op, fn in (("floor_mixed", "Floor", torch.floor), ("ceil_mixed", "Ceil", torch.ceil),
                         ("round_half_even", "Round", torch.round)):
        c = Case(name)
        vals = np.concatenate([c.uniform((20,), -6.0, 6.0), np.arange(-8, 9) / 2.0,
                               [1e8, -3e9, 8388607.5, -0.25, 0.0]]).astype(np.float32)
        x = c.input("x", vals.reshape(6, 7))
        c.node(op, ["x"], ["y"], name=op.lower())
        c.output("y", fn(x))
    # Conv then an activation: at -O3 it is the Conv's fused epilogue
    c = Case("conv_then_hardswish")
    x = c.input("x", c.uniform((1, 2, 6, 6)))
    w = c.init("w", c.uniform((3, 2, 3, 3), -0.5, 0.5))
    c.node("Conv", ["x", "w"], ["h"], {"kernel_shape": [3, 3]}, name="conv")
    c.node("HardSwish", ["h"], ["y"], name="act")
    c.output("y", F.hardswish(F.conv2d(x, w)))


def elementwise13_cases():
    # PRelu: a per-channel slope [C, 1, 1] (as exporters write nn.PReLU) and a scalar one
    c = Case("prelu_channel_slope")
    x = c.input("x", c.uniform((2, 3, 4, 5)))
    sl = c.init("slope", c.uniform((3, 1, 1), 0.0, 0.5))
    c.node("PRelu", ["x", "slope"], ["y"], name="prelu")
    c.output("y", F.prelu(x, sl.reshape(3)))
    c = Case("prelu_scalar_slope")
    x = c.input("x", c.uniform((4, 7)))
    sl = c.init("slope", np.array([0.25], dtype=np.float32))
    c.node("PRelu", ["x", "slope"], ["y"], name="prelu")
    c.output("y", F.prelu(x, sl))
    # Mod: integers with fmod 0 (Python's sign) and 1 (C's), floats with fmod 1
    for name, dt, fmod in (("mod_i64_python_sign", "i64", 0), ("mod_i32_fmod", "i32", 1),
                           ("mod_f32_fmod", "f32", 1)):
        c = Case(name)
        if dt == "f32":
            a = c.input("a", c.uniform((4, 5), -20.0, 20.0))
            b = c.input("b", c.away_from_zero((1, 5), 0.5, 3.0))
        else:
            a = c.input("a", c.rng.randint(-1000, 1000, size=(4, 5)), dt)
            b = c.input("b", c.rng.randint(1, 30, size=(1, 5)) *
                        np.where(c.rng.uniform(size=(1, 5)) < 0.5, -1, 1), dt)
        c.node("Mod", ["a", "b"], ["y"], {"fmod": fmod}, name="mod")
        c.output("y", torch.fmod(a, b) if fmod else torch.remainder(a, b), dt)
    # Pow with a tensor exponent: positive bases with any exponent, negative with integers
    c = Case("pow_tensor_exponent")
    x = c.input("x", c.uniform((3, 8), 0.1, 3.0))
    e = c.input("e", c.uniform((1, 8), -2.0, 3.0))
    c.node("Pow", ["x", "e"], ["y"], name="pow")
    c.output("y", torch.pow(x, e))
    c = Case("pow_negative_base_integer_exponent")
    x = c.input("x", c.uniform((4, 6), -3.0, 3.0))
    e = c.input("e", c.rng.randint(-3, 4, size=(4, 6)).astype(np.float32))
    c.node("Pow", ["x", "e"], ["y"], name="pow")
    c.output("y", torch.pow(x, e))
    # Sum, Mean, Min, Max: one, three and five inputs, broadcasting
    for name, op, shapes, fn in (
            ("sum_three_broadcast", "Sum", [(2, 3, 4), (3, 1), (4,)], lambda ts: sum(ts[1:], ts[0])),
            ("mean_two", "Mean", [(3, 5), (3, 5)], lambda ts: (ts[0] + ts[1]) / 2),
            ("min_five_broadcast", "Min", [(2, 4), (4,), (2, 1), (1, 4), (2, 4)],
             lambda ts: torch.stack(torch.broadcast_tensors(*ts)).amin(0)),
            ("max_three", "Max", [(3, 4), (3, 4), (1, 4)],
             lambda ts: torch.stack(torch.broadcast_tensors(*ts)).amax(0)),
            ("max_single_input", "Max", [(5, 2)], lambda ts: ts[0].clone())):
        c = Case(name)
        ts = [c.input("x%d" % k, c.uniform(sh)) for k, sh in enumerate(shapes)]
        c.node(op, ["x%d" % k for k in range(len(shapes))], ["y"], name=op.lower())
        c.output("y", fn(ts))


def numpy_resize(x, out_shape, mode, coord, nearest="round_prefer_floor"):
    """ONNX Resize on an array (numpy reference, float64): per axis coordinates, nearest or
    N-linear with coordinates clamped to the input."""
    x = np.asarray(x, dtype=np.float64)
    axes = []
    for a, (n_in, n_out) in enumerate(zip(x.shape, out_shape)):
        scale = n_out / n_in
        o = np.arange(n_out, dtype=np.float64)
        if coord == "asymmetric":
            cd = o / scale
        elif coord == "align_corners":
            cd = np.zeros(n_out) if n_out == 1 else o * (n_in - 1) / (n_out - 1)
        elif coord == "pytorch_half_pixel" and n_out == 1:
            cd = np.zeros(1)
        else:
            cd = (o + 0.5) / scale - 0.5
        if mode == "nearest":
            f = np.floor(cd)
            if nearest == "floor":
                r = f
            elif nearest == "ceil":
                r = np.ceil(cd)
            else:
                tie = cd - f == 0.5
                r = np.where(tie, f + (nearest == "round_prefer_ceil"), np.floor(cd + 0.5))
            axes.append([(np.clip(r, 0, n_in - 1).astype(np.int64), np.ones(n_out))])
        else:
            cd = np.clip(cd, 0, n_in - 1)
            i0 = np.floor(cd).astype(np.int64)
            w = cd - i0
            axes.append([(i0, 1 - w), (np.minimum(i0 + 1, n_in - 1), w)])
    y = np.zeros(out_shape)
    import itertools
    for taps in itertools.product(*axes):
        idx = np.ix_(*[t[0] for t in taps])
        w = np.ones(out_shape)
        for a, t in enumerate(taps):
            shp = [1] * len(out_shape)
            shp[a] = out_shape[a]
            w = w * t[1].reshape(shp)
        y += w * x[idx]
    return y


def layout13_cases():
    """GlobalMaxPool, LRN, InstanceNormalization, Tile, DepthToSpace/SpaceToDepth, CumSum."""
    for name, shape in (("globalmaxpool_4d", (2, 3, 5, 6)), ("globalmaxpool_1d", (2, 4, 9)),
                        ("globalaveragepool_3d", (1, 2, 3, 4, 5))):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        op = "GlobalMaxPool" if "max" in name else "GlobalAveragePool"
        c.node(op, ["x"], ["y"], name=op.lower())
        dims = tuple(range(2, len(shape)))
        c.output("y", torch.amax(x, dims, keepdim=True) if "max" in name
                 else torch.mean(x, dims, keepdim=True))
    for name, size, attrs in (("lrn_alexnet", 5, {"alpha": 1e-4, "beta": 0.75, "bias": 2.0}),
                              ("lrn_even_size_defaults", 4, {})):
        c = Case(name)
        x = c.input("x", c.uniform((2, 7, 4, 5), -3.0, 3.0))
        a = dict(attrs, size=size)
        c.node("LRN", ["x"], ["y"], a, name="lrn")
        alpha, beta, bias = a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0)
        if size % 2:
            y = F.local_response_norm(x, size, alpha, beta, bias)
        else:   # torch centres an even window one channel lower than ONNX: numpy reference
            xs = x.numpy().astype(np.float64)
            sq = np.zeros_like(xs)
            C = xs.shape[1]
            for ch in range(C):
                lo, hi = max(0, ch - (size - 1) // 2), min(C, ch + size // 2 + 1)
                sq[:, ch] = (xs[:, lo:hi] ** 2).sum(1)
            y = torch.from_numpy(xs / (bias + alpha / size * sq) ** beta).float()
        c.output("y", y)
    for name, shape in (("instancenorm_4d", (2, 3, 5, 6)), ("instancenorm_3d_eps", (3, 4, 10))):
        c = Case(name)
        x = c.input("x", c.uniform(shape, -2.0, 2.0))
        sc = c.init("scale", c.uniform((shape[1],), 0.5, 1.5))
        b = c.init("B", c.uniform((shape[1],)))
        eps = 1e-3 if "eps" in name else 1e-5
        c.node("InstanceNormalization", ["x", "scale", "B"], ["y"],
               {"epsilon": eps} if "eps" in name else None, name="inorm")
        c.output("y", F.instance_norm(x, weight=sc, bias=b, eps=eps))
    for name, dt, shape, reps in (("tile_f32_2d", "f32", (2, 3), [2, 3]),
                                  ("tile_i64_3d_one_axis", "i64", (2, 1, 3), [1, 4, 1]),
                                  ("tile_bool", "bool", (3, 2), [2, 1])):
        c = Case(name)
        data = c.uniform(shape) if dt == "f32" else int_data(c, shape, dt)
        x = c.input("x", data, dt)
        c.init("repeats", np.array(reps, dtype=np.int64), dtype="i64")
        c.node("Tile", ["x", "repeats"], ["y"], name="tile")
        c.output("y", x.repeat(*reps), dt)
    for name, op, mode, shape, b in (("depthtospace_dcr", "DepthToSpace", "DCR", (1, 8, 2, 3), 2),
                                     ("depthtospace_crd", "DepthToSpace", "CRD", (2, 12, 2, 2), 2),
                                     ("spacetodepth", "SpaceToDepth", None, (2, 3, 4, 6), 2)):
        c = Case(name)
        x = c.input("x", c.uniform(shape))
        attrs = {"blocksize": b}
        if mode:
            attrs["mode"] = mode
        c.node(op, ["x"], ["y"], attrs, name=op.lower())
        N, C, H, W = shape
        if op == "SpaceToDepth":
            y = x.reshape(N, C, H // b, b, W // b, b).permute(0, 3, 5, 1, 2, 4)
            y = y.reshape(N, C * b * b, H // b, W // b)
        elif mode == "CRD":   # torch.pixel_shuffle is the CRD order
            y = F.pixel_shuffle(x, b)
        else:
            y = x.reshape(N, b, b, C // (b * b), H, W).permute(0, 3, 4, 1, 5, 2)
            y = y.reshape(N, C // (b * b), H * b, W * b)
        c.output("y", y.contiguous())
    for name, dt, shape, axis, excl, rev in (("cumsum_f32_axis1", "f32", (3, 6), 1, 0, 0),
                                             ("cumsum_exclusive_reverse", "f32", (2, 5, 3), -2, 1, 1),
                                             ("cumsum_i64_exclusive", "i64", (4, 5), 0, 1, 0),
                                             ("cumsum_i32_reverse", "i32", (7,), 0, 0, 1)):
        c = Case(name)
        data = c.uniform(shape) if dt == "f32" else int_data(c, shape, dt, -10**6, 10**6)
        x = c.input("x", data, dt)
        c.init("axis", np.array(axis, dtype=np.int64 if dt != "i32" else np.int32),
               dtype="i64" if dt != "i32" else "i32")
        attrs = {}
        if excl:
            attrs["exclusive"] = 1
        if rev:
            attrs["reverse"] = 1
        c.node("CumSum", ["x", "axis"], ["y"], attrs or None, name="cumsum")
        t = torch.flip(x, [axis]) if rev else x
        y = torch.cumsum(t, axis).to(x.dtype)
        if excl:
            y = y - t
        if rev:
            y = torch.flip(y, [axis])
        c.output("y", y, dt)


def resize_cases():
    """Resize (scales or sizes) and Upsample: torch goldens where F.interpolate has the mode,
    the numpy reference (numpy_resize) otherwise."""
    def case(name, shape, out, mode, coord, nearest=None, by="scales", golden=None, op="Resize",
             dt="f32"):
        c = Case(name)
        data = c.uniform(shape) if dt == "f32" else int_data(c, shape, dt)
        x = c.input("x", data, dt)
        scales = [o / i for o, i in zip(out, shape)]
        attrs = {"mode": mode}
        if op == "Upsample":
            c.init("scales", np.array(scales, dtype=np.float32))
            c.node("Upsample", ["x", "scales"], ["y"], attrs, name="up")
        else:
            attrs["coordinate_transformation_mode"] = coord
            if nearest:
                attrs["nearest_mode"] = nearest
            if by == "scales":
                c.init("scales", np.array(scales, dtype=np.float32))
                ins = ["x", "", "scales"]
            else:
                c.init("sizes", np.array(out, dtype=np.int64), dtype="i64")
                ins = ["x", "", "", "sizes"]
            c.node("Resize", ins, ["y"], attrs, name="resize")
        if golden is not None:
            y = golden(x)
        else:
            y = torch.from_numpy(numpy_resize(x.numpy(), out, mode, coord,
                                              nearest or "round_prefer_floor"))
        c.output("y", y.to(x.dtype) if dt != "f32" else y.float(), dt)

    n, hw = (1, 2, 3, 4), (1, 2, 6, 8)
    case("resize_nearest_asymmetric_floor_x2", n, hw, "nearest", "asymmetric", "floor",
         golden=lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))
    case("resize_nearest_half_pixel_ceil_sizes", (1, 1, 5, 4), (1, 1, 7, 3), "nearest",
         "half_pixel", "round_prefer_ceil", by="sizes",
         golden=lambda x: F.interpolate(x, size=(7, 3), mode="nearest-exact"))
    case("resize_nearest_default_modes", (2, 3, 4, 4), (2, 3, 6, 10), "nearest", "half_pixel")
    case("resize_nearest_align_corners_i64", (1, 1, 3, 5), (1, 1, 5, 9), "nearest",
         "align_corners", "ceil", by="sizes", dt="i64")
    case("resize_linear_half_pixel", n, hw, "linear", "half_pixel",
         golden=lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    case("resize_linear_align_corners_sizes", (1, 2, 4, 5), (1, 2, 7, 3), "linear",
         "align_corners", by="sizes",
         golden=lambda x: F.interpolate(x, size=(7, 3), mode="bilinear", align_corners=True))
    # ONNX's pytorch_half_pixel maps a length-1 output to coordinate 0; torch 1.13 itself no
    # longer does (it uses half_pixel), so the golden is the numpy reference of the ONNX text
    case("resize_linear_pytorch_half_pixel_to_one", (1, 1, 4, 6), (1, 1, 1, 9), "linear",
         "pytorch_half_pixel", by="sizes")
    case("resize_linear_asymmetric_1d", (2, 3, 5), (2, 3, 8), "linear", "asymmetric", by="sizes")
    case("resize_linear_3d_trilinear", (1, 1, 2, 3, 4), (1, 1, 4, 6, 8), "linear", "half_pixel",
         golden=lambda x: F.interpolate(x, scale_factor=2, mode="trilinear",
                                        align_corners=False))
    case("upsample_nearest_x2", n, hw, "nearest", None, op="Upsample",
         golden=lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))
    case("upsample_linear_asymmetric", (1, 2, 3, 3), (1, 2, 6, 9), "linear", "asymmetric",
         op="Upsample")


def windowed_1d_cases():
    """1-D Conv / ConvTranspose / MaxPool / AveragePool ([N, C, W]; Kiln runs them as H = 1)."""
    c = Case("conv1d_pads_stride_dilation")
    x = c.input("x", c.uniform((2, 3, 17)))
    w = c.init("w", c.uniform((4, 3, 3), -0.5, 0.5))
    b = c.init("b", c.uniform((4,)))
    c.node("Conv", ["x", "w", "b"], ["y"], {"kernel_shape": [3], "pads": [2, 1], "strides": [2],
                                            "dilations": [2]}, name="conv")
    c.output("y", F.conv1d(F.pad(x, (2, 1)), w, b, stride=2, dilation=2))
    c = Case("conv1d_depthwise_same_upper")
    x = c.input("x", c.uniform((1, 4, 10)))
    w = c.init("w", c.uniform((4, 1, 4), -0.5, 0.5))
    c.node("Conv", ["x", "w"], ["y"], {"group": 4, "auto_pad": "SAME_UPPER"}, name="conv")
    c.output("y", F.conv1d(F.pad(x, (1, 2)), w, groups=4))
    c = Case("convtranspose1d_stride2_outpad")
    x = c.input("x", c.uniform((1, 3, 6)))
    w = c.init("w", c.uniform((3, 2, 4), -0.5, 0.5))
    b = c.init("b", c.uniform((2,)))
    c.node("ConvTranspose", ["x", "w", "b"], ["y"], {"strides": [2], "pads": [1, 1],
                                                     "output_padding": [1]}, name="convt")
    c.output("y", F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1))
    c = Case("maxpool1d_ceil_pads")
    x = c.input("x", c.uniform((2, 3, 11)))
    c.node("MaxPool", ["x"], ["y"], {"kernel_shape": [3], "strides": [2], "pads": [1, 1],
                                     "ceil_mode": 1}, name="pool")
    c.output("y", F.max_pool1d(x, 3, 2, padding=1, ceil_mode=True))
    c = Case("averagepool1d_include_pad")
    x = c.input("x", c.uniform((1, 2, 9)))
    c.node("AveragePool", ["x"], ["y"], {"kernel_shape": [4], "strides": [1], "pads": [2, 1],
                                         "count_include_pad": 1}, name="pool")
    c.output("y", F.avg_pool1d(F.pad(x, (2, 1)), 4, 1))


def windowed_3d_cases():
    """3-D Conv / ConvTranspose / MaxPool / AveragePool ([N, C, D, H, W]), and nn.LocalResponseNorm,
    which torch exports as Pad + a 3-D AveragePool over (channel, H, W)."""
    c = Case("conv3d_pads_stride_dilation")
    x = c.input("x", c.uniform((2, 3, 7, 6, 9)))
    w = c.init("w", c.uniform((4, 3, 3, 2, 3), -0.5, 0.5))
    b = c.init("b", c.uniform((4,)))
    # ONNX pads [d0, h0, w0, d1, h1, w1]; F.pad takes (w0, w1, h0, h1, d0, d1)
    c.node("Conv", ["x", "w", "b"], ["y"], {"kernel_shape": [3, 2, 3], "pads": [1, 0, 2, 0, 1, 1],
                                            "strides": [2, 1, 2], "dilations": [1, 2, 2]},
           name="conv")
    c.output("y", F.conv3d(F.pad(x, (2, 1, 0, 1, 1, 0)), w, b, stride=(2, 1, 2),
                           dilation=(1, 2, 2)))
    c = Case("conv3d_grouped_relu")
    x = c.input("x", c.uniform((1, 4, 5, 5, 6)))
    w = c.init("w", c.uniform((6, 2, 3, 3, 3), -0.5, 0.5))
    c.node("Conv", ["x", "w"], ["t"], {"group": 2, "pads": [1, 1, 1, 1, 1, 1]}, name="conv")
    c.node("Relu", ["t"], ["y"], name="relu")
    c.output("y", F.relu(F.conv3d(x, w, groups=2, padding=1)))
    c = Case("convtranspose3d_stride2_outpad")
    x = c.input("x", c.uniform((1, 3, 3, 4, 3)))
    w = c.init("w", c.uniform((3, 2, 3, 2, 3), -0.5, 0.5))
    b = c.init("b", c.uniform((2,)))
    c.node("ConvTranspose", ["x", "w", "b"], ["y"], {"strides": [2, 1, 2], "pads": [1, 0, 1, 1, 0, 1],
                                                     "output_padding": [1, 0, 1]}, name="convt")
    c.output("y", F.conv_transpose3d(x, w, b, stride=(2, 1, 2), padding=(1, 0, 1),
                                     output_padding=(1, 0, 1)))
    c = Case("convtranspose3d_grouped_dilated")
    x = c.input("x", c.uniform((1, 4, 3, 3, 4)))
    w = c.init("w", c.uniform((4, 1, 2, 3, 2), -0.5, 0.5))
    c.node("ConvTranspose", ["x", "w"], ["y"], {"group": 2, "dilations": [2, 1, 2]}, name="convt")
    c.output("y", F.conv_transpose3d(x, w, groups=2, dilation=(2, 1, 2)))
    c = Case("maxpool3d_ceil_pads")
    x = c.input("x", c.uniform((2, 2, 7, 6, 9)))
    c.node("MaxPool", ["x"], ["y"], {"kernel_shape": [3, 2, 3], "strides": [2, 2, 2],
                                     "pads": [1, 0, 1, 1, 0, 1], "ceil_mode": 1}, name="pool")
    c.output("y", F.max_pool3d(x, (3, 2, 3), 2, padding=(1, 0, 1), ceil_mode=True))
    c = Case("maxpool3d_dilated")
    x = c.input("x", c.uniform((1, 2, 6, 7, 8)))
    c.node("MaxPool", ["x"], ["y"], {"kernel_shape": [2, 3, 2], "dilations": [2, 2, 3]},
           name="pool")
    c.output("y", F.max_pool3d(x, (2, 3, 2), 1, dilation=(2, 2, 3)))
    c = Case("averagepool3d_include_pad")
    x = c.input("x", c.uniform((1, 2, 6, 5, 7)))
    c.node("AveragePool", ["x"], ["y"], {"kernel_shape": [3, 2, 3], "strides": [1, 2, 2],
                                         "pads": [1, 1, 1, 1, 0, 1], "count_include_pad": 1},
           name="pool")
    # asymmetric pads: F.pad first; zero padding counted, as count_include_pad
    c.output("y", F.avg_pool3d(F.pad(x, (1, 1, 1, 0, 1, 1)), (3, 2, 3), (1, 2, 2)))
    c = Case("averagepool3d_exclude_pad_ceil")
    x = c.input("x", c.uniform((2, 3, 5, 6, 7)))
    c.node("AveragePool", ["x"], ["y"], {"kernel_shape": [2, 3, 3], "strides": [2, 2, 2],
                                         "pads": [1, 1, 1, 1, 1, 1], "ceil_mode": 1}, name="pool")
    c.output("y", F.avg_pool3d(x, (2, 3, 3), 2, padding=1, ceil_mode=True,
                               count_include_pad=False))
    # BatchNormalization after a 3-D Conv and a 3-D ConvTranspose: folded into their weights
    for name, op in (("conv3d_batchnorm_folded", "Conv"),
                     ("convtranspose3d_batchnorm_folded", "ConvTranspose")):
        c = Case(name)
        x = c.input("x", c.uniform((1, 4, 3, 4, 5)))
        w = c.init("w", c.uniform((6, 2, 2, 3, 2) if op == "Conv" else (4, 3, 2, 3, 2), -0.5, 0.5))
        sc = c.init("scale", c.uniform((6,), 0.5, 1.5))
        bi = c.init("bias", c.uniform((6,), -0.5, 0.5))
        mu = c.init("mean", c.uniform((6,), -0.5, 1.0))
        var = c.init("var", c.uniform((6,), 0.2, 3.0))
        c.node(op, ["x", "w"], ["t"], {"group": 2}, name="conv")
        c.node("BatchNormalization", ["t", "scale", "bias", "mean", "var"], ["y"], name="bn")
        t = (F.conv3d(x, w, groups=2) if op == "Conv" else F.conv_transpose3d(x, w, groups=2))
        c.output("y", F.batch_norm(t, mu, var, sc, bi, training=False, eps=1e-5))
    # nn.LocalResponseNorm as torch 1.13 exports it (opset 13): x^2 -> Unsqueeze(1) -> Pad the
    # channel axis -> AveragePool [size, 1, 1] -> Squeeze(1) -> Mul alpha, Add k, Pow beta -> Div
    c = Case("lrn_as_averagepool3d")
    x = c.input("x", c.uniform((1, 6, 5, 4)))
    size, alpha, beta, k = 5, 1e-2, 0.75, 2.0
    c.init("axes1", np.array([1], np.int64))
    c.init("pads", np.array([0, 0, size // 2, 0, 0, 0, 0, (size - 1) // 2, 0, 0], np.int64))
    c.init("alpha", np.array(alpha, np.float32))
    c.init("k", np.array(k, np.float32))
    c.init("beta", np.array(beta, np.float32))
    c.node("Mul", ["x", "x"], ["sq"], name="square")
    c.node("Unsqueeze", ["sq", "axes1"], ["sq5"], name="unsqueeze")
    c.node("Pad", ["sq5", "pads"], ["padded"], name="pad")
    c.node("AveragePool", ["padded"], ["avg5"], {"kernel_shape": [size, 1, 1]}, name="pool")
    c.node("Squeeze", ["avg5", "axes1"], ["avg"], name="squeeze")
    c.node("Mul", ["avg", "alpha"], ["scaled"], name="mul_alpha")
    c.node("Add", ["scaled", "k"], ["shifted"], name="add_k")
    c.node("Pow", ["shifted", "beta"], ["den"], name="pow_beta")
    c.node("Div", ["x", "den"], ["y"], name="div")
    c.output("y", torch.nn.LocalResponseNorm(size, alpha, beta, k)(x))


def einsum_cases():
    """Einsum of one or two operands (torch.einsum goldens)."""
    for name, eq, shapes in (("einsum_batched_matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                             ("einsum_attention_scores", "bhqd,bhkd->bhqk",
                              [(1, 2, 3, 4), (1, 2, 5, 4)]),
                             ("einsum_transpose", "ij->ji", [(3, 5)]),
                             ("einsum_dot", "i,i->", [(7,), (7,)]),
                             ("einsum_diagonal", "ii->i", [(4, 4)]),
                             ("einsum_implicit_output", "ij,jk", [(3, 4), (4, 2)]),
                             ("einsum_ellipsis_broadcast", "...ij,...jk->...ik",
                              [(2, 1, 3, 4), (3, 4, 2)]),
                             ("einsum_outer_sum_axis", "bi,bj->ij", [(5, 3), (5, 2)])):
        c = Case(name)
        ts = [c.input("x%d" % k, c.uniform(sh)) for k, sh in enumerate(shapes)]
        c.node("Einsum", ["x%d" % k for k in range(len(shapes))], ["y"], {"equation": eq},
               name="einsum")
        c.output("y", torch.einsum(eq, *ts).contiguous())


def main():
    torch.set_num_threads(1)
    for fn in (gemm_cases, matmul_cases, conv_cases, conv_transpose_cases, maxpool_cases,
               avgpool_cases, gap_cases, activation_cases, softmax_cases, clip_cases,
               flatten_cases, reshape_cases, concat_cases, binary_cases, batchnorm_cases,
               dropout_cases, pad_cases, fused_cases, gather_cases, reduce_cases,
               transpose_cases, squeeze_cases, layernorm_cases, recurrent_cases, slice_cases,
               math_cases, compare_cases, split_cases, gelu_cases,
               static_cases, dtype_movement_cases, argmax_cases, logical_cases,
               scatter_nd_cases, int_arith_cases, activation13_cases, elementwise13_cases,
               layout13_cases, resize_cases, windowed_1d_cases, windowed_3d_cases,
               einsum_cases):
        with torch.no_grad():
            fn()
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for c in CASES:
        c.save()
    with open(os.path.join(OUT, "MANIFEST"), "w", newline="\n") as f:
        f.write("".join(n + "\n" for n in sorted(names)))
    print("wrote %d cases to %s" % (len(CASES), os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
