#!/usr/bin/python3
"""A BiLSTM-CRF tagger (small, seeded) with its Viterbi decoding inside the graph, exported to
ONNX for Kiln's seed-model example examples/bilstm_crf (tests/test_seed_models.sh):
  input    tokens: i64 [T, 1] (one sentence, time-major)
  outputs  emissions: f32 [T, 1, K] (the BiLSTM + Linear tag scores)
           tags: i64 [T], the best tag sequence under the CRF (start, transition and end
           scores): Viterbi unrolled over the T steps (Add, ReduceMax, ArgMax) and the
           back-pointers followed back with Gather
The golden tags come from a separate, plain-Python Viterbi over the emissions (loops and ints,
as pytorch-crf's _viterbi_decode), so the graph's decoding is checked against another
implementation, not against itself.
Writes DIR/model.onnx, DIR/inputs/tokens.npy, inputs.txt, DIR/golden/*.npy, DIR/expect.txt
(the tags line the executable prints). Default DIR: examples/bilstm_crf.
Run with Debian's /usr/bin/python3 (torch, numpy, onnx)."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_case  # noqa: E402

V, E, HID, K, T = 50, 16, 16, 5, 10


class BiLSTMCRF(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, HID, bidirectional=True)
        self.fc = nn.Linear(2 * HID, K)
        self.start = nn.Parameter(torch.randn(K))
        self.end = nn.Parameter(torch.randn(K))
        self.trans = nn.Parameter(torch.randn(K, K))  # trans[i, j]: from tag i to tag j

    def emissions(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        return self.fc(y)  # [T, 1, K]

    def forward(self, tokens):
        em = self.emissions(tokens)[:, 0, :]  # [T, K]
        score = self.start + em[0]  # [K]
        back = []
        for t in range(1, T):
            s = score[:, None] + self.trans + em[t][None, :]  # [K prev, K next]
            score, idx = s.max(0)
            back.append(idx)
        tag = (score + self.end).argmax(0, keepdim=True)  # [1]
        tags = [tag]
        for idx in reversed(back):
            tag = idx.index_select(0, tag)  # Gather
            tags.append(tag)
        return em[:, None, :], torch.cat(tags[::-1])


def viterbi_reference(em, start, end, trans):
    """Plain Python: best path and its score."""
    em, start, end, trans = (x.tolist() for x in (em, start, end, trans))
    score = [start[j] + em[0][j] for j in range(K)]
    back, gap = [], float("inf")  # gap: the closest call of any max, against float rounding
    for t in range(1, T):
        nxt, bp = [], []
        for j in range(K):
            cand = [score[i] + trans[i][j] for i in range(K)]
            i = max(range(K), key=lambda i: cand[i])
            gap = min(gap, sorted(cand)[-1] - sorted(cand)[-2])
            nxt.append(cand[i] + em[t][j])
            bp.append(i)
        score = nxt
        back.append(bp)
    final = [score[j] + end[j] for j in range(K)]
    best = max(range(K), key=lambda j: final[j])
    path = [best]
    for bp in reversed(back):
        path.append(bp[path[-1]])
    return path[::-1], min(gap, sorted(final)[-1] - sorted(final)[-2])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "examples", "bilstm_crf")
    torch.manual_seed(2029)
    model = BiLSTMCRF().eval()
    with torch.no_grad():  # emissions that matter beside the transitions: varied tags
        model.fc.weight.mul_(8)
    tokens = torch.randint(0, V, (T, 1), generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        em, tags = model(tokens)
        ref, margin = viterbi_reference(em[:, 0, :], model.start, model.end, model.trans)
    assert tags.tolist() == ref, (tags.tolist(), ref)
    seed_case.save(out, model, [("tokens", tokens)],
                   [("emissions", em), ("tags", np.array(ref, dtype=np.int64))],
                   ["tags: i64[%d] = %s" % (T, " ".join(str(t) for t in ref))])
    print("%s: %d parameters; tags %s (closest max decided by %.4f)" % (
        out, sum(p.numel() for p in model.parameters()), ref, margin))


if __name__ == "__main__":
    toolcli.check(max_args=1)
    main()
