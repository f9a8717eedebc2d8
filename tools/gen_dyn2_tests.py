#!/usr/bin/python3
"""A tiny encoder with two run-time dims, batch and sequence (`--max-dim batch=4,seq=12`), and
PyTorch's outputs at several (batch, seq) pairs, for tests/test_dyn.c, tests/test_cli.sh and
tests/test_emulation.sh (tests/dyn/enc2):
  model.onnx      torch.onnx.export with dynamic_axes {0: "batch", 1: "seq"}:
                  ids, mask i64 [batch, seq] -> logits f32 [batch, seq, C], tags i64 [batch, seq],
                  pooled f32 [batch, C]: token + position embedding (positions arange(seq)),
                  LayerNorm, 2-head self-attention over the sequence with a padding mask
                  ([B, H, S, S] scores), residual + LayerNorm, a per-token head applied to the
                  [batch * seq, D] reshape of the states (batch and seq merged and split again),
                  ArgMax over the classes, ReduceMax over the sequence
  B<b>S<s>/*.npy  inputs and torch's outputs at batch b, sequence s (PAIRS)
  inputs/, golden/ the pairs' inputs and outputs concatenated in PAIRS order, listed in
                  inputs.txt, outputs.txt (tests/emu/dyn2_harness.c)
Run with Debian's /usr/bin/python3 (torch, numpy); re-running reproduces every file."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import math
import os
import sys

import numpy as np
import torch
from torch import nn

V, D, H, C, MAX_B, MAX_S = 20, 16, 2, 5, 4, 12
DH = D // H
PAIRS = [(1, 1), (2, 5), (1, 12), (3, 8), (4, 3), (4, 12)]


class Enc2(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, D), nn.Embedding(MAX_S, D)
        self.ln0, self.ln1 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.head = nn.Linear(D, C)

    def forward(self, ids, mask):
        b, s = ids.shape[0], ids.shape[1]
        x = self.ln0(self.tok(ids) + self.pos(torch.arange(s)))
        ext = ((1.0 - mask.to(torch.float32)) * -10000.0)[:, None, None, :]  # [B, 1, 1, S]
        q, k, v = (f(x).view(b, s, H, DH).transpose(1, 2) for f in (self.q, self.k, self.v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(DH) + ext  # [B, H, S, S]
        ctx = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, D)
        h = self.ln1(x + self.o(ctx))
        logits = self.head(h.reshape(b * s, D)).view(b, s, C)
        return logits, logits.argmax(-1), logits.amax(1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "dyn", "enc2")
    torch.manual_seed(2040)
    model = Enc2().eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    rng = np.random.default_rng(40)
    names_in, names_out = ["ids", "mask"], ["logits", "tags", "pooled"]
    os.makedirs(out, exist_ok=True)
    ids = torch.from_numpy(rng.integers(0, V, (MAX_B, MAX_S)).astype(np.int64))
    mask = torch.ones(MAX_B, MAX_S, dtype=torch.int64)
    axes = {"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch", 1: "seq"}, "tags": {0: "batch", 1: "seq"},
            "pooled": {0: "batch"}}
    torch.onnx.export(model, (ids, mask), os.path.join(out, "model.onnx"), opset_version=17,
                      input_names=names_in, output_names=names_out, dynamic_axes=axes)
    cat = {n: [] for n in names_in + names_out}
    for b, s in PAIRS:
        ids = rng.integers(0, V, (b, s)).astype(np.int64)
        mask = np.ones((b, s), dtype=np.int64)
        for r in range(b):  # padding at the end of some rows (never the whole row)
            mask[r, s - min(r, s - 1):] = 0
        with torch.no_grad():
            res = model(torch.from_numpy(ids), torch.from_numpy(mask))
        d = os.path.join(out, "B%dS%d" % (b, s))
        os.makedirs(d, exist_ok=True)
        for name, a in list(zip(names_in, (ids, mask))) + [(n, t.numpy()) for n, t in
                                                           zip(names_out, res)]:
            np.save(os.path.join(d, name + ".npy"), a)
            cat[name].append(a.ravel())
    for sub, names in (("inputs", names_in), ("golden", names_out)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name in names:
            np.save(os.path.join(out, sub, name + ".npy"), np.concatenate(cat[name]))
        txt = "inputs.txt" if sub == "inputs" else "outputs.txt"  # the QEMU harness's file order
        with open(os.path.join(out, txt), "w") as f:
            f.write("".join("%s/%s.npy\n" % (sub, name) for name in names))


toolcli.check(max_args=1)
main()
