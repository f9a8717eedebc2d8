#!/usr/bin/python3
"""train_digits: small models trained on scikit-learn's handwritten digits (real data, offline).

Trains, on tools/digits_data.py's fixed split, an MLP, a small CNN and an LSTM that reads the 8
rows of an image as a sequence, and writes each as a Kiln example (examples/digits_<model>/,
like tools/gen_examples.py: model.json, weights.bin, inputs/x.npy = the first test image,
golden/logits.npy = what PyTorch computes for it, and model.onnx as tools/export_onnx.py writes). The split's test set and a calibration set
(the first 200 training images) go to tests/digits/ as .npy:

    test_x.npy  f32 [360, 1, 8, 8]     test_y.npy  i64 [360]
    calib/x.npy f32 [200, 1, 8, 8]     (samples for `kiln ... --quantize=int8 --calibrate`)

and tests/digits/accuracy.json records each model's float test accuracy as PyTorch computes it.
The inputs of the MLP are the same images flattened to [1, 64]; the LSTM's are [1, 8, 8]
(batch, rows, columns). Deterministic: seeded, one thread.

Run with Debian's Python (it has torch):  /usr/bin/python3 tools/train_digits.py
"""

import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_data import load_split  # noqa: E402
from export_onnx import write_onnx  # noqa: E402
from gen_examples import Graph, np32, recurrent_node  # noqa: E402
from kiln_model import save_npy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIB_COUNT = 200


class DigitsMLP(nn.Module):
    SHAPE = (1, 64)

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def graph(self, g):
        g.input("x", [1, 64])
        g.gemm("fc1", self.fc1, "x", "fc1_out")
        g.unary("Relu", "fc1_out", "relu1")
        g.gemm("fc2", self.fc2, "relu1", "fc2_out")
        g.unary("Relu", "fc2_out", "relu2")
        g.gemm("fc3", self.fc3, "relu2", "logits")
        g.output("logits", [1, 10])


class DigitsCNN(nn.Module):
    SHAPE = (1, 1, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.pw = nn.Conv2d(32, 32, 1)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.clamp(self.dw(x), 0, 6)
        x = F.max_pool2d(F.relu(self.pw(x)), 2)
        return self.fc(torch.flatten(x, 1))

    def graph(self, g):
        g.input("x", [1, 1, 8, 8])
        g.conv("conv1", self.conv1, "x", "conv1_out")
        g.unary("Relu", "conv1_out", "relu1")
        g.conv("conv2", self.conv2, "relu1", "conv2_out")
        g.unary("Relu", "conv2_out", "relu2")
        g.unary("MaxPool", "relu2", "pool1", {"kernel_shape": [2, 2], "strides": [2, 2]})
        g.conv("dw", self.dw, "pool1", "dw_out")
        g.node("Clip", ["dw_out", g.const("six_lo", np.array(0, np.float32)),
                        g.const("six_hi", np.array(6, np.float32))], "relu6")
        g.conv("pw", self.pw, "relu6", "pw_out")
        g.unary("Relu", "pw_out", "relu3")
        g.unary("MaxPool", "relu3", "pool2", {"kernel_shape": [2, 2], "strides": [2, 2]})
        g.unary("Flatten", "pool2", "flat", {"axis": 1})
        g.gemm("fc", self.fc, "flat", "logits")
        g.output("logits", [1, 10])


class DigitsLSTM(nn.Module):
    """The 8 rows of an image as 8 steps of 8 pixels; last hidden state -> Linear."""
    SHAPE = (1, 8, 8)
    HIDDEN = 32

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, self.HIDDEN, batch_first=True)
        self.fc = nn.Linear(self.HIDDEN, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], 8, 8)
        _, (h, _) = self.rnn(x)
        return self.fc(h[0])

    def graph(self, g):
        g.input("x", [1, 8, 8])
        g.node("Transpose", ["x"], "x_t", {"perm": [1, 0, 2]})
        recurrent_node(g, "lstm", self.rnn, "x_t", ["lstm_y", "lstm_h", "lstm_c"])
        g.node("Squeeze", ["lstm_h", g.const("axis0", np.array([0], np.int64))], "h")
        g.gemm("fc", self.fc, "h", "logits")
        g.output("logits", [1, 10])


MODELS = [("mlp", DigitsMLP, 21, 150), ("cnn", DigitsCNN, 22, 60), ("lstm", DigitsLSTM, 23, 120)]


def train(model, x, y, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def main():
    torch.set_num_threads(1)
    train_x, train_y, test_x, test_y = load_split()
    data_dir = os.path.join(ROOT, "tests", "digits")
    save_npy(os.path.join(data_dir, "test_x.npy"), test_x)
    save_npy(os.path.join(data_dir, "test_y.npy"), test_y, "i64")
    save_npy(os.path.join(data_dir, "calib", "x.npy"), train_x[:CALIB_COUNT])
    tx, ty = torch.from_numpy(train_x), torch.from_numpy(train_y)
    accuracy = {}
    for name, cls, seed, epochs in MODELS:
        torch.manual_seed(seed)
        model = cls()
        train(model, tx, ty, epochs, seed)
        with torch.no_grad():
            pred = model(torch.from_numpy(test_x)).argmax(1).numpy()
        acc = float((pred == test_y).mean())
        accuracy["digits_" + name] = round(acc * 100, 2)
        full = "digits_" + name
        g = Graph(full, doc="Kiln example '%s': trained on scikit-learn's digits (8x8, 10 classes) "
                  "by tools/train_digits.py (%d epochs, Adam, seed %d), fixed split of "
                  "tools/digits_data.py; float test accuracy %.2f%% (360 images). Input: one "
                  "image, pixels / 16, shape %s." % (full, epochs, seed, acc * 100, list(cls.SHAPE)))
        model.graph(g)
        x0 = test_x[:1].reshape(cls.SHAPE)
        with torch.no_grad():
            logits = model(torch.from_numpy(x0.copy()))
        d = os.path.join(ROOT, "examples", full)
        g.mb.save_case(d, {"x": x0}, {"logits": np32(logits)})
        with open(os.path.join(d, "model.json"), encoding="ascii") as f:
            m = json.load(f)
        write_onnx(model, (torch.from_numpy(x0.copy()),), d, full, torch.onnx.TrainingMode.EVAL,
                   m, tool="tools/train_digits.py")
        print("%-12s float test accuracy %.2f%%" % (full, acc * 100))
    with open(os.path.join(data_dir, "accuracy.json"), "w", newline="\n") as f:
        json.dump({"float_test_accuracy_percent": accuracy, "test_count": len(test_y)}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    toolcli.check(max_args=0)
    main()
