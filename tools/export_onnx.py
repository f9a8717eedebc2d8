#!/usr/bin/python3
"""export_onnx: export every example model (tools/gen_examples.py) from PyTorch to ONNX.

Writes examples/<name>/model.onnx (opset 17, constant folding on, static shapes, the graph
input and output names of the Kiln model.json), rebuilding each module exactly as
gen_examples.py does (same seed, same BatchNorm randomisation), so the ONNX file computes the
same function as model.json and is checked against the same golden by the test suite
(tests/test_onnx.sh: kiln import, then interpreter and compiled code against golden/).

Run with Debian's Python (it has torch and onnx), after gen_examples.py:
    /usr/bin/python3 tools/export_onnx.py [name ...]
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import io
import json
import os
import sys

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_examples  # noqa: E402

OPSET = 17


def export(name, cls, seed, make_inputs):
    d = os.path.join(gen_examples.OUT, name)
    with open(os.path.join(d, "model.json"), encoding="ascii") as f:
        m = json.load(f)
    model, inputs = gen_examples.make_model(name, cls, seed, make_inputs)
    args = tuple(torch.from_numpy(v.copy()) for v in inputs.values())
    mode = torch.onnx.TrainingMode.EVAL
    if any(isinstance(x, torch.nn.TransformerEncoderLayer) for x in model.modules()):
        # eval() makes nn.TransformerEncoderLayer take its fused fast path, which has no ONNX
        # export; train() with dropout 0 (and no BatchNorm) computes the same function
        assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in model.modules())
        model.train()
        mode = torch.onnx.TrainingMode.PRESERVE
    write_onnx(model, args, d, name, mode, m)


def write_onnx(model, args, d, name, mode, m, tool="tools/export_onnx.py"):
    """Exports model (called with args) to d/model.onnx with model.json m's I/O names."""
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, args, buf, opset_version=OPSET, do_constant_folding=True,
                          training=mode, input_names=[i["name"] for i in m["inputs"]],
                          output_names=[o["name"] for o in m["outputs"]])
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    proto.producer_name, proto.producer_version = "pytorch", torch.__version__
    proto.doc_string = "Kiln example '%s' exported by %s" % (name, tool)
    data = proto.SerializeToString(deterministic=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(data)
    ops = sorted({n.op_type for n in proto.graph.node})
    print("%-26s %8d bytes  %s" % (name, len(data), ", ".join(ops)))


def main(argv):
    torch.set_num_threads(1)
    for name, cls, seed, _desc, make_inputs, _note in gen_examples.EXAMPLES:
        if len(argv) > 1 and name not in argv[1:]:
            continue
        export(name, cls, seed, make_inputs)


if __name__ == "__main__":
    toolcli.check()
    main(sys.argv)
