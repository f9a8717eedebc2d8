#!/usr/bin/python3
"""A GPT-2-style decoder (tiny, seeded) and its one-token decode step as a Kiln model with the KV
cache and the position as states, for `kiln build --generate` (tests/gen/gpt_tiny):
  model.json + weights.bin  one call = one token: tok i64 [1,1] -> logits [1,1,V]; states
                            past_k.L/past_v.L [1,H,CTX,Dh] (updated at the position with Where)
                            and pos i64 [1] (the next position)
  inputs/tok.npy            prompt + generated ids but the last, [T, 1] (one call each)
  golden/logits.npy         PyTorch's logits of that whole sequence in one run, [T, 1, 1, V]
  prompt.npy                a prompt of token ids
  golden_ids.npy            PyTorch's greedy generation of N_NEW tokens from it, the whole
                            sequence re-run each step (no cache): what the KV-cache decode must equal
and in tests/gen/gpt_tiny_seq the same decoder over a run-time number of tokens (write_seq):
  model.json + weights.bin  tok, pos i64 [1, seq] -> logits [1, seq, V], `--max-dim seq=48`
  inputs/tok.npy, pos.npy   the 37-token sequence of gpt_tiny's inputs/tok.npy in one call
  golden/logits.npy         PyTorch's logits of it [1, 37, V]
  golden/next_id.npy        the greedy token after it (the last of golden_ids.npy)
Run with Debian's /usr/bin/python3 (torch, numpy)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

V, D, H, L, CTX, N_NEW = 64, 32, 2, 2, 48, 32
DH = D // H


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.c_attn, self.c_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc, self.proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln1(x)).split(D, dim=2)
        q, k, v = (z.view(b, t, H, DH).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(DH))
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = att.masked_fill(causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.c_proj(y)
        return x + self.proj(nn.functional.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(CTX, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied head


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "gen", "gpt_tiny")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2026)
    model = GPT().eval()
    with torch.no_grad():  # livelier weights than the default init: a less flat distribution
        for p in model.parameters():
            p.mul_(2.0)
    prompt = [5, 17, 42, 8, 33, 2]
    ids = list(prompt)
    margin = float("inf")  # smallest gap between the best and second-best logit
    with torch.no_grad():
        for _ in range(N_NEW):
            logits = model(torch.tensor([ids]))[0, -1]
            top = logits.topk(2).values
            margin = min(margin, float(top[0] - top[1]))
            ids.append(int(logits.argmax()))
    # the whole sequence at once: the logits at every position, which the KV-cache decode fed one
    # token per call must reproduce (tests/emu/state_harness.c, also under QEMU)
    seq = ids[:-1]
    with torch.no_grad():
        full = model(torch.tensor([seq]))[0].numpy().astype(np.float32)  # [T, V]
    for d in ("inputs", "golden"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    np.save(os.path.join(out, "inputs", "tok.npy"), np.array(seq, np.int64).reshape(-1, 1))
    np.save(os.path.join(out, "golden", "logits.npy"), full.reshape(-1, 1, 1, V))
    np.save(os.path.join(out, "prompt.npy"), np.array(prompt, np.int64))
    np.save(os.path.join(out, "golden_ids.npy"), np.array(ids[len(prompt):], np.int64))

    blob, inits = bytearray(), []

    def const(name, a, dtype=np.float32):
        a = np.ascontiguousarray(np.asarray(a, dtype))
        kiln = {np.float32: "f32", np.int64: "i64"}[dtype]
        while len(blob) % 64:
            blob.append(0)
        inits.append({"name": name, "dtype": kiln, "shape": list(a.shape),
                      "external": {"path": "weights.bin", "offset": len(blob), "length": a.nbytes}})
        blob.extend(a.tobytes())
        return name

    def t(w):  # Linear weight [out, in] -> MatMul operand [in, out]
        return w.detach().numpy().T

    nodes = []

    def node(op, inputs, output, **attrs):
        n = {"name": output, "op": op, "inputs": inputs, "outputs": [output]}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    def linear(x, lin, name, w=None, b=None):
        wt = t(lin.weight) if w is None else w
        bias = lin.bias.detach().numpy() if b is None else b
        return node("Add", [node("MatMul", [x, const(name + ".w", wt)], name + ".mm"),
                            const(name + ".b", bias)], name)

    def ln(x, m, name):
        return node("LayerNormalization", [x, const(name + ".w", m.weight.detach().numpy()),
                                           const(name + ".b", m.bias.detach().numpy())], name,
                    epsilon=1e-5)

    const("heads_shape", [1, 1, H, DH], np.int64)
    const("model_shape", [1, 1, D], np.int64)
    const("scale", 1.0 / math.sqrt(DH))
    # the position is an f32 state (exact for integers; Kiln's Add is f32), cast for the lookup
    const("pos_col", np.arange(CTX).reshape(1, 1, CTX, 1))
    const("pos_row", np.arange(CTX).reshape(1, 1, 1, CTX))
    const("one", [1.0])
    const("hidden", -1e9)  # additive mask of the keys after the position
    const("zero", 0.0)
    x = node("Add", [node("Gather", ["wte", "tok"], "tok_emb"),
                     node("Gather", ["wpe", node("Cast", ["pos"], "pos_i", to=7)], "pos_emb")],
             "x0")
    const("wte", model.wte.weight.detach().numpy())
    const("wpe", model.wpe.weight.detach().numpy())
    node("Equal", ["pos_col", "pos"], "at_pos")
    node("Where", [node("Greater", ["pos_row", "pos"], "future"), "hidden", "zero"], "mask")
    node("Add", ["pos", "one"], "pos_next")
    states = [{"input": "pos", "next": "pos_next"}]
    cache = [{"name": "pos", "dtype": "f32", "shape": [1]}]
    outputs = [{"name": "logits", "dtype": "f32", "shape": [1, 1, V]}, {"name": "pos_next"}]
    for i, blk in enumerate(model.blocks):
        p = "h%d." % i
        h = ln(x, blk.ln1, p + "ln1")
        w, b = t(blk.c_attn.weight), blk.c_attn.bias.detach().numpy()
        heads = {}
        for j, z in enumerate("qkv"):
            zz = linear(h, None, p + z, w[:, j * D:(j + 1) * D], b[j * D:(j + 1) * D])
            zz = node("Reshape", [zz, "heads_shape"], p + z + "_heads")
            heads[z] = node("Transpose", [zz], p + z + "_t", perm=[0, 2, 1, 3])  # [1,H,1,DH]
        for z in "kv":  # the cache row at the position takes the new key/value
            cache.append({"name": p + "past_" + z, "dtype": "f32", "shape": [1, H, CTX, DH]})
            node("Where", ["at_pos", heads[z], p + "past_" + z], p + "present_" + z)
            states.append({"input": p + "past_" + z, "next": p + "present_" + z})
            outputs.append({"name": p + "present_" + z})
        kt = node("Transpose", [p + "present_k"], p + "kt", perm=[0, 1, 3, 2])
        s = node("Mul", [node("MatMul", [heads["q"], kt], p + "scores"), "scale"], p + "scaled")
        prob = node("Softmax", [node("Add", [s, "mask"], p + "masked")], p + "probs", axis=-1)
        ctx = node("MatMul", [prob, p + "present_v"], p + "ctx")
        ctx = node("Transpose", [ctx], p + "ctx_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "model_shape"], p + "ctx_r")
        x = node("Add", [x, linear(ctx, blk.c_proj, p + "attn_out")], p + "res1")
        f = node("Gelu", [linear(ln(x, blk.ln2, p + "ln2"), blk.fc, p + "fc")], p + "gelu")
        x = node("Add", [x, linear(f, blk.proj, p + "mlp_out")], p + "res2")
    const("wte_t", model.wte.weight.detach().numpy().T)
    node("MatMul", [ln(x, model.ln_f, "ln_f"), "wte_t"], "logits")
    doc = ("tools/gpt_tiny.py: a GPT-2-style decode step (V=%d D=%d H=%d L=%d CTX=%d), one token "
           "per call, KV cache and position as states" % (V, D, H, L, CTX))
    m = {"format": "kiln-model", "version": 1, "name": "gpt_tiny", "doc": doc,
         "inputs": [{"name": "tok", "dtype": "i64", "shape": [1, 1]}] + cache,
         "outputs": outputs, "initializers": inits, "nodes": nodes, "states": states}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, indent=0)
        f.write("\n")
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))
    print("prompt", prompt, "greedy", ids[len(prompt):], "smallest top-2 margin %.4f" % margin)
    write_seq(model, out + "_seq", seq, full, ids[-1])


def write_seq(model, out, seq, full, next_id):
    """The same decoder as one graph over a run-time number of tokens (`--max-dim seq=CTX`): a
    prefill of the whole prompt in one call, a decode step at seq = 1, the same weights and KV
    cache states. tok, pos i64 [1, seq] (pos: the tokens' positions, given by the caller) ->
    logits [1, seq, V]; states past_k.L/past_v.L [CTX, H, DH], the rows at pos written with
    ScatterND; each query attends to the cache up to its position (heads as the batch of a rank-3
    attention, so the cache is read in place)."""
    for d in ("inputs", "golden"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    np.save(os.path.join(out, "inputs", "tok.npy"), np.array([seq], np.int64))
    np.save(os.path.join(out, "golden", "logits.npy"), full.reshape(1, -1, V))
    np.save(os.path.join(out, "golden", "next_id.npy"), np.array([next_id], np.int64))
    np.save(os.path.join(out, "inputs", "pos.npy"), np.arange(len(seq), dtype=np.int64)[None])
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

    def linear(x, w, b, name):
        return node("Add", [node("MatMul", [x, const(name + ".w", w)], name + ".mm"),
                            const(name + ".b", b)], name)

    def lin(m):
        return m.weight.detach().numpy().T, m.bias.detach().numpy()

    def ln(x, m, name):
        return node("LayerNormalization", [x, const(name + ".w", m.weight.detach().numpy()),
                                           const(name + ".b", m.bias.detach().numpy())], name,
                    epsilon=1e-5)

    # shapes with -1 where the run-time length goes (a constant would hold the maximum)
    const("heads", [-1, H, DH], np.int64)
    const("col", [-1, 1], np.int64)
    const("pos3", [1, -1, 1], np.int64)
    const("model_shape", [1, -1, D], np.int64)
    const("scale", 1.0 / math.sqrt(DH))
    const("pos_row", np.arange(CTX).reshape(1, 1, CTX), np.int64)
    const("hidden", -1e9)  # additive mask of the keys after each query's position
    const("zero", 0.0)
    const("wte", model.wte.weight.detach().numpy())
    const("wpe", model.wpe.weight.detach().numpy())
    x = node("Add", [node("Gather", ["wte", "tok"], "tok_emb"),
                     node("Gather", ["wpe", "pos"], "pos_emb")], "x0")
    node("Reshape", ["pos", "col"], "pos_col")  # [seq, 1]: ScatterND's row indices
    future = node("Greater", ["pos_row", node("Reshape", ["pos", "pos3"], "pos_q")], "future")
    node("Where", [future, "hidden", "zero"], "mask")  # [1, seq, CTX]
    cache, states, outputs = [], [], [{"name": "logits"}]
    for i, blk in enumerate(model.blocks):
        p = "h%d." % i
        h = ln(x, blk.ln1, p + "ln1")
        w, b = lin(blk.c_attn)
        z = {c: linear(h, w[:, j * D:(j + 1) * D], b[j * D:(j + 1) * D], p + c)
             for j, c in enumerate("qkv")}
        for c in "kv":  # the cache rows at the tokens' positions take the new keys/values
            cache.append({"name": p + "past_" + c, "dtype": "f32", "shape": [CTX, H, DH]})
            node("ScatterND", [p + "past_" + c, "pos_col",
                               node("Reshape", [z[c], "heads"], p + c + "_rows")],
                 p + "present_" + c)
            states.append({"input": p + "past_" + c, "next": p + "present_" + c})
            outputs.append({"name": p + "present_" + c})
        qt = node("Transpose", [node("Reshape", [z["q"], "heads"], p + "q_h")], p + "q_t",
                  perm=[1, 0, 2])  # [H, seq, DH]
        kt = node("Transpose", [p + "present_k"], p + "kt", perm=[1, 2, 0])  # [H, DH, CTX]
        vt = node("Transpose", [p + "present_v"], p + "vt", perm=[1, 0, 2])  # [H, CTX, DH]
        s = node("Mul", [node("MatMul", [qt, kt], p + "scores"), "scale"], p + "scaled")
        prob = node("Softmax", [node("Add", [s, "mask"], p + "masked")], p + "probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [prob, vt], p + "ctx")], p + "ctx_t",
                   perm=[1, 0, 2])
        ctx = node("Reshape", [ctx, "model_shape"], p + "ctx_r")
        x = node("Add", [x, linear(ctx, *lin(blk.c_proj), p + "attn_out")], p + "res1")
        f = node("Gelu", [linear(ln(x, blk.ln2, p + "ln2"), *lin(blk.fc), p + "fc")], p + "gelu")
        x = node("Add", [x, linear(f, *lin(blk.proj), p + "mlp_out")], p + "res2")
    const("wte_t", model.wte.weight.detach().numpy().T)
    node("MatMul", [ln(x, model.ln_f, "ln_f"), "wte_t"], "logits")
    doc = ("tools/gpt_tiny.py: the GPT-2-style decoder (V=%d D=%d H=%d L=%d CTX=%d) over a "
           "run-time number of tokens (--max-dim seq=%d): prefill and decode, KV cache as states"
           % (V, D, H, L, CTX, CTX))
    m = {"format": "kiln-model", "version": 1, "name": "gpt_tiny_seq", "doc": doc,
         "inputs": [{"name": "tok", "dtype": "i64", "shape": [1, "seq"]},
                    {"name": "pos", "dtype": "i64", "shape": [1, "seq"]}] + cache,
         "outputs": outputs, "initializers": inits, "nodes": nodes, "states": states}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(m, f, indent=0)
        f.write("\n")
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))


if __name__ == "__main__":
    toolcli.check(max_args=1)
    main()
