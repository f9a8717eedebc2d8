#!/usr/bin/python3
"""Writes tests/state/lstm: a streaming LSTM (one frame per call, h and c kept as states in the
model's "states", initial values from initializers) and PyTorch's full-sequence run as goldens.
  model.json          x [1, 1, I] -> y [1, 1, 1, H]; states h, c (next: h_out, c_out)
  inputs/x.npy        all T frames stacked, [T, 1, I] (tests/emu/state_harness.c splits them)
  frames/x.T.npy      frame t alone (the `kiln build` executable takes a sequence of files)
  golden/y.npy        torch.nn.LSTM over the whole sequence from (h0, c0): [T, 1, 1, H]
  golden/y.T.npy      its step t
Run with Debian's /usr/bin/python3 (torch, numpy)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import os
import sys

import numpy as np
import torch

toolcli.check(max_args=1)
T, I, H = 6, 5, 8
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests",
                                                            "state", "lstm")
torch.manual_seed(12)
lstm = torch.nn.LSTM(I, H)
x = torch.randn(T, 1, I)
h0, c0 = torch.randn(1, 1, H) * 0.5, torch.randn(1, 1, H) * 0.5
with torch.no_grad():
    y, _ = lstm(x, (h0, c0))

# torch gate blocks i, f, g, o -> ONNX i, o, f, c
order = [0, 3, 1, 2]


def gates(w):
    return np.concatenate([w[k * H:(k + 1) * H] for k in order], axis=0)


W = gates(lstm.weight_ih_l0.detach().numpy())[None]
R = gates(lstm.weight_hh_l0.detach().numpy())[None]
B = np.concatenate([gates(lstm.bias_ih_l0.detach().numpy()),
                    gates(lstm.bias_hh_l0.detach().numpy())])[None]


def init(name, a):
    a = np.asarray(a, np.float32)
    return {"name": name, "dtype": "f32", "shape": list(a.shape),
            "data": [float(v) for v in a.ravel()]}


model = {
    "format": "kiln-model", "version": 1, "name": "streaming_lstm",
    "doc": "tools/gen_state_tests.py: one frame per call, LSTM state kept across calls",
    "inputs": [{"name": "x", "dtype": "f32", "shape": [1, 1, I]},
               {"name": "h", "dtype": "f32", "shape": [1, 1, H]},
               {"name": "c", "dtype": "f32", "shape": [1, 1, H]}],
    "outputs": [{"name": "y", "dtype": "f32", "shape": [1, 1, 1, H]},
                {"name": "h_out"}, {"name": "c_out"}],
    "initializers": [init("W", W), init("R", R), init("B", B), init("h0", h0), init("c0", c0)],
    "nodes": [{"name": "lstm", "op": "LSTM", "inputs": ["x", "W", "R", "B", "", "h", "c"],
               "outputs": ["y", "h_out", "c_out"], "attrs": {"hidden_size": H}}],
    "states": [{"input": "h", "next": "h_out", "init": "h0"},
               {"input": "c", "next": "c_out", "init": "c0"}],
}
for d in ("inputs", "frames", "golden"):
    os.makedirs(os.path.join(out, d), exist_ok=True)
with open(os.path.join(out, "model.json"), "w") as f:
    json.dump(model, f)
    f.write("\n")
xs, ys = x.numpy().astype(np.float32), y.numpy().astype(np.float32)[:, None]  # [T, 1, 1, H]
np.save(os.path.join(out, "inputs", "x.npy"), xs)
np.save(os.path.join(out, "golden", "y.npy"), ys)
for t in range(T):
    np.save(os.path.join(out, "frames", "x.%d.npy" % t), xs[t:t + 1])
    np.save(os.path.join(out, "golden", "y.%d.npy" % t), ys[t:t + 1])
