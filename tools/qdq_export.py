#!/usr/bin/python3
"""qdq_export: a float ONNX model -> the QDQ model ONNX Runtime's quantize_static would write
(QuantFormat.QDQ, MinMax calibration, u8 activations, per-channel i8 weights, i32 bias), for
comparing Kiln's import of a pre-quantized model with ONNX Runtime on the same file
(bench/bench_ort_int8.sh). ONNX Runtime's Python quantizer is not on this machine; this follows
its placement rules for the ops of the CNN examples:

  - the tensors read by Conv and Gemm get a QuantizeLinear -> DequantizeLinear pair, and so do
    their outputs (after a Relu that alone reads them: the Relu stays inside, ORT's fusion);
  - MaxPool, Flatten and Reshape of a quantized tensor are wrapped with the input's parameters;
  - weights: DequantizeLinear of i8 per output channel (axis 0), symmetric; bias: DequantizeLinear
    of i32 with scale x_scale * w_scale (axis 0); activations: u8, range from calibration.

Calibration: a numpy float evaluator (Sub, Div, Add, Mul, Conv, Relu, Clip, MaxPool, Flatten,
Reshape, Gemm, Softmax, Concat, Constant) on the example's input plus N fixed-seed normal samples.

    /usr/bin/python3 tools/qdq_export.py MODEL.onnx INPUT.npy OUT.onnx [--samples N]
"""

import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    s = a.get("strides", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    g = a.get("group", 1)
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    oh, ow = (h - kh) // s[0] + 1, (wd - kw) // s[1] + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // g
    for gi in range(g):
        xs = x[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * mg:(gi + 1) * mg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
                y[:, gi * mg:(gi + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def maxpool(x, a):
    k, s = a["kernel_shape"], a.get("strides", a["kernel_shape"])
    p = a.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=-np.inf)
    oh, ow = (x.shape[2] - k[0]) // s[0] + 1, (x.shape[3] - k[1]) // s[1] + 1
    y = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for i in range(k[0]):
        for j in range(k[1]):
            y = np.maximum(y, x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]])
    return y


def run(model, feeds):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if numpy_helper.to_array(t).dtype
           == np.float32 else numpy_helper.to_array(t) for t in model.graph.initializer}
    env.update({k: v.astype(np.float64) for k, v in feeds.items()})
    for n in model.graph.node:
        i = [env[x] if x else None for x in n.input]
        a = attrs(n)
        op = n.op_type
        if op in ("Sub", "Div", "Add", "Mul"):
            y = {"Sub": np.subtract, "Div": np.divide, "Add": np.add, "Mul": np.multiply}[op](*i)
        elif op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Clip":
            y = np.clip(i[0], i[1] if len(i) > 1 and i[1] is not None else -np.inf,
                        i[2] if len(i) > 2 and i[2] is not None else np.inf)
        elif op == "MaxPool":
            y = maxpool(i[0], a)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            y = i[0].reshape([d if d else i[0].shape[k] for k, d in enumerate(i[1].astype(int))])
        elif op == "Gemm":
            b = i[1].T if a.get("transB", 0) else i[1]
            aa = i[0].T if a.get("transA", 0) else i[0]
            y = a.get("alpha", 1.0) * aa @ b + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)
        elif op == "Softmax":
            e = np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
            y = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        else:
            raise SystemExit("qdq_export: op %s is not in the evaluator" % op)
        env[n.output[0]] = y
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=16)
    o = ap.parse_args()
    m = onnx.load(o.model)
    g = m.graph
    x0 = np.load(o.input)
    rng = np.random.default_rng(7)
    inits = {t.name: t for t in g.initializer}
    in_name = [i.name for i in g.input if i.name not in inits][0]
    lo, hi = {}, {}
    for s in [x0] + [rng.standard_normal(x0.shape).astype(np.float32) for _ in range(o.samples)]:
        for k, v in run(m, {in_name: s}).items():
            if k in inits:
                continue
            lo[k] = min(lo.get(k, 0.0), float(np.min(v)))
            hi[k] = max(hi.get(k, 0.0), float(np.max(v)))

    readers = {}
    for n in g.node:
        for x in n.input:
            readers.setdefault(x, []).append(n)
    params = {}  # quantized tensor -> (scale, zero point)

    def act_params(t):
        s = np.float32(max(hi[t] - lo[t], 1e-8) / 255.0)
        return s, np.uint8(np.clip(round(-lo[t] / s), 0, 255))

    for n in g.node:  # which tensors are quantized, in execution order
        if n.op_type in ("Conv", "Gemm"):
            if n.input[0] not in params:
                params[n.input[0]] = act_params(n.input[0])
            out = n.output[0]
            r = readers.get(out, [])
            if len(r) == 1 and r[0].op_type == "Relu":
                out = r[0].output[0]
            params[out] = act_params(out)
        elif n.op_type in ("MaxPool", "Flatten", "Reshape") and n.input[0] in params:
            params[n.output[0]] = params[n.input[0]]

    nodes, new_inits = [], []
    renamed = {}  # tensor -> its dequantized name

    def qdq(t):
        s, z = params[t]
        new_inits.extend([numpy_helper.from_array(s, t + "_scale"),
                          numpy_helper.from_array(z, t + "_zero_point")])
        nodes.append(helper.make_node("QuantizeLinear", [t, t + "_scale", t + "_zero_point"],
                                      [t + "_quantized"], name=t + "_QuantizeLinear"))
        nodes.append(helper.make_node("DequantizeLinear", [t + "_quantized", t + "_scale",
                                                           t + "_zero_point"],
                                      [t + "_dequantized"], name=t + "_DequantizeLinear"))
        renamed[t] = t + "_dequantized"

    if in_name in params:
        qdq(in_name)
    for n in g.node:
        ins = [renamed.get(x, x) for x in n.input]
        if n.op_type in ("Conv", "Gemm") and n.input[1] in inits:
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
            trans = n.op_type == "Conv" or attrs(n).get("transB", 0)
            axis = 0 if trans else 1
            red = tuple(k for k in range(w.ndim) if k != axis)
            ws = (np.maximum(np.abs(w).max(axis=red), 1e-12) / 127).astype(np.float32)
            shape = [1] * w.ndim
            shape[axis] = -1
            wq = np.clip(np.rint(w / ws.reshape(shape)), -127, 127).astype(np.int8)
            wn = n.input[1]
            new_inits.extend([numpy_helper.from_array(wq, wn + "_quantized"),
                              numpy_helper.from_array(ws, wn + "_scale"),
                              numpy_helper.from_array(np.zeros(ws.shape, np.int8),
                                                      wn + "_zero_point")])
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_quantized", wn + "_scale",
                                                               wn + "_zero_point"],
                                          [wn + "_dequantized"], name=wn + "_DequantizeLinear",
                                          axis=axis))
            ins[1] = wn + "_dequantized"
            if len(n.input) > 2 and n.input[2] in inits and n.input[0] in params:
                b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
                bs = (params[n.input[0]][0] * ws).astype(np.float32)
                bq = np.rint(b / bs.astype(np.float64)).astype(np.int32)
                bn = n.input[2]
                new_inits.extend([numpy_helper.from_array(bq, bn + "_quantized"),
                                  numpy_helper.from_array(bs, bn + "_scale")])
                nodes.append(helper.make_node("DequantizeLinear", [bn + "_quantized",
                                                                   bn + "_scale"],
                                              [bn + "_dequantized"], axis=0,
                                              name=bn + "_DequantizeLinear"))
                ins[2] = bn + "_dequantized"
        nodes.append(helper.make_node(n.op_type, ins, list(n.output), name=n.name or None,
                                      **attrs(n)))
        for t in n.output:
            if t in params:
                qdq(t)
    outs = {o.name for o in g.output}
    for t in outs & set(renamed):  # a graph output keeps its name: the last DQ writes it
        for nd in nodes:
            nd.output[:] = [t if x == renamed[t] else x for x in nd.output]
            if nd.name == t + "_QuantizeLinear":
                nd.input[0] = t + "_float"
        for nd in nodes:
            nd.output[:] = [t + "_float" if (x == t and nd.op_type != "DequantizeLinear") else x
                            for x in nd.output]
    kept = [t for t in g.initializer
            if any(t.name in nd.input for nd in nodes)]
    qg = helper.make_graph(nodes, g.name + "_qdq", list(g.input), list(g.output),
                           kept + new_inits)
    qm = helper.make_model(qg, opset_imports=[helper.make_opsetid("", 13)])
    qm.ir_version = 7
    onnx.checker.check_model(qm)
    onnx.save(qm, o.out)
    print("qdq_export: %s -> %s (%d quantized tensors)" % (o.model, o.out, len(params)))


if __name__ == "__main__":
    main()
