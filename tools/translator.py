#!/usr/bin/python3
"""An nn.Transformer translator (small, seeded: d_model 32, 4 heads, 2+2 layers) with greedy
decoding, exported to ONNX for Kiln's seed-model test tests/seed/translator
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
Default DIR: tests/seed/translator. Run with Debian's /usr/bin/python3 (torch, numpy, onnx)."""
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_case  # noqa: E402

V, D, HEADS, LAYERS, FF, S, N, BOS = 40, 32, 4, 2, 64, 8, 7, 1


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
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "seed", "translator")
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


if __name__ == "__main__":
    main()
