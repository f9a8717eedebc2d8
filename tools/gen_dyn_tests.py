#!/usr/bin/python3
"""A model with a run-time sequence length (`--max-dim seq=16`) and PyTorch's outputs at several
lengths, for tests/test_dyn.c (tests/dyn/xattn):
  model.json + weights.bin  tok, pos i64 [1, "seq"], mask f32 [1, 1, "seq", M], mem f32 [1, M, D]
                            -> logits, probs f32 [1, seq, V]: token + position embedding,
                            LayerNorm, queries of run-time length attending over a fixed memory
                            (cross-attention, fused into KilnAttention), MLP with GELU, Concat and
                            Slice on the feature axis, a Where, the head and a Softmax
  L<n>/*.npy                inputs and torch's outputs at length n
  tok17.npy                 a length past the maximum
  ../batch3_x.npy, _y.npy   an input of tests/onnx/dynamic_batch.onnx at batch 3 and its Relu
and tests/dyn/enc, a BERT-style QA encoder layer (self-attention: keys of run-time length, a
padding mask along them): tok, pos [1, "seq"], mask [1, 1, 1, "seq"] -> span [1, seq, 2]
and tests/dyn/pool, reductions, ArgMax/ArgMin and Softmax along the run-time axis (and over a
later one) of a QA-style head: tok, pos [1, "seq"] -> the outputs named in POOL_OUTPUTS
(inputs/, golden/: the prefixes of one sequence, for tests/emu/pool_harness.c)
Run with Debian's /usr/bin/python3 (torch, numpy)."""
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

V, D, H, M, MAX = 24, 16, 2, 12, 16
DH = D // H
LENGTHS = [1, 3, 8, 13, 16]


class XAttn(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(MAX, D)
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.fc, self.proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
        self.head = nn.Linear(D, V, bias=False)

    def forward(self, tok, pos, mask, mem):
        b, s = tok.shape
        x = self.wte(tok) + self.wpe(pos)
        q = self.q(self.ln1(x)).view(b, s, H, DH).transpose(1, 2)
        k = self.k(mem).view(b, M, H, DH).transpose(1, 2)
        v = self.v(mem).view(b, M, H, DH).transpose(1, 2)
        att = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(DH)) + mask).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(b, s, D))
        x = x + self.proj(nn.functional.gelu(self.fc(self.ln2(x))))
        z = torch.cat([x, torch.relu(x)], -1)[..., 8:8 + D]
        z = torch.where(z > 0, z, 0.1 * z)
        logits = self.head(z)
        return logits, logits.softmax(-1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "dyn", "xattn")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2027)
    model = XAttn().eval()
    rng = np.random.default_rng(7)
    mem = rng.standard_normal((1, M, D)).astype(np.float32)
    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        tok = rng.integers(0, V, (1, n)).astype(np.int64)
        pos = np.arange(n, dtype=np.int64).reshape(1, n)
        # a padding mask over the memory: query row r sees the first M - (r % 3) entries
        mask = np.zeros((1, 1, n, M), np.float32)
        for r in range(n):
            mask[0, 0, r, M - (r % 3):] = -1e4
        with torch.no_grad():
            logits, probs = model(torch.from_numpy(tok), torch.from_numpy(pos),
                                  torch.from_numpy(mask), torch.from_numpy(mem))
        for name, a in (("tok", tok), ("pos", pos), ("mask", mask), ("mem", mem),
                        ("logits", logits.numpy()), ("probs", probs.numpy())):
            np.save(os.path.join(d, name + ".npy"), a)

    # one token too many: the executable's "outside [1, 16]" error
    np.save(os.path.join(out, "tok17.npy"), np.zeros((1, MAX + 1), np.int64))
    # tests/onnx/dynamic_batch.onnx (Relu of x [batch, 4]) with --max-dim batch=8, at batch 3
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.save(os.path.join(out, "..", "batch3_x.npy"), x)
    np.save(os.path.join(out, "..", "batch3_y.npy"), np.maximum(x, 0))

    blob, inits, nodes = bytearray(), [], []

    def const(name, a, dtype=np.float32):
        a = np.ascontiguousarray(np.asarray(a, dtype))
        kiln = {np.float32: "f32", np.int64: "i64"}[dtype]
        while len(blob) % 64:
            blob.append(0)
        inits.append({"name": name, "dtype": kiln, "shape": list(a.shape),
                      "external": {"path": "weights.bin", "offset": len(blob), "length": a.nbytes}})
        blob.extend(a.tobytes())
        return name

    def node(op, inputs, output, **attrs):
        n = {"name": output, "op": op, "inputs": inputs, "outputs": [output]}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    def linear(x, lin, name):
        w = const(name + ".w", lin.weight.detach().numpy().T)
        if lin.bias is None:
            return node("MatMul", [x, w], name)
        y = node("MatMul", [x, w], name + ".mm")
        return node("Add", [y, const(name + ".b", lin.bias.detach().numpy())], name)

    def ln(x, m, name):
        return node("LayerNormalization", [x, const(name + ".w", m.weight.detach().numpy()),
                                           const(name + ".b", m.bias.detach().numpy())], name,
                    epsilon=1e-5)

    const("wte", model.wte.weight.detach().numpy())
    const("wpe", model.wpe.weight.detach().numpy())
    const("heads", [0, -1, H, DH], np.int64)  # -1: the run-time length, never the maximum
    const("flat", [0, -1, D], np.int64)
    const("scale", 1.0 / math.sqrt(DH))
    const("leak", 0.1)
    const("zero", 0.0)
    const("s_start", [8], np.int64)
    const("s_end", [8 + D], np.int64)
    const("s_axes", [2], np.int64)
    x = node("Add", [node("Gather", ["wte", "tok"], "tok_emb"),
                     node("Gather", ["wpe", "pos"], "pos_emb")], "x0")
    q = node("Transpose", [node("Reshape", [linear(ln(x, model.ln1, "ln1"), model.q, "q"),
                                            "heads"], "q_h")], "q_t", perm=[0, 2, 1, 3])
    k = node("Reshape", [linear("mem", model.k, "k"), "heads"], "k_h")
    kt = node("Transpose", [k], "k_t", perm=[0, 2, 3, 1])
    v = node("Transpose", [node("Reshape", [linear("mem", model.v, "v"), "heads"], "v_h")],
             "v_t", perm=[0, 2, 1, 3])
    s = node("Mul", [node("MatMul", [q, kt], "scores"), "scale"], "scaled")
    p = node("Softmax", [node("Add", [s, "mask"], "masked")], "att", axis=-1)
    ctx = node("Transpose", [node("MatMul", [p, v], "ctx")], "ctx_t", perm=[0, 2, 1, 3])
    ctx = node("Reshape", [ctx, "flat"], "ctx_r")
    x = node("Add", [x, linear(ctx, model.o, "o")], "res1")
    f = node("Gelu", [linear(ln(x, model.ln2, "ln2"), model.fc, "fc")], "gelu")
    x = node("Add", [x, linear(f, model.proj, "proj")], "res2")
    z = node("Concat", [x, node("Relu", [x], "relu")], "cat", axis=-1)
    z = node("Slice", [z, "s_start", "s_end", "s_axes"], "sl")
    z = node("Where", [node("Greater", [z, "zero"], "pos_mask"), z,
                       node("Mul", [z, "leak"], "leaky")], "lrelu")
    node("Softmax", [linear(z, model.head, "logits")], "probs", axis=-1)
    seq = "seq"
    m = {"format": "kiln-model", "version": 1, "name": "xattn",
         "doc": "tools/gen_dyn_tests.py: cross-attention over a fixed memory, run-time length seq",
         "inputs": [{"name": "tok", "dtype": "i64", "shape": [1, seq]},
                    {"name": "pos", "dtype": "i64", "shape": [1, seq]},
                    {"name": "mask", "dtype": "f32", "shape": [1, 1, seq, M]},
                    {"name": "mem", "dtype": "f32", "shape": [1, M, D]}],
         "outputs": [{"name": "logits"}, {"name": "probs"}],
         "initializers": inits, "nodes": nodes}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, indent=0)
        f.write("\n")
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))
    write_enc(os.path.join(out, "..", "enc"))
    write_pool(os.path.join(out, "..", "pool"))


class Enc(nn.Module):
    """A BERT-style encoder layer with an extractive-QA head: self-attention over keys of the
    run-time length with a padding mask, start/end logits per token."""

    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(MAX, D)
        self.ln0, self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.fc, self.proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
        self.qa = nn.Linear(D, 2)

    def forward(self, tok, pos, mask):
        b, s = tok.shape
        x = self.ln0(self.wte(tok) + self.wpe(pos))
        q, k, v = ((f(x).view(b, s, H, DH).transpose(1, 2)) for f in (self.q, self.k, self.v))
        att = ((q @ k.transpose(-2, -1)) / math.sqrt(DH) + mask).softmax(-1)
        x = self.ln1(x + self.o((att @ v).transpose(1, 2).reshape(b, s, D)))
        x = self.ln2(x + self.proj(nn.functional.gelu(self.fc(x))))
        return self.qa(x)


def write_enc(out):
    """tests/dyn/enc: tok, pos i64 [1, seq], mask f32 [1, 1, 1, seq] (0 or -1e4: padding keys)
    -> span f32 [1, seq, 2] (start/end logits), and torch's outputs at several lengths."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2028)
    model = Enc().eval()
    rng = np.random.default_rng(8)
    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        tok = rng.integers(0, V, (1, n)).astype(np.int64)
        pos = np.arange(n, dtype=np.int64).reshape(1, n)
        mask = np.zeros((1, 1, 1, n), np.float32)
        mask[..., n - n // 4:] = -1e4  # the last quarter is padding
        with torch.no_grad():
            span = model(torch.from_numpy(tok), torch.from_numpy(pos), torch.from_numpy(mask))
        for name, a in (("tok", tok), ("pos", pos), ("mask", mask), ("span", span.numpy())):
            np.save(os.path.join(d, name + ".npy"), a)
    blob, inits, nodes = bytearray(), [], []

    def const(name, a, dtype=np.float32):
        a = np.ascontiguousarray(np.asarray(a, dtype))
        kiln = {np.float32: "f32", np.int64: "i64"}[dtype]
        while len(blob) % 64:
            blob.append(0)
        inits.append({"name": name, "dtype": kiln, "shape": list(a.shape),
                      "external": {"path": "weights.bin", "offset": len(blob), "length": a.nbytes}})
        blob.extend(a.tobytes())
        return name

    def node(op, inputs, output, **attrs):
        n = {"name": output, "op": op, "inputs": inputs, "outputs": [output]}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    def linear(x, lin, name):
        y = node("MatMul", [x, const(name + ".w", lin.weight.detach().numpy().T)], name + ".mm")
        return node("Add", [y, const(name + ".b", lin.bias.detach().numpy())], name)

    def ln(x, m, name):
        return node("LayerNormalization", [x, const(name + ".w", m.weight.detach().numpy()),
                                           const(name + ".b", m.bias.detach().numpy())], name,
                    epsilon=1e-5)

    const("wte", model.wte.weight.detach().numpy())
    const("wpe", model.wpe.weight.detach().numpy())
    const("heads", [0, -1, H, DH], np.int64)
    const("flat", [0, -1, D], np.int64)
    const("rsqrt_dh", 1.0 / math.sqrt(DH))
    x = ln(node("Add", [node("Gather", ["wte", "tok"], "tok_emb"),
                        node("Gather", ["wpe", "pos"], "pos_emb")], "emb"), model.ln0, "ln0")
    z = {c: node("Reshape", [linear(x, getattr(model, c), c), "heads"], c + "_h") for c in "qkv"}
    q = node("Transpose", [z["q"]], "q_t", perm=[0, 2, 1, 3])
    kt = node("Transpose", [z["k"]], "k_t", perm=[0, 2, 3, 1])
    v = node("Transpose", [z["v"]], "v_t", perm=[0, 2, 1, 3])
    s = node("Mul", [node("MatMul", [q, kt], "scores"), "rsqrt_dh"], "scaled")
    p = node("Softmax", [node("Add", [s, "mask"], "masked")], "att", axis=-1)
    ctx = node("Transpose", [node("MatMul", [p, v], "ctx")], "ctx_t", perm=[0, 2, 1, 3])
    x = ln(node("Add", [x, linear(node("Reshape", [ctx, "flat"], "ctx_r"), model.o, "o")],
                "res1"), model.ln1, "ln1")
    f = node("Gelu", [linear(x, model.fc, "fc")], "gelu")
    x = ln(node("Add", [x, linear(f, model.proj, "proj")], "res2"), model.ln2, "ln2")
    linear(x, model.qa, "span")
    m = {"format": "kiln-model", "version": 1, "name": "enc",
         "doc": "tools/gen_dyn_tests.py: a BERT-style QA encoder layer, run-time length seq",
         "inputs": [{"name": "tok", "dtype": "i64", "shape": [1, "seq"]},
                    {"name": "pos", "dtype": "i64", "shape": [1, "seq"]},
                    {"name": "mask", "dtype": "f32", "shape": [1, 1, 1, "seq"]}],
         "outputs": [{"name": "span"}], "initializers": inits, "nodes": nodes}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, indent=0)
        f.write("\n")
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))


class Pool(nn.Module):
    """Ops along the run-time axis: start/end logits per token (fixed columns of each row),
    Softmax/LogSoftmax over the tokens, the best start (ArgMax) and end (ArgMin of -end), mean,
    max, attention-weighted and log-sum-exp pooling over the tokens; per token (over a later
    axis): a max and an ArgMax."""

    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(MAX, D)
        self.ln = nn.LayerNorm(D)
        self.qa = nn.Linear(D, 2)

    def forward(self, tok, pos):
        h = self.ln(self.wte(tok) + self.wpe(pos))  # [1, S, D]
        qa = self.qa(h)
        start, end = qa[:, :, 0], qa[:, :, 1]  # [1, S]
        att = h.softmax(1)  # over the tokens, per feature
        return {"p_start": start.softmax(1), "lp_end": end.log_softmax(1),
                "span_start": start.argmax(1), "span_end": (-end).argmin(1, keepdim=True),
                "mean": h.mean(1), "centered": h - h.amax(1, keepdim=True),
                "pooled": (att * h).sum(1), "lse": torch.logsumexp(h, (1, 2)),
                "row_max": h.amax(2), "row_arg": h.argmax(2)}


POOL_OUTPUTS = ["p_start", "lp_end", "span_start", "span_end", "mean", "centered", "pooled",
                "lse", "row_max", "row_arg"]


def write_pool(out):
    """tests/dyn/pool: tok, pos i64 [1, seq] -> POOL_OUTPUTS, and torch's at several lengths."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2029)
    model = Pool().eval()
    rng = np.random.default_rng(9)
    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        tok = rng.integers(0, V, (1, n)).astype(np.int64)
        pos = np.arange(n, dtype=np.int64).reshape(1, n)
        with torch.no_grad():
            res = model(torch.from_numpy(tok), torch.from_numpy(pos))
        np.save(os.path.join(d, "tok.npy"), tok)
        np.save(os.path.join(d, "pos.npy"), pos)
        for name in POOL_OUTPUTS:
            np.save(os.path.join(d, name + ".npy"), res[name].numpy())
    # for tests/emu/pool_harness.c: the longest sequence, and per output torch's outputs of its
    # first n tokens for every n in LENGTHS, flattened one after the other
    tok = np.load(os.path.join(out, "L%d" % MAX, "tok.npy"))
    pos = np.arange(MAX, dtype=np.int64).reshape(1, MAX)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    np.save(os.path.join(out, "inputs", "tok.npy"), tok)
    np.save(os.path.join(out, "inputs", "pos.npy"), pos)
    with torch.no_grad():
        res = [model(torch.from_numpy(tok[:, :n]), torch.from_numpy(pos[:, :n])) for n in LENGTHS]
    for name in POOL_OUTPUTS:
        np.save(os.path.join(out, "golden", name + ".npy"),
                np.concatenate([r[name].numpy().ravel() for r in res]))
    blob, inits, nodes = bytearray(), [], []

    def const(name, a, dtype=np.float32):
        a = np.array(a, dtype)  # a 0-d index stays a scalar (ascontiguousarray makes it 1-d)
        kiln = {np.float32: "f32", np.int64: "i64"}[dtype]
        while len(blob) % 64:
            blob.append(0)
        inits.append({"name": name, "dtype": kiln, "shape": list(a.shape),
                      "external": {"path": "weights.bin", "offset": len(blob), "length": a.nbytes}})
        blob.extend(a.tobytes())
        return name

    def node(op, inputs, output, **attrs):
        n = {"name": output, "op": op, "inputs": inputs, "outputs": [output]}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    const("wte", model.wte.weight.detach().numpy())
    const("wpe", model.wpe.weight.detach().numpy())
    const("col0", 0, np.int64)
    const("col1", 1, np.int64)
    const("axes_seq", [1], np.int64)
    emb = node("Add", [node("Gather", ["wte", "tok"], "tok_emb"),
                       node("Gather", ["wpe", "pos"], "pos_emb")], "emb")
    h = node("LayerNormalization", [emb, const("ln.w", model.ln.weight.detach().numpy()),
                                    const("ln.b", model.ln.bias.detach().numpy())], "h",
             epsilon=1e-5)
    qa = node("Add", [node("MatMul", [h, const("qa.w", model.qa.weight.detach().numpy().T)],
                           "qa.mm"), const("qa.b", model.qa.bias.detach().numpy())], "qa")
    start = node("Gather", [qa, "col0"], "start", axis=2)
    end = node("Gather", [qa, "col1"], "end", axis=2)
    node("Softmax", [start], "p_start", axis=1)
    node("LogSoftmax", [end], "lp_end", axis=1)
    node("ArgMax", [start], "span_start", axis=1, keepdims=0)
    node("ArgMin", [node("Neg", [end], "neg_end")], "span_end", axis=1, keepdims=1)
    node("ReduceMean", [h, "axes_seq"], "mean", keepdims=0)
    node("Sub", [h, node("ReduceMax", [h], "h_max", axes=[1], keepdims=1)], "centered")
    att = node("Softmax", [h], "att", axis=1)
    node("ReduceSum", [node("Mul", [att, h], "weighted"), "axes_seq"], "pooled", keepdims=0)
    node("ReduceLogSumExp", [h], "lse", axes=[1, 2], keepdims=0)
    node("ReduceMax", [h, const("axes_feat", [2], np.int64)], "row_max", keepdims=0)
    node("ArgMax", [h], "row_arg", axis=2, keepdims=0)
    m = {"format": "kiln-model", "version": 1, "name": "pool",
         "doc": "tools/gen_dyn_tests.py: reductions along a run-time length seq",
         "inputs": [{"name": "tok", "dtype": "i64", "shape": [1, "seq"]},
                    {"name": "pos", "dtype": "i64", "shape": [1, "seq"]}],
         "outputs": [{"name": k} for k in POOL_OUTPUTS], "initializers": inits, "nodes": nodes}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, indent=0)
        f.write("\n")
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))


main()
