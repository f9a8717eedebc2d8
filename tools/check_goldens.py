#!/usr/bin/python3
"""check_goldens: independent numpy reference for Kiln model.json files (numpy only, no torch).

Evaluates each model on its inputs/*.npy in float64 and compares with golden/*.npy
(rtol 1e-4, atol 1e-5). This validates that the JSON graphs written by gen_examples.py and
gen_op_tests.py really compute what PyTorch computed (wrong pads order, attribute defaults,
transposes, broadcasting ... show up as mismatches).

Usage:
    python3 tools/check_goldens.py                 # all of examples/*/ (but the seed models'
                                                   # imported JSON) and tests/ops/*/
    python3 tools/check_goldens.py DIR [DIR ...]   # given case/example directories
Exit status 0 when everything passes.

Semantics follow ONNX opset 17. Two pooling choices that the ONNX text leaves open are pinned
down here the same way PyTorch and onnxruntime do them:
  * ceil_mode output size is ceil((in + pads - window) / stride) + 1 (the spec formula); the
    PyTorch/onnx-reference rule "the last window must start inside input + begin pad" is
    asserted rather than applied (the test cases avoid that edge on purpose);
  * AveragePool with count_include_pad=1: the divisor counts the explicit pads but not the
    extra cells a ceil_mode window hangs over past the end pad.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import base64
import json
import math
import os
import sys

import numpy as np

RTOL, ATOL = 1e-4, 1e-5

NP_DTYPES = {
    "f32": "<f4", "f16": "<f2", "i8": "i1", "u8": "u1", "i16": "<i2", "i32": "<i4",
    "i64": "<i8", "bool": "?",
}

KNOWN_ATTRS = {
    "Gemm": {"alpha", "beta", "transA", "transB"},
    "MatMul": set(),
    "Conv": {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
    "ConvTranspose": {"auto_pad", "dilations", "group", "kernel_shape", "output_padding",
                      "output_shape", "pads", "strides"},
    "MaxPool": {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order",
                "strides"},
    "AveragePool": {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                    "strides"},
    "GlobalAveragePool": set(),
    "Relu": set(), "Sigmoid": set(), "Tanh": set(), "Identity": set(),
    "LeakyRelu": {"alpha"},
    "Softmax": {"axis"},
    "Clip": set(),
    "Flatten": {"axis"},
    "Reshape": {"allowzero"},
    "Concat": {"axis"},
    "Add": set(), "Sub": set(), "Mul": set(), "Div": set(),
    "BatchNormalization": {"epsilon", "momentum", "training_mode"},
    "Dropout": {"seed"},
    "Pad": {"mode"},
    "Gather": {"axis"},
    "ReduceMean": {"axes", "keepdims", "noop_with_empty_axes"},
    "ReduceSum": {"axes", "keepdims", "noop_with_empty_axes"},
    "ReduceMax": {"axes", "keepdims", "noop_with_empty_axes"},
    "Transpose": {"perm"},
    "Squeeze": set(), "Unsqueeze": set(),
    "LayerNormalization": {"axis", "epsilon", "stash_type"},
    "Slice": set(),
    "Exp": set(), "Log": set(), "Sqrt": set(), "Neg": set(), "Abs": set(), "Erf": set(),
    "LogSoftmax": {"axis"}, "Pow": set(),
    "Split": {"axis", "split"}, "Equal": set(), "Less": set(), "Greater": set(), "Where": set(), "Cast": {"to", "saturate"},
    "Gelu": {"approximate"}, "Shape": {"start", "end"}, "Expand": set(), "Range": set(),
    "Constant": {"value_float", "value_floats", "value_int", "value_ints"},
    "ConstantOfShape": {"value"},
    "RNN": {"direction", "hidden_size"},
    "GRU": {"direction", "hidden_size", "linear_before_reset"},
    "LSTM": {"direction", "hidden_size"},
}


def recurrent_ref(op, node, ins):
    """ONNX RNN/GRU(linear_before_reset=1)/LSTM with default activations, float64."""
    get = lambda k: as64(ins[k]) if len(ins) > k and ins[k] is not None else None  # noqa: E731
    X, W, R, Bb, h0, c0 = get(0), get(1), get(2), get(3), get(5), get(6)
    T, B, _ = X.shape
    H = attr(node, "hidden_size", None)
    direction = attr(node, "direction", "forward")
    D = W.shape[0]
    G = W.shape[1] // H
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    Y = np.zeros((T, D, B, H))
    Yh, Yc = np.zeros((D, B, H)), np.zeros((D, B, H))
    for d in range(D):
        h = h0[d].copy() if h0 is not None else np.zeros((B, H))
        c = c0[d].copy() if c0 is not None else np.zeros((B, H))
        wb = Bb[d, :G * H] if Bb is not None else np.zeros(G * H)
        rb = Bb[d, G * H:] if Bb is not None else np.zeros(G * H)
        steps = range(T - 1, -1, -1) if direction == "reverse" or d == 1 else range(T)
        for t in steps:
            gx = X[t] @ W[d].T + wb
            gr = h @ R[d].T + rb
            g = lambda q: (gx + gr)[:, q * H:(q + 1) * H]  # noqa: E731
            if op == "RNN":
                h = np.tanh(g(0))
            elif op == "GRU":
                z, r = sig(g(0)), sig(g(1))
                hh = np.tanh(gx[:, 2 * H:] + r * gr[:, 2 * H:])
                h = (1 - z) * hh + z * h
            else:
                i, o, f, cc = sig(g(0)), sig(g(1)), sig(g(2)), np.tanh(g(3))
                c = f * c + i * cc
                h = o * np.tanh(c)
            Y[t, d] = h
        Yh[d], Yc[d] = h, c
    return [Y, Yh, Yc][:len(node["outputs"])]


# ---------------------------------------------------------------- loading
def load_model(model_dir):
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        m = json.load(f)
    assert m["format"] == "kiln-model" and m["version"] == 1, "bad header"
    assert m.get("opset", 17) == 17
    consts = {}
    for init in m.get("initializers", []):
        dt = np.dtype(NP_DTYPES[init["dtype"]])
        shape = tuple(init["shape"])
        n = int(np.prod(shape, dtype=np.int64))
        keys = [k for k in ("data", "base64", "external") if k in init]
        assert len(keys) == 1, "%s: exactly one of data/base64/external" % init["name"]
        if "data" in init:
            assert len(init["data"]) == n
            arr = np.array(init["data"], dtype=dt).reshape(shape)
        elif "base64" in init:
            raw = base64.b64decode(init["base64"], validate=True)
            assert len(raw) == n * dt.itemsize
            arr = np.frombuffer(raw, dtype=dt).reshape(shape)
        else:
            ext = init["external"]
            off = ext.get("offset", 0)
            assert ext["length"] == n * dt.itemsize
            with open(os.path.join(model_dir, ext["path"]), "rb") as f:
                f.seek(off)
                raw = f.read(ext["length"])
            assert len(raw) == ext["length"], "external range outside file"
            arr = np.frombuffer(raw, dtype=dt).reshape(shape)
        consts[init["name"]] = arr
    return m, consts


# ---------------------------------------------------------------- helpers
def attr(node, key, default):
    return node.get("attrs", {}).get(key, default)


def as64(a):
    return np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)


def auto_pads(auto_pad, in_sp, k_eff, strides):
    """ONNX SAME_UPPER/SAME_LOWER/VALID -> explicit pads [b0, b1, e0, e1]."""
    n = len(in_sp)
    if auto_pad == "VALID":
        return [0] * (2 * n)
    begins, ends = [], []
    for i in range(n):
        out = -(-in_sp[i] // strides[i])
        total = max((out - 1) * strides[i] + k_eff[i] - in_sp[i], 0)
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begins.append(small); ends.append(big)
        else:
            begins.append(big); ends.append(small)
    return begins + ends


def resolve_pads(node, in_sp, k_eff, strides):
    ap = attr(node, "auto_pad", "NOTSET")
    if ap in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        return auto_pads(ap, in_sp, k_eff, strides)
    assert ap == "NOTSET", ap
    return list(attr(node, "pads", [0] * (2 * len(in_sp))))


def conv2d(x, w, b, strides, pads, dil, group):
    N, C, H, W = x.shape
    M, Cg, kh, kw = w.shape
    assert C == Cg * group and M % group == 0
    pt, pl, pb, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    Ho = (H + pt + pb - ((kh - 1) * dil[0] + 1)) // strides[0] + 1
    Wo = (W + pl + pr - ((kw - 1) * dil[1] + 1)) // strides[1] + 1
    out = np.zeros((N, M, Ho, Wo))
    Mg = M // group
    for g in range(group):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Mg:(g + 1) * Mg]
        for i in range(kh):
            for j in range(kw):
                h0, w0 = i * dil[0], j * dil[1]
                patch = xg[:, :, h0:h0 + strides[0] * (Ho - 1) + 1:strides[0],
                           w0:w0 + strides[1] * (Wo - 1) + 1:strides[1]]
                out[:, g * Mg:(g + 1) * Mg] += np.einsum("nchw,mc->nmhw", patch, wg[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d(x, w, b, strides, pads, dil, group, out_pad):
    N, C, H, W = x.shape
    Cw, Mg, kh, kw = w.shape
    assert Cw == C and C % group == 0
    Cg = C // group
    M = Mg * group
    k_eff = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1]
    Hf = strides[0] * (H - 1) + k_eff[0] + out_pad[0]
    Wf = strides[1] * (W - 1) + k_eff[1] + out_pad[1]
    full = np.zeros((N, M, Hf, Wf))
    for g in range(group):
        xg = x[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Cg:(g + 1) * Cg]
        for i in range(kh):
            for j in range(kw):
                h0, w0 = i * dil[0], j * dil[1]
                full[:, g * Mg:(g + 1) * Mg, h0:h0 + strides[0] * (H - 1) + 1:strides[0],
                     w0:w0 + strides[1] * (W - 1) + 1:strides[1]] += \
                    np.einsum("nchw,cm->nmhw", xg, wg[:, :, i, j])
    pt, pl, pb, pr = pads
    out = full[:, :, pt:Hf - pb, pl:Wf - pr]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def pool_out_size(n, pb, pe, k_eff, s, ceil_mode):
    num = n + pb + pe - k_eff
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode:
        # the edge where PyTorch / the newer onnx reference drop the last window: not exercised
        assert (o - 1) * s < n + pb, "ceil_mode window starting in the end pad (ambiguous edge)"
    return o


def pool2d(x, node, kind):
    N, C, H, W = x.shape
    ks = list(attr(node, "kernel_shape", None))
    strides = list(attr(node, "strides", [1, 1]))
    dil = list(attr(node, "dilations", [1, 1])) if kind == "max" else [1, 1]
    ceil_mode = attr(node, "ceil_mode", 0)
    k_eff = [(ks[i] - 1) * dil[i] + 1 for i in range(2)]
    pads = resolve_pads(node, [H, W], k_eff, strides)
    pt, pl, pb, pr = pads
    Ho = pool_out_size(H, pt, pb, k_eff[0], strides[0], ceil_mode)
    Wo = pool_out_size(W, pl, pr, k_eff[1], strides[1], ceil_mode)
    # extra cells on the end so ceil-mode windows fit
    eh = max((Ho - 1) * strides[0] + k_eff[0] - (H + pt + pb), 0)
    ew = max((Wo - 1) * strides[1] + k_eff[1] - (W + pl + pr), 0)
    Hp, Wp = H + pt + pb + eh, W + pl + pr + ew
    xp = np.full((N, C, Hp, Wp), np.nan)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    # which cells count for count_include_pad=1: the input and the explicit pads, not the overhang
    incl = np.zeros((Hp, Wp))
    incl[:H + pt + pb, :W + pl + pr] = 1
    out = np.zeros((N, C, Ho, Wo))
    for oh in range(Ho):
        for ow in range(Wo):
            h0, w0 = oh * strides[0], ow * strides[1]
            win = xp[:, :, h0:h0 + k_eff[0]:dil[0], w0:w0 + k_eff[1]:dil[1]]
            valid = ~np.isnan(win)
            if kind == "max":
                assert valid.any(axis=(2, 3)).all(), "window entirely in padding"
                out[:, :, oh, ow] = np.where(valid, win, -np.inf).max(axis=(2, 3))
            else:
                s = np.where(valid, win, 0.0).sum(axis=(2, 3))
                if attr(node, "count_include_pad", 0):
                    cnt = incl[h0:h0 + k_eff[0], w0:w0 + k_eff[1]].sum()
                else:
                    cnt = valid[0, 0].sum()
                out[:, :, oh, ow] = s / cnt
    return out


def unidir_broadcastable(c_shape, target):
    try:
        return np.broadcast_shapes(tuple(c_shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


# ---------------------------------------------------------------- ops
def run_node(node, env):
    op = node["op"]
    unknown = set(node.get("attrs", {})) - KNOWN_ATTRS[op]
    assert not unknown, "%s: unknown attrs %s" % (node["name"], unknown)
    ins = [env[n] if n != "" else None for n in node["inputs"]]
    x = ins[0] if ins else None  # Constant has no inputs
    if op == "Gemm":
        A, B = as64(ins[0]), as64(ins[1])
        assert A.ndim == 2 and B.ndim == 2
        if attr(node, "transA", 0):
            A = A.T
        if attr(node, "transB", 0):
            B = B.T
        y = attr(node, "alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            assert unidir_broadcastable(ins[2].shape, y.shape)
            y = y + attr(node, "beta", 1.0) * as64(ins[2])
        return [y]
    if op == "MatMul":
        return [np.matmul(as64(ins[0]), as64(ins[1]))]
    if op == "Conv":
        w = as64(ins[1])
        b = as64(ins[2]) if len(ins) > 2 and ins[2] is not None else None
        ks = attr(node, "kernel_shape", list(w.shape[2:]))
        assert list(ks) == list(w.shape[2:])
        strides = list(attr(node, "strides", [1, 1]))
        dil = list(attr(node, "dilations", [1, 1]))
        k_eff = [(ks[i] - 1) * dil[i] + 1 for i in range(2)]
        pads = resolve_pads(node, list(x.shape[2:]), k_eff, strides)
        return [conv2d(as64(x), w, b, strides, pads, dil, attr(node, "group", 1))]
    if op == "ConvTranspose":
        w = as64(ins[1])
        b = as64(ins[2]) if len(ins) > 2 and ins[2] is not None else None
        ks = attr(node, "kernel_shape", list(w.shape[2:]))
        assert list(ks) == list(w.shape[2:])
        strides = list(attr(node, "strides", [1, 1]))
        dil = list(attr(node, "dilations", [1, 1]))
        op_ = list(attr(node, "output_padding", [0, 0]))
        k_eff = [(ks[i] - 1) * dil[i] + 1 for i in range(2)]
        in_sp = list(x.shape[2:])
        ap = attr(node, "auto_pad", "NOTSET")
        if "output_shape" in node.get("attrs", {}):
            osh = list(attr(node, "output_shape", None))[-2:]
            b_, e_ = [], []
            for i in range(2):
                total = strides[i] * (in_sp[i] - 1) + op_[i] + k_eff[i] - osh[i]
                if ap == "SAME_UPPER":
                    b_.append(total // 2); e_.append(total - total // 2)
                else:
                    b_.append(total - total // 2); e_.append(total // 2)
            pads = b_ + e_
        elif ap in ("SAME_UPPER", "SAME_LOWER"):
            b_, e_ = [], []
            for i in range(2):
                total = strides[i] * (in_sp[i] - 1) + op_[i] + k_eff[i] - in_sp[i] * strides[i]
                if ap == "SAME_UPPER":
                    b_.append(total // 2); e_.append(total - total // 2)
                else:
                    b_.append(total - total // 2); e_.append(total // 2)
            pads = b_ + e_
        else:
            pads = list(attr(node, "pads", [0, 0, 0, 0]))
        return [conv_transpose2d(as64(x), w, b, strides, pads, dil, attr(node, "group", 1), op_)]
    if op == "MaxPool":
        assert attr(node, "storage_order", 0) in (0, 1)
        assert len(node["outputs"]) == 1
        return [pool2d(as64(x), node, "max")]
    if op == "AveragePool":
        return [pool2d(as64(x), node, "avg")]
    if op == "GlobalAveragePool":
        return [as64(x).mean(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if op == "Relu":
        return [np.maximum(as64(x), 0)]
    if op == "LeakyRelu":
        a = np.float64(np.float32(attr(node, "alpha", 0.01)))
        x = as64(x)
        return [np.where(x >= 0, x, a * x)]
    if op == "Sigmoid":
        x = as64(x)
        return [0.5 * (1 + np.tanh(0.5 * x))]
    if op == "Tanh":
        return [np.tanh(as64(x))]
    if op == "Softmax":
        ax = attr(node, "axis", -1)
        x = as64(x)
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return [e / e.sum(axis=ax, keepdims=True)]
    if op == "Clip":
        x = as64(x)
        lo = ins[1] if len(ins) > 1 else None
        hi = ins[2] if len(ins) > 2 else None
        for t in (lo, hi):
            assert t is None or t.shape == (), "Clip min/max must be scalars"
        if lo is not None:
            x = np.maximum(x, float(lo))
        if hi is not None:
            x = np.minimum(x, float(hi))
        return [x]
    if op == "Flatten":
        ax = attr(node, "axis", 1)
        r = x.ndim
        assert -r <= ax <= r
        if ax < 0:
            ax += r
        a = int(np.prod(x.shape[:ax], dtype=np.int64))
        return [as64(x).reshape(a, -1 if a else 0)]
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        assert not attr(node, "allowzero", 0)
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [as64(x).reshape(shape)]
    if op == "Concat":
        return [np.concatenate([as64(t) for t in ins], axis=attr(node, "axis", None))]
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = as64(ins[0]), as64(ins[1])
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return [f(a, b)]
    if op == "BatchNormalization":
        assert attr(node, "training_mode", 0) == 0
        assert len(node["outputs"]) == 1
        x, sc, bi, mean, var = [as64(t) for t in ins[:5]]
        eps = np.float64(np.float32(attr(node, "epsilon", 1e-5)))
        shp = [1, -1] + [1] * (x.ndim - 2)
        y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * sc.reshape(shp) + bi.reshape(shp)
        return [y]
    if op == "Identity":
        return [x]
    if op == "Dropout":
        if len(ins) > 2 and ins[2] is not None:
            assert not bool(ins[2]), "training_mode must be false"
        outs = [x]
        if len(node["outputs"]) > 1:
            outs.append(np.ones(x.shape, dtype=bool))
        return outs
    if op == "Pad":  # opset 17: pads [begins..., ends...], numpy's modes by other names
        p = [int(v) for v in ins[1]]
        r = x.ndim
        width = [(p[i], p[i + r]) for i in range(r)]
        mode = attr(node, "mode", "constant")
        if mode == "constant":
            value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
            return [np.pad(as64(x), width, mode="constant", constant_values=value)]
        return [np.pad(as64(x), width, mode="reflect" if mode == "reflect" else "edge")]
    if op == "Gather":
        data, idx = ins[0], np.asarray(ins[1], dtype=np.int64)
        axis = attr(node, "axis", 0)
        axis = axis + data.ndim if axis < 0 else axis
        assert ((idx >= -data.shape[axis]) & (idx < data.shape[axis])).all(), "index range"
        return [np.take(data, np.where(idx < 0, idx + data.shape[axis], idx), axis=axis)]
    if op in ("ReduceMean", "ReduceSum", "ReduceMax"):
        axes = attr(node, "axes", None)
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = [int(a) for a in ins[1]]
        if not axes and attr(node, "noop_with_empty_axes", 0):
            return [x]
        axes = tuple(range(x.ndim)) if not axes else tuple(a % x.ndim for a in axes)
        fn = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max}[op]
        return [fn(as64(x), axis=axes, keepdims=bool(attr(node, "keepdims", 1)))]
    if op == "Transpose":
        return [np.transpose(x, attr(node, "perm", None))]
    if op == "Squeeze":
        if len(ins) > 1 and ins[1] is not None:
            return [np.squeeze(x, axis=tuple(int(a) % x.ndim for a in ins[1]))]
        return [np.squeeze(x)]
    if op == "Unsqueeze":
        r = x.ndim + len(ins[1])
        y = x
        for a in sorted(int(a) % r for a in ins[1]):
            y = np.expand_dims(y, a)
        return [y]
    if op == "LayerNormalization":
        axis = attr(node, "axis", -1) % x.ndim
        eps = np.float64(np.float32(attr(node, "epsilon", 1e-5)))
        xs = as64(x)
        red = tuple(range(axis, x.ndim))
        mean = xs.mean(axis=red, keepdims=True)
        var = ((xs - mean) ** 2).mean(axis=red, keepdims=True)
        shp = x.shape[axis:]
        y = (xs - mean) / np.sqrt(var + eps) * as64(ins[1]).reshape(shp)
        if len(ins) > 2 and ins[2] is not None:
            y = y + as64(ins[2]).reshape(shp)
        return [y]
    if op in ("Exp", "Log", "Sqrt", "Neg", "Abs"):
        return [{"Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt, "Neg": np.negative,
                 "Abs": np.abs}[op](as64(x))]
    if op == "Split":
        axis = attr(node, "axis", 0) % x.ndim
        sizes = attr(node, "split", None)
        if sizes is None and len(ins) > 1 and ins[1] is not None:
            sizes = [int(v) for v in ins[1]]
        if sizes is None:
            sizes = [x.shape[axis] // len(node["outputs"])] * len(node["outputs"])
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    if op in ("Equal", "Less", "Greater"):
        return [{"Equal": np.equal, "Less": np.less, "Greater": np.greater}[op](x, ins[1])]
    if op == "Where":
        return [np.where(x, ins[1], ins[2])]
    if op == "Cast":
        to = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 2: np.uint8, 3: np.int8,
              5: np.int16}[attr(node, "to", None)]
        return [x.astype(to)]
    if op == "Pow":
        return [np.power(as64(x), as64(ins[1]))]
    if op == "Erf":
        return [np.vectorize(math.erf)(as64(x))]
    if op == "Shape":
        r = x.ndim
        b = [attr(node, "start", 0), attr(node, "end", r)]
        b = [min(max(v + r if v < 0 else v, 0), r) for v in b]
        return [np.array(x.shape[b[0]:b[1]], dtype=np.int64)]
    if op == "Constant":
        a = node["attrs"]
        if "value_float" in a or "value_floats" in a:
            return [np.array(a.get("value_float", a.get("value_floats")), dtype=np.float32)]
        return [np.array(a.get("value_int", a.get("value_ints")), dtype=np.int64)]
    if op == "ConstantOfShape":
        return [np.full([int(v) for v in x], attr(node, "value", [0.0])[0], dtype=np.float32)]
    if op == "Expand":
        return [x * np.ones([int(v) for v in ins[1]], dtype=x.dtype)]
    if op == "Range":
        return [np.arange(x.item(), ins[1].item(), ins[2].item()).astype(x.dtype)]
    if op == "Gelu":
        xs = as64(x)
        if attr(node, "approximate", "none") == "tanh":
            return [0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))]
        return [0.5 * xs * (1 + np.vectorize(math.erf)(xs / math.sqrt(2)))]
    if op == "LogSoftmax":
        xs = as64(x)
        m = xs.max(axis=attr(node, "axis", -1), keepdims=True)
        return [xs - m - np.log(np.exp(xs - m).sum(axis=attr(node, "axis", -1), keepdims=True))]
    if op == "Slice":
        idx = [slice(None)] * x.ndim
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(ins[1])
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(ins[1]))
        for b, e, a, st in zip(ins[1], ins[2], axes, steps):
            idx[int(a)] = slice(int(b), None if int(e) <= -2**62 else int(e), int(st))
        return [x[tuple(idx)]]
    if op in ("RNN", "GRU", "LSTM"):
        return recurrent_ref(op, node, ins)
    raise NotImplementedError(op)


def evaluate(model, consts, inputs):
    env = dict(consts)
    for d in model["inputs"]:
        a = inputs[d["name"]]
        assert a.dtype == np.dtype(NP_DTYPES[d["dtype"]]), "%s: dtype %s" % (d["name"], a.dtype)
        assert list(a.shape) == d["shape"], "%s: shape %s" % (d["name"], a.shape)
        env[d["name"]] = a
    pending = list(model["nodes"])
    while pending:  # any order in the file: run whatever is ready
        progress = False
        rest = []
        for n in pending:
            if all(i == "" or i in env for i in n["inputs"]):
                outs = run_node(n, env)
                for name, v in zip(n["outputs"], outs):
                    if name:
                        env[name] = v
                progress = True
            else:
                rest.append(n)
        assert progress, "graph has a cycle or an undefined value"
        pending = rest
    return env


def check_dir(d):
    model, consts = load_model(d)
    inputs = {}
    for inp in model["inputs"]:
        inputs[inp["name"]] = np.load(os.path.join(d, "inputs", inp["name"] + ".npy"))
    env = evaluate(model, consts, inputs)
    worst = 0.0
    problems = []
    for out in model["outputs"]:
        g = np.load(os.path.join(d, "golden", out["name"] + ".npy"))
        if g.dtype != np.dtype(NP_DTYPES[out["dtype"]]) or list(g.shape) != out["shape"]:
            problems.append("%s: golden %s%s vs declared %s%s" % (
                out["name"], g.dtype, list(g.shape), out["dtype"], out["shape"]))
            continue
        if not g.flags["C_CONTIGUOUS"]:
            problems.append("%s: golden not C-contiguous" % out["name"])
        y = env[out["name"]]
        if list(np.shape(y)) != out["shape"]:
            problems.append("%s: reference shape %s vs declared %s" % (
                out["name"], list(np.shape(y)), out["shape"]))
            continue
        err = np.abs(y - g.astype(np.float64))
        tol = ATOL + RTOL * np.abs(g.astype(np.float64))
        worst = max(worst, float((err / tol).max()) if err.size else 0.0)
        if not (err <= tol).all():
            problems.append("%s: max abs err %.3g (%d of %d elements out of tolerance)" % (
                out["name"], err.max(), int((err > tol).sum()), err.size))
    return problems, worst


def imported(d):
    """The seed-model examples' model.json is `kiln import`'s output of the ONNX file PyTorch
    exported (tools/seed_case.py), not a graph written by hand: this reference lacks some of its
    ops (ArgMax, ReduceMax, LSTM, integer Gather paths) and has nothing to validate there."""
    return os.path.isfile(os.path.join(d, "inputs.txt"))


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = argv[1:]
    if not dirs:
        for top in (os.path.join(root, "examples"), os.path.join(root, "tests", "ops")):
            if os.path.isdir(top):
                dirs += sorted(os.path.join(top, d) for d in os.listdir(top)
                               if os.path.isfile(os.path.join(top, d, "model.json"))
                               and not imported(os.path.join(top, d)))
    failed = 0
    for d in dirs:
        try:
            problems, worst = check_dir(d)
        except Exception as e:  # noqa: BLE001 - report and continue
            problems, worst = ["%s: %s" % (type(e).__name__, e)], float("nan")
        rel = os.path.relpath(d, root)
        if problems:
            failed += 1
            print("FAIL %s" % rel)
            for p in problems:
                print("     %s" % p)
        else:
            print("ok   %-45s (worst err/tol %.3f)" % (rel, worst))
    print("%d checked, %d failed" % (len(dirs), failed))
    return 1 if failed or not dirs else 0


if __name__ == "__main__":
    toolcli.check()
    sys.exit(main(sys.argv))
