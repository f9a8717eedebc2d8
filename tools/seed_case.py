"""Writes one seed-model case (tests/seed/<name>/, tests/test_seed_models.sh): shared by
bert_qa.py, bilstm_crf.py, translator.py and vgg16.py."""
import os

import numpy as np
import torch


def save(out, model, inputs, outputs, expect=()):
    """inputs, outputs: lists of (name, array or tensor), in the model's order; the outputs are
    PyTorch's (the goldens). Writes model.onnx (opset 17, the model traced on the inputs),
    inputs/<name>.npy, golden/<name>.npy, inputs.txt (the input files in order) and
    expect.txt (the lines the built executable must print)."""
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
