#!/usr/bin/python3
"""gen_onnx_tests: small ONNX files for the importer's error tests (tests/onnx/).

    /usr/bin/python3 tools/gen_onnx_tests.py

  unsupported_ops.onnx  three nodes of two ops Kiln lacks (TopK twice, Hardmax) -> the
                        importer lists every op with its nodes
  opset9.onnx           opset 9 (Kiln imports 11..17)
  dynamic_batch.onnx    an input with a symbolic batch dimension
  shape_folding.onnx    Reshape whose target shape is computed by Shape/Gather/Unsqueeze/Concat
                        (what exporters emit for x.view(x.size(0), -1)), folded by the importer;
                        with input x.npy and its expected output y.npy (numpy)
  tensor.pb / tensor.npy  an ONNX TensorProto (i64) and the .npy it converts to
  if_bind.onnx          an If on a bool input, which folds once --bind fixes it (test_cli.sh)
  cases/<name>/         op cases per opset where ONNX's semantics or form changed (opsets 7-21):
                        model.onnx, inputs/*.npy and golden/*.npy computed with numpy (the
                        ONNX operator definitions of that opset); run by test_models (ctest
                        onnx_cases) through the C importer
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx_opsets import file_stems  # noqa: E402
import onnx_resize_ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "onnx")


def save(model, name):
    onnx.checker.check_model(model)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


def main():
    os.makedirs(OUT, exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("TopK", ["a", "k"], ["b", "bi"], name="top1", axis=1),
             helper.make_node("TopK", ["b", "k"], ["c", "ci"], name="top2", axis=1),
             helper.make_node("Hardmax", ["c"], ["y"], name="hardmax")]
    k = numpy_helper.from_array(np.array([1], dtype=np.int64), "k")
    g = helper.make_graph(nodes, "unsupported", [x], [y], [k])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "unsupported_ops.onnx")

    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "old", [x], [y])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)]), "opset9.onnx")

    xd = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    yd = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "dyn", [xd], [yd])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "dynamic_batch.onnx")

    x3 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    y2 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 12])
    inits = [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1")]
    nodes = [helper.make_node("Shape", ["x"], ["shape"], name="shape"),
             helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
             helper.make_node("Concat", ["batch1", "minus1"], ["target"], name="concat", axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
             helper.make_node("Relu", ["flat"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "fold", [x3], [y2], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "shape_folding.onnx")
    rng = np.random.RandomState(3)
    xv = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    np.save(os.path.join(OUT, "shape_folding_x.npy"), xv)
    np.save(os.path.join(OUT, "shape_folding_y.npy"), np.maximum(xv.reshape(2, 12), 0))

    t = np.arange(-3, 9, dtype=np.int64).reshape(3, 4) * 1000003
    with open(os.path.join(OUT, "tensor.pb"), "wb") as f:
        f.write(numpy_helper.from_array(t, "ids").SerializeToString())
    np.save(os.path.join(OUT, "tensor.npy"), t)

    # If with a bool input: folds only once the input is bound (kiln ... --bind flag=1)
    xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    yb = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    flag = helper.make_tensor_value_info("flag", TensorProto.BOOL, [])
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then",
                               [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="else_neg")], "else",
                               [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4])])
    g = helper.make_graph([helper.make_node("If", ["flag"], ["y"], name="branch",
                                            then_branch=then_g, else_branch=else_g)],
                          "ifbind", [xb, flag], [yb])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "if_bind.onnx")
    gen_cases()


# ---------------------------------------------------------------- op cases per opset
NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
              np.dtype(np.int32): TensorProto.INT32, np.dtype(np.bool_): TensorProto.BOOL,
              np.dtype(np.float64): TensorProto.DOUBLE}


def vi(name, arr_or_shape, t=TensorProto.FLOAT):
    shape = list(arr_or_shape.shape) if hasattr(arr_or_shape, "shape") else arr_or_shape
    return helper.make_tensor_value_info(name, t, shape)


def case(name, opset, nodes, inputs, outputs, inits=(), extra_opsets=()):
    """inputs / outputs: lists of (name, numpy array); writes tests/onnx/cases/<name>/."""
    d = os.path.join(OUT, "cases", name)
    for sub in ("inputs", "golden"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    g = helper.make_graph(nodes, name, [vi(n, a, NP_TO_ONNX[a.dtype])
                                        for n, a in inputs],
                          [vi(n, a, NP_TO_ONNX[a.dtype]) for n, a in outputs],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(dm, v) for dm, v in extra_opsets]
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 7 if opset < 15 else 8 if opset < 19 else 9 if opset < 21 else 10
    if opset <= 17:  # Debian's onnx 1.12 checks up to opset 17; later ones follow the spec by hand
        onnx.checker.check_model(m)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(m.SerializeToString(deterministic=True))
    for sub, vals in (("inputs", inputs), ("golden", outputs)):
        for stem, (_, a) in zip(file_stems([n for n, _ in vals]), vals):
            # Kiln computes f64 models in f32 (docs/onnx.md): it takes and gives float32 data
            np.save(os.path.join(d, sub, stem + ".npy"),
                    a.astype(np.float32) if a.dtype == np.float64 else a)


def softmax_2d(x, axis, log=False):
    """Softmax of opsets 1-12: flatten to 2-D at axis, normalize rows, reshape back."""
    rows = int(np.prod(x.shape[:axis]))
    f = x.reshape(rows, -1).astype(np.float64)
    e = np.exp(f - f.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return (np.log(y) if log else y).reshape(x.shape).astype(np.float32)


def softmax_axis(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def gen_cases():
    rng = np.random.RandomState(13)
    x = rng.uniform(-2, 2, (2, 3, 4)).astype(np.float32)
    n = helper.make_node
    # Softmax / LogSoftmax: flattening semantics before 13, one axis from 13
    case("softmax_axis1_opset11", 11, [n("Softmax", ["x"], ["y"], name="sm", axis=1)],
         [("x", x)], [("y", softmax_2d(x, 1))])
    case("softmax_axis1_opset13", 13, [n("Softmax", ["x"], ["y"], name="sm", axis=1)],
         [("x", x)], [("y", softmax_axis(x, 1))])
    case("logsoftmax_default_opset9", 9, [n("LogSoftmax", ["x"], ["y"], name="lsm")],
         [("x", x)], [("y", softmax_2d(x, 1, log=True))])
    case("softmax_last_opset7", 7, [n("Softmax", ["x"], ["y"], name="sm", axis=2)],
         [("x", x)], [("y", softmax_axis(x, 2))])
    # Slice: attributes before 10, inputs since
    case("slice_attrs_opset9", 9,
         [n("Slice", ["x"], ["y"], name="sl", starts=[1, 0], ends=[3, -1], axes=[1, 2])],
         [("x", x)], [("y", x[:, 1:3, 0:-1])])
    case("slice_inputs_opset13", 13, [n("Slice", ["x", "s", "e", "a", "st"], ["y"], name="sl")],
         [("x", x)], [("y", x[:, :, 3:0:-2])],
         [("s", np.array([3], np.int64)), ("e", np.array([0], np.int64)),
          ("a", np.array([2], np.int64)), ("st", np.array([-2], np.int64))])
    # Pad: attributes before 11 (value 0.5), inputs since
    pads = [0, 1, 2, 0, 0, 1]
    ref = np.pad(x, [(0, 0), (1, 0), (2, 1)], constant_values=0.5)
    case("pad_attrs_opset9", 9, [n("Pad", ["x"], ["y"], name="pad", pads=pads, value=0.5)],
         [("x", x)], [("y", ref)])
    case("pad_inputs_opset13", 13, [n("Pad", ["x", "p", "v"], ["y"], name="pad")],
         [("x", x)], [("y", ref)],
         [("p", np.array(pads, np.int64)), ("v", np.array(0.5, np.float32))])
    # Clip: attributes before 11
    case("clip_attrs_opset9", 9, [n("Clip", ["x"], ["y"], name="clip", min=-0.5, max=1.0)],
         [("x", x)], [("y", np.clip(x, -0.5, 1.0))])
    case("clip_inputs_opset13", 13, [n("Clip", ["x", "lo", "hi"], ["y"], name="clip")],
         [("x", x)], [("y", np.clip(x, -0.5, 1.0))],
         [("lo", np.array(-0.5, np.float32)), ("hi", np.array(1.0, np.float32))])
    # Squeeze / Unsqueeze: axes attribute before 13, input since
    x1 = x.reshape(2, 1, 3, 4)
    case("squeeze_unsqueeze_attrs_opset11", 11,
         [n("Squeeze", ["x"], ["s"], name="sq", axes=[1]),
          n("Unsqueeze", ["s"], ["y"], name="usq", axes=[0, -1])],
         [("x", x1)], [("y", x.reshape(1, 2, 3, 4, 1))])
    case("squeeze_unsqueeze_inputs_opset13", 13,
         [n("Squeeze", ["x", "a1"], ["s"], name="sq"),
          n("Unsqueeze", ["s", "a2"], ["y"], name="usq")],
         [("x", x1)], [("y", x.reshape(1, 2, 3, 4, 1))],
         [("a1", np.array([1], np.int64)), ("a2", np.array([0, -1], np.int64))])
    # Split: `split` attribute before 13, input since, num_outputs since 18
    x5 = rng.uniform(-1, 1, (2, 5)).astype(np.float32)
    case("split_attr_opset11", 11,
         [n("Split", ["x"], ["a", "b"], name="split", axis=1, split=[2, 3])],
         [("x", x5)], [("a", x5[:, :2]), ("b", x5[:, 2:])])
    case("split_num_outputs_opset18", 18,
         [n("Split", ["x"], ["a", "b", "c"], name="split", axis=1, num_outputs=3)],
         [("x", x5)], [("a", x5[:, :2]), ("b", x5[:, 2:4]), ("c", x5[:, 4:])])
    # ReduceMean: axes attribute before 18, input since; ReduceSum: input since 13
    case("reducemean_attr_opset11", 11,
         [n("ReduceMean", ["x"], ["y"], name="rm", axes=[1], keepdims=0)],
         [("x", x)], [("y", x.mean(axis=1))])
    case("reducemean_input_opset18", 18, [n("ReduceMean", ["x", "a"], ["y"], name="rm",
                                            keepdims=0)],
         [("x", x)], [("y", x.mean(axis=1))], [("a", np.array([1], np.int64))])
    case("reducesum_attr_opset11", 11, [n("ReduceSum", ["x"], ["y"], name="rs", axes=[2])],
         [("x", x)], [("y", x.sum(axis=2, keepdims=True))])
    # BatchNormalization 7 with spatial=1; Dropout with a ratio attribute (7) and inputs (13)
    xc = rng.uniform(-1, 1, (1, 3, 2, 2)).astype(np.float32)
    sc, bi = np.array([1.0, 2.0, 0.5], np.float32), np.array([0.1, -0.2, 0.3], np.float32)
    mu, var = np.array([0.0, 0.5, -0.5], np.float32), np.array([1.0, 2.0, 0.25], np.float32)
    r = lambda v: v.reshape(1, 3, 1, 1)  # noqa: E731
    bn = r(sc) * (xc - r(mu)) / np.sqrt(r(var) + 1e-5) + r(bi)
    case("batchnorm_spatial_opset7", 7,
         [n("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", spatial=1)],
         [("x", xc)], [("y", bn.astype(np.float32))],
         [("s", sc), ("b", bi), ("m", mu), ("v", var)])
    case("dropout_ratio_attr_opset7", 7,
         [n("Dropout", ["x"], ["d"], name="drop", ratio=0.3), n("Relu", ["d"], ["y"], name="r")],
         [("x", x)], [("y", np.maximum(x, 0))])
    case("dropout_inputs_opset13", 13,
         [n("Dropout", ["x", "ratio", "train"], ["d"], name="drop"),
          n("Relu", ["d"], ["y"], name="r")],
         [("x", x)], [("y", np.maximum(x, 0))],
         [("ratio", np.array(0.3, np.float32)), ("train", np.array(False))])
    # Constant forms, ConstantOfShape, and shape arithmetic folded by the importer
    case("constants_opset13", 13,
         [n("Constant", [], ["c1"], name="c1", value=numpy_helper.from_array(
             np.full((3, 4), 0.25, np.float32))),
          n("Constant", [], ["shape"], name="c2", value_ints=[2, 12]),
          n("ConstantOfShape", ["s34"], ["ones"], name="cos",
            value=numpy_helper.from_array(np.array([2.0], np.float32))),
          n("Add", ["x", "c1"], ["a"], name="add"), n("Mul", ["a", "ones"], ["b"], name="mul"),
          n("Reshape", ["b", "shape"], ["y"], name="reshape")],
         [("x", x)], [("y", ((x + 0.25) * 2).reshape(2, 12))],
         [("s34", np.array([3, 4], np.int64))])
    # an If whose condition is a constant: the taken branch is inlined
    then_g = helper.make_graph([n("Relu", ["x"], ["t"], name="then_relu")], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3, 4])])
    else_g = helper.make_graph([n("Neg", ["x"], ["e"], name="else_neg")], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 3, 4])])
    case("if_constant_opset11", 11,
         [n("Shape", ["x"], ["s"], name="shape"),
          n("Gather", ["s", "zero"], ["d0"], name="gather", axis=0),
          n("Equal", ["d0", "two"], ["cond"], name="eq"),
          n("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)],
         [("x", x)], [("y", np.maximum(x, 0))],
         [("zero", np.array(0, np.int64)), ("two", np.array(2, np.int64))])
    # opsets 19-21 and an unused extra domain; names PyTorch and Caffe2 exporters use
    r = np.maximum(x, 0).reshape(2, 12)
    gelu = r * 0.5 * (1 + np.vectorize(math.erf)(r / np.sqrt(2)))
    case("names_opset21_extra_domain", 21,
         [n("Relu", ["gpu_0/data_0"], ["onnx::Flatten_0"], name="Relu_0"),
          n("Flatten", ["onnx::Flatten_0"], ["input.1"], name="Flatten_1"),
          n("Gelu", ["input.1"], ["output:0"], name="gelu")],
         [("gpu_0/data_0", x)], [("output:0", gelu.astype(np.float32))],
         extra_opsets=[("ai.onnx.training", 1), ("ai.onnx.ml", 3)])
    case("cast_pad_opset19", 19,
         [n("Pad", ["x", "p"], ["pd"], name="pad", mode="constant"),
          n("Cast", ["pd"], ["y"], name="cast", to=TensorProto.INT32)],
         [("x", (x * 4).round())], [("y", np.pad((x * 4).round(), [(0, 0), (0, 0), (1, 1)])
                                     .astype(np.int32))],
         [("p", np.array([0, 0, 1, 0, 0, 1], np.int64))])
    # f64 inputs, outputs, initializers and Casts to double: computed in f32 (with warnings);
    # the reference in f64, rounded to f32
    xd = x.astype(np.float64) * 3
    wd, bd = np.linspace(-2, 2, 4), np.array([0.1, -0.2, 0.3, 1e-9])
    case("f64_io_opset13", 13,
         [n("Mul", ["x", "w"], ["xw"], name="mul"),
          n("Cast", ["xw"], ["xf"], name="to_f32", to=TensorProto.FLOAT),
          n("Relu", ["xf"], ["r"], name="relu"),
          n("Cast", ["r"], ["rd"], name="to_f64", to=TensorProto.DOUBLE),
          n("Add", ["rd", "b"], ["y"], name="add")],
         [("x", xd)], [("y", np.maximum(xd * wd, 0) + bd)], [("w", wd), ("b", bd)])
    # Einsum: batched-matmul forms become Transpose/Reshape/MatMul (the importer's rewrite),
    # the others stay the generic Einsum (kiln inspect shows which: tests/test_cli.sh onnx)
    r = np.random.RandomState(12)
    ops = {k: r.uniform(-1, 1, sh).astype(np.float32) for k, sh in (
        ("x", (2, 3, 4)), ("y", (2, 4, 5)), ("x2", (2, 5, 4)), ("q", (1, 2, 3, 4)),
        ("k", (1, 2, 5, 4)), ("k2", (1, 5, 2, 4)), ("m", (3, 4)), ("n", (4, 2)), ("u", (5, 3)),
        ("v", (5, 2)), ("w", (4, 6)), ("s", (7,)), ("t", (7,)), ("d", (4, 4)),
        ("d2", (4, 3)))}
    forms = [("bij,bjk->bik", "x", "y"), ("bhid,bhjd->bhij", "q", "k"), ("ij,jk", "m", "n"),
             ("bi,bj->ij", "u", "v"), ("bij,bkj->bki", "x", "x2"), ("abc,cd->abd", "x", "w"),
             ("bhqd,bkhd->bhqk", "q", "k2"), ("i,j->ij", "s", "t"),
             # generic: summed within one operand, a scalar result, a diagonal
             ("bij,bjk->bk", "x", "y"), ("i,i->", "s", "t"), ("ii,ij->j", "d", "d2")]
    nodes, outs = [], []
    for i, (eq, p, q2) in enumerate(forms):
        nodes.append(n("Einsum", [p, q2], ["e%d" % i], name="einsum%d" % i, equation=eq))
        outs.append(("e%d" % i, np.einsum(eq, ops[p].astype(np.float64),
                                          ops[q2].astype(np.float64)).astype(np.float32)))
    case("einsum_matmul_forms_opset12", 12, nodes, [(k, ops[k]) for k in sorted(ops)], outs)
    case("reducemax_split_opset20", 20,
         [n("ReduceMax", ["x", "a"], ["m"], name="rmax", keepdims=1),
          n("Split", ["m", "sp"], ["y0", "y1"], name="split", axis=1)],
         [("x", x)], [("y0", x.max(axis=2, keepdims=True)[:, :1]),
                      ("y1", x.max(axis=2, keepdims=True)[:, 1:])],
         [("a", np.array([2], np.int64)), ("sp", np.array([1, 2], np.int64))])
    gen_resize_cases()
    gen_changed_18_21()


def gen_changed_18_21():
    """Ops Kiln supports whose form or semantics changed in opsets 18-21 (docs/onnx.md table)."""
    rng = np.random.RandomState(21)
    n = helper.make_node
    x = rng.uniform(0.5, 2, (2, 3, 4)).astype(np.float32)
    # 18: every Reduce* takes axes as an input (ReduceSum since 13, ReduceMean: its own case)
    reds = [("ReduceL1", lambda v, a: np.abs(v).sum(a, keepdims=True)),
            ("ReduceL2", lambda v, a: np.sqrt((v * v).sum(a, keepdims=True))),
            ("ReduceLogSumExp", lambda v, a: np.log(np.exp(v).sum(a, keepdims=True))),
            ("ReduceMax", lambda v, a: v.max(a, keepdims=True)),
            ("ReduceMin", lambda v, a: v.min(a, keepdims=True)),
            ("ReduceProd", lambda v, a: v.prod(a, keepdims=True)),
            ("ReduceSumSquare", lambda v, a: (v * v).sum(a, keepdims=True))]
    case("reduce_axes_input_opset18", 18,
         [n(op, ["x", "a"], ["y%d" % i], name=op.lower()) for i, (op, _) in enumerate(reds)]
         + [n("ReduceMax", ["x"], ["all"], name="no_axes", keepdims=0),
            n("ReduceMax", ["x", "none"], ["same"], name="noop", noop_with_empty_axes=1)],
         [("x", x)],
         [("y%d" % i, f(x.astype(np.float64), (0, 2)).astype(np.float32))
          for i, (_, f) in enumerate(reds)]
         + [("all", np.array(x.max(), np.float32)), ("same", x)],
         [("a", np.array([0, -1], np.int64)), ("none", np.zeros(0, np.int64))])
    # 18: Pad's axes input (i32 and negative here); 19: Pad's wrap mode (pads up to the size:
    # beyond it numpy's wrap, onnx's reference, is not periodic; Kiln refuses that)
    p = np.array([1, 2, 0, 1], np.int64)
    case("pad_axes_input_opset18", 18,
         [n("Pad", ["x", "p", "v", "ax"], ["y"], name="pad")], [("x", x)],
         [("y", np.pad(x, [(0, 0), (1, 0), (2, 1)], constant_values=0.25))],
         [("p", p), ("v", np.array(0.25, np.float32)), ("ax", np.array([1, -1], np.int32))])
    xw = np.arange(6, dtype=np.int64).reshape(2, 3)
    case("pad_wrap_opset19", 19,
         [n("Pad", ["x", "p", "", "ax"], ["y"], name="pad", mode="wrap")], [("x", xw)],
         [("y", np.pad(xw, [(1, 0), (2, 3)], mode="wrap"))],
         [("p", np.array([1, 2, 0, 3], np.int64)), ("ax", np.array([0, 1], np.int64))])
    # 16: ScatterND reduction add, mul; 18: max, min (repeated indices combine in order)
    data = rng.uniform(-2, 2, (4, 3)).astype(np.float32)
    upd = rng.uniform(-2, 2, (3, 3)).astype(np.float32)
    idx = np.array([[1], [3], [1]], np.int64)
    outs, nodes = [], []
    for red, f in (("add", np.add), ("mul", np.multiply), ("max", np.maximum),
                   ("min", np.minimum)):
        ref = data.copy()
        for j in range(3):
            ref[idx[j, 0]] = f(ref[idx[j, 0]], upd[j])
        nodes.append(n("ScatterND", ["d", "i", "u"], [red], name="scatter_" + red, reduction=red))
        outs.append((red, ref))
    di = np.arange(8, dtype=np.int64).reshape(2, 4)
    ii = np.array([[0, 1], [0, 1], [1, 3]], np.int64)
    ui = np.array([5, -7, 100], np.int64)
    refi = di.copy()
    for j in range(3):
        refi[tuple(ii[j])] = max(refi[tuple(ii[j])], ui[j])
    nodes.append(n("ScatterND", ["di", "ii", "ui"], ["max_i64"], name="scatter_max_i64",
                   reduction="max"))
    case("scatternd_reductions_opset18", 18, nodes, [("d", data), ("u", upd), ("di", di)],
         outs + [("max_i64", refi)], [("i", idx), ("ii", ii), ("ui", ui)])
    # 19: AveragePool's dilations (2-D with pads both divisor rules, ceil_mode; 1-D; 3-D)
    def avgpool(v, k, st, dl, pb, pe, include, ceil):
        sp = v.ndim - 2
        span = [(k[a] - 1) * dl[a] + 1 for a in range(sp)]
        outs = []
        for a in range(sp):
            num = v.shape[2 + a] + pb[a] + pe[a] - span[a]
            o = (-(-num // st[a]) if ceil else num // st[a]) + 1
            if ceil and (o - 1) * st[a] >= v.shape[2 + a] + pb[a]:
                o -= 1
            outs.append(o)
        y = np.zeros(v.shape[:2] + tuple(outs), np.float64)
        for o in np.ndindex(*outs):
            total, count = 0.0, 1
            taps = []
            for a in range(sp):
                start = o[a] * st[a] - pb[a]
                pos = [start + t * dl[a] for t in range(k[a])]
                lo, hi = (-pb[a], v.shape[2 + a] + pe[a]) if include else (0, v.shape[2 + a])
                count *= sum(lo <= q < hi for q in pos)
                taps.append([q for q in pos if 0 <= q < v.shape[2 + a]])
            for q in np.ndindex(*[len(t) for t in taps]):
                idx = tuple(taps[a][q[a]] for a in range(sp))
                total = total + v[(slice(None), slice(None)) + idx].astype(np.float64)
            y[(slice(None), slice(None)) + o] = total / count
        return y.astype(np.float32)
    x2 = rng.uniform(-1, 1, (1, 2, 9, 8)).astype(np.float32)
    x1 = rng.uniform(-1, 1, (1, 3, 11)).astype(np.float32)
    x3 = rng.uniform(-1, 1, (1, 1, 5, 6, 7)).astype(np.float32)
    case("averagepool_dilations_opset19", 19,
         [n("AveragePool", ["x2"], ["y_pad"], name="pool_pad", kernel_shape=[3, 2],
            dilations=[2, 3], strides=[2, 1], pads=[2, 1, 1, 2]),
          n("AveragePool", ["x2"], ["y_include_ceil"], name="pool_include_ceil",
            kernel_shape=[3, 2], dilations=[2, 3], strides=[2, 2], pads=[2, 1, 1, 2],
            count_include_pad=1, ceil_mode=1),
          n("AveragePool", ["x1"], ["y_1d"], name="pool_1d", kernel_shape=[3], dilations=[3],
            pads=[1, 2]),
          n("AveragePool", ["x3"], ["y_3d"], name="pool_3d", kernel_shape=[2, 2, 3],
            dilations=[2, 1, 2], pads=[1, 0, 1, 0, 1, 2], count_include_pad=1)],
         [("x1", x1), ("x2", x2), ("x3", x3)],
         [("y_pad", avgpool(x2, [3, 2], [2, 1], [2, 3], [2, 1], [1, 2], False, False)),
          ("y_include_ceil", avgpool(x2, [3, 2], [2, 2], [2, 3], [2, 1], [1, 2], True, True)),
          ("y_1d", avgpool(x1, [3], [1], [3], [1], [2], False, False)),
          ("y_3d", avgpool(x3, [2, 2, 3], [1, 1, 1], [2, 1, 2], [1, 0, 1], [0, 1, 2], True,
                           False))])
    # 18, 21: GroupNormalization (scale and bias per group at 18, per channel at 21); golden
    # from PyTorch's F.group_norm (per-channel weights; 18's repeated over each group)
    import torch
    import torch.nn.functional as F
    xg = rng.uniform(-2, 2, (2, 6, 3, 4)).astype(np.float32)
    sg, bg = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    yg = F.group_norm(torch.from_numpy(xg), 3, torch.from_numpy(np.repeat(sg, 2)),
                      torch.from_numpy(np.repeat(bg, 2)), eps=1e-3).numpy()
    case("groupnorm_opset18", 18,
         [n("GroupNormalization", ["x", "s", "b"], ["y"], name="gn", num_groups=3, epsilon=1e-3)],
         [("x", xg)], [("y", yg)], [("s", sg), ("b", bg)])
    xg3 = rng.uniform(-2, 2, (1, 8, 5)).astype(np.float32)
    sc, bc = rng.uniform(0.5, 1.5, 8).astype(np.float32), rng.uniform(-1, 1, 8).astype(np.float32)
    yg3 = F.group_norm(torch.from_numpy(xg3), 2, torch.from_numpy(sc), torch.from_numpy(bc)).numpy()
    case("groupnorm_opset21", 21,
         [n("GroupNormalization", ["x", "s", "b"], ["y"], name="gn", num_groups=2, stash_type=1)],
         [("x", xg3)], [("y", yg3)], [("s", sc), ("b", bc)])
    # 18: Mish (new at 18)
    case("mish_opset18", 18, [n("Mish", ["x"], ["y"], name="mish")], [("x", x - 1.2)],
         [("y", (lambda v: v * np.tanh(np.log1p(np.exp(v))))((x - 1.2).astype(np.float64))
           .astype(np.float32))])
    # 19 and 21: the new versions of Reshape, Shape, Size-free shape arithmetic, Identity,
    # Constant, Cast (saturate), Equal, Flatten, Transpose, Squeeze, Unsqueeze, ConstantOfShape
    for opset in (19, 21):
        nodes = [n("Shape", ["x"], ["sh"], name="shape", start=1),
                 n("Constant", [], ["c"], name="const",
                   value=numpy_helper.from_array(np.array([1, 1], np.int64))),
                 n("Concat", ["c", "sh"], ["target"], name="concat", axis=0),
                 n("Reshape", ["x", "target"], ["r"], name="reshape"),
                 n("Identity", ["r"], ["i"], name="identity"),
                 n("Transpose", ["i"], ["t"], name="transpose", perm=[0, 1, 3, 2]),
                 n("Squeeze", ["t", "sq"], ["sqz"], name="squeeze"),
                 n("Unsqueeze", ["sqz", "uq"], ["u"], name="unsqueeze"),
                 n("Flatten", ["u"], ["f"], name="flatten", axis=2),
                 n("Cast", ["f"], ["ci"], name="cast", to=TensorProto.INT32, saturate=1),
                 n("ConstantOfShape", ["cs"], ["zeros"], name="cos",
                   value=numpy_helper.from_array(np.array([1], np.int32))),
                 n("Mul", ["ci", "zeros"], ["ci2"], name="mul"),
                 n("Equal", ["ci2", "ci"], ["y"], name="equal")]
        xr = (x[:1] * 3).round() - 3
        ci = np.ascontiguousarray(xr[0].T.astype(np.int32))
        case("shape_forms_opset%d" % opset, opset, nodes, [("x", xr)], [("y", ci == ci)],
             [("sq", np.array([0, 1], np.int64)), ("uq", np.array([1], np.int64)),
              ("cs", np.array([4, 3], np.int64))])
    # 19: QuantizeLinear's saturate (float8 only: no effect on int8)
    xq = rng.uniform(-20, 20, (2, 5)).astype(np.float32)
    q = np.clip(np.rint(xq / np.float32(0.1)) + 3, -128, 127)
    case("qdq_saturate_opset19", 19,
         [n("QuantizeLinear", ["x", "s", "z"], ["q"], name="q", saturate=1),
          n("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")],
         [("x", xq)], [("y", ((q - 3) * np.float32(0.1)).astype(np.float32))],
         [("s", np.array(0.1, np.float32)), ("z", np.array(3, np.int8))])
    # 21: DequantizeLinear with block_size (blocked int8 weights, folded at import) feeding a
    # MatMul; QuantizeLinear with block_size 0 and output_dtype = the zero point's
    wq = rng.randint(-128, 128, (4, 6)).astype(np.int8)
    ws = rng.uniform(0.01, 0.1, (4, 2)).astype(np.float32)
    wz = rng.randint(-5, 5, (4, 2)).astype(np.int8)
    blk = np.repeat(np.arange(2), 4)[:6]
    wf = (wq.astype(np.float64) - wz[:, blk]) * ws[:, blk]
    xb = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    qx = np.clip(np.rint(xb / np.float32(0.02)) + 1, -128, 127)
    xdq = ((qx - 1) * np.float32(0.02)).astype(np.float32)
    case("qdq_block_size_opset21", 21,
         [n("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q", block_size=0,
            output_dtype=TensorProto.INT8),
          n("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq", block_size=0),
          n("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w", axis=1, block_size=4),
          n("MatMul", ["xd", "w"], ["y"], name="mm")],
         [("x", xb)], [("y", (xdq.astype(np.float64) @ wf).astype(np.float32))],
         [("xs", np.array(0.02, np.float32)), ("xz", np.array(1, np.int8)), ("wq", wq),
          ("ws", ws), ("wz", wz)])
    # 20: Gelu (new at 20), both approximations
    g = x - 1.2
    erf = np.vectorize(math.erf)
    case("gelu_opset20", 20,
         [n("Gelu", ["x"], ["y0"], name="gelu"),
          n("Gelu", ["x"], ["y1"], name="gelu_tanh", approximate="tanh")],
         [("x", g)],
         [("y0", (0.5 * g * (1 + erf(g / np.sqrt(2)))).astype(np.float32)),
          ("y1", (0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3))))
           .astype(np.float32))])


def resize_case(name, opset, x, sizes=None, scales=None, **attrs):
    """One Resize node (X, roi omitted, scales or sizes as initializers), golden from
    tools/onnx_resize_ref.py; returns the golden."""
    inputs = ["x", "", "s"] if scales is not None else ["x", "", "", "z"]
    inits = ([("s", np.array(scales, np.float32))] if scales is not None
             else [("z", np.array(sizes, np.int64))])
    if opset < 13:  # roi and scales not optional yet: empty tensors
        inputs = ["x", "roi", "s"] + ([] if scales is not None else ["z"])
        inits += [("roi", np.zeros(0, np.float32))]
        inits += [] if scales is not None else [("s", np.zeros(0, np.float32))]
    y = onnx_resize_ref.resize(x, scales=scales, sizes=sizes, **attrs)
    case(name, opset, [helper.make_node("Resize", inputs, ["y"], name="resize", **attrs)],
         [("x", x)], [("y", y)], inits)
    return y


def torch_interior(y, x, sizes, mode, margin):
    """F.interpolate(antialias=True) agrees with ONNX's antialias away from the borders (PyTorch
    clips the filter at the border and renormalizes; ONNX pads the edge): checks the interior."""
    import torch
    import torch.nn.functional as F
    t = F.interpolate(torch.from_numpy(x), size=tuple(sizes[-2:]), mode=mode,
                      align_corners=False, antialias=True).numpy()
    inner = (Ellipsis, slice(margin, -margin), slice(margin, -margin))
    err = np.abs(t[inner] - y[inner]).max()
    assert err < 1e-5, "%s antialias interior differs from PyTorch by %g" % (mode, err)
    return err


def gen_resize_cases():
    """Resize 18/19: antialias (linear, cubic), axes, keep_aspect_ratio_policy,
    half_pixel_symmetric; and cubic (opset 11+), exclude_outside."""
    rng = np.random.RandomState(18)
    x = rng.uniform(-1, 1, (1, 2, 12, 14)).astype(np.float32)
    y = resize_case("resize_linear_antialias_opset18", 18, x, sizes=[1, 2, 5, 6], mode="linear",
                    antialias=1)
    print("linear antialias interior vs PyTorch: %.2g" % torch_interior(y, x, [5, 6], "bilinear", 1))
    # PyTorch's antialias bicubic uses a = -0.5; its filter reaches 6 inputs (2 outputs) out
    x2 = rng.uniform(-1, 1, (1, 1, 24, 30)).astype(np.float32)
    y = resize_case("resize_cubic_antialias_opset18", 18, x2, sizes=[1, 1, 8, 10], mode="cubic",
                    antialias=1, cubic_coeff_a=-0.5)
    print("cubic antialias interior vs PyTorch: %.2g" % torch_interior(y, x2, [8, 10], "bicubic", 2))
    resize_case("resize_cubic_antialias_scales_exclude_opset18", 18, x, scales=[1, 1, 0.4, 0.75],
                mode="cubic", antialias=1, exclude_outside=1)
    resize_case("resize_cubic_asymmetric_exclude_opset13", 13, x[:, :, :5, :6],
                scales=[1, 1, 1.6, 2], mode="cubic", coordinate_transformation_mode="asymmetric",
                exclude_outside=1)
    resize_case("resize_cubic_align_corners_opset11", 11, x[:, :, :4, :5], sizes=[1, 2, 7, 3],
                mode="cubic", coordinate_transformation_mode="align_corners")
    resize_case("resize_linear_axes_sizes_opset18", 18, x[:, :, :4, :5], sizes=[7, 6],
                axes=[-1, 2], mode="linear")
    resize_case("resize_nearest_axes_scales_opset18", 18, x[:, :, :4, :5], scales=[2.5],
                axes=[3], mode="nearest", nearest_mode="round_prefer_ceil")
    resize_case("resize_not_larger_opset18", 18, x[:, :, :4, :6], sizes=[7, 8], axes=[2, 3],
                mode="linear", keep_aspect_ratio_policy="not_larger")
    resize_case("resize_not_smaller_opset18", 18, x[:, :, :4, :6], sizes=[7, 8], axes=[2, 3],
                mode="nearest", keep_aspect_ratio_policy="not_smaller")
    resize_case("resize_half_pixel_symmetric_opset19", 19, x[:, :, :5, :7],
                scales=[1, 1, 1.5, 0.7], mode="linear",
                coordinate_transformation_mode="half_pixel_symmetric")


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
