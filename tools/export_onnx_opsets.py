#!/usr/bin/python3
"""export_onnx_opsets: the example models exported by PyTorch at several opsets with PyTorch's
default tensor names (no input_names/output_names: 'input.1', 'onnx::Gemm_0', '23', ...), as a
new user's export would be, for the ONNX importer's tests.

    /usr/bin/python3 tools/export_onnx_opsets.py OUT [--opsets 9,11,13,17] [name ...]
    /usr/bin/python3 tools/export_onnx_opsets.py OUT --extra     # the small modules below

--extra exports small modules whose ONNX form changes with the opset (F.interpolate as Upsample
or Resize 10/11+, nn.RNN(nonlinearity='relu'), PReLU/ELU/HardSwish/Softplus/Conv1d/ArgMax, 3-D
Conv/BatchNorm/pools/ConvTranspose with LocalResponseNorm) at
opsets 9, 10, 11, 13, 17. Bilinear interpolation at opsets 9 and 10 exports as Upsample(linear) /
Resize-10(linear), which ONNX defines with asymmetric coordinates: not what PyTorch computes
(align_corners=False is half_pixel; PyTorch warns so when exporting). Those two cases keep
PyTorch's output in torch/<stem>.npy (not checked) and take their golden from onnx's own Resize
reference (tools/onnx_resize_ref.py, asymmetric); the script prints how far PyTorch is from it.

Writes OUT/<name>_opset<N>/model.onnx, inputs/<stem>.npy (the example's inputs) and
golden/<stem>.npy (PyTorch's outputs), the file stems derived from the ONNX names as Kiln does
(krt_npy_file_stem: characters other than letters, digits, '.', '-', '_' become '_'); check them
with build/bin/test_models OUT/*. tests/onnx/torch/ holds the small ones, committed.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import io
import os
import re
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_examples  # noqa: E402


def file_stems(names):
    stems = []
    for k, n in enumerate(names):
        s = re.sub(r"[^A-Za-z0-9._-]", "_", n)
        if not s or s[0] == ".":
            s = "_" + s
        if s in stems:
            s += "_%d" % k
        stems.append(s)
    return stems


def export(out, name, cls, seed, make_inputs, opset):
    model, inputs = gen_examples.make_model(name, cls, seed, make_inputs)
    args = tuple(torch.from_numpy(v.copy()) for v in inputs.values())
    mode = torch.onnx.TrainingMode.EVAL
    if any(isinstance(x, torch.nn.TransformerEncoderLayer) for x in model.modules()):
        model.train()   # as tools/export_onnx.py: the fused eval path has no ONNX export
        mode = torch.onnx.TrainingMode.PRESERVE
    buf = io.BytesIO()
    with torch.no_grad():
        outs = model(*args)
        torch.onnx.export(model, args, buf, opset_version=opset, do_constant_folding=True,
                          training=mode)
    if not isinstance(outs, tuple):
        outs = (outs,)
    proto = onnx.load_from_string(buf.getvalue())
    d = os.path.join(out, "%s_opset%d" % (name, opset))
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(d, "golden"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(proto.SerializeToString(deterministic=True))
    inits = {t.name for t in proto.graph.initializer}
    in_names = [i.name for i in proto.graph.input if i.name not in inits]
    for stem, v in zip(file_stems(in_names), inputs.values()):
        np.save(os.path.join(d, "inputs", stem + ".npy"), v)
    out_names = [o.name for o in proto.graph.output]
    for stem, t in zip(file_stems(out_names), outs):
        np.save(os.path.join(d, "golden", stem + ".npy"), t.detach().numpy().astype(np.float32))
    print("%-40s inputs %s outputs %s" % (d, in_names, out_names))


import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Interpolate(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        kw = {} if self.mode == "nearest" else {"align_corners": False}
        return torch.relu(F.interpolate(x, scale_factor=2, mode=self.mode, **kw))


class RNNRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.r = nn.RNN(4, 8, nonlinearity="relu", batch_first=True)

    def forward(self, x):
        return self.r(x)[0]


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, padding=1)
        self.p = nn.PReLU(8)
        self.c1 = nn.Conv1d(8, 4, 3)

    def forward(self, x):
        y = self.p(self.c(x))
        y = F.elu(y) + F.hardswish(y) + F.softplus(y)
        y = F.max_pool2d(y, 2).flatten(2)
        return self.c1(y).argmax(-1)


class Video3d(nn.Module):
    """3-D data (video clips, volumes): Conv3d + BatchNorm3d + ReLU, MaxPool3d with ceil_mode,
    a grouped strided Conv3d, AvgPool3d, ConvTranspose3d back up, and LocalResponseNorm (which
    exports as a 3-D AveragePool)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv3d(3, 8, (3, 3, 3), padding=1)
        self.bn = nn.BatchNorm3d(8)
        self.c2 = nn.Conv3d(8, 8, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), groups=2)
        self.up = nn.ConvTranspose3d(8, 4, (2, 2, 2), stride=2)
        self.lrn = nn.LocalResponseNorm(3)
        with torch.no_grad():  # statistics that BatchNorm folding must really apply
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 1.5)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        y = F.relu(self.bn(self.c1(x)))
        y = F.max_pool3d(y, (1, 3, 3), (1, 2, 2), ceil_mode=True)
        y = F.avg_pool3d(F.relu(self.c2(y)), (2, 2, 2), 1, padding=1, count_include_pad=False)
        return self.lrn(self.up(y))


EXTRA = [("interp_nearest", lambda: Interpolate("nearest"), (1, 2, 3, 4), (9, 10, 11, 13, 17)),
         ("interp_bilinear", lambda: Interpolate("bilinear"), (1, 2, 3, 4), (9, 10, 11, 13, 17)),
         ("interp_bicubic", lambda: Interpolate("bicubic"), (1, 2, 3, 4), (11, 13, 17)),
         ("rnn_relu", RNNRelu, (1, 5, 4), (9, 11, 13, 17)),
         ("activations", Activations, (1, 3, 8, 8), (9, 11, 13, 17)),
         ("video3d", Video3d, (1, 3, 4, 12, 12), (9, 13, 17))]


def export_extra(out):
    for name, make, shape, opsets in EXTRA:
        torch.manual_seed(0)
        model = make().eval()
        x = torch.randn(shape)
        for opset in opsets:
            buf = io.BytesIO()
            with torch.no_grad():
                y = model(x)
                torch.onnx.export(model, (x,), buf, opset_version=opset)
            proto = onnx.load_from_string(buf.getvalue())
            d = os.path.join(out, "%s_opset%d" % (name, opset))
            os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
            os.makedirs(os.path.join(d, "golden"), exist_ok=True)
            with open(os.path.join(d, "model.onnx"), "wb") as f:
                f.write(proto.SerializeToString(deterministic=True))
            inits = {t.name for t in proto.graph.initializer}
            ins = [i.name for i in proto.graph.input if i.name not in inits]
            np.save(os.path.join(d, "inputs", file_stems(ins)[0] + ".npy"), x.numpy())
            outs = [o.name for o in proto.graph.output]
            golden = y.numpy()
            if name == "interp_bilinear" and opset < 11:  # ONNX's asymmetric linear, not PyTorch's
                import onnx_resize_ref
                golden = np.maximum(onnx_resize_ref.resize(
                    x.numpy(), scales=[1, 1, 2, 2], mode="linear",
                    coordinate_transformation_mode="asymmetric"), 0)
                os.makedirs(os.path.join(d, "torch"), exist_ok=True)
                np.save(os.path.join(d, "torch", file_stems(outs)[0] + ".npy"), y.numpy())
                print("  PyTorch's bilinear vs ONNX's asymmetric Upsample: max |diff| %.3g"
                      % np.abs(golden - y.numpy()).max())
            np.save(os.path.join(d, "golden", file_stems(outs)[0] + ".npy"), golden)
            print("%-40s %s -> %s" % (d, ins, outs))


def main(argv):
    torch.set_num_threads(1)
    args = argv[1:]
    opsets = [9, 11, 13, 17]
    if "--opsets" in args:
        k = args.index("--opsets")
        opsets = [int(v) for v in args[k + 1].split(",")]
        del args[k:k + 2]
    if "--extra" in args:
        args.remove("--extra")
        export_extra(args[0])
        return
    out, names = args[0], args[1:]
    failed = []
    for name, cls, seed, _desc, make_inputs, _note in gen_examples.EXAMPLES:
        if names and name not in names:
            continue
        for opset in opsets:
            try:
                export(out, name, cls, seed, make_inputs, opset)
            except Exception as e:  # an export PyTorch itself cannot do at this opset
                failed.append("%s opset %d: %s" % (name, opset, str(e).splitlines()[0][:200]))
    for f in failed:
        print("torch cannot export", f)


if __name__ == "__main__":
    toolcli.check(options=("--opsets",), flags=("--extra",))
    main(sys.argv)
