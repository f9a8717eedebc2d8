#!/usr/bin/python3
"""train_digits_pruned: pruned digits models for Kiln's sparsity work (issue 11).

On scikit-learn's handwritten digits with Kiln's fixed split (tools/digits_data.py), trains

  - an MLP 64-256-128-10 (ReLU) and a small CNN (conv16 3x3, conv32 3x3, maxpool, conv32 3x3,
    fc64, fc10; ReLU) dense,
  - then iterative magnitude pruning with fine-tuning (torch.nn.utils.prune.l1_unstructured per
    layer, the mask made permanent with prune.remove) to 80% and 90% of the weights of every
    Linear/Conv layer zero (the first conv, 144 weights, at most 50%),
  - an MLP with 90% of the 1 x 16 blocks of each layer zero (16 consecutive output neurons at
    one input: the vector blocks of Kiln's sparse-block kernel), pruned and fine-tuned the same way,
  - and one structured CNN: half the output channels of every hidden conv pruned by L2 norm
    (prune.ln_structured, dim 0), the fc64 input columns of the removed channels zeroed too,
    fine-tuned; the pruned channels stay in the model as exact zeros (Kiln removes them).

Writes examples/digits_{mlp,cnn}_{dense,sparse80,sparse90}, examples/digits_mlp_block90 and
examples/digits_cnn_channels
(model.json, model.onnx, weights.bin, inputs/x.npy = the first test image, golden/logits.npy =
PyTorch's output for it) and the test split as tests/digits/x.npy [360,1,8,8] f32 and labels.npy [360] i64.
Prints a table of accuracies and sparsities (recorded in /work/notes/issue11.md and
docs/sparsity.md). Deterministic: torch.manual_seed, one thread.

Run with Debian's Python:  /usr/bin/python3 tools/train_digits_pruned.py
"""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import io
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split  # noqa: E402
from kiln_model import ModelBuilder, save_npy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(64, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def graph(self, g):
        x = g.node("Flatten", ["x"], ["flat"], {"axis": 1}, name="flatten")
        x = gemm(g, "fc1", self.fc1, x, "h1", relu=True)
        x = gemm(g, "fc2", self.fc2, x, "h2", relu=True)
        gemm(g, "fc3", self.fc3, x, "logits")


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(32 * 4 * 4, 64), nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(F.relu(self.conv3(x)), 1)
        return self.fc2(F.relu(self.fc1(x)))

    def graph(self, g):
        x = conv(g, "conv1", self.conv1, "x", "c1")
        x = conv(g, "conv2", self.conv2, x, "c2")
        x = g.node("MaxPool", [x], ["p2"], {"kernel_shape": [2, 2], "strides": [2, 2]}, name="pool")
        x = conv(g, "conv3", self.conv3, x, "c3")
        x = g.node("Flatten", [x], ["flat"], {"axis": 1}, name="flatten")
        x = gemm(g, "fc1", self.fc1, x, "h1", relu=True)
        gemm(g, "fc2", self.fc2, x, "logits")


def np32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def gemm(g, name, lin, x, out, relu=False):
    w = g.initializer(name + ".weight", np32(lin.weight))
    b = g.initializer(name + ".bias", np32(lin.bias))
    y = g.node("Gemm", [x, w, b], [out + "_pre" if relu else out], {"transB": 1}, name=name)
    return g.node("Relu", [y], [out], name=name + ".relu") if relu else y


def conv(g, name, c, x, out):
    w = g.initializer(name + ".weight", np32(c.weight))
    b = g.initializer(name + ".bias", np32(c.bias))
    y = g.node("Conv", [x, w, b], [out + "_pre"],
               {"kernel_shape": list(c.kernel_size), "pads": [1, 1, 1, 1]}, name=name)
    return g.node("Relu", [y], [out], name=name + ".relu")


def layers(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def train(model, data, epochs, lr):
    tx, ty = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(ty), generator=gen)
        for i in range(0, len(ty), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(model(tx[idx]), ty[idx]).backward()
            opt.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean()) * 100.0


def sparsity(model):
    zeros = total = 0
    for _, m in layers(model):
        w = m.weight.detach()
        zeros += int((w == 0).sum())
        total += w.numel()
    return 100.0 * zeros / total


def prune_to(model, target, data):
    """Iterative magnitude pruning: raise every layer's zero fraction in steps to target,
    fine-tuning after each step; masks made permanent at the end."""
    steps = [s for s in (0.5, 0.7, 0.8, 0.85, 0.9) if s < target] + [target]
    for s in steps:
        for name, m in layers(model):
            amount = min(s, 0.5) if name == "conv1" else s
            # amount of the remaining weights that brings the layer to `amount` zeros overall
            w = m.weight_orig * m.weight_mask if hasattr(m, "weight_mask") else m.weight
            n = w.numel()
            nz = int((w != 0).sum())
            extra = max(0, int(round(amount * n)) - (n - nz))
            prune.l1_unstructured(m, "weight", amount=extra)
        train(model, data, 8, 1e-3)
    for _, m in layers(model):
        prune.remove(m, "weight")


def block_mask(w, width, amount):
    """Mask of w [out, in] keeping the 1 x width blocks of consecutive outputs at one input
    (the sparse-block kernel's blocks: `width` output columns of B at one k) with the largest
    L1 norm; `amount` of the blocks zeroed (already zero blocks count first)."""
    out, inp = w.shape
    pad = (-out) % width
    wp = torch.cat([w.abs(), torch.zeros(pad, inp)]) if pad else w.abs()
    norms = wp.reshape(-1, width, inp).sum(1)  # [blocks along out, in]
    n = norms.numel()
    drop = int(round(amount * n))
    keep = torch.ones(n)
    if drop > 0:
        keep[torch.argsort(norms.flatten(), stable=True)[:drop]] = 0.0
    m = keep.reshape(norms.shape).repeat_interleave(width, 0)
    return m[:out]


def prune_blocks_to(model, target, data, width=16):
    """Iterative block magnitude pruning (blocks of `width` output neurons at one input,
    smallest L1 norm first) with fine-tuning, like prune_to; masks made permanent at the end."""
    for s in [s for s in (0.5, 0.7, 0.8, 0.85, 0.9) if s < target] + [target]:
        for _, m in layers(model):
            w = (m.weight_orig * m.weight_mask) if hasattr(m, "weight_mask") else m.weight
            # a layer narrower than a block (fc3: 10 outputs) is pruned weight by weight
            mask = block_mask(w.detach(), width if w.shape[0] >= width else 1, s)
            if hasattr(m, "weight_mask"):
                prune.remove(m, "weight")
            prune.custom_from_mask(m, "weight", mask)
        train(model, data, 8, 1e-3)
    for _, m in layers(model):
        prune.remove(m, "weight")


def prune_channels(model, data):
    """Half the output channels of conv1..conv3 by L2 norm; fc1's input columns that read a
    pruned conv3 channel are zeroed with them (they multiply exact zeros after ReLU(bias)
    otherwise would not: the pruned channel's bias is zeroed too)."""
    for name in ("conv1", "conv2", "conv3"):
        m = getattr(model, name)
        prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
    train(model, data, 15, 1e-3)
    with torch.no_grad():
        for name in ("conv1", "conv2", "conv3"):
            m = getattr(model, name)
            prune.remove(m, "weight")
            dead = m.weight.flatten(1).abs().sum(1) == 0
            m.bias[dead] = 0.0
        dead3 = model.conv3.weight.flatten(1).abs().sum(1) == 0
        cols = dead3.repeat_interleave(16)
        model.fc1.weight[:, cols] = 0.0
    train_masked(model, data)


def train_masked(model, data):
    """Fine-tune with the zeros of every weight and of the dead channels' biases kept zero."""
    masks = {id(p): (p != 0).float() for _, m in layers(model) for p in (m.weight,)}
    dead = {name: getattr(model, name).weight.flatten(1).abs().sum(1) == 0
            for name in ("conv1", "conv2", "conv3")}
    tx, ty = data
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    gen = torch.Generator().manual_seed(2)
    model.train()
    for _ in range(10):
        order = torch.randperm(len(ty), generator=gen)
        for i in range(0, len(ty), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(model(tx[idx]), ty[idx]).backward()
            opt.step()
            with torch.no_grad():
                for _, m in layers(model):
                    m.weight.mul_(masks[id(m.weight)])
                for name, d in dead.items():
                    getattr(model, name).bias[d] = 0.0
    model.eval()


def save(model, name, desc, test_x):
    g = ModelBuilder(name, doc="Kiln example '%s': %s; trained on scikit-learn's digits "
                     "(tools/digits_data.py split) by tools/train_digits_pruned.py." % (name, desc))
    g.input("x", [1, 1, 8, 8])
    g.output("logits", [1, 10])
    model.graph(g)
    x = test_x[:1]
    with torch.no_grad():
        y = np32(model(torch.from_numpy(x)))
    d = os.path.join(ROOT, "examples", name)
    g.save_case(d, {"x": x}, {"logits": y})
    # the ONNX twin every example has (tools/export_onnx.py's settings; the suite imports it)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(x),), buf, opset_version=17,
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL,
                          input_names=["x"], output_names=["logits"])
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    proto.producer_name, proto.producer_version = "pytorch", torch.__version__
    proto.doc_string = "Kiln example '%s' exported by tools/train_digits_pruned.py" % name
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(proto.SerializeToString(deterministic=True))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    trx, try_, tex, tey = load_split()
    data = (torch.from_numpy(trx), torch.from_numpy(try_))
    tx, ty = torch.from_numpy(tex), torch.from_numpy(tey)
    os.makedirs(os.path.join(ROOT, "tests", "digits"), exist_ok=True)
    save_npy(os.path.join(ROOT, "tests", "digits", "x.npy"), tex, "f32")
    save_npy(os.path.join(ROOT, "tests", "digits", "labels.npy"), tey, "i64")
    rows = []
    for kind, cls, desc in (("mlp", MLP, "MLP 64-256-128-10, ReLU"),
                            ("cnn", CNN, "CNN conv16-conv32-maxpool-conv32-fc64-fc10, ReLU")):
        torch.manual_seed(0)
        dense = cls()
        train(dense, data, 40, 1e-3)
        base = dense.state_dict()
        save(dense, "digits_%s_dense" % kind, desc + ", dense", tex)
        rows.append(("digits_%s_dense" % kind, accuracy(dense, tx, ty), sparsity(dense)))
        for target in (0.8, 0.9):
            m = cls()
            m.load_state_dict(base)
            prune_to(m, target, data)
            name = "digits_%s_sparse%d" % (kind, round(target * 100))
            save(m, name, desc + ", %d%% of the weights of each layer magnitude-pruned to zero"
                 % round(target * 100), tex)
            rows.append((name, accuracy(m, tx, ty), sparsity(m)))
        if kind == "mlp":
            m = cls()
            m.load_state_dict(base)
            prune_blocks_to(m, 0.9, data)
            save(m, "digits_mlp_block90", desc + ", 90%% of the 1 x 16 blocks (16 consecutive "
                 "output neurons at one input) of each layer magnitude-pruned to zero", tex)
            rows.append(("digits_mlp_block90", accuracy(m, tx, ty), sparsity(m)))
        if kind == "cnn":
            m = cls()
            m.load_state_dict(base)
            prune_channels(m, data)
            save(m, "digits_cnn_channels", desc + ", half the output channels of each conv "
                 "pruned (L2 norm; left in as zeros)", tex)
            rows.append(("digits_cnn_channels", accuracy(m, tx, ty), sparsity(m)))
    print("| model | test accuracy (%) | zero weights (%) |")
    print("|---|---|---|")
    for name, acc, sp in rows:
        print("| %s | %.2f | %.1f |" % (name, acc, sp))


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
