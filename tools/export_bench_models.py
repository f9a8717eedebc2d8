#!/usr/bin/python3
"""export_bench_models: the ONNX models of bench/bench_ort.sh (Kiln against ONNX Runtime).

    /usr/bin/python3 tools/export_bench_models.py OUTDIR [name ...]

Writes OUTDIR/<name>/model.onnx, OUTDIR/<name>/inputs/<input>.npy and OUTDIR/<name>/torch/<output>.npy
(PyTorch's output, for diagnosing a mismatch), plus OUTDIR/models.tsv: name, kind, family label.
Nothing is written into the repository; the bench exports into build/.

kind "example": every example of tools/gen_examples.py, rebuilt exactly as it builds it (same
seed, same BatchNorm randomisation, same sample input) and exported like tools/export_onnx.py
(opset 17, static shapes, constant folding, the example's input/output names). The eight model
families of the kernel-performance issue are all examples (the `family` column names them):
  MLP 784-512-256-10 = mlp, GAN generator MLP 100->784 = gan_generator, transformer classifier
  (d64, 2 heads) = transformer_classifier, LeNet-5 = lenet5, MNIST CNN (32/64 ch) = mnist_cnn,
  CIFAR CNN (32/64/64 ch) = cifar_cnn, ResNet-8 (16/32/64 ch, BN, shortcuts) = resnet_small,
  LSTM classifier (hidden 128, 100 steps) = lstm_classifier.
kind "layer": one-layer models (a Conv, or a Linear exported as Gemm) for per-layer GFLOP/s.
kind "overhead": `add_overhead`, y = x + c on a 1x1 tensor: its ONNX Runtime latency is the
binding's per-call overhead, subtracted from every ONNX Runtime time.
Layer and overhead models use fixed seeds and random weights and inputs.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import io
import json
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_examples  # noqa: E402

OPSET = 17

FAMILIES = {
    "mlp": "MLP 784-512-256-10",
    "gan_generator": "GAN generator 100->784",
    "transformer_classifier": "transformer d64 2 heads",
    "lenet5": "LeNet-5",
    "mnist_cnn": "MNIST CNN 32/64",
    "cifar_cnn": "CIFAR CNN 32/64/64",
    "resnet_small": "ResNet-8 16/32/64",
    "lstm_classifier": "LSTM h128 x100",
}


class Add(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("c", torch.ones(1, 1))

    def forward(self, x):
        return x + self.c


def conv_layer(cin, cout, k, stride, pad, hw):
    """One Conv2d (with bias) on a 1 x cin x hw x hw input."""
    def make():
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad)), (1, cin, hw, hw)
    return make


def linear_layer(m, k, n):
    """One Linear k->n on an m x k input (exported as Gemm transB=1)."""
    def make():
        return nn.Sequential(nn.Linear(k, n)), (m, k)
    return make


# name, what it is (the README's words), builder. Shapes are those of the benchmarked models' layers.
LAYERS = [
    ("conv3x3_64to64_8x8", "Conv 3x3 64->64 pad 1 at 8x8 (ResNet-8 layer3)",
     conv_layer(64, 64, 3, 1, 1, 8)),
    ("conv3x3s2_16to32_32x32", "Conv 3x3 stride 2 16->32 pad 1, 32x32 -> 16x16 (ResNet-8 layer2)",
     conv_layer(16, 32, 3, 2, 1, 32)),
    ("conv3x3_16to16_32x32", "Conv 3x3 16->16 pad 1 at 32x32 (ResNet-8 layer1)",
     conv_layer(16, 16, 3, 1, 1, 32)),
    ("conv3x3_32to64_14x14", "Conv 3x3 32->64 pad 1 at 14x14 (MNIST CNN conv2)",
     conv_layer(32, 64, 3, 1, 1, 14)),
    ("conv3x3_32to64_16x16", "Conv 3x3 32->64 pad 1 at 16x16 (CIFAR CNN conv2)",
     conv_layer(32, 64, 3, 1, 1, 16)),
    ("gemv_784to512", "Linear 784->512, batch 1 (MLP fc1: a GEMV)", linear_layer(1, 784, 512)),
    ("gemm_32x64to128", "Linear 64->128 on 32 tokens (transformer FF1)", linear_layer(32, 64, 128)),
    ("gemm_256x256to256", "Linear 256->256 on 256 rows (a large GEMM)",
     linear_layer(256, 256, 256)),
]


def export(model, args, path, input_names, output_names, train_mode=False):
    buf = io.BytesIO()
    mode = torch.onnx.TrainingMode.PRESERVE if train_mode else torch.onnx.TrainingMode.EVAL
    with torch.no_grad():
        torch.onnx.export(model, args, buf, opset_version=OPSET, do_constant_folding=True,
                          training=mode, input_names=input_names, output_names=output_names)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString(deterministic=True))
    return sorted({n.op_type for n in proto.graph.node})


def save_case(d, model, inputs, input_names, output_names, train_mode=False):
    """Exports model to d/model.onnx; saves d/inputs/*.npy and PyTorch's outputs d/torch/*.npy."""
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(d, "torch"), exist_ok=True)
    args = tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in inputs)
    ops = export(model, args, os.path.join(d, "model.onnx"), input_names, output_names,
                 train_mode)
    for n, v in zip(input_names, inputs):
        np.save(os.path.join(d, "inputs", n + ".npy"), np.ascontiguousarray(v))
    with torch.no_grad():
        outs = model(*args)
    if not isinstance(outs, tuple):
        outs = (outs,)
    for n, t in zip(output_names, outs):
        np.save(os.path.join(d, "torch", n + ".npy"), t.detach().numpy().astype(np.float32))
    return ops


def export_example(out, name, cls, seed, make_inputs):
    with open(os.path.join(gen_examples.OUT, name, "model.json"), encoding="ascii") as f:
        m = json.load(f)
    model, inputs = gen_examples.make_model(name, cls, seed, make_inputs)
    train_mode = False
    if any(isinstance(x, nn.TransformerEncoderLayer) for x in model.modules()):
        # as tools/export_onnx.py: eval() takes the fused fast path, which has no ONNX export;
        # train() with dropout 0 (and no BatchNorm) computes the same function
        assert not any(isinstance(x, nn.BatchNorm2d) for x in model.modules())
        model.train()
        train_mode = True
    return save_case(os.path.join(out, name), model, list(inputs.values()),
                     [i["name"] for i in m["inputs"]], [o["name"] for o in m["outputs"]],
                     train_mode)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out, only = argv[1], set(argv[2:])
    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    rows = []
    for name, cls, seed, _desc, make_inputs, _note in gen_examples.EXAMPLES:
        if only and name not in only:
            continue
        ops = export_example(out, name, cls, seed, make_inputs)
        rows.append((name, "example", FAMILIES.get(name, "-"), ", ".join(ops)))
    for i, (name, desc, make) in enumerate(LAYERS):
        if only and name not in only:
            continue
        torch.manual_seed(100 + i)
        model, shape = make()
        model.eval()
        x = torch.randn(shape).numpy()
        ops = save_case(os.path.join(out, name), model, [x], ["x"], ["y"])
        rows.append((name, "layer", desc, ", ".join(ops)))
    if not only or "add_overhead" in only:
        ops = save_case(os.path.join(out, "add_overhead"), Add().eval(),
                        [np.full((1, 1), 0.5, np.float32)], ["x"], ["y"])
        rows.append(("add_overhead", "overhead", "one Add on 1x1 (binding overhead)",
                     ", ".join(ops)))
    with open(os.path.join(out, "models.tsv"), "w", encoding="ascii") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    for r in rows:
        print("%-26s %-9s %s" % (r[0], r[1], r[3]))


if __name__ == "__main__":
    toolcli.check(min_args=1)
    main(sys.argv)
