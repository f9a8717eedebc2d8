#!/usr/bin/python3
"""VGG16 (torchvision's configuration "D", written out: no torchvision here) with seeded weights,
exported to ONNX for Kiln's big-weights bench and its transfer-learning example.

  vgg16.py full DIR        the 138 M-parameter ImageNet VGG16 at 1x3x224x224 (553 MB of f32
                           weights, inside model.onnx): bench/big_weights.sh. Generated on demand
                           into /tmp, never committed.
  vgg16.py transfer DIR [--width W] [--size S] [--classes C]
                           a transfer model: VGG16's 13 conv layers (channels 64..512 divided by
                           W, frozen "pretrained" features) and a new head (AdaptiveAvgPool 1x1,
                           Linear to C classes) on an SxS image. Defaults W=1, S=224, C=10 (the
                           bench size, bench/big_weights.sh); the seed-model example
                           examples/vgg16_transfer is W=16, S=32, C=10 (the default DIR
                           when none is given).
Each DIR gets model.onnx, inputs/x.npy (and inputs.txt) and golden/<output>.npy (PyTorch's).
Run with Debian's /usr/bin/python3 (torch, numpy, onnx)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_case  # noqa: E402

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def features(width):
    layers, c = [], 3
    for v in CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v // width, 3, padding=1), nn.ReLU(inplace=True)]
            c = v // width
    return nn.Sequential(*layers), c


class VGG16(nn.Module):
    """torchvision.models.vgg16 without dropout (inference): features, 7x7 average pool,
    classifier 25088 -> 4096 -> 4096 -> 1000."""

    def __init__(self):
        super().__init__()
        self.features, c = features(1)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(c * 49, 4096), nn.ReLU(True),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Transfer(nn.Module):
    """Frozen VGG16 features, a new head: global average pool, one Linear to the classes."""

    def __init__(self, width, classes):
        super().__init__()
        self.features, c = features(width)
        for p in self.features.parameters():
            p.requires_grad = False
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


def init(m, seed):
    """Seeded He-style weights (the scale keeps activations finite through 16 layers)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.01)


def export(model, size, out, output):
    model.eval()
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y = model(x)
    seed_case.save(out, model, [("x", x)], [(output, y)])
    n = sum(p.numel() for p in model.parameters())
    print("%s: %d parameters (%d bytes), output %s %s" % (out, n, 4 * n, output, list(y.shape)))


def main(argv):
    if len(argv) == 1:  # the seed-model example's configuration
        argv = [argv[0], "transfer", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                  "examples", "vgg16_transfer"),
                "--width", "16", "--size", "32"]
    if len(argv) < 3 or argv[1] not in ("full", "transfer"):
        sys.exit(__doc__)
    kind, out = argv[1], argv[2]
    opts = dict(zip(argv[3::2], argv[4::2]))
    torch.manual_seed(0)
    if kind == "full":
        model = VGG16()
        init(model, 2026)
        export(model, 224, out, "logits")
    else:
        width, size = int(opts.get("--width", 1)), int(opts.get("--size", 224))
        model = Transfer(width, int(opts.get("--classes", 10)))
        init(model, 2027)
        export(model, size, out, "logits")


if __name__ == "__main__":
    toolcli.check(max_args=2, options=("--width", "--size", "--classes"))
    main(sys.argv)
