#!/usr/bin/python3
"""An nn.Transformer translator (small, seeded: d_model 32, 4 heads, 2+2 layers) with greedy
decoding, exported to ONNX for Kiln's seed-model example examples/translator
(tests/test_seed_models.sh):
  input    src: i64 [S, 1] (source token ids, time-major as nn.Transformer)
  outputs  ids: i64 [N], the greedy translation after BOS (N tokens, no early stop)
           logits: f32 [N, 1, V], the decoder's logits at each chosen position
The graph runs the encoder once and the decoder N times, unrolled: step t runs the decoder over
the t tokens so far (causal mask), takes the last position's argmax and appends it. The decoder
re-reads its whole prefix at each step (no KV cache: a cache needs the decoder self-attention's
keys and values as states, as tools/gpt_tiny.py does for a decoder-only model).
The golden ids come from PyTorch's eager greedy loop (dynamic shapes, the usual loop of
nn.Transformer tutorials), not from the exported graph.
Writes DIR/model.onnx, DIR/inputs/src.npy, inputs.txt, DIR/golden/*.npy, DIR/expect.txt.
Default DIR: examples/translator. Run with Debian's /usr/bin/python3 (torch, numpy, onnx).

The same seeded translator is also written (write_generate) to tests/gen/translator as two Kiln
models for `kiln build --generate decoder.json --encoder encoder.json`:
  encoder.json  src i64 [S] -> the memory's cross-attention keys cross_k.L [H, Dh, S] and values
                cross_v.L [H, S, Dh] of every decoder layer L (computed once per source)
  decoder.json  one target token per call: tok i64 [1] + cross_k.L, cross_v.L (the encoder's
                outputs, inputs of the same names) -> logits [1, V]; states: the self-attention
                KV cache self_k.L / self_v.L [H, CTX, Dh] and the position pos f32 [1]
  weights.bin   both models' constants
  source.npy    the source ids (the seed case's src, flat)
  golden_ids.npy  PyTorch's eager greedy decode of N_GEN tokens after BOS (decoder over the
                whole prefix each step, no cache), which the cached decode must equal
  inputs/tok.T.npy, golden/logits.T.npy  the decoder's input token at step T (BOS, then the
                golden ids) and PyTorch's logits of the last position there [1, V] (for
                `kiln run`: one call per step with the encoder's outputs)"""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_case  # noqa: E402

V, D, HEADS, LAYERS, FF, S, N, BOS = 40, 32, 4, 2, 64, 8, 4, 1
CTX, N_GEN = 16, 15  # the generator's target length (BOS included) and golden tokens
DH = D // HEADS


class Translator(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(V, D), nn.Embedding(V, D)
        self.tf = nn.Transformer(D, HEADS, LAYERS, LAYERS, FF, dropout=0.0)
        self.out = nn.Linear(D, V)
        pos = torch.arange(max(S, N + 1))[:, None]
        div = torch.exp(torch.arange(0, D, 2) * (-math.log(10000.0) / D))
        pe = torch.zeros(max(S, N + 1), 1, D)
        pe[:, 0, 0::2], pe[:, 0, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe)
        # causal masks sliced from one constant (generate_square_subsequent_mask exports Trilu)
        self.register_buffer("causal", torch.triu(torch.full((N, N), float("-inf")), 1))

    def encode(self, src):
        return self.tf.encoder(self.src_emb(src) * math.sqrt(D) + self.pe[:src.shape[0]])

    def decode(self, tgt, memory):
        t = tgt.shape[0]
        mask = self.causal[:t, :t]
        y = self.tf.decoder(self.tgt_emb(tgt) * math.sqrt(D) + self.pe[:t], memory, tgt_mask=mask)
        return self.out(y)  # [t, 1, V]

    def forward(self, src):  # the unrolled greedy decode that is exported
        memory = self.encode(src)
        tgt = torch.full((1, 1), BOS, dtype=torch.int64)
        logits = []
        for _ in range(N):
            last = self.decode(tgt, memory)[-1:]  # [1, 1, V]
            logits.append(last)
            tgt = torch.cat([tgt, last.argmax(2)], 0)
        return tgt[1:, 0], torch.cat(logits, 0)


def greedy_reference(model, src):
    """The eager loop: encoder once, decoder over the growing prefix, python ints."""
    memory = model.encode(src)
    ys, margins = [BOS], []
    for _ in range(N):
        last = model.decode(torch.tensor(ys)[:, None], memory)[-1, 0]
        top = torch.topk(last, 2).values
        margins.append((top[0] - top[1]).item())
        ys.append(int(last.argmax()))
    return ys[1:], min(margins)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "examples", "translator")
    torch.manual_seed(2030)
    model = Translator().eval()
    with torch.no_grad():  # a sharper output layer: clear greedy choices
        model.out.weight.mul_(4)
    src = torch.randint(3, V, (S, 1), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ids, logits = model(src)
        ref, margin = greedy_reference(model, src)
    assert ids.tolist() == ref, (ids.tolist(), ref)
    seed_case.save(out, model, [("src", src)],
                   [("ids", np.array(ref, dtype=np.int64)), ("logits", logits)],
                   ["ids: i64[%d] = %s" % (N, " ".join(str(t) for t in ref))])
    print("%s: %d parameters; greedy ids %s (smallest top-2 logit margin %.3f)" % (
        out, sum(p.numel() for p in model.parameters()), ref, margin))
    gen = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gen", "translator")
    write_generate(model, src, gen, ref)


def positions(n):
    """The sinusoidal table of Translator.pe at n rows, [n, D]."""
    pos = torch.arange(n)[:, None]
    div = torch.exp(torch.arange(0, D, 2) * (-math.log(10000.0) / D))
    pe = torch.zeros(n, D)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


def greedy_long(model, src, n):
    """Translator.decode's eager loop for n tokens (a longer position table and causal mask)."""
    pe = positions(CTX)[:, None]
    memory = model.encode(src)
    ys, margins, rows = [BOS], [], []
    for _ in range(n):
        t = len(ys)
        mask = torch.triu(torch.full((t, t), float("-inf")), 1)
        y = model.tf.decoder(model.tgt_emb(torch.tensor(ys)[:, None]) * math.sqrt(D) + pe[:t],
                             memory, tgt_mask=mask)
        last = model.out(y)[-1, 0]
        rows.append(last.numpy().copy())
        top = torch.topk(last, 2).values
        margins.append((top[0] - top[1]).item())
        ys.append(int(last.argmax()))
    return ys[1:], min(margins), np.stack(rows)[:, None, :].astype(np.float32)


def write_generate(model, src, out, ref):
    """The translator as an encoder (run once) and a one-token decoder step with its
    self-attention KV cache as states, for `kiln build --generate --encoder`."""
    os.makedirs(out, exist_ok=True)
    with torch.no_grad():
        ids, margin, logits = greedy_long(model, src, N_GEN)
    assert ids[:N] == ref, (ids, ref)  # the seed case's unrolled greedy ids
    np.save(os.path.join(out, "source.npy"), src[:, 0].numpy().astype(np.int64))
    np.save(os.path.join(out, "golden_ids.npy"), np.array(ids, np.int64))
    for d in ("inputs", "golden"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    for t, tok in enumerate([BOS] + ids[:-1]):
        np.save(os.path.join(out, "inputs", "tok.%d.npy" % t), np.array([tok], np.int64))
        np.save(os.path.join(out, "golden", "logits.%d.npy" % t), logits[t])
    blob, inits = bytearray(), []

    def const(name, a, dtype=np.float32):
        a = np.ascontiguousarray(np.asarray(a, dtype))
        while len(blob) % 64:
            blob.append(0)
        inits.append({"name": name, "dtype": {np.float32: "f32", np.int64: "i64"}[dtype],
                      "shape": list(a.shape),
                      "external": {"path": "weights.bin", "offset": len(blob),
                                   "length": a.nbytes}})
        blob.extend(a.tobytes())
        return name

    def npy(t):
        return t.detach().numpy()

    nodes = []

    def node(op, inputs, output, **attrs):
        n = {"name": output, "op": op, "inputs": inputs, "outputs": [output]}
        if attrs:
            n["attrs"] = attrs
        nodes.append(n)
        return output

    def linear(x, w, b, name):  # w [out, in] as torch stores it
        return node("Add", [node("MatMul", [x, const(name + ".w", npy(w).T)], name + ".mm"),
                            const(name + ".b", npy(b))], name)

    def ln(x, m, name):
        return node("LayerNormalization", [x, const(name + ".w", npy(m.weight)),
                                           const(name + ".b", npy(m.bias))], name, epsilon=1e-5)

    def proj(x, attn, j, name):  # j-th of in_proj's q, k, v
        w, b = attn.in_proj_weight, attn.in_proj_bias
        return linear(x, w[j * D:(j + 1) * D], b[j * D:(j + 1) * D], name)

    def heads(x, name, perm):  # [n, D] -> [n, H, DH] -> perm
        return node("Transpose", [node("Reshape", [x, "heads_shape"], name + "_h")], name,
                    perm=perm)

    def attend(q, kt, v, name, mask=None):  # q [H,n,DH], kt [H,DH,m], v [H,m,DH] -> [n, D]
        s = node("Mul", [node("MatMul", [q, kt], name + ".scores"), "scale"], name + ".scaled")
        if mask:
            s = node("Add", [s, mask], name + ".masked")
        p = node("Softmax", [s], name + ".probs", axis=-1)
        c = node("Transpose", [node("MatMul", [p, v], name + ".ctx")], name + ".ctx_t",
                 perm=[1, 0, 2])
        return node("Reshape", [c, "model_shape"], name + ".ctx_r")

    def ffn(x, layer, name):
        f = node("Relu", [linear(x, layer.linear1.weight, layer.linear1.bias, name + ".fc1")],
                 name + ".relu")
        return linear(f, layer.linear2.weight, layer.linear2.bias, name + ".fc2")

    def model_json(name, doc, inputs, outputs, states, first):
        m = {"format": "kiln-model", "version": 1, "name": name, "doc": doc, "inputs": inputs,
             "outputs": outputs, "initializers": inits[first:], "nodes": list(nodes)}
        if states:
            m["states"] = states
        with open(os.path.join(out, name.split("_")[-1] + ".json"), "w") as f:
            json.dump(m, f, indent=0)
            f.write("\n")

    tf = model.tf
    # -- the encoder: embedding, encoder layers, final norm, then the cross-attention keys and
    # values of every decoder layer (what the decoder would otherwise recompute each step)
    first = len(inits)
    const("heads_shape", [-1, HEADS, DH], np.int64)
    const("model_shape", [-1, D], np.int64)
    const("scale", 1.0 / math.sqrt(DH))
    const("src_emb", npy(model.src_emb.weight) * math.sqrt(D))
    const("src_pe", npy(positions(S)))
    x = node("Add", [node("Gather", ["src_emb", "src"], "src_e"), "src_pe"], "enc.x0")
    for i, layer in enumerate(tf.encoder.layers):
        p, a = "enc%d" % i, tf.encoder.layers[i].self_attn
        q = heads(proj(x, a, 0, p + ".q"), p + ".q_t", [1, 0, 2])
        k = heads(proj(x, a, 1, p + ".k"), p + ".k_t", [1, 2, 0])
        v = heads(proj(x, a, 2, p + ".v"), p + ".v_t", [1, 0, 2])
        sa = linear(attend(q, k, v, p + ".sa"), a.out_proj.weight, a.out_proj.bias, p + ".sa_out")
        x = ln(node("Add", [x, sa], p + ".res1"), layer.norm1, p + ".ln1")
        x = ln(node("Add", [x, ffn(x, layer, p)], p + ".res2"), layer.norm2, p + ".ln2")
    memory = ln(x, tf.encoder.norm, "enc.norm")
    cross = []
    for i, layer in enumerate(tf.decoder.layers):
        a = layer.multihead_attn
        heads(proj(memory, a, 1, "mem%d.k" % i), "cross_k.%d" % i, [1, 2, 0])  # [H, DH, S]
        heads(proj(memory, a, 2, "mem%d.v" % i), "cross_v.%d" % i, [1, 0, 2])  # [H, S, DH]
        cross += [{"name": "cross_k.%d" % i, "dtype": "f32", "shape": [HEADS, DH, S]},
                  {"name": "cross_v.%d" % i, "dtype": "f32", "shape": [HEADS, S, DH]}]
    doc = ("tools/translator.py: the seed translator's encoder (V=%d D=%d H=%d L=%d S=%d), "
           "with the cross-attention keys/values of each decoder layer" % (V, D, HEADS, LAYERS, S))
    model_json("translator_encoder", doc, [{"name": "src", "dtype": "i64", "shape": [S]}],
               [{"name": c["name"]} for c in cross], None, first)
    # -- the decoder step: one token at position pos; self-attention over its cache
    nodes.clear()
    first = len(inits)
    const("heads_shape", [-1, HEADS, DH], np.int64)
    const("model_shape", [-1, D], np.int64)
    const("scale", 1.0 / math.sqrt(DH))
    const("tgt_emb", npy(model.tgt_emb.weight) * math.sqrt(D))
    const("tgt_pe", npy(positions(CTX)))
    const("pos_col", np.arange(CTX).reshape(CTX, 1))
    const("pos_row", np.arange(CTX).reshape(1, CTX))
    const("one", [1.0])
    const("hidden", -1e9)  # additive mask of the cache rows after the position
    const("zero", 0.0)
    x = node("Add", [node("Gather", ["tgt_emb", "tok"], "tok_e"),
                     node("Gather", ["tgt_pe", node("Cast", ["pos"], "pos_i", to=7)], "pos_e")],
             "dec.x0")
    node("Equal", ["pos_col", "pos"], "at_pos")  # [CTX, 1]
    node("Where", [node("Greater", ["pos_row", "pos"], "future"), "hidden", "zero"], "mask")
    node("Add", ["pos", "one"], "pos_next")
    states = [{"input": "pos", "next": "pos_next"}]
    cache = [{"name": "pos", "dtype": "f32", "shape": [1]}]
    outputs = [{"name": "logits", "dtype": "f32", "shape": [1, V]}, {"name": "pos_next"}]
    for i, layer in enumerate(tf.decoder.layers):
        p, a, c = "dec%d" % i, layer.self_attn, layer.multihead_attn
        q = heads(proj(x, a, 0, p + ".q"), p + ".q_t", [1, 0, 2])  # [H, 1, DH]
        for j, z in ((1, "k"), (2, "v")):  # the cache row at the position takes the new one
            new = heads(proj(x, a, j, p + "." + z), p + "." + z + "_t", [1, 0, 2])
            past, present = "self_%s.%d" % (z, i), "self_%s.%d_next" % (z, i)
            cache.append({"name": past, "dtype": "f32", "shape": [HEADS, CTX, DH]})
            node("Where", ["at_pos", new, past], present)
            states.append({"input": past, "next": present})
            outputs.append({"name": present})
        kt = node("Transpose", ["self_k.%d_next" % i], p + ".kt", perm=[0, 2, 1])
        sa = attend(q, kt, "self_v.%d_next" % i, p + ".sa", "mask")
        sa = linear(sa, a.out_proj.weight, a.out_proj.bias, p + ".sa_out")
        x = ln(node("Add", [x, sa], p + ".res1"), layer.norm1, p + ".ln1")
        cq = heads(proj(x, c, 0, p + ".cq"), p + ".cq_t", [1, 0, 2])
        ca = attend(cq, "cross_k.%d" % i, "cross_v.%d" % i, p + ".ca")
        ca = linear(ca, c.out_proj.weight, c.out_proj.bias, p + ".ca_out")
        x = ln(node("Add", [x, ca], p + ".res2"), layer.norm2, p + ".ln2")
        x = ln(node("Add", [x, ffn(x, layer, p)], p + ".res3"), layer.norm3, p + ".ln3")
    linear(ln(x, tf.decoder.norm, "dec.norm"), model.out.weight, model.out.bias, "logits")
    doc = ("tools/translator.py: the seed translator's decoder step (CTX=%d), one token per "
           "call; self-attention KV cache and position as states, the encoder's cross-attention "
           "keys/values as inputs" % CTX)
    model_json("translator_decoder", doc,
               [{"name": "tok", "dtype": "i64", "shape": [1]}] + cross + cache, outputs, states,
               first)
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        f.write(bytes(blob))
    print("%s: greedy %s (smallest top-2 margin %.3f), %d bytes of weights" % (
        out, ids, margin, len(blob)))


if __name__ == "__main__":
    toolcli.check(max_args=2)
    main()
