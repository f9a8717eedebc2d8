#!/usr/bin/python3
"""Models for bench/bench_seed_ort.sh: the BERT QA encoder of tools/bert_qa.py and the translator
of tools/translator.py, each at the seed models' configuration (the same files as the seed
models' model.onnx, inputs and goldens) and at a larger one, written by those scripts' main():
  OUT/bert_qa          V 96, S 24, D 32, 2 heads, 2 layers, FF 64 (the seed model)
  OUT/bert_qa_256      V 1000, S 128, D 256, 4 heads, 4 layers, FF 1024 (BERT-mini's shape)
  OUT/translator       d_model 32, 4 heads, 2+2 layers, FF 64, V 40, S 8, N 7 (the seed model)
  OUT/translator_512   d_model 512, 8 heads, 3+3 layers, FF 2048, V 1000, S 16, N 7 (the issue's
                       nn.Transformer 512/8/3+3)
usage: seed_bench_models.py OUT [NAME ...]   (Debian's /usr/bin/python3: torch, onnx)"""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_qa  # noqa: E402
import translator  # noqa: E402

CONFIGS = {
    "bert_qa": (bert_qa, {}),
    "bert_qa_256": (bert_qa, {"V": 1000, "S": 128, "D": 256, "H": 4, "L": 4, "FF": 1024}),
    "translator": (translator, {}),
    "translator_512": (translator, {"V": 1000, "D": 512, "HEADS": 8, "LAYERS": 3, "FF": 2048,
                                    "S": 16}),
}


def main():
    out, names = sys.argv[1], sys.argv[2:] or list(CONFIGS)
    for name in names:
        mod, consts = CONFIGS[name]
        saved = {k: getattr(mod, k) for k in consts}
        for k, v in consts.items():
            setattr(mod, k, v)
        if hasattr(mod, "DH"):
            saved.setdefault("DH", mod.DH)
            mod.DH = mod.D // (mod.H if hasattr(mod, "H") else mod.HEADS)
        # the second path: translator.py also writes its generation case there (by default into
        # tests/gen/translator, which a bench must not touch)
        sys.argv = [sys.argv[0], os.path.join(out, name), os.path.join(out, name + "_generate")]
        mod.main()
        for k, v in saved.items():
            setattr(mod, k, v)


toolcli.check(min_args=1)
main()
