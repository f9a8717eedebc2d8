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
(inputs/, golden/: the prefixes of one sequence, for tests/emu/dyn_prefix_harness.c)
and recurrent nodes over a run-time number of steps: tests/dyn/stream (an LSTM whose h, c are
states, fed in calls of several lengths), tests/dyn/bidir (bidirectional GRU, reverse RNN; with
inputs/, golden/ of prefixes as pool's); tests/dyn/tagger, a BiLSTM tagger exported by
torch.onnx with a dynamic sequence axis (dim_param 'seq'); tests/dyn/outer, an ONNX graph with a
[1, seq, seq] value (an outer sum) whose Shape gives positions 0..seq-1 (numpy's outputs)
Run with Debian's /usr/bin/python3 (torch, numpy)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
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
    write_rnn(os.path.join(out, ".."))
    write_tagger(os.path.join(out, "..", "tagger"))
    write_outer(os.path.join(out, "..", "outer"))


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
    # for tests/emu/dyn_prefix_harness.c: the longest sequence, and per output torch's outputs of its
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


RI, RH, RT = 5, 8, 40  # rnn: input and hidden size, the streamed sequence's length


def onnx_gates(w, order, h):
    """torch's gate blocks [G*h, ...] in ONNX's order."""
    return np.concatenate([w[k * h:(k + 1) * h] for k in order], axis=0)


def rnn_weights(mod, order, suffix=""):
    g = lambda n: getattr(mod, n + "_l0" + suffix).detach().numpy()
    return (onnx_gates(g("weight_ih"), order, RH), onnx_gates(g("weight_hh"), order, RH),
            np.concatenate([onnx_gates(g("bias_ih"), order, RH),
                            onnx_gates(g("bias_hh"), order, RH)]))


def write_rnn(root):
    """tests/dyn/stream: x [seq, 1, I] -> y [seq, 1, 1, H] through an LSTM whose h and c are
    states (torch's run of all RT frames: x.npy, y.npy, fed to the compiled model in calls of
    several lengths); tests/dyn/bidir: x [seq, 1, I] -> a bidirectional GRU's Y [seq, 2, 1, H]
    and Y_h, a reverse RNN's Y and Y_h and an LSTM's Y_c, with torch's outputs per length in
    L<n>/ and of the prefixes of one sequence in inputs/, golden/."""
    out = os.path.join(root, "stream")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2030)
    lstm, gru = nn.LSTM(RI, RH), nn.GRU(RI, RH, bidirectional=True)
    rnn, lstm2 = nn.RNN(RI, RH), nn.LSTM(RI, RH)
    rng = np.random.default_rng(10)
    h0 = (rng.standard_normal((1, 1, RH)) * 0.5).astype(np.float32)
    c0 = (rng.standard_normal((1, 1, RH)) * 0.5).astype(np.float32)
    xs = rng.standard_normal((RT, 1, RI)).astype(np.float32)
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(xs), (torch.from_numpy(h0), torch.from_numpy(c0)))
    np.save(os.path.join(out, "x.npy"), xs)
    np.save(os.path.join(out, "y.npy"), y.numpy()[:, None])  # [RT, 1, 1, H]

    def init(name, a):
        a = np.asarray(a, np.float32)
        return {"name": name, "dtype": "f32", "shape": list(a.shape),
                "data": [float(v) for v in a.ravel()]}

    W, R, B = rnn_weights(lstm, [0, 3, 1, 2])  # torch i, f, g, o -> ONNX i, o, f, c
    stream = {
        "format": "kiln-model", "version": 1, "name": "stream",
        "doc": "tools/gen_dyn_tests.py: an LSTM over a run-time number of frames, h/c states",
        "inputs": [{"name": "x", "dtype": "f32", "shape": ["seq", 1, RI]},
                   {"name": "h", "dtype": "f32", "shape": [1, 1, RH]},
                   {"name": "c", "dtype": "f32", "shape": [1, 1, RH]}],
        "outputs": [{"name": "y"}, {"name": "h_out"}, {"name": "c_out"}],
        "initializers": [init("W", W[None]), init("R", R[None]), init("B", B[None]),
                         init("h0", h0), init("c0", c0)],
        "nodes": [{"name": "lstm", "op": "LSTM", "inputs": ["x", "W", "R", "B", "", "h", "c"],
                   "outputs": ["y", "h_out", "c_out"], "attrs": {"hidden_size": RH}}],
        "states": [{"input": "h", "next": "h_out", "init": "h0"},
                   {"input": "c", "next": "c_out", "init": "c0"}]}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(stream, f)
        f.write("\n")

    gw, gr, gb = zip(*(rnn_weights(gru, [1, 0, 2], sfx) for sfx in ("", "_reverse")))
    rw, rr, rb = rnn_weights(rnn, [0])
    lw, lr, lb = rnn_weights(lstm2, [0, 3, 1, 2])
    bidir = {
        "format": "kiln-model", "version": 1, "name": "bidir",
        "doc": "tools/gen_dyn_tests.py: recurrent nodes over a run-time number of steps",
        "inputs": [{"name": "x", "dtype": "f32", "shape": ["seq", 1, RI]}],
        "outputs": [{"name": "gy"}, {"name": "gy_h"}, {"name": "ry"}, {"name": "ry_h"},
                    {"name": "ly_c"}],
        "initializers": [init("GW", np.stack(gw)), init("GR", np.stack(gr)),
                         init("GB", np.stack(gb)), init("RW", rw[None]), init("RR", rr[None]),
                         init("RB", rb[None]), init("LW", lw[None]), init("LR", lr[None]),
                         init("LB", lb[None])],
        "nodes": [{"name": "gru", "op": "GRU", "inputs": ["x", "GW", "GR", "GB"],
                   "outputs": ["gy", "gy_h"],
                   "attrs": {"hidden_size": RH, "direction": "bidirectional",
                             "linear_before_reset": 1}},
                  {"name": "rnn", "op": "RNN", "inputs": ["x", "RW", "RR", "RB"],
                   "outputs": ["ry", "ry_h"], "attrs": {"hidden_size": RH, "direction": "reverse"}},
                  {"name": "lstm", "op": "LSTM", "inputs": ["x", "LW", "LR", "LB"],
                   "outputs": ["ly", "ly_h", "ly_c"], "attrs": {"hidden_size": RH}}]}
    out = os.path.join(root, "bidir")
    for d in ("", "inputs", "golden"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(bidir, f)
        f.write("\n")

    def run(x):
        with torch.no_grad():
            gy, gy_h = gru(x)
            ry, ry_h = rnn(x.flip(0))
            _, (_, ly_c) = lstm2(x)
        n = x.shape[0]
        return {"x": x.numpy(), "gy": gy.view(n, 1, 2, RH).permute(0, 2, 1, 3).numpy(),
                "gy_h": gy_h.numpy(), "ry": ry.flip(0).numpy()[:, None], "ry_h": ry_h.numpy(),
                "ly_c": ly_c.numpy()}

    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        res = run(torch.from_numpy(rng.standard_normal((n, 1, RI)).astype(np.float32)))
        for name, a in res.items():
            np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))
    # prefixes of the longest sequence, for tests/emu/dyn_prefix_harness.c
    x = torch.from_numpy(np.load(os.path.join(out, "L%d" % MAX, "x.npy")))
    res = [run(x[:n]) for n in LENGTHS]
    np.save(os.path.join(out, "inputs", "x.npy"), x.numpy())
    for name in ("gy", "gy_h", "ry", "ry_h", "ly_c"):
        np.save(os.path.join(out, "golden", name + ".npy"),
                np.concatenate([np.ascontiguousarray(r[name]).ravel() for r in res]))


class Tagger(nn.Module):
    """A BiLSTM tagger over tok [seq, 1]: per-token scores, tags (ArgMax), a Softmax over the
    tokens and the mean score over them."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 6)
        self.lstm = nn.LSTM(6, 8, bidirectional=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, tok):
        y, _ = self.lstm(self.emb(tok))
        sc = self.fc(y)  # [seq, 1, 4]
        return sc, sc.argmax(-1), sc.softmax(0), sc.mean(0)


def write_tagger(out):
    """tests/dyn/tagger: model.onnx (torch.onnx.export, dynamic axis 'seq': the LSTM's initial
    states come from Shape/ConstantOfShape of the input) and torch's outputs per length."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2031)
    model = Tagger().eval()
    rng = np.random.default_rng(11)
    names = ["sc", "tags", "p", "mean"]
    tok = torch.from_numpy(rng.integers(0, V, (MAX, 1)).astype(np.int64))
    torch.onnx.export(model, (tok,), os.path.join(out, "model.onnx"), input_names=["tok"],
                      output_names=names, opset_version=13,
                      dynamic_axes={"tok": {0: "seq"}, "sc": {0: "seq"}, "tags": {0: "seq"},
                                    "p": {0: "seq"}})
    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        t = torch.from_numpy(rng.integers(0, V, (n, 1)).astype(np.int64))
        with torch.no_grad():
            res = model(t)
        np.save(os.path.join(d, "tok.npy"), t.numpy())
        for name, a in zip(names, res):
            np.save(os.path.join(d, name + ".npy"), a.numpy())


def write_outer(out):
    """tests/dyn/outer: x f32 [1, seq] -> y = ReduceMax(x[:, :, None] + x[:, None, :], 2) +
    Range(0, Shape(that sum)[2]): two axes of run-time length, and Shape of such a value folded
    again at every length. The goldens are numpy's x + max(x) + arange(n)."""
    import onnx
    from onnx import TensorProto as T, helper as h
    os.makedirs(out, exist_ok=True)
    nodes = [h.make_node("Unsqueeze", ["x", "a2"], ["col"]),
             h.make_node("Unsqueeze", ["x", "a1"], ["row"]),
             h.make_node("Add", ["col", "row"], ["sc"]), h.make_node("Shape", ["sc"], ["shp"]),
             h.make_node("Gather", ["shp", "i2"], ["n"]),
             h.make_node("Range", ["z", "n", "one"], ["r"]),
             h.make_node("Cast", ["r"], ["rf"], to=T.FLOAT),
             h.make_node("ReduceMax", ["sc"], ["m"], axes=[2], keepdims=0),
             h.make_node("Add", ["m", "rf"], ["y"])]
    inits = [h.make_tensor("a1", T.INT64, [1], [1]), h.make_tensor("a2", T.INT64, [1], [2]),
             h.make_tensor("i2", T.INT64, [], [2]), h.make_tensor("z", T.INT64, [], [0]),
             h.make_tensor("one", T.INT64, [], [1])]
    g = h.make_graph(nodes, "outer", [h.make_tensor_value_info("x", T.FLOAT, [1, "seq"])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, "seq"])], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]),
              os.path.join(out, "model.onnx"))
    rng = np.random.default_rng(12)
    for n in LENGTHS:
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        x = rng.standard_normal((1, n)).astype(np.float32)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), x + x.max() + np.arange(n, dtype=np.float32))


toolcli.check(max_args=1)
main()
