#!/usr/bin/env python3
"""Writes a large synthetic Kiln model (model.json + weights.bin) for scale tests and benches.
Standard library only (CI has no NumPy).

  gen_scale_model.py DIR layers N [--width W]   N x (Gemm + Relu), W x W weights: many nodes
  gen_scale_model.py DIR weights MB             Gemm + Relu layers of 2048 x 2048 f32 (16 MiB
                                                each) until MB MiB of external weights
  ... [--onnx]                                  also DIR/model.onnx: the same graph as ONNX with
                                                the weights inside (raw_data), written by hand

Weights are small deterministic values (a 64 KiB pattern per tensor, repeated) so activations
stay finite;
also writes DIR/x.npy, an input of ones.
"""
import toolcli  # noqa: F401  (first: a missing module is named, not a traceback)
import array
import json
import os
import struct
import sys


def pattern(nbytes, seed):
    # Distinct per seed: identical constants would be merged by LLVM and hide the object's size.
    base = array.array("f", [((i * 7919 + seed * 104729) % 97 - 48) / 4096.0
                             for i in range(16384)]).tobytes()
    reps, rest = divmod(nbytes, len(base))
    return base * reps + base[:rest]


def write_npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(
        "%d, " % d for d in shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(array.array("f", values).tobytes())


def pb_varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)


def pb(field, value):
    """One protobuf field: an int is a varint, bytes/str are length-delimited."""
    if isinstance(value, int):
        return pb_varint(field << 3) + pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(value)) + value


def write_onnx(path, model, out_dir):
    """model.json's graph as an ONNX file (opset 17), initializers as raw_data."""
    def value_info(name, shape):
        dims = b"".join(pb(1, pb(1, d)) for d in shape)
        return pb(1, name) + pb(2, pb(1, pb(1, 1) + pb(2, dims)))
    graph = bytearray()
    for n in model["nodes"]:
        node = b"".join(pb(1, i) for i in n["inputs"]) + b"".join(pb(2, o) for o in n["outputs"])
        node += pb(3, n["name"]) + pb(4, n["op"])
        for k, v in n.get("attrs", {}).items():
            node += pb(5, pb(1, k) + pb(3, v) + pb(20, 2))  # INT attribute
        graph += pb(1, node)
    graph += pb(2, model["name"])
    with open(os.path.join(out_dir, "weights.bin"), "rb") as f:
        for t in model["initializers"]:
            f.seek(t["external"]["offset"])
            raw = f.read(t["external"]["length"])
            graph += pb(5, b"".join(pb(1, d) for d in t["shape"]) + pb(2, 1) + pb(8, t["name"]) +
                        pb(9, raw))
    graph += pb(11, value_info("x", model["inputs"][0]["shape"]))
    graph += pb(12, value_info("y", [1, model["inputs"][0]["shape"][1]]))
    with open(path, "wb") as f:
        f.write(pb(1, 8) + pb(8, pb(2, 17)) + pb(7, bytes(graph)))


def main():
    out, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    width = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--width" else 16
    if kind == "weights":
        width = 2048
        layers = max(1, count * (1 << 20) // (width * width * 4))
    elif kind == "layers":
        layers = count
    else:
        sys.exit("kind must be 'layers' or 'weights'")
    os.makedirs(out, exist_ok=True)
    inits, nodes, offset = [], [], 0
    with open(os.path.join(out, "weights.bin"), "wb") as f:
        prev = "x"
        for i in range(layers):
            wbytes, bbytes = pattern(width * width * 4, 2 * i), pattern(width * 4, 2 * i + 1)
            for name, shape, data in (("w%d" % i, [width, width], wbytes), ("b%d" % i, [width], bbytes)):
                f.write(data)
                inits.append({"name": name, "dtype": "f32", "shape": shape,
                              "external": {"path": "weights.bin", "offset": offset, "length": len(data)}})
                offset += len(data)
            h = "y" if i == layers - 1 else "r%d" % i
            nodes.append({"name": "fc%d" % i, "op": "Gemm", "attrs": {"transB": 1},
                          "inputs": [prev, "w%d" % i, "b%d" % i], "outputs": ["g%d" % i]})
            nodes.append({"name": "relu%d" % i, "op": "Relu", "inputs": ["g%d" % i], "outputs": [h]})
            prev = h
    model = {"format": "kiln-model", "version": 1, "opset": 17, "name": "scale",
             "inputs": [{"name": "x", "dtype": "f32", "shape": [1, width]}],
             "outputs": [{"name": "y"}], "initializers": inits, "nodes": nodes}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(model, f)
    write_npy(os.path.join(out, "x.npy"), [1, width], [1.0] * width)
    if "--onnx" in sys.argv:
        write_onnx(os.path.join(out, "model.onnx"), model, out)
    print("%s: %d layers, %d nodes, %d weight bytes" % (out, layers, 2 * layers, offset))


if __name__ == "__main__":
    toolcli.check(min_args=3, max_args=3, options=("--width",), flags=("--onnx",))
    main()
