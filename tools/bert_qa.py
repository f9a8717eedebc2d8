#!/usr/bin/python3
"""A BERT-style extractive question-answering model (small, seeded), exported to ONNX for Kiln's
seed-model example examples/bert_qa (tests/test_seed_models.sh):
  inputs   input_ids, attention_mask, token_type_ids: i64 [1, S] (question and context ids,
           1 for real tokens / 0 for padding, segment 0 question / 1 context)
  outputs  start_logits, end_logits: f32 [1, S] (padding at -10000);
           span_start, span_end: i64 [1], the best span (start <= end < start + MAX_ANSWER),
           chosen in the graph: the first maximum of start_logits[i] + end_logits[j] over the
           context tokens (segment 1)
The encoder is BERT's (token + position + segment embeddings, LayerNorm, post-LN layers of
multi-head attention with the additive padding mask and an exact-GELU MLP), written out with
tensor ops so that it exports as the exporters write BERT (MatMul, Softmax, Transpose, ...).
Writes DIR/model.onnx, DIR/inputs/*.npy (one question + context, padded) and inputs.txt (their
order), DIR/golden/*.npy (PyTorch's outputs), DIR/expect.txt (lines the executable prints: the
span). Default DIR: examples/bert_qa.
Run with Debian's /usr/bin/python3 (torch, numpy, onnx)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_case  # noqa: E402

V, S, D, H, L, FF, MAX_ANSWER = 96, 24, 32, 2, 2, 64, 8
DH = D // H
DYNAMIC = False  # --dynamic: the length from the inputs' shape (exported with dynamic_axes)
LENGTHS = (1, 5, 8, 17, 24)  # --dynamic: prefix lengths with goldens (24 = S, the maximum)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(D, eps=1e-12), nn.LayerNorm(D, eps=1e-12)
        self.fc1, self.fc2 = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x, ext_mask):
        b, s = x.shape[0], x.shape[1] if DYNAMIC else S
        q, k, v = (f(x).view(b, s, H, DH).transpose(1, 2) for f in (self.q, self.k, self.v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(DH) + ext_mask
        ctx = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, D)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.fc2(nn.functional.gelu(self.fc1(x))))


class BertQA(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.seg = nn.Embedding(V, D), nn.Embedding(S, D), nn.Embedding(2, D)
        self.ln = nn.LayerNorm(D, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(L))
        self.qa = nn.Linear(D, 2)
        # allowed spans: start <= end < start + MAX_ANSWER
        i = torch.arange(S)
        ok = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + MAX_ANSWER)
        self.register_buffer("span_bias", torch.where(ok, 0.0, -1e9))

    def forward(self, input_ids, attention_mask, token_type_ids):
        s = input_ids.shape[1] if DYNAMIC else S
        x = self.tok(input_ids) + self.pos(torch.arange(s)) + self.seg(token_type_ids)
        x = self.ln(x)
        pad = (1.0 - attention_mask.to(torch.float32)) * -10000.0
        ext = pad[:, None, None, :]
        for layer in self.layers:
            x = layer(x, ext)
        logits = self.qa(x)
        start, end = logits[..., 0] + pad, logits[..., 1] + pad
        # the answer lies in the context (segment 1): question and padding positions are out
        ctx = (1.0 - token_type_ids.to(torch.float32)) * -10000.0
        st, en = start + ctx, end + ctx
        bias = self.span_bias[:s, :s] if DYNAMIC else self.span_bias
        scores = st[:, :, None] + en[:, None, :] + bias  # [1, S, S]
        span_start = scores.amax(2).argmax(1)
        row = scores.index_select(1, span_start)[:, 0, :]  # batch 1: Gather on axis 1
        return start, end, span_start, row.argmax(1)


def seeded_model():
    torch.manual_seed(2028)
    model = BertQA().eval()
    with torch.no_grad():  # BERT's init scale; larger QA head weights for a clear best span
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.2)
        model.qa.weight.mul_(4)
    return model


def write_dynamic(out):
    """The same model (same weights) exported with the dynamic axis 'seq' to OUT/model.onnx
    (positions, Reshape shapes and the span bias [:s, :s] computed from Shape(input_ids)); inputs/ hold one sequence of S tokens, golden/<output>.npy PyTorch's
    outputs of its first n tokens for every n in LENGTHS, one after the other (the prefix form
    of tests/emu/dyn_prefix_harness.c), L<n>/ the same per length (tests/test_dyn.c)."""
    global DYNAMIC
    DYNAMIC = True
    model = seeded_model()
    g = torch.Generator().manual_seed(9)
    ids = torch.randint(4, V, (1, S), generator=g)  # [CLS] 3 question [SEP] context [SEP] pad
    ids[0, 0], ids[0, 4], ids[0, S - 3] = 1, 2, 2
    ids[0, S - 2:] = 0
    mask = torch.ones(1, S, dtype=torch.int64)
    mask[0, S - 2:] = 0
    seg = torch.zeros(1, S, dtype=torch.int64)
    seg[0, 5:S - 2] = 1
    names_in = ["input_ids", "attention_mask", "token_type_ids"]
    names_out = ["start_logits", "end_logits", "span_start", "span_end"]
    axes = {n: {1: "seq"} for n in names_in + names_out[:2]}
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, (ids, mask, seg), os.path.join(out, "model.onnx"), opset_version=17,
                      input_names=names_in, output_names=names_out, dynamic_axes=axes)
    golden = {n: [] for n in names_out}
    for n in LENGTHS:
        args = (ids[:, :n], mask[:, :n], seg[:, :n])
        with torch.no_grad():
            outs = model(*args)
        d = os.path.join(out, "L%d" % n)
        os.makedirs(d, exist_ok=True)
        for name, t in list(zip(names_in, args)) + list(zip(names_out, outs)):
            np.save(os.path.join(d, name + ".npy"), t.numpy())
        for name, t in zip(names_out, outs):
            golden[name].append(t.numpy().ravel())
        print("length %d: span %d..%d" % (n, outs[2].item(), outs[3].item()))
    for sub, named in (("inputs", zip(names_in, (ids, mask, seg))),
                       ("golden", ((k, np.concatenate(v)) for k, v in golden.items()))):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, t in named:
            np.save(os.path.join(out, sub, name + ".npy"),
                    t.numpy() if isinstance(t, torch.Tensor) else t)
    for f, sub, names in (("inputs.txt", "inputs", names_in), ("outputs.txt", "golden", names_out)):
        with open(os.path.join(out, f), "w") as fh:  # in the model's order (no model.json)
            fh.write("".join("%s/%s.npy\n" % (sub, n) for n in names))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--dynamic":
        write_dynamic(sys.argv[2])
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "examples", "bert_qa")
    model = seeded_model()
    g = torch.Generator().manual_seed(7)
    q_len, c_len = 6, 13  # [CLS]=1 question [SEP]=2 context [SEP]=2, then padding
    ids = torch.zeros(1, S, dtype=torch.int64)
    ids[0, 0] = 1
    ids[0, 1:1 + q_len] = torch.randint(4, V, (q_len,), generator=g)
    ids[0, 1 + q_len] = 2
    ids[0, 2 + q_len:2 + q_len + c_len] = torch.randint(4, V, (c_len,), generator=g)
    n = 3 + q_len + c_len
    ids[0, n - 1] = 2
    mask = torch.zeros(1, S, dtype=torch.int64)
    mask[0, :n] = 1
    seg = torch.zeros(1, S, dtype=torch.int64)
    seg[0, 2 + q_len:n] = 1
    args = (ids, mask, seg)
    names_in = ["input_ids", "attention_mask", "token_type_ids"]
    names_out = ["start_logits", "end_logits", "span_start", "span_end"]
    with torch.no_grad():
        outs = model(*args)
    seed_case.save(out, model, list(zip(names_in, args)), list(zip(names_out, outs)),
                   ["span_start: i64[1] = %d" % outs[2].item(), "span_end: i64[1] = %d" % outs[3].item()])
    ctx = (1.0 - seg[0].float()) * -10000.0
    top = torch.topk(((outs[0][0] + ctx)[:, None] + (outs[1][0] + ctx)[None, :] +
                      model.span_bias).flatten(), 2)
    print("%s: %d parameters; best span %d..%d (score margin to the next %.3f)" % (
        out, sum(p.numel() for p in model.parameters()), outs[2].item(), outs[3].item(),
        (top.values[0] - top.values[1]).item()))


if __name__ == "__main__":
    toolcli.check(max_args=1, options=("--dynamic",))
    main()
