"""Writes one seed-model example (examples/<name>/, run by every example suite and by
tests/test_seed_models.sh): shared by bert_qa.py, bilstm_crf.py, translator.py and vgg16.py."""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import os
import subprocess

import numpy as np
import torch


def save(out, model, inputs, outputs, expect=()):
    """inputs, outputs: lists of (name, array or tensor), in the model's order; the outputs are
    PyTorch's (the goldens). Writes model.onnx (opset 17, the model traced on the inputs),
    inputs/<name>.npy, golden/<name>.npy, inputs.txt (the input files in order) and
    expect.txt (the lines the built executable must print); then model.json and
    model.weights.bin, imported from model.onnx by Kiln's C importer ($KILN or build/bin/kiln),
    which the example suites compile."""
    for d in ("inputs", "golden"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    torch.onnx.export(model, tuple(t for _, t in inputs), os.path.join(out, "model.onnx"),
                      opset_version=17, input_names=[n for n, _ in inputs],
                      output_names=[n for n, _ in outputs], do_constant_folding=True)
    for sub, named in (("inputs", inputs), ("golden", outputs)):
        for name, t in named:
            np.save(os.path.join(out, sub, name + ".npy"),
                    t.numpy() if isinstance(t, torch.Tensor) else t)
    with open(os.path.join(out, "inputs.txt"), "w") as f:
        f.write("".join("inputs/%s.npy\n" % n for n, _ in inputs))
    if expect:
        with open(os.path.join(out, "expect.txt"), "w") as f:
            f.write("".join(line + "\n" for line in expect))
    kiln = os.environ.get("KILN") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin", "kiln")
    onnx, js = os.path.join(out, "model.onnx"), os.path.join(out, "model.json")
    if os.access(kiln, os.X_OK):
        subprocess.run([kiln, "import", onnx, "-o", js], check=True)
    else:
        print("%s: no Kiln executable; run `kiln import %s -o %s`" % (kiln, onnx, js))
