#!/usr/bin/python3
"""gen_onnx_malformed: the malformed-ONNX corpus of tests/malformed (onnx_*.onnx).

    /usr/bin/python3 tools/gen_onnx_malformed.py

Writes each hostile or broken ONNX file and rewrites the ONNX section of tests/malformed/EXPECT
(between the "# ONNX" markers) with the message `kiln compile FILE` must print. test_cli.sh
malformed then checks each like the malformed JSON models: exit 1, the message, no output file.
The files are built with onnx.helper where the protobuf is valid and by hand where it is not.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "malformed")
BEGIN, END = "# ONNX (tools/gen_onnx_malformed.py) begin\n", "# ONNX end\n"


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def model(nodes, inputs, outputs, inits=(), opset=17, extra_opsets=()):
    g = helper.make_graph(nodes, "m", inputs, outputs, list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 8
    return m.SerializeToString()


def relu_model(**kw):
    return model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4])],
                 [vi("y", [1, 4])], **kw)


def conv(name="Conv_3", **attrs):
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    return model([helper.make_node("Relu", ["x"], ["x1"], name="r")] * 0 +
                 [helper.make_node("Conv", ["x", "w"], ["y"], name=name, **attrs)],
                 [vi("x", [1, 1, 8, 8])], [vi("y", None)], [w])


def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def deep_if(depth):
    """If nodes nested in then_branch `depth` deep, encoded by hand (onnx's Python protobuf
    refuses to nest that deep itself)."""
    s = lambda num, t: field(num, t.encode())  # noqa: E731
    graph = field(1, s(1, "x") + s(2, "y0") + s(4, "Relu")) + field(12, s(1, "y0"))
    for i in range(1, depth + 1):
        attr = s(1, "then_branch") + varint(20 << 3) + varint(5) + field(6, graph)
        graph = field(1, s(1, "c") + s(2, "y%d" % i) + s(4, "If") + field(5, attr)) + \
            field(12, s(1, "y%d" % i))
    return varint(1 << 3) + varint(8) + field(8, varint(2 << 3) + varint(13)) + field(7, graph)


def cases():
    good = relu_model()
    ext = TensorProto(name="secret", data_type=TensorProto.FLOAT, dims=[1])
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key, e.value = "location", "../../../etc/passwd"
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3],
                        raw_data=np.ones(5, np.float32).tobytes())
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40],
                       raw_data=b"\0" * 4)
    ints_short = TensorProto(name="w", data_type=TensorProto.INT32, dims=[3], int32_data=[1, 2])
    zero_dim = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[0, 4])
    strings = TensorProto(name="w", data_type=TensorProto.STRING, dims=[1], string_data=[b"a"])
    add = lambda init: model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],  # noqa
                             [vi("x", [1, 4])], [vi("y", [1, 4])], [init])
    branch = helper.make_graph([helper.make_node("Relu", ["x"], ["b"], name="br")], "b", [],
                               [vi("b", [1, 4])])
    yield "truncated", good[: len(good) // 2], "not an ONNX model (cannot parse it"
    # field 7 (graph) as a varint instead of a length-delimited message
    yield "wrong_wire_type", bytes([0x08, 0x08, 0x38, 0x05]), "not an ONNX model (cannot parse it"
    yield "no_graph", bytes([0x08, 0x08]), "not an ONNX model (no graph or no opset"
    yield "nested_too_deep", deep_if(200), "messages nested more than 100 deep"
    yield "conv_strides_0", conv(strides=[0, 0]), "graph.node[0] (Conv_3).attribute 'strides': value 0 must be at least 1"
    yield "conv_pads_count", conv(pads=[1, 1, 1]), "graph.node[0] (Conv_3).attribute 'pads': expected 4 integers, got 3"
    yield "conv_strides_float", conv(strides=1.0), \
        "graph.node[0] (Conv_3).attribute 'strides': expected an attribute of type INTS, got FLOAT"
    yield "conv_unknown_attr", conv(foo=1), \
        "graph.node[0] (Conv_3).attribute 'foo': attribute 'foo' of Conv is not supported"
    yield "initializer_short", add(short), \
        "graph.initializer[0] (w): raw_data is 20 bytes, the dims"
    yield "initializer_huge_dims", add(huge), "graph.initializer[0] (w): dims[0] is 1099511627776"
    yield "initializer_int32_short", add(ints_short), \
        "graph.initializer[0] (w): int32_data has 2 elements, the dims need 3"
    yield "initializer_zero_dim", add(zero_dim), "graph.node[0] (add): input 1 'w' is an empty tensor (a dimension 0)"
    yield "initializer_strings", add(strings), \
        "graph.initializer[0] (w): element type 8 (string) is not supported"
    yield "external_escape", add(ext), \
        "'../../../etc/passwd' is outside the model's folder"
    yield "opset_6", relu_model(opset=6), "opset 6 is not supported (Kiln imports opsets 7 to 21)"
    yield "opset_22", relu_model(opset=22), "opset 22 is not supported"
    yield "unknown_domain_node", model(
        [helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example")],
        [vi("x", [1, 4])], [vi("y", [1, 4])], extra_opsets=[("com.example", 1)]), \
        "graph.node[0] (r): op 'Relu' of domain 'com.example' is not supported"
    yield "undefined_input", model([helper.make_node("Relu", ["nope"], ["y"], name="r")],
                                   [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "graph.node[0] (r): input 0 'nope' is not defined"
    yield "duplicate_output", model([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                                     helper.make_node("Relu", ["x"], ["y"], name="r2")],
                                    [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "graph.node[1] (r2).output[0]: duplicate value name 'y'"
    yield "symbolic_dim", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                [vi("x", ["batch", 4])], [vi("y", ["batch", 4])]), \
        "graph.input[0] (x): dimension 0 ('batch') is not static: fix it with --input-shape"
    yield "loop", model([helper.make_node("Loop", ["", ""], ["y"], name="loop", body=branch)],
                        [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "Loop: 'loop' (a Loop is control flow Kiln cannot compile"
    yield "if_runtime", model([helper.make_node("If", ["c"], ["y"], name="cond",
                                                then_branch=branch, else_branch=branch)],
                              [vi("x", [1, 4]), vi("c", [], TensorProto.BOOL)], [vi("y", [1, 4])]), \
        "graph.node[0] (cond): an If whose condition is computed at run time"
    yield "graph_attr", model([helper.make_node("Relu", ["x"], ["y"], name="r", body=branch)],
                              [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "graph.node[0] (r).attribute 'body': a graph-valued attribute (Relu) is control flow"
    # (f64 inputs import, computed in f32 with a warning: tests/onnx/cases/f64_io_opset13)
    yield "u32_input", model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                             [vi("x", [1, 4], TensorProto.UINT32)], [vi("y", [1, 4])]), \
        "graph.input[0] (x): element type 12 (uint32) is not supported"
    yield "gemm_missing_input", model([helper.make_node("Gemm", ["x"], ["y"], name="fc")],
                                      [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "graph.node[0] (fc): Gemm takes 2 to 3 inputs, got 1"
    yield "control_char_name", model([helper.make_node("Relu", ["x"], ["y"], name="r\x01")],
                                     [vi("x", [1, 4])], [vi("y", [1, 4])]), \
        "node name contains a control character (byte 0x01)"
    yield "slice_attr_type", model(
        [helper.make_node("Slice", ["x"], ["y"], name="s", starts=0.5, ends=[2])],
        [vi("x", [1, 4])], [vi("y", None)], opset=9), \
        "graph.node[0] (s).attribute 'starts': expected an attribute of type INTS, got FLOAT"

    # quant parameters (QDQ and QLinear ops; passes/pass_qdq.c, docs/onnx.md)
    def qdq(scale, zp, axis=None, zp_type=np.int8, shape=(2, 4)):
        inits = [numpy_helper.from_array(np.array(scale, np.float32), "s")]
        ins = ["x", "s"]
        if zp is not None:
            inits.append(numpy_helper.from_array(np.array(zp, zp_type), "z"))
            ins.append("z")
        kw = {} if axis is None else {"axis": axis}
        return model([helper.make_node("QuantizeLinear", ins, ["q"], name="q", **kw),
                      helper.make_node("DequantizeLinear", ["q", "s"] + ins[2:], ["y"], name="dq",
                                       **kw)],
                     [vi("x", list(shape))], [vi("y", list(shape))], inits)
    yield "qdq_zero_scale", qdq(0.0, 0), \
        "graph.node[0] (q).input[1]: scale[0] must be a positive finite number, got 0"
    yield "qdq_axis_range", qdq([0.1] * 4, [0] * 4, axis=2), \
        "graph.node[0] (q).attribute 'axis': axis 2 is out of range for rank 2"
    yield "qdq_scale_count", qdq([0.1] * 3, [0] * 3, axis=1), \
        "graph.node[0] (q).input[1]: 3 scales for axis 1 of [2,4] (one per element of the axis)"
    yield "qdq_zero_point_count", qdq([0.1] * 4, [0] * 3, axis=1), \
        "graph.node[0] (q).input[2]: 3 zero points (shape [3]) for 4 scales"
    yield "qdq_zero_point_dtype", qdq(0.1, 0, zp_type=np.int32), \
        "graph.node[0] (q).input[2]: zero point 'z' must be i8 or u8, got i32"

    def qlinear(ws, wz, xz_type=np.uint8):
        inits = [numpy_helper.from_array(np.array(v, t), n) for n, v, t in [
            ("xs", 0.1, np.float32), ("xz", 0, xz_type), ("w", np.ones((2, 1, 3, 3)), np.int8),
            ("ws", ws, np.float32), ("wz", wz, np.int8), ("ys", 0.2, np.float32),
            ("yz", 0, np.uint8)]]
        return model([helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys",
                                                       "yz"], ["y"], name="qc")],
                     [vi("x", [1, 1, 4, 4], TensorProto.UINT8)],
                     [vi("y", [1, 2, 2, 2], TensorProto.UINT8)], inits)
    yield "qlinearconv_negative_scale", qlinear([0.1, -0.1], [0, 0]), \
        "graph.node[0] (qc).input[4]: scale[1] must be a positive finite number, got -0.1"
    yield "qlinearconv_scale_count", qlinear([0.1, 0.1, 0.1], [0, 0, 0]), \
        "graph.node[0] (qc).input[4]: scale 'ws' must be an f32 initializer of 1 value or 2, got f32 of 3"
    yield "qlinearconv_zero_point_count", qlinear([0.1, 0.1], [0, 0, 0]), \
        "graph.node[0] (qc).input[5]: 3 zero points for 2 scales"
    yield "qlinearconv_zero_point_dtype", qlinear([0.1, 0.1], [0, 0], xz_type=np.int8), \
        "graph.node[0] (qc).input[2]: zero point 'xz' must be an i8 or u8 initializer of the data's dtype u8, got i8"

    # Resize 18/19: what stays refused, and attribute values that cannot work
    def resize(shape, scales, opset=18, **attrs):
        inits = [numpy_helper.from_array(np.array(scales, np.float32), "s")]
        m = model([helper.make_node("Resize", ["x", "", "s"], ["y"], name="rs", **attrs)],
                  [vi("x", shape)], [vi("y", None)], inits, opset=opset)
        return m
    yield "resize_tf_crop_and_resize", resize([1, 1, 4, 4], [1, 1, 2, 2], mode="linear",
                                              coordinate_transformation_mode="tf_crop_and_resize"), \
        "graph.node[0] (rs).attribute 'coordinate_transformation_mode': 'tf_crop_and_resize' is not supported"
    yield "resize_antialias_taps", resize([1, 1, 1, 4000], [1, 1, 1, 0.001], mode="cubic",
                                          antialias=1), \
        "graph.node[0] (rs).attribute 'antialias': downscaling axis 3 by 0.001 takes 4000 taps"
    yield "resize_axes_repeated", resize([1, 1, 4, 4], [2, 2], mode="nearest", axes=[3, -1]), \
        "graph.node[0] (rs).attribute 'axes': entry 1 (-1) is out of range or repeated"
    yield "resize_policy_unknown", resize([1, 1, 4, 4], [1, 1, 2, 2], keep_aspect_ratio_policy="fit"), \
        "graph.node[0] (rs).attribute 'keep_aspect_ratio_policy': 'fit' is not supported"

    # Pad 18's axes input: a repeated axis
    yield "pad_axes_repeated", model(
        [helper.make_node("Pad", ["x", "p", "", "ax"], ["y"], name="pad")], [vi("x", [2, 3])],
        [vi("y", None)], [numpy_helper.from_array(np.array([1, 1, 0, 0], np.int64), "p"),
                          numpy_helper.from_array(np.array([1, -1], np.int64), "ax")], opset=18), \
        "graph.node[0] (pad).input[3]: axis entry 1 is out of range or repeated"
    yield "pad_wrap_beyond_size", model(
        [helper.make_node("Pad", ["x", "p"], ["y"], name="pad", mode="wrap")], [vi("x", [2, 3])],
        [vi("y", None)], [numpy_helper.from_array(np.array([0, 4, 0, 0], np.int64), "p")],
        opset=19), \
        "graph.node[0] (pad).input[1]: pads [0,4,0,0]: wrap padding of axis 1 must not exceed its size 3"
    yield "groupnorm_groups", model(
        [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn", num_groups=4)],
        [vi("x", [1, 6, 2, 2])], [vi("y", None)],
        [numpy_helper.from_array(np.ones(4, np.float32), "s"),
         numpy_helper.from_array(np.zeros(4, np.float32), "b")], opset=18), \
        "graph.node[0] (gn).attribute 'num_groups': 4 groups do not divide 6 channels"
    yield "reducemax_bool", model(
        [helper.make_node("ReduceMax", ["x"], ["y"], name="rmax", keepdims=0)],
        [vi("x", [2, 3], TensorProto.BOOL)], [vi("y", None)], opset=20), \
        "graph.node[0] (rmax).input[0]: dtype bool is not supported by ReduceMax (only f32)"
    yield "scatternd_reduction_bool", model(
        [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="sc", reduction="max")],
        [vi("x", [4], TensorProto.BOOL)], [vi("y", None)],
        [numpy_helper.from_array(np.array([[1]], np.int64), "i"),
         numpy_helper.from_array(np.array([True]), "u")], opset=18), \
        "graph.node[0] (sc).attribute 'reduction': 'max' needs f32, i32 or i64 data, got bool"
    yield "qdq_block_size", model(
        [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q", axis=1, block_size=2),
         helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq", axis=1, block_size=2)],
        [vi("x", [2, 4])], [vi("y", [2, 4])],
        [numpy_helper.from_array(np.full((2, 2), 0.1, np.float32), "s")], opset=21), \
        "graph.node[0] (q).attribute 'block_size': block_size 2: only a DequantizeLinear of constant i8/u8 data with f32 scales (blocked weights) is supported"

    yield "dynamic_quantize_linear_i32", model(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dq8")],
        [vi("x", [2, 4], TensorProto.INT32)], [vi("q", [2, 4], TensorProto.UINT8), vi("s", []),
                                               vi("z", [], TensorProto.UINT8)]), \
        "graph.node[0] (dq8).input[0]: DynamicQuantizeLinear expects f32 here, got i32"
    yield "matmulinteger_computed_zp_vector", model(
        [helper.make_node("MatMulInteger", ["a", "b", "az"], ["y"], name="mmi")],
        [vi("a", [2, 4], TensorProto.UINT8), vi("az", [2], TensorProto.UINT8)],
        [vi("y", [2, 3], TensorProto.INT32)],
        [numpy_helper.from_array(np.ones((4, 3), np.uint8), "b")]), \
        "graph.node[0] (mmi).input[2]: a computed zero point ('az') must be one i8 or u8 value"
    # ConvInteger of constant weights (the int8 conv kernel): the same zero-point rules
    yield "convinteger_computed_zp_vector", model(
        [helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], name="ci")],
        [vi("x", [1, 2, 4, 4], TensorProto.UINT8), vi("xz", [2], TensorProto.UINT8)],
        [vi("y", [1, 3, 2, 2], TensorProto.INT32)],
        [numpy_helper.from_array(np.ones((3, 2, 3, 3), np.int8), "w")]), \
        "graph.node[0] (ci).input[2]: a computed zero point ('xz') must be one i8 or u8 value"
    yield "convinteger_wzp_count", model(
        [helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], name="ci")],
        [vi("x", [1, 2, 4, 4], TensorProto.UINT8), vi("xz", [], TensorProto.UINT8)],
        [vi("y", [1, 3, 2, 2], TensorProto.INT32)],
        [numpy_helper.from_array(np.ones((3, 2, 3, 3), np.int8), "w"),
         numpy_helper.from_array(np.zeros(2, np.int8), "wz")]), \
        "graph.node[0] (ci).input[3]: 2 zero points for 3 scales"


def main():
    lines = []
    for name, data, expect in cases():
        fn = "onnx_%s.onnx" % name
        with open(os.path.join(OUT, fn), "wb") as f:
            f.write(data)
        lines.append("%s\t%s\n" % (fn, expect))
    path = os.path.join(OUT, "EXPECT")
    text = open(path, encoding="utf-8").read()
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + text[text.index(END) + len(END):]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + BEGIN + "".join(lines) + END)
    print("%d malformed ONNX files in %s" % (len(lines), OUT))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
