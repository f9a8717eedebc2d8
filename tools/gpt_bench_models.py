#!/usr/bin/python3
"""Models for bench/bench_generate.sh: the GPT-2-style decoder of tools/gpt_tiny.py at a given
configuration (seeded weights), as
  OUT/NAME/kiln/model.json + weights.bin  the decoder over a run-time number of tokens
                                          (gpt_tiny.write_seq: prefill and decode, KV cache states)
  OUT/NAME/step.onnx                      the same one-token decode step for ONNX Runtime, its KV
                                          cache as inputs past_k/past_v [L, CTX, H, DH] and outputs
                                          present_k/present_v (the caller copies them back in)
  OUT/NAME/step.json                      {"cache": [L, CTX, H, DH]} for bench/ort_generate.js
  OUT/NAME/prompt.npy, golden_ids.npy     a prompt and torch's greedy tokens after it
usage: gpt_bench_models.py OUT NAME V D H L CTX [N_NEW [SCALE]]   (Debian's /usr/bin/python3: torch)
SCALE (default 1) multiplies every parameter but the embeddings: with torch's default init a wide
model's tied head mostly returns the input token (at GPT-2 124M the greedy sequence is the last
prompt token repeated, a check that tells nothing); 3 there gives varied tokens."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_tiny as g  # noqa: E402


class Step(nn.Module):
    """One token through the model's weights with a fixed-size cache: the row at pos takes the
    new key/value (Where), each query attends to the keys up to pos."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, tok, pos, past_k, past_v):
        m, D, H, DH, CTX = self.m, g.D, g.H, g.DH, g.CTX
        x = m.wte(tok) + m.wpe(pos)  # [1, D]
        rows = torch.arange(CTX).view(CTX, 1, 1)
        at = rows == pos.view(1, 1, 1)
        mask = torch.zeros(CTX).masked_fill(torch.arange(CTX) > pos, -1e9)  # [CTX]
        ks, vs = [], []
        for i, blk in enumerate(m.blocks):
            q, k, v = blk.c_attn(blk.ln1(x)).split(D, dim=1)
            k = torch.where(at, k.view(1, H, DH), past_k[i])  # [CTX, H, DH]
            v = torch.where(at, v.view(1, H, DH), past_v[i])
            ks.append(k)
            vs.append(v)
            att = q.view(H, 1, DH) @ k.permute(1, 2, 0) / math.sqrt(DH) + mask  # [H, 1, CTX]
            y = (att.softmax(-1) @ v.transpose(0, 1)).reshape(1, D)
            x = x + blk.c_proj(y)
            x = x + blk.proj(nn.functional.gelu(blk.fc(blk.ln2(x))))
        return m.ln_f(x) @ m.wte.weight.T, torch.stack(ks), torch.stack(vs)


def main():
    out, name = sys.argv[1], sys.argv[2]
    g.V, g.D, g.H, g.L, g.CTX = (int(a) for a in sys.argv[3:8])
    n_new = int(sys.argv[8]) if len(sys.argv) > 8 else 32
    scale = float(sys.argv[9]) if len(sys.argv) > 9 else 1.0
    g.DH = g.D // g.H
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(2026)
    model = g.GPT().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(("wte", "wpe")):
                p.mul_(scale)
    prompt = [int(t) % g.V for t in (5, 17, 42, 8, 33, 2)]
    ids = list(prompt)
    margin = float("inf")  # smallest gap between the best and second-best logit
    with torch.no_grad():
        for _ in range(n_new):
            logits = model(torch.tensor([ids]))[0, -1]
            top = logits.topk(2).values
            margin = min(margin, float(top[0] - top[1]))
            ids.append(int(logits.argmax()))
        full = model(torch.tensor([ids[:-1]]))[0].numpy().astype(np.float32)
    np.save(os.path.join(d, "prompt.npy"), np.array(prompt, np.int64))
    np.save(os.path.join(d, "golden_ids.npy"), np.array(ids[len(prompt):], np.int64))
    g.write_seq(model, os.path.join(d, "kiln"), ids[:-1], full, ids[-1])
    step = Step(model).eval()
    cache = torch.zeros(g.L, g.CTX, g.H, g.DH)
    with torch.no_grad():
        torch.onnx.export(step, (torch.tensor([1]), torch.tensor([0]), cache, cache),
                          os.path.join(d, "step.onnx"), opset_version=17,
                          input_names=["tok", "pos", "past_k", "past_v"],
                          output_names=["logits", "present_k", "present_v"])
    with open(os.path.join(d, "step.json"), "w") as f:
        json.dump({"cache": [g.L, g.CTX, g.H, g.DH]}, f)
    print("greedy %s, smallest top-2 margin %.4f" % (ids[len(prompt):], margin))
    print("%s: V=%d D=%d H=%d L=%d CTX=%d, %d parameters" %
          (name, g.V, g.D, g.H, g.L, g.CTX, sum(p.numel() for p in model.parameters())))


toolcli.check(min_args=7, max_args=9)
main()
