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
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

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


if __name__ == "__main__":
    main()
