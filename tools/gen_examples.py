#!/usr/bin/python3
"""gen_examples: example models for Kiln under examples/<name>/.

Every example is a PyTorch nn.Module defined here, seeded (torch.manual_seed per model) with
PyTorch's default initialisation (no training), run in eval() mode. Its Kiln graph is written
node by node to mirror forward() exactly. Each directory gets model.json, weights.bin,
inputs/<input>.npy (a sample input) and golden/<output>.npy (what PyTorch computes for it,
float32). examples/README.md gets a table of the models.

Run with Debian's Python (it has torch):  /usr/bin/python3 tools/gen_examples.py
The script deletes and recreates examples/ (only the directories and README it owns).
tools/check_goldens.py re-checks every golden against an independent numpy reference.
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_model import ModelBuilder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples")


# ====================================================================== sample inputs
DIGITS = {
    # polylines in (x, y) pixel coordinates of a 28x28 canvas, MNIST-like placement
    "7": [[(7, 7), (21, 7), (13, 23)]],
    "2": [[(8, 10), (10, 6.5), (15, 5.5), (19, 7.5), (19.5, 11), (16, 15), (8, 22), (21, 22)]],
    "4": [[(16, 23), (16, 5), (7, 17), (21, 17)]],
}


def digit_image(digit, size=28):
    """Synthetic MNIST-like digit: anti-aliased strokes ~2.5 px wide, values in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dist = np.full((size, size), np.inf)
    for line in DIGITS[digit]:
        for (x0, y0), (x1, y1) in zip(line[:-1], line[1:]):
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
            d = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
            dist = np.minimum(dist, d)
    img = np.clip(1.6 - dist / 1.1, 0.0, 1.0)
    return img.astype(np.float32)


def cifar_like_image(seed, size=32):
    """Synthetic 32x32 RGB scene in [0, 1]: sky gradient, green ground, a red disc, mild noise."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / (size - 1)
    img = np.zeros((3, size, size))
    horizon = 0.6 + 0.1 * np.sin(xx * 3 + seed)
    sky = yy < horizon
    img[0] = np.where(sky, 0.35 + 0.3 * yy, 0.20 + 0.1 * yy)
    img[1] = np.where(sky, 0.55 + 0.3 * yy, 0.55 - 0.2 * yy)
    img[2] = np.where(sky, 0.95 - 0.2 * yy, 0.15)
    cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.45), rng.uniform(0.1, 0.18)
    disc = np.clip((r - np.hypot(xx - cx, yy - cy)) * size, 0, 1)
    for ch, col in enumerate((0.9, 0.2, 0.15)):
        img[ch] = img[ch] * (1 - disc) + col * disc
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


# ====================================================================== graph helpers
def np32(t):
    return t.detach().cpu().numpy().astype(np.float32)


class Graph:
    """ModelBuilder plus helpers that copy parameters out of torch modules."""

    def __init__(self, name, doc):
        self.mb = ModelBuilder(name, doc=doc)

    def input(self, name, shape, dtype="f32"):
        return self.mb.input(name, shape, dtype)

    def output(self, name, shape):
        return self.mb.output(name, shape)

    def const(self, name, arr, dtype=None):
        return self.mb.initializer(name, arr, dtype=dtype)

    def node(self, op, inputs, out, attrs=None, name=None):
        return self.mb.node(op, inputs, [out], attrs, name=name or out)

    def gemm(self, name, lin, x, out, explicit=False):
        """nn.Linear as Gemm(transB=1), as ONNX exporters write it."""
        ins = [x, self.const(name + ".weight", np32(lin.weight))]
        if lin.bias is not None:
            ins.append(self.const(name + ".bias", np32(lin.bias)))
        attrs = {"transB": 1}
        if explicit:
            attrs = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1}
        return self.node("Gemm", ins, out, attrs, name=name)

    def matmul_add(self, name, lin, x, out):
        """nn.Linear as MatMul(x, W^T) + Add(bias)."""
        wt = self.const(name + ".weight_t", np.ascontiguousarray(np32(lin.weight).T))
        mm = self.node("MatMul", [x, wt], out + "_mm", name=name + ".matmul")
        b = self.const(name + ".bias", np32(lin.bias))
        return self.node("Add", [mm, b], out, name=name + ".add")

    def conv(self, name, conv, x, out, explicit=False):
        assert conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)
        ins = [x, self.const(name + ".weight", np32(conv.weight))]
        if conv.bias is not None:
            ins.append(self.const(name + ".bias", np32(conv.bias)))
        ph, pw = conv.padding
        attrs = {"kernel_shape": list(conv.kernel_size)}
        if explicit or (ph, pw) != (0, 0):
            attrs["pads"] = [ph, pw, ph, pw]         # [top, left, bottom, right]
        if explicit or tuple(conv.stride) != (1, 1):
            attrs["strides"] = list(conv.stride)
        if explicit or tuple(conv.dilation) != (1, 1):
            attrs["dilations"] = list(conv.dilation)
        if explicit or conv.groups != 1:
            attrs["group"] = conv.groups
        op = "ConvTranspose" if isinstance(conv, nn.ConvTranspose2d) else "Conv"
        if op == "ConvTranspose" and (explicit or tuple(conv.output_padding) != (0, 0)):
            attrs["output_padding"] = list(conv.output_padding)
        return self.node(op, ins, out, attrs, name=name)

    def bn(self, name, bn, x, out):
        ins = [x,
               self.const(name + ".weight", np32(bn.weight)),
               self.const(name + ".bias", np32(bn.bias)),
               self.const(name + ".running_mean", np32(bn.running_mean)),
               self.const(name + ".running_var", np32(bn.running_var))]
        attrs = {} if bn.eps == 1e-5 else {"epsilon": bn.eps}
        return self.node("BatchNormalization", ins, out, attrs, name=name)

    def unary(self, op, x, out, attrs=None):
        return self.node(op, [x], out, attrs)


def randomize_bn(model, calib_input, seed):
    """Give every BatchNorm non-trivial statistics and affine parameters.

    Running stats are first set to the batch statistics of calib_input (so activations keep a
    sane scale), then perturbed; weight/bias are random. Done before eval()."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None                   # cumulative average: one batch -> its statistics
    model.train()
    with torch.no_grad():
        model(calib_input)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in bns:
            c = m.num_features
            m.running_mean += 0.1 * torch.randn(c, generator=g)
            m.running_var *= 0.75 + 0.5 * torch.rand(c, generator=g)
            m.weight.copy_(0.6 + 0.8 * torch.rand(c, generator=g))
            m.bias.copy_(0.2 * torch.randn(c, generator=g))
    model.eval()


# ====================================================================== models
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.drop(x)
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def graph(self, g):
        g.input("x", [1, 784])
        g.gemm("fc1", self.fc1, "x", "fc1_out")
        g.unary("Relu", "fc1_out", "relu1")
        g.unary("Dropout", "relu1", "drop1")
        g.gemm("fc2", self.fc2, "drop1", "fc2_out")
        g.unary("Relu", "fc2_out", "relu2")
        g.gemm("fc3", self.fc3, "relu2", "logits", explicit=True)
        g.output("logits", [1, 10])


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(torch.tanh(self.conv1(x)))
        x = self.pool2(torch.tanh(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)

    def graph(self, g):
        g.input("x", [1, 1, 28, 28])
        g.conv("conv1", self.conv1, "x", "conv1_out")
        g.unary("Tanh", "conv1_out", "tanh1")
        g.unary("AveragePool", "tanh1", "pool1", {"kernel_shape": [2, 2], "strides": [2, 2]})
        g.conv("conv2", self.conv2, "pool1", "conv2_out", explicit=True)
        g.unary("Tanh", "conv2_out", "tanh2")
        g.unary("AveragePool", "tanh2", "pool2",
                {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0],
                 "ceil_mode": 0, "count_include_pad": 0})
        g.unary("Flatten", "pool2", "flat", {"axis": 1})
        g.gemm("fc1", self.fc1, "flat", "fc1_out")
        g.unary("Tanh", "fc1_out", "tanh3")
        g.gemm("fc2", self.fc2, "tanh3", "fc2_out")
        g.unary("Tanh", "fc2_out", "tanh4")
        g.gemm("fc3", self.fc3, "tanh4", "logits")
        g.output("logits", [1, 10])


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.1307))
        self.register_buffer("std", torch.tensor(0.3081))
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.softmax(self.fc2(x), dim=1)

    def graph(self, g):
        g.input("x", [1, 1, 28, 28])
        g.const("mean", np32(self.mean))
        g.const("std", np32(self.std))
        g.node("Sub", ["x", "mean"], "centered")
        g.node("Div", ["centered", "std"], "normalized")
        g.conv("conv1", self.conv1, "normalized", "conv1_out")
        g.unary("Relu", "conv1_out", "relu1")
        g.unary("MaxPool", "relu1", "pool1", {"kernel_shape": [2, 2], "strides": [2, 2]})
        g.conv("conv2", self.conv2, "pool1", "conv2_out")
        g.unary("Relu", "conv2_out", "relu2")
        g.unary("MaxPool", "relu2", "pool2", {"kernel_shape": [2, 2], "strides": [2, 2],
                                              "pads": [0, 0, 0, 0], "ceil_mode": 0})
        g.unary("Flatten", "pool2", "flat")            # axis defaults to 1
        g.gemm("fc1", self.fc1, "flat", "fc1_out")
        g.unary("Relu", "fc1_out", "relu3")
        g.gemm("fc2", self.fc2, "relu3", "logits")
        g.unary("Softmax", "logits", "probs", {"axis": 1})
        g.output("probs", [1, 10])


class CifarCNN(nn.Module):
    """conv32 -> conv64 -> a mixed block: [1x1 conv] || [depthwise 3x3, ReLU6, 1x1 conv],
    concatenated to 64 channels; each stage ReLU + 2x2 max pool; fc64 -> fc10."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.branch_a = nn.Conv2d(64, 32, 1)
        self.branch_dw = nn.Conv2d(64, 64, 3, padding=1, groups=64)
        self.branch_pw = nn.Conv2d(64, 32, 1)
        self.fc1 = nn.Linear(64 * 4 * 4, 64)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        a = F.relu(self.branch_a(x))
        b = F.relu(self.branch_pw(F.relu6(self.branch_dw(x))))
        x = F.max_pool2d(torch.cat([a, b], dim=1), 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)

    def graph(self, g):
        g.input("x", [1, 3, 32, 32])
        g.const("mean", np32(self.mean))
        g.const("std", np32(self.std))
        g.node("Sub", ["x", "mean"], "centered")
        g.node("Div", ["centered", "std"], "normalized")
        pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
        g.conv("conv1", self.conv1, "normalized", "conv1_out")
        g.unary("Relu", "conv1_out", "relu1")
        g.unary("MaxPool", "relu1", "pool1", pool)
        g.conv("conv2", self.conv2, "pool1", "conv2_out")
        g.unary("Relu", "conv2_out", "relu2")
        g.unary("MaxPool", "relu2", "pool2", pool)
        g.conv("branch_a", self.branch_a, "pool2", "branch_a_out")
        g.unary("Relu", "branch_a_out", "relu_a")
        g.conv("branch_dw", self.branch_dw, "pool2", "branch_dw_out")
        g.const("relu6_min", np.array(0.0, dtype=np.float32))
        g.const("relu6_max", np.array(6.0, dtype=np.float32))
        g.node("Clip", ["branch_dw_out", "relu6_min", "relu6_max"], "relu6_dw")
        g.conv("branch_pw", self.branch_pw, "relu6_dw", "branch_pw_out")
        g.unary("Relu", "branch_pw_out", "relu_b")
        g.node("Concat", ["relu_a", "relu_b"], "concat", {"axis": 1})
        g.unary("MaxPool", "concat", "pool3", pool)
        g.unary("Flatten", "pool3", "flat", {"axis": 1})
        g.gemm("fc1", self.fc1, "flat", "fc1_out")
        g.unary("Relu", "fc1_out", "relu_fc1")
        g.unary("Dropout", "relu_fc1", "drop")
        g.gemm("fc2", self.fc2, "drop", "logits")
        g.output("logits", [1, 10])


class GanGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        dims = [100, 128, 256, 512, 1024, 784]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, z):
        x = z
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            x = F.leaky_relu(x, 0.01) if i < len(self.fcs) - 1 else torch.tanh(x)
        return x.view(-1, 1, 28, 28)

    def graph(self, g):
        g.input("z", [1, 100])
        x = "z"
        for i, fc in enumerate(self.fcs):
            g.gemm("fcs.%d" % i, fc, x, "fc%d_out" % i)
            if i < len(self.fcs) - 1:
                # alpha 0.01 is the ONNX default: spelled out on every other layer
                g.unary("LeakyRelu", "fc%d_out" % i, "lrelu%d" % i,
                        {"alpha": 0.01} if i % 2 == 0 else None)
                x = "lrelu%d" % i
        g.unary("Tanh", "fc4_out", "tanh")
        g.const("image_shape", np.array([-1, 1, 28, 28], dtype=np.int64))
        g.node("Reshape", ["tanh", "image_shape"], "image")
        g.output("image", [1, 1, 28, 28])


class DCGANGenerator(nn.Module):
    def __init__(self, nz=100, ngf=32):
        super().__init__()
        self.ct1 = nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)   # 1 -> 4
        self.bn1 = nn.BatchNorm2d(ngf * 4)
        self.ct2 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False)  # 4 -> 8
        self.bn2 = nn.BatchNorm2d(ngf * 2)
        self.ct3 = nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)  # 8 -> 16
        self.bn3 = nn.BatchNorm2d(ngf)
        self.ct4 = nn.ConvTranspose2d(ngf, 3, 4, 2, 1)                    # 16 -> 32

    def forward(self, z):
        x = z.reshape(z.shape[0], -1, 1, 1)
        x = F.relu(self.bn1(self.ct1(x)))
        x = F.relu(self.bn2(self.ct2(x)))
        x = F.relu(self.bn3(self.ct3(x)))
        return torch.tanh(self.ct4(x))

    def graph(self, g):
        g.input("z", [1, 100])
        g.const("z_shape", np.array([0, -1, 1, 1], dtype=np.int64))
        g.node("Reshape", ["z", "z_shape"], "z4d")
        x = "z4d"
        for i in (1, 2, 3):
            g.conv("ct%d" % i, getattr(self, "ct%d" % i), x, "ct%d_out" % i, explicit=(i == 2))
            g.bn("bn%d" % i, getattr(self, "bn%d" % i), "ct%d_out" % i, "bn%d_out" % i)
            g.unary("Relu", "bn%d_out" % i, "relu%d" % i)
            x = "relu%d" % i
        g.conv("ct4", self.ct4, x, "ct4_out")
        g.unary("Tanh", "ct4_out", "image")
        g.output("image", [1, 3, 32, 32])


class PPOPolicy(nn.Module):
    """Stable-Baselines3 MlpPolicy layout for CartPole: separate policy and value MLPs
    (4 -> 64 -> 64, tanh), action head (2 logits) and value head (1)."""

    def __init__(self):
        super().__init__()
        self.pi1, self.pi2 = nn.Linear(4, 64), nn.Linear(64, 64)
        self.vf1, self.vf2 = nn.Linear(4, 64), nn.Linear(64, 64)
        self.action_net = nn.Linear(64, 2)
        self.value_net = nn.Linear(64, 1)

    def forward(self, obs):
        latent_pi = torch.tanh(self.pi2(torch.tanh(self.pi1(obs))))
        latent_vf = torch.tanh(self.vf2(torch.tanh(self.vf1(obs))))
        logits = self.action_net(latent_pi)
        return logits, self.value_net(latent_vf), F.softmax(logits, dim=-1)

    def graph(self, g):
        g.input("obs", [1, 4])
        g.gemm("pi1", self.pi1, "obs", "pi1_out")
        g.unary("Tanh", "pi1_out", "pi1_act")
        g.gemm("pi2", self.pi2, "pi1_act", "pi2_out")
        g.unary("Tanh", "pi2_out", "latent_pi")
        g.matmul_add("vf1", self.vf1, "obs", "vf1_out")       # MatMul + Add form
        g.unary("Tanh", "vf1_out", "vf1_act")
        g.gemm("vf2", self.vf2, "vf1_act", "vf2_out")
        g.unary("Tanh", "vf2_out", "latent_vf")
        g.gemm("action_net", self.action_net, "latent_pi", "action_logits")
        g.gemm("value_net", self.value_net, "latent_vf", "value")
        g.unary("Softmax", "action_logits", "action_probs")   # axis defaults to -1
        g.output("action_logits", [1, 2])
        g.output("value", [1, 1])
        g.output("action_probs", [1, 2])


class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, se=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout) if se else None
        if stride != 1 or cin != cout:
            self.down_conv = nn.Conv2d(cin, cout, 1, stride, bias=False)
            self.down_bn = nn.BatchNorm2d(cout)
        else:
            self.down_conv = None
        self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        sc = self.down_bn(self.down_conv(x)) if self.down_conv is not None else self.shortcut(x)
        return F.relu(out + sc)

    def graph(self, g, p, x):
        g.conv(p + ".conv1", self.conv1, x, p + "_c1")
        g.bn(p + ".bn1", self.bn1, p + "_c1", p + "_bn1")
        g.unary("Relu", p + "_bn1", p + "_r1")
        g.conv(p + ".conv2", self.conv2, p + "_r1", p + "_c2")
        out = g.bn(p + ".bn2", self.bn2, p + "_c2", p + "_bn2")
        if self.se is not None:
            g.unary("GlobalAveragePool", out, p + "_se_gap")
            g.conv(p + ".se.fc1", self.se.fc1, p + "_se_gap", p + "_se_fc1")
            g.unary("Relu", p + "_se_fc1", p + "_se_r")
            g.conv(p + ".se.fc2", self.se.fc2, p + "_se_r", p + "_se_fc2")
            g.unary("Sigmoid", p + "_se_fc2", p + "_se_gate")
            out = g.node("Mul", [out, p + "_se_gate"], p + "_se_out")
        if self.down_conv is not None:
            g.conv(p + ".down_conv", self.down_conv, x, p + "_dc")
            sc = g.bn(p + ".down_bn", self.down_bn, p + "_dc", p + "_sc")
        else:
            sc = g.unary("Identity", x, p + "_sc")
        g.node("Add", [out, sc], p + "_add")
        return g.unary("Relu", p + "_add", p + "_out")


class ResNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem_conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 64, 2, se=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)

    def graph(self, g):
        g.input("x", [1, 3, 32, 32])
        g.conv("stem_conv", self.stem_conv, "x", "stem_c")
        g.bn("stem_bn", self.stem_bn, "stem_c", "stem_bn_out")
        x = g.unary("Relu", "stem_bn_out", "stem_out")
        for name in ("layer1", "layer2", "layer3"):
            x = getattr(self, name).graph(g, name, x)
        g.unary("GlobalAveragePool", x, "gap")
        g.unary("Flatten", "gap", "flat", {"axis": 1})
        g.gemm("fc", self.fc, "flat", "logits")
        g.output("logits", [1, 10])


# ====================================================================== sequence models
def token_ids(seed, length, vocab):
    """A sample sentence of token ids (int64), including the first and last id of the table."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, vocab - 1, size=(1, length)).astype(np.int64)
    ids[0, 3], ids[0, -2] = 0, vocab - 1
    return ids


# PyTorch gate blocks -> ONNX: LSTM (i f g o) -> (i o f c); GRU (r z n) -> (z r h)
GATE_ORDER = {nn.LSTM: [0, 3, 1, 2], nn.GRU: [1, 0, 2], nn.RNN: [0]}


def recurrent_node(g, name, mod, x, outs):
    """A single-layer nn.LSTM/GRU/RNN (tanh) as the ONNX op, weights in ONNX gate order; x is
    seq-first [T, B, I]; outs names Y (and Y_h, Y_c)."""
    assert mod.num_layers == 1 and mod.bias and getattr(mod, "nonlinearity", "tanh") == "tanh"
    H, order = mod.hidden_size, GATE_ORDER[type(mod)]
    sfx = ["", "_reverse"] if mod.bidirectional else [""]

    def gates(t):
        w = np32(t)
        return np.concatenate([w[k * H:(k + 1) * H] for k in order], axis=0)

    W = np.stack([gates(getattr(mod, "weight_ih_l0" + s)) for s in sfx])
    R = np.stack([gates(getattr(mod, "weight_hh_l0" + s)) for s in sfx])
    B = np.stack([np.concatenate([gates(getattr(mod, "bias_ih_l0" + s)),
                                  gates(getattr(mod, "bias_hh_l0" + s))]) for s in sfx])
    op = {nn.LSTM: "LSTM", nn.GRU: "GRU", nn.RNN: "RNN"}[type(mod)]
    attrs = {"hidden_size": H}
    if mod.bidirectional:
        attrs["direction"] = "bidirectional"
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    return g.mb.node(op, [x, g.const(name + ".W", W), g.const(name + ".R", R),
                          g.const(name + ".B", B)], outs, attrs, name=name)


class RecurrentClassifier(nn.Module):
    """Embedding -> one recurrent layer (batch_first) -> last hidden state -> Linear [-> sigmoid]."""
    CELL, VOCAB, DIM, HIDDEN, T, CLASSES, SIGMOID = nn.LSTM, 10000, 64, 128, 100, 1, True

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(self.VOCAB, self.DIM)
        self.rnn = self.CELL(self.DIM, self.HIDDEN, batch_first=True)
        self.fc = nn.Linear(self.HIDDEN, self.CLASSES)

    def forward(self, ids):
        _, h = self.rnn(self.emb(ids))
        h = h[0] if isinstance(h, tuple) else h
        y = self.fc(h[-1])
        return torch.sigmoid(y) if self.SIGMOID else y

    def graph(self, g):
        g.input("ids", [1, self.T], "i64")
        g.node("Gather", [g.const("emb.weight", np32(self.emb.weight)), "ids"], "emb")
        g.node("Transpose", ["emb"], "emb_t", {"perm": [1, 0, 2]})     # seq-first for ONNX
        recurrent_node(g, "rnn", self.rnn, "emb_t", ["rnn_y", "rnn_h"])
        g.node("Squeeze", ["rnn_h", g.const("squeeze_axes", np.array([0], dtype=np.int64))],
               "last_h")
        out = "probs" if self.SIGMOID else "logits"
        g.gemm("fc", self.fc, "last_h", "fc_out" if self.SIGMOID else out)
        if self.SIGMOID:
            g.unary("Sigmoid", "fc_out", out)
        g.output(out, [1, self.CLASSES])


class LSTMClassifier(RecurrentClassifier):
    pass


class RNNClassifier(RecurrentClassifier):
    CELL, VOCAB, DIM, HIDDEN, T, CLASSES, SIGMOID = nn.RNN, 2000, 32, 64, 50, 3, False


class GRUClassifier(RecurrentClassifier):
    CELL, VOCAB, DIM, HIDDEN, T, CLASSES, SIGMOID = nn.GRU, 5000, 64, 64, 60, 4, False


class BiLSTMTagger(nn.Module):
    VOCAB, DIM, HIDDEN, T, TAGS = 3000, 32, 32, 40, 5

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(self.VOCAB, self.DIM)
        self.lstm = nn.LSTM(self.DIM, self.HIDDEN, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * self.HIDDEN, self.TAGS)

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids))
        return self.fc(y)

    def graph(self, g):
        T, H = self.T, self.HIDDEN
        g.input("ids", [1, T], "i64")
        g.node("Gather", [g.const("emb.weight", np32(self.emb.weight)), "ids"], "emb")
        g.node("Transpose", ["emb"], "emb_t", {"perm": [1, 0, 2]})
        recurrent_node(g, "lstm", self.lstm, "emb_t", ["lstm_y"])           # [T, 2, 1, H]
        g.node("Transpose", ["lstm_y"], "lstm_y_t", {"perm": [0, 2, 1, 3]})  # [T, 1, 2, H]
        g.node("Reshape", ["lstm_y_t", g.const("rows_shape", np.array([T, 2 * H], dtype=np.int64))],
               "rows")
        g.gemm("fc", self.fc, "rows", "row_scores")
        g.node("Reshape", ["row_scores", g.const("scores_shape",
                                                  np.array([1, T, self.TAGS], dtype=np.int64))],
               "scores")
        g.output("scores", [1, T, self.TAGS])


class LSTMForecaster(nn.Module):
    T, HIDDEN = 48, 32

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, self.HIDDEN, batch_first=True)
        self.fc = nn.Linear(self.HIDDEN, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])

    def graph(self, g):
        g.input("series", [1, self.T, 1])
        g.node("Transpose", ["series"], "series_t", {"perm": [1, 0, 2]})
        recurrent_node(g, "lstm", self.lstm, "series_t", ["lstm_y", "lstm_h", "lstm_c"])
        g.node("Reshape", ["lstm_h", g.const("h_shape", np.array([1, self.HIDDEN],
                                                               dtype=np.int64))], "last_h")
        g.gemm("fc", self.fc, "last_h", "forecast")
        g.output("forecast", [1, 1])


def sine_series(seed, length):
    rng = np.random.RandomState(seed)
    t = np.arange(length)
    x = np.sin(2 * np.pi * t / 12.0) + 0.3 * np.sin(2 * np.pi * t / 29.0) + 0.05 * rng.randn(length)
    return x.astype(np.float32).reshape(1, length, 1)


class EmbeddingBagClassifier(nn.Module):
    VOCAB, DIM, T, CLASSES = 2000, 64, 64, 5

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(self.VOCAB, self.DIM)
        self.fc = nn.Linear(self.DIM, self.CLASSES)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))

    def graph(self, g):
        g.input("ids", [1, self.T], "i64")
        g.node("Gather", [g.const("emb.weight", np32(self.emb.weight)), "ids"], "emb")
        g.node("ReduceMean", ["emb"], "pooled", {"axes": [1], "keepdims": 0})
        g.gemm("fc", self.fc, "pooled", "logits")
        g.output("logits", [1, self.CLASSES])


class TransformerClassifier(nn.Module):
    VOCAB, D, HEADS, FF, T, LAYERS, CLASSES = 1000, 64, 2, 128, 32, 2, 3

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(self.VOCAB, self.D)
        self.pos = nn.Embedding(self.T, self.D)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(self.D, self.HEADS, self.FF, dropout=0.0, batch_first=True)
            for _ in range(self.LAYERS))
        self.fc = nn.Linear(self.D, self.CLASSES)

    def forward(self, ids):
        x = self.emb(ids) + self.pos(torch.arange(self.T)).unsqueeze(0)
        for layer in self.layers:
            x = layer(x)
        return self.fc(x.mean(dim=1))

    def linear(self, g, name, w, b, x, out):
        """x @ w^T + b as MatMul + Add (what exporters emit for 3-D inputs)."""
        wt = g.const(name + ".weight_t", np.ascontiguousarray(np32(w).T))
        mm = g.node("MatMul", [x, wt], out + "_mm", name=name + ".matmul")
        return g.node("Add", [mm, g.const(name + ".bias", np32(b))], out, name=name + ".add")

    def layer_graph(self, g, p, layer, x):
        D, H, T = self.D, self.HEADS, self.T
        hd = D // H
        a = layer.self_attn
        w, b = a.in_proj_weight, a.in_proj_bias
        heads = g.const(p + ".heads_shape", np.array([1, T, H, hd], dtype=np.int64))
        qkv = {}
        for k, name in enumerate("qkv"):
            y = self.linear(g, "%s.%s_proj" % (p, name), w[k * D:(k + 1) * D],
                            b[k * D:(k + 1) * D], x, "%s_%s" % (p, name))
            r = g.node("Reshape", [y, heads], "%s_%s_heads" % (p, name))
            perm = [0, 2, 3, 1] if name == "k" else [0, 2, 1, 3]   # k arrives transposed
            qkv[name] = g.node("Transpose", [r], "%s_%s_t" % (p, name), {"perm": perm})
        s = g.node("MatMul", [qkv["q"], qkv["k"]], p + "_scores")
        scale = g.const(p + ".scale", np.array(1.0 / np.sqrt(hd), dtype=np.float32))
        s = g.node("Mul", [s, scale], p + "_scaled")
        pr = g.node("Softmax", [s], p + "_probs", {"axis": -1})
        ctx = g.node("MatMul", [pr, qkv["v"]], p + "_ctx")
        ctx = g.node("Transpose", [ctx], p + "_ctx_t", {"perm": [0, 2, 1, 3]})
        ctx = g.node("Reshape", [ctx, g.const(p + ".model_shape",
                                               np.array([1, T, D], dtype=np.int64))],
                     p + "_ctx_r")
        att = self.linear(g, p + ".out_proj", a.out_proj.weight, a.out_proj.bias, ctx,
                          p + "_att")
        h = g.node("Add", [x, att], p + "_res1")
        h = g.node("LayerNormalization", [h, g.const(p + ".norm1.weight", np32(layer.norm1.weight)),
                                          g.const(p + ".norm1.bias", np32(layer.norm1.bias))],
                   p + "_ln1", {"epsilon": layer.norm1.eps})
        f = self.linear(g, p + ".linear1", layer.linear1.weight, layer.linear1.bias, h, p + "_ff1")
        f = g.unary("Relu", f, p + "_ff1_relu")
        f = self.linear(g, p + ".linear2", layer.linear2.weight, layer.linear2.bias, f, p + "_ff2")
        h2 = g.node("Add", [h, f], p + "_res2")
        return g.node("LayerNormalization",
                      [h2, g.const(p + ".norm2.weight", np32(layer.norm2.weight)),
                       g.const(p + ".norm2.bias", np32(layer.norm2.bias))],
                      p + "_out", {"epsilon": layer.norm2.eps})

    def graph(self, g):
        g.input("ids", [1, self.T], "i64")
        e = g.node("Gather", [g.const("emb.weight", np32(self.emb.weight)), "ids"], "tok_emb")
        pos = np32(self.pos(torch.arange(self.T)))[None]      # the positions are static
        x = g.node("Add", [e, g.const("pos.table", pos)], "x0")
        for i, layer in enumerate(self.layers):
            x = self.layer_graph(g, "layers.%d" % i, layer, x)
        g.node("ReduceMean", [x], "pooled", {"axes": [1], "keepdims": 0})
        g.gemm("fc", self.fc, "pooled", "logits")
        g.output("logits", [1, self.CLASSES])


# ====================================================================== registry
def digit_input(d, shape):
    return digit_image(d).reshape(shape)


EXAMPLES = [
    # name, class, seed, description, input builder(s), input note
    ("mlp", MLP, 1, "MNIST MLP 784-512-256-10, ReLU, Dropout (Gemm transB=1)",
     lambda: {"x": digit_input("7", (1, 784))}, "synthetic digit 7, flattened"),
    ("lenet5", LeNet5, 2, "LeNet-5: conv6 5x5 pad2, tanh, avgpool, conv16 5x5, tanh, avgpool, "
     "fc120-fc84-fc10 (tanh)", lambda: {"x": digit_input("2", (1, 1, 28, 28))},
     "synthetic digit 2"),
    ("mnist_cnn", MnistCNN, 3, "MNIST CNN: normalize (Sub/Div), conv32 3x3, maxpool, conv64 "
     "3x3, maxpool, fc128, fc10, Softmax", lambda: {"x": digit_input("4", (1, 1, 28, 28))},
     "synthetic digit 4"),
    ("cifar_cnn", CifarCNN, 4, "CIFAR CNN: per-channel normalize, conv32, conv64, mixed block "
     "(1x1 conv and, in parallel, depthwise 3x3 + ReLU6(Clip) + 1x1 conv; Concat), max pools, fc64, Dropout, "
     "fc10", lambda: {"x": cifar_like_image(4)[None]}, "synthetic 32x32 RGB scene"),
    ("gan_generator", GanGenerator, 5, "GAN generator MLP 100-128-256-512-1024-784, "
     "LeakyReLU 0.01, tanh, Reshape to an image", None, "z ~ N(0, 1)"),
    ("dcgan_generator", DCGANGenerator, 6, "DCGAN generator: Reshape z to 100x1x1, 4 "
     "ConvTranspose (4x4; stride 1 then 2) with BatchNorm + ReLU, tanh", None, "z ~ N(0, 1)"),
    ("ppo_policy", PPOPolicy, 7, "PPO CartPole actor-critic (SB3 MlpPolicy layout): policy and "
     "value MLPs 4-64-64 tanh (one layer as MatMul+Add), logits, value, Softmax probs",
     lambda: {"obs": np.array([[0.02, -0.31, 0.04, 0.52]], dtype=np.float32)},
     "a CartPole state"),
    ("resnet_small", ResNetSmall, 8, "Small ResNet: stem conv-BN-ReLU, 3 BasicBlocks (16, 32 "
     "s2, 64 s2 with 1x1 conv+BN downsample, last one with squeeze-excite Sigmoid/Mul, Identity "
     "shortcut in the first), GlobalAveragePool, Flatten, Gemm", lambda: {
         "x": cifar_like_image(8)[None]}, "synthetic 32x32 RGB scene"),
    ("embedding_bag_classifier", EmbeddingBagClassifier, 9, "Text classifier: Embedding "
     "2000x64 (Gather of i64 token ids), mean over 64 tokens (ReduceMean), Linear 64-5",
     lambda: {"ids": token_ids(9, 64, 2000)}, "64 random token ids (i64), incl. ids 0 and 1999"),
    ("transformer_classifier", TransformerClassifier, 10, "Transformer text classifier: "
     "Embedding 1000x64 + learned positional embedding (32 positions, folded to a constant), "
     "2 post-norm TransformerEncoderLayer blocks (d_model 64, 2 heads, FF 128, ReLU) written "
     "as MatMul/Reshape/Transpose/Softmax/LayerNormalization, mean pooling, Linear 64-3",
     lambda: {"ids": token_ids(10, 32, 1000)}, "32 random token ids (i64), incl. ids 0 and 999"),
    ("lstm_classifier", LSTMClassifier, 11, "Sentiment-style classifier: Embedding 10000x64, "
     "LSTM 128 over 100 tokens (ONNX LSTM, seq-first via Transpose), last hidden state, "
     "Linear 128-1, sigmoid", lambda: {"ids": token_ids(11, 100, 10000)},
     "100 random token ids (i64), incl. ids 0 and 9999"),
    ("rnn_classifier", RNNClassifier, 12, "Embedding 2000x32, simple tanh RNN 64 over 50 "
     "tokens, last hidden state, Linear 64-3", lambda: {"ids": token_ids(12, 50, 2000)},
     "50 random token ids (i64), incl. ids 0 and 1999"),
    ("gru_classifier", GRUClassifier, 13, "Embedding 5000x64, GRU 64 over 60 tokens "
     "(linear_before_reset=1), last hidden state, Linear 64-4",
     lambda: {"ids": token_ids(13, 60, 5000)}, "60 random token ids (i64), incl. ids 0 and 4999"),
    ("bilstm_tagger", BiLSTMTagger, 14, "Sequence tagger: Embedding 3000x32, bidirectional "
     "LSTM 32, per-token Linear 64-5 over the concatenated directions (Transpose/Reshape/Gemm)",
     lambda: {"ids": token_ids(14, 40, 3000)}, "40 random token ids (i64), incl. ids 0 and 2999"),
    ("lstm_forecaster", LSTMForecaster, 15, "Time-series regression: LSTM 32 over 48 f32 "
     "steps, last hidden state, Linear 32-1", lambda: {"series": sine_series(15, 48)},
     "two sines plus noise, 48 steps"),
]


def make_model(name, cls, seed, make_inputs):
    """The seeded eval-mode module of an example and its sample inputs (numpy)."""
    torch.manual_seed(seed)
    model = cls()
    if make_inputs is None:   # generators: latent vector from the same seeded stream
        inputs = {"z": torch.randn(1, 100).numpy()}
    else:
        inputs = make_inputs()
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        shape = next(iter(inputs.values())).shape
        calib = torch.randn((64,) + tuple(shape[1:]))
        if name == "resnet_small":
            calib = calib * 0.25 + 0.5         # image-like range
        randomize_bn(model, calib, seed + 1000)
    model.eval()
    return model, inputs


def build(name, cls, seed, desc, make_inputs):
    model, inputs = make_model(name, cls, seed, make_inputs)
    g = Graph(name, doc="Kiln example '%s': %s. Seeded random weights (torch.manual_seed(%d), "
              "PyTorch default init), not trained; generated by tools/gen_examples.py."
              % (name, desc, seed))
    model.graph(g)
    with torch.no_grad():
        outs = model(*[torch.from_numpy(v.copy()) for v in inputs.values()])
    if not isinstance(outs, tuple):
        outs = (outs,)
    goldens = {d["name"]: np32(t) for d, t in zip(g.mb.outputs, outs)}
    g.mb.save_case(os.path.join(OUT, name), inputs, goldens)
    params = sum(p.numel() for p in model.parameters())
    ops = sorted({n["op"] for n in g.mb.nodes})
    return params, g.mb.inputs, g.mb.outputs, ops


def shape_str(decls):
    return ", ".join("`%s` %s" % (d["name"], "x".join(map(str, d["shape"]))) for d in decls)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name, *_ in EXAMPLES:
        if os.path.isdir(os.path.join(OUT, name)):
            shutil.rmtree(os.path.join(OUT, name))
    rows = []
    for name, cls, seed, desc, make_inputs, in_note in EXAMPLES:
        params, ins, outs, ops = build(name, cls, seed, desc, make_inputs)
        rows.append("| `%s` | %s | %s | %s | %s | %s | %s |" % (
            name, desc, shape_str(ins), in_note, shape_str(outs), "{:,}".format(params),
            ", ".join(ops)))
        print("%-16s %9d params" % (name, params))
    readme = """# Kiln example models

Generated by `tools/gen_examples.py` (run `/usr/bin/python3 tools/gen_examples.py`; it deletes and
recreates these directories). Each directory holds `model.json` (Kiln model format, see
`docs/model-format.md`), `weights.bin` (initializers with more than 64 elements), `inputs/<name>.npy`
(one sample input) and `golden/<name>.npy` (what PyTorch computes for that input, float32).
`model.onnx` is the same module exported to ONNX by `tools/export_onnx.py` (run after this
script); the test suite imports it (`kiln import`) and checks it against the same golden.

The weights are **seeded random, not trained**: each model is a PyTorch `nn.Module` built after
`torch.manual_seed(seed)` with PyTorch's default initialisation, run in `eval()` mode. BatchNorm
layers get non-trivial statistics (batch statistics of a random calibration batch, then randomly
perturbed) and random affine parameters, so they are not identities. The outputs are therefore
meaningless as predictions; they are exact references for the compiler. The Kiln graph mirrors
each module's `forward()` node by node; `tools/check_goldens.py` re-evaluates every graph with an
independent numpy reference and compares it with the golden (rtol 1e-4, atol 1e-5).

Sample inputs: the MNIST models get a synthetic hand-drawn-looking digit (anti-aliased strokes,
values in [0, 1]); the CIFAR-shaped models a synthetic 32x32 RGB scene (sky, ground, a disc, slight
noise, values in [0, 1]); the GAN generators a latent vector z ~ N(0, 1) drawn from the model's
seeded stream; the PPO policy a plausible CartPole state; the text models random token ids
(int64) that include the first and the last row of the embedding table; the forecaster two sines
plus noise. Batch size is 1 everywhere.

| name | what it is | input | sample input | outputs | params | ops |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    with open(os.path.join(OUT, "README.md"), "w", newline="\n") as f:
        f.write(readme)


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
