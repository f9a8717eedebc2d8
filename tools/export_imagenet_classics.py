#!/usr/bin/python3
"""export_imagenet_classics: ImageNet-style classic CNNs defined here in plain PyTorch (no
torchvision on this machine), seeded random weights, exported by torch.onnx with PyTorch's default
tensor names and opset, for the ONNX importer's tests.

    /usr/bin/python3 tools/export_imagenet_classics.py OUT --full      # 224x224, real widths
    /usr/bin/python3 tools/export_imagenet_classics.py OUT --reduced   # the committed CI variants

Models: resnet18, resnet50, squeezenet (1.1), shufflenet (v2), densenet (121), alexnet (with
nn.LocalResponseNorm, which exports as Pad + a 3-D AveragePool), inception (a GoogLeNet-style
stem with LRN and three inception blocks). --full builds them at ImageNet size (1000 classes,
[1, 3, 224, 224]); the weights are 5-240 MB per model, too big to commit: bench/classics.sh runs
them. --reduced keeps every architecture and op but divides the channel widths and uses a smaller
input and 10 classes, a few hundred KB each: tests/onnx/classics/ (ctest onnx_classics).
Batch-norm statistics are randomized so that folding them is exercised. Each model goes to
OUT/<name>/model.onnx with inputs/<stem>.npy and golden/<stem>.npy (PyTorch's output), as
tools/export_onnx_opsets.py; check with build/bin/test_models OUT/*.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx_opsets import file_stems  # noqa: E402


def ch(c, width):
    """A channel count scaled by width, at least 2 and even (ShuffleNet splits in halves)."""
    return max(2, int(round(c * width / 2)) * 2)


def conv_bn(cin, cout, k, stride=1, pad=0, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, c, stride):
        super().__init__()
        self.a = conv_bn(cin, c, 3, stride, 1)
        self.b = conv_bn(c, c, 3, 1, 1, relu=False)
        self.down = (conv_bn(cin, c, 1, stride, relu=False)
                     if stride != 1 or cin != c else None)

    def forward(self, x):
        s = x if self.down is None else self.down(x)
        return F.relu(self.b(self.a(x)) + s)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, c, stride):
        super().__init__()
        self.a = conv_bn(cin, c, 1)
        self.b = conv_bn(c, c, 3, stride, 1)
        self.c = conv_bn(c, c * 4, 1, relu=False)
        self.down = (conv_bn(cin, c * 4, 1, stride, relu=False)
                     if stride != 1 or cin != c * 4 else None)

    def forward(self, x):
        s = x if self.down is None else self.down(x)
        return F.relu(self.c(self.b(self.a(x))) + s)


class ResNet(nn.Module):
    def __init__(self, block, counts, width, classes):
        super().__init__()
        c0 = ch(64, width)
        self.stem = nn.Sequential(conv_bn(3, c0, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], c0
        for i, n in enumerate(counts):
            c = ch(64 * 2 ** i, width)
            for j in range(n):
                layers.append(block(cin, c, 2 if j == 0 and i > 0 else 1))
                cin = c * block.expansion
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------------------ SqueezeNet
class Fire(nn.Module):
    def __init__(self, cin, s, e):
        super().__init__()
        self.s = nn.Conv2d(cin, s, 1)
        self.e1 = nn.Conv2d(s, e, 1)
        self.e3 = nn.Conv2d(s, e, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.s(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1: ceil_mode max pools, Fire modules, dropout, a conv classifier."""

    def __init__(self, width, classes):
        super().__init__()
        w = lambda c: ch(c, width)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, w(64), 3, 2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(w(64), w(16), w(64)), Fire(w(128), w(16), w(64)),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(w(128), w(32), w(128)), Fire(w(256), w(32), w(128)),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(w(256), w(48), w(192)), Fire(w(384), w(48), w(192)),
            Fire(w(384), w(64), w(256)), Fire(w(512), w(64), w(256)))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(w(512), classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# ------------------------------------------------------------------------------ ShuffleNet
def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.left = nn.Sequential(conv_bn(cin, cin, 3, stride, 1, groups=cin, relu=False),
                                      conv_bn(cin, half, 1))
        right_in = cin if stride > 1 else half
        self.right = nn.Sequential(conv_bn(right_in, half, 1),
                                   conv_bn(half, half, 3, stride, 1, groups=half, relu=False),
                                   conv_bn(half, half, 1))

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat((a, self.right(b)), 1)
        else:
            out = torch.cat((self.left(x), self.right(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2 1.0x: stages [116, 232, 464] with [4, 8, 4] units, last conv 1024."""

    def __init__(self, width, classes):
        super().__init__()
        stages = [ch(c, width) for c in (24, 116, 232, 464, 1024)]
        self.stem = nn.Sequential(conv_bn(3, stages[0], 3, 2, 1), nn.MaxPool2d(3, 2, 1))
        units, cin = [], stages[0]
        for cout, n in zip(stages[1:4], (4, 8, 4)):
            for j in range(n):
                units.append(ShuffleUnit(cin, cout, 2 if j == 0 else 1))
                cin = cout
        self.units = nn.Sequential(*units)
        self.last = conv_bn(cin, stages[4], 1)
        self.fc = nn.Linear(stages[4], classes)

    def forward(self, x):
        x = self.last(self.units(self.stem(x)))
        return self.fc(x.mean([2, 3]))


# -------------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                               nn.Conv2d(cin, bn_size * growth, 1, bias=False),
                               nn.BatchNorm2d(bn_size * growth), nn.ReLU(inplace=True),
                               nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


class DenseNet(nn.Module):
    """DenseNet-121: growth 32, blocks [6, 12, 24, 16], BN-ReLU-Conv, transitions that halve."""

    def __init__(self, width, classes):
        super().__init__()
        growth, c = ch(32, width), ch(64, width)
        layers = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, 2, 1)]
        for i, n in enumerate((6, 12, 24, 16)):
            for _ in range(n):
                layers.append(DenseLayer(c, growth, 4))
                c += growth
            if i < 3:
                layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                           nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


# --------------------------------------------------------------------------------- AlexNet
class AlexNet(nn.Module):
    """The original AlexNet layout (Krizhevsky 2012, one tower) with LocalResponseNorm after the
    first two convolutions."""

    def __init__(self, width, classes, hidden):
        super().__init__()
        w = lambda c: ch(c, width)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, w(96), 11, 4, 2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(w(96), w(256), 5, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(w(256), w(384), 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w(384), w(384), 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w(384), w(256), 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.LazyLinear(hidden), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ------------------------------------------------------------------------------- Inception
class InceptionBlock(nn.Module):
    """GoogLeNet's inception module: 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool 3x3 s1 - 1x1, concat."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU(inplace=True))
        self.b3 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU(inplace=True))
        self.b5 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU(inplace=True))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1),
                                nn.ReLU(inplace=True))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class Inception(nn.Module):
    """GoogLeNet's stem (7x7/2, maxpool, LRN, 1x1, 3x3, LRN, maxpool), inception 3a, 3b, a
    ceil_mode max pool, inception 4a, global average pool, dropout, linear."""

    def __init__(self, width, classes):
        super().__init__()
        w = lambda c: ch(c, width)  # noqa: E731
        self.stem = nn.Sequential(
            nn.Conv2d(3, w(64), 7, 2, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0),
            nn.Conv2d(w(64), w(64), 1), nn.ReLU(inplace=True),
            nn.Conv2d(w(64), w(192), 3, padding=1), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0), nn.MaxPool2d(3, 2, ceil_mode=True))
        self.i3a = InceptionBlock(w(192), w(64), w(96), w(128), w(16), w(32), w(32))
        self.i3b = InceptionBlock(w(256), w(128), w(128), w(192), w(32), w(96), w(64))
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.i4a = InceptionBlock(w(480), w(192), w(96), w(208), w(16), w(48), w(64))
        self.fc = nn.Sequential(nn.Dropout(0.4), nn.Linear(w(512), classes))

    def forward(self, x):
        x = self.i4a(self.pool(self.i3b(self.i3a(self.stem(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------------------ the models
# name -> (constructor(width, classes), reduced width, reduced input size); full: width 1, 224
MODELS = {
    "resnet18": (lambda w, k: ResNet(BasicBlock, (2, 2, 2, 2), w, k), 1 / 16, 64),
    "resnet50": (lambda w, k: ResNet(Bottleneck, (3, 4, 6, 3), w, k), 1 / 16, 64),
    "squeezenet": (SqueezeNet, 1 / 8, 64),
    "shufflenet": (ShuffleNetV2, 1 / 8, 64),
    "densenet": (DenseNet, 1 / 16, 64),
    "alexnet": (lambda w, k: AlexNet(w, k, 4096 if w == 1 else 64), 1 / 16, 127),
    "inception": (Inception, 1 / 8, 64),
}


def randomize_bn(model, gen):
    """Random running statistics and affine parameters (fresh BatchNorm2d is an identity)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def export(out, name, full):
    make, red_width, red_size = MODELS[name]
    width, size, classes = (1.0, 224, 1000) if full else (red_width, red_size, 10)
    torch.manual_seed(0)
    model = make(width, classes)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model(x)  # materializes LazyLinear
        randomize_bn(model, torch.Generator().manual_seed(2))
        model.eval()
        y = model(x)
        buf = io.BytesIO()
        torch.onnx.export(model, (x,), buf)
    proto = onnx.load_from_string(buf.getvalue())
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(d, "golden"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(proto.SerializeToString(deterministic=True))
    inits = {t.name for t in proto.graph.initializer}
    ins = [i.name for i in proto.graph.input if i.name not in inits]
    outs = [o.name for o in proto.graph.output]
    np.save(os.path.join(d, "inputs", file_stems(ins)[0] + ".npy"), x.numpy())
    np.save(os.path.join(d, "golden", file_stems(outs)[0] + ".npy"), y.numpy())
    params = sum(p.numel() for p in model.parameters())
    print("%-28s %-10s input %s params %d, opset %d, %s -> %s" %
          (d, "full" if full else "reduced", list(x.shape), params,
           proto.opset_import[0].version, ins, outs))


def main(argv):
    torch.set_num_threads(1)
    args = argv[1:]
    full = "--full" in args
    if full == ("--reduced" in args) or len(args) < 2:
        sys.exit("usage: export_imagenet_classics.py OUT --full|--reduced [name ...]")
    args = [a for a in args if a not in ("--full", "--reduced")]
    out, names = args[0], args[1:] or list(MODELS)
    for name in names:
        export(out, name, full)


if __name__ == "__main__":
    toolcli.check(min_args=1, flags=("--full", "--reduced"))
    main(sys.argv)
