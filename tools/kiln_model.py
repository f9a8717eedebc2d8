"""kiln_model: build Kiln model files (docs/model-format.md) from Python.

Usage:

    from kiln_model import ModelBuilder, save_npy
    mb = ModelBuilder("mlp")
    mb.input("x", [1, 784])
    mb.initializer("fc1.weight", w)           # numpy array; encoding picked automatically
    mb.node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h1"], {"transB": 1}, name="fc1")
    mb.output("logits", [1, 10])
    mb.save("examples/mlp")                   # writes model.json (+ weights.bin)

Initializer encodings (all three formats of the spec get exercised):
  * more than EXTERNAL_THRESHOLD (64) elements -> "external" into weights.bin, each blob at an
    offset aligned to 64 bytes, zero padding between blobs;
  * small integer/bool tensors -> "data" (JSON numbers);
  * small float tensors -> "base64" (little-endian bytes).
An explicit ``encoding=`` argument overrides the choice.

Output is deterministic: same builder calls -> byte-identical files.
"""

import base64
import json
import os

import numpy as np

EXTERNAL_THRESHOLD = 64
ALIGN = 64
WEIGHTS_FILE = "weights.bin"

# Kiln dtype string <-> numpy little-endian dtype
DTYPES = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "i8": np.dtype("i1"),
    "u8": np.dtype("u1"),
    "i16": np.dtype("<i2"),
    "i32": np.dtype("<i4"),
    "i64": np.dtype("<i8"),
    "bool": np.dtype("?"),
}


def dtype_of(array):
    """Kiln dtype string of a numpy array."""
    for name, dt in DTYPES.items():
        if np.dtype(array.dtype).newbyteorder("<") == dt or np.dtype(array.dtype) == dt:
            return name
    raise ValueError("unsupported numpy dtype %s" % array.dtype)


def save_npy(path, array, dtype="f32"):
    """numpy.save a C-contiguous array converted to the given Kiln dtype."""
    arr = np.array(np.asarray(array).astype(DTYPES[dtype]), order="C")
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    np.save(path, arr, allow_pickle=False)


def rounded(array, digits=5):
    """array as f32 after rounding each value to `digits` decimals (Python's correctly rounded
    round(), as the test generators wrote their weights into JSON): short, readable values."""
    a = np.asarray(array, dtype=np.float64)
    return np.array([round(float(v), digits) for v in a.ravel()], dtype=np.float32).reshape(a.shape)


def check_file_safe(name):
    ok = name and all(c.isalnum() or c in "_." for c in name) and name not in (".", "..")
    if not ok:
        raise ValueError("graph input/output name %r is not file-name safe" % name)


def _compact(obj):
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=True, allow_nan=False)


def _jsonable_attr(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_jsonable_attr(x) for x in v]
    raise TypeError("unsupported attribute value %r" % (v,))


class ModelBuilder:
    def __init__(self, name, doc=None, opset=17):
        if not (name and (name[0].isalpha() or name[0] == "_")
                and all(c.isalnum() or c == "_" for c in name)):
            raise ValueError("model name %r is not a C identifier" % name)
        self.name = name
        self.doc = doc
        self.opset = opset
        self.inputs = []
        self.outputs = []
        self.initializers = []   # (entry dict, bytes-or-None)
        self.nodes = []
        self._names = set()
        self._counter = {}

    # ---- declarations -------------------------------------------------
    def _claim(self, name):
        if not name:
            raise ValueError("empty value name")
        if name in self._names:
            raise ValueError("duplicate value name %r" % name)
        self._names.add(name)

    def input(self, name, shape, dtype="f32"):
        check_file_safe(name)
        self._claim(name)
        self.inputs.append({"name": name, "dtype": dtype, "shape": [int(s) for s in shape]})
        return name

    def output(self, name, shape, dtype="f32"):
        """Declare a graph output (must be produced by some node or be a graph input/initializer)."""
        check_file_safe(name)
        self.outputs.append({"name": name, "dtype": dtype, "shape": [int(s) for s in shape]})
        return name

    def initializer(self, name, array, dtype=None, encoding=None):
        """Add a constant tensor. array: numpy array (or nested list/scalar with dtype)."""
        self._claim(name)
        if dtype is None:
            arr = np.asarray(array)
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            dtype = dtype_of(arr)
        arr = np.array(np.asarray(array).astype(DTYPES[dtype]), order="C")
        if encoding is None:
            if arr.size > EXTERNAL_THRESHOLD:
                encoding = "external"
            elif dtype in ("f32", "f16"):
                encoding = "base64"
            else:
                encoding = "data"
        entry = {"name": name, "dtype": dtype, "shape": list(arr.shape)}
        blob = None
        if encoding == "data":
            flat = arr.reshape(-1)
            if dtype == "bool":
                entry["data"] = [bool(v) for v in flat]
            elif dtype in ("f32", "f16"):
                entry["data"] = [float(v) for v in flat]
            else:
                entry["data"] = [int(v) for v in flat]
        elif encoding == "base64":
            entry["base64"] = base64.b64encode(arr.tobytes()).decode("ascii")
        elif encoding == "external":
            blob = arr.tobytes()
        else:
            raise ValueError("unknown encoding %r" % encoding)
        self.initializers.append((entry, blob))
        return name

    def node(self, op, inputs, outputs, attrs=None, name=None):
        if name is None:
            k = self._counter.get(op, 0)
            self._counter[op] = k + 1
            name = "%s_%d" % (op.lower(), k)
        for o in outputs:
            self._claim(o)
        n = {"name": name, "op": op, "inputs": list(inputs), "outputs": list(outputs)}
        if attrs:
            n["attrs"] = {k: _jsonable_attr(v) for k, v in attrs.items()}
        self.nodes.append(n)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    # ---- output -------------------------------------------------------
    def to_json_and_weights(self, weights_file=WEIGHTS_FILE):
        """Return (json text, weights bytes or None); external blobs refer to weights_file."""
        weights = bytearray()
        inits = []
        for entry, blob in self.initializers:
            e = dict(entry)
            if blob is not None:
                pad = (-len(weights)) % ALIGN
                weights += b"\0" * pad
                e["external"] = {"path": weights_file, "offset": len(weights), "length": len(blob)}
                weights += blob
            inits.append(e)
        top = [("format", "kiln-model"), ("version", 1), ("opset", self.opset), ("name", self.name)]
        if self.doc:
            top.append(("doc", self.doc))
        lists = [("inputs", self.inputs), ("outputs", self.outputs),
                 ("initializers", inits), ("nodes", self.nodes)]
        lines = ["{"]
        parts = []
        for k, v in top:
            parts.append("  %s: %s" % (json.dumps(k), _compact(v)))
        for k, items in lists:
            if not items:
                parts.append("  %s: []" % json.dumps(k))
            else:
                body = ",\n".join("    " + _compact(it) for it in items)
                parts.append("  %s: [\n%s\n  ]" % (json.dumps(k), body))
        lines.append(",\n".join(parts))
        lines.append("}")
        text = "\n".join(lines) + "\n"
        json.loads(text)  # sanity
        return text, (bytes(weights) if weights else None)

    def save(self, directory):
        os.makedirs(directory, exist_ok=True)
        text, weights = self.to_json_and_weights()
        with open(os.path.join(directory, "model.json"), "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        wpath = os.path.join(directory, WEIGHTS_FILE)
        if weights is not None:
            with open(wpath, "wb") as f:
                f.write(weights)
        elif os.path.exists(wpath):
            os.remove(wpath)

    def save_case(self, directory, inputs, goldens):
        """Write model plus inputs/<name>.npy and golden/<name>.npy.

        inputs / goldens: dicts name -> array; names and shapes must match the declarations.
        """
        self.save(directory)
        decl_in = {d["name"]: d for d in self.inputs}
        decl_out = {d["name"]: d for d in self.outputs}
        if set(inputs) != set(decl_in):
            raise ValueError("%s: inputs %s != declared %s" % (self.name, sorted(inputs), sorted(decl_in)))
        if set(goldens) != set(decl_out):
            raise ValueError("%s: goldens %s != declared %s" % (self.name, sorted(goldens), sorted(decl_out)))
        for group, decl, arrays in (("inputs", decl_in, inputs), ("golden", decl_out, goldens)):
            for name, arr in arrays.items():
                arr = np.asarray(arr)
                if list(arr.shape) != decl[name]["shape"]:
                    raise ValueError("%s: %s %s has shape %s, declared %s" % (
                        self.name, group, name, list(arr.shape), decl[name]["shape"]))
                save_npy(os.path.join(directory, group, name + ".npy"), arr, decl[name]["dtype"])
