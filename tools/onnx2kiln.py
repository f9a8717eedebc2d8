#!/usr/bin/python3
"""onnx2kiln: convert an ONNX model (opsets 11 to 17) to a Kiln model (docs/model-format.md).

    onnx2kiln.py model.onnx -o model.json        # also writes model.weights.bin beside it
    onnx2kiln.py --tensor input_0.pb -o x.npy    # an ONNX TensorProto file to .npy

What it does:
  * static shapes: every graph input must have fixed dimensions (export without dynamic_axes);
  * folds what exporters compute from constants and static shapes (Shape, Gather, Unsqueeze,
    Concat, Slice, Cast, ConstantOfShape, Expand, Range, Constant, arithmetic on constants...)
    into initializers, evaluated with numpy;
  * rewrites the few patterns Kiln expresses differently: Dropout with ratio 0 or in inference
    mode -> Identity; a zero constant Pad in front of Conv / AveragePool -> the op's pads;
  * keeps node names (ONNX name, else "<op>_<index>") for Kiln's error messages;
  * fails with the list of every unsupported op and the nodes that use it.
The ops Kiln supports are read from ir/ops.def, the one op table.

Needs Debian's python3-onnx and python3-numpy. Exit status: 0 ok, 1 a user error (message on
stderr, no output file written).
"""

import os
import re
import stat
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_model import ModelBuilder  # noqa: E402

MIN_OPSET, MAX_OPSET = 11, 17


class ImportError_(Exception):
    pass


def kiln_ops():
    """The op names of ir/ops.def."""
    with open(os.path.join(ROOT, "ir", "ops.def"), encoding="utf-8") as f:
        return set(re.findall(r'^OP\(\w+, "(\w+)"', f.read(), re.M))


def onnx_modules():
    try:
        import onnx
        from onnx import numpy_helper, shape_inference
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError_("the ONNX importer needs Python's onnx module (Debian: apt-get install "
                           "python3-onnx); %s" % e)
    return onnx, numpy_helper, shape_inference


KILN_DTYPE = {1: "f32", 10: "f16", 3: "i8", 2: "u8", 5: "i16", 6: "i32", 7: "i64", 9: "bool"}
NP_OF_ONNX = {1: np.float32, 10: np.float16, 3: np.int8, 2: np.uint8, 5: np.int16, 6: np.int32,
              7: np.int64, 9: np.bool_, 11: np.float64}


def attr_value(a, numpy_helper):
    """An AttributeProto as a Python value (ints, floats, strings, lists, or a numpy array)."""
    t = a.type
    if t == 1:
        return float(a.f)
    if t == 2:
        return int(a.i)
    if t == 3:
        return a.s.decode("utf-8")
    if t == 4:
        return numpy_helper.to_array(a.t)
    if t == 6:
        return [float(x) for x in a.floats]
    if t == 7:
        return [int(x) for x in a.ints]
    if t == 8:
        return [x.decode("utf-8") for x in a.strings]
    raise ImportError_("attribute '%s' has an unsupported type (%d)" % (a.name, t))


# the activations Kiln's RNN/GRU/LSTM implement (ONNX's defaults)
DEFAULT_ACTIVATIONS = {"RNN": ["tanh"], "GRU": ["sigmoid", "tanh"],
                       "LSTM": ["sigmoid", "tanh", "tanh"]}


# ---------------------------------------------------------------- constant folding
def _axes(node_attrs, ins, k):
    if "axes" in node_attrs:
        return list(node_attrs["axes"])
    if len(ins) > k and ins[k] is not None:
        return [int(v) for v in np.asarray(ins[k]).reshape(-1)]
    return None


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(idx)]


def fold(op, attrs, ins, shapes):
    """Evaluate op on constant inputs with numpy; None if it is not foldable here."""
    x = ins[0] if ins else None
    if op == "Constant":
        if "value" in attrs:
            return [attrs["value"]]
        for k, dt in (("value_float", np.float32), ("value_int", np.int64),
                      ("value_floats", np.float32), ("value_ints", np.int64)):
            if k in attrs:
                return [np.array(attrs[k], dtype=dt)]
        return None
    if op == "Identity":
        return [x]
    if op == "Shape":
        return None  # handled by the caller (needs the input's static shape)
    if op == "Cast":
        return [x.astype(NP_OF_ONNX[attrs["to"]])]
    if op == "Gather":
        return [np.take(x, ins[1].astype(np.int64), axis=attrs.get("axis", 0))]
    if op == "Unsqueeze":
        axes = sorted(a % (x.ndim + len(_axes(attrs, ins, 1))) for a in _axes(attrs, ins, 1))
        for a in axes:
            x = np.expand_dims(x, a)
        return [x]
    if op == "Squeeze":
        axes = _axes(attrs, ins, 1)
        return [np.squeeze(x) if axes is None else np.squeeze(x, tuple(a % x.ndim for a in axes))]
    if op == "Concat":
        return [np.concatenate(ins, axis=attrs["axis"])]
    if op == "Slice":
        if "starts" in attrs:  # opset < 10
            return [_slice(x, attrs["starts"], attrs["ends"], attrs.get("axes"))]
        get = lambda k: None if len(ins) <= k or ins[k] is None else list(ins[k])  # noqa: E731
        return [_slice(x, get(1), get(2), get(3), get(4))]
    if op == "ConstantOfShape":
        v = attrs.get("value", np.zeros(1, np.float32))
        return [np.full(tuple(int(d) for d in x), v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Expand":
        shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in ins[1]))
        return [np.broadcast_to(x, shape).copy()]
    if op == "Range":
        return [np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)]
    if op == "Reshape":
        shape = [int(d) for d in ins[1]]
        shape = [x.shape[i] if d == 0 and not attrs.get("allowzero", 0) else d
                 for i, d in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Transpose":
        return [np.transpose(x, attrs.get("perm"))]
    binops = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal,
              "Less": np.less, "Greater": np.greater, "Pow": np.power}
    if op in binops:
        return [np.asarray(binops[op](ins[0], ins[1])).astype(
            np.bool_ if op in ("Equal", "Less", "Greater") else ins[0].dtype)]
    if op == "Div":
        if np.issubdtype(ins[0].dtype, np.integer):
            return [(ins[0] // ins[1]).astype(ins[0].dtype)]
        return [(ins[0] / ins[1]).astype(ins[0].dtype)]
    if op == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if op in ("Neg", "Sqrt", "Abs"):
        return [{"Neg": np.negative, "Sqrt": np.sqrt, "Abs": np.abs}[op](x).astype(x.dtype)]
    return None


# ---------------------------------------------------------------- conversion
def load_confined(onnx, path, weights_dirs):
    """onnx.load, but external data must resolve (symlinks followed) inside the model's folder
    or one of weights_dirs, and be a regular file: a model must not carry other files of the
    build machine into its artifact (as ONNX Runtime refuses data outside the model's folder)."""
    model = onnx.load(path, load_external_data=False)
    base = os.path.dirname(os.path.abspath(path))
    allowed = [os.path.realpath(d) for d in [base] + list(weights_dirs)]
    from onnx.external_data_helper import _get_all_tensors, uses_external_data
    for t in _get_all_tensors(model):
        if not uses_external_data(t):
            continue
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        where = "%s: initializer '%s': external data '%s'" % (path, t.name, loc)
        if not loc:
            raise ImportError_("%s: initializer '%s': external data without a location"
                               % (path, t.name))
        real = os.path.realpath(os.path.join(base, loc))
        if not any(real == a or real.startswith(a.rstrip("/") + "/") for a in allowed):
            raise ImportError_("%s is outside the model's folder: it resolves to '%s', not "
                               "inside '%s' (--weights-dir DIR allows another folder)"
                               % (where, real, allowed[0]))
        if not os.path.exists(real):
            raise ImportError_("%s: no such file" % where)
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise ImportError_("%s: '%s' is not a regular file" % (where, real))
        info = {e.key: e.value for e in t.external_data}
        try:
            offset, length = int(info.get("offset", 0)), info.get("length")
            size = os.path.getsize(real)
            length = size - offset if length is None else int(length)
            if offset < 0 or length < 0 or offset + length > size:
                raise ValueError("range [%d, %d) is outside the file (%d bytes)"
                                 % (offset, offset + length, size))
            with open(real, "rb") as f:
                f.seek(offset)
                t.raw_data = f.read(length)
        except (OSError, ValueError) as e:
            raise ImportError_("%s: cannot read it: %s" % (where, e))
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
    return model


def convert(path, out_json, model_name=None, weights_dirs=()):
    onnx, numpy_helper, shape_inference = onnx_modules()
    try:
        model = load_confined(onnx, path, weights_dirs)
    except FileNotFoundError:
        raise ImportError_("%s: no such file" % path)
    except ImportError_:
        raise
    except Exception as e:  # protobuf DecodeError and friends
        raise ImportError_("%s: not an ONNX model (cannot parse it: %s)" % (path, e))
    if not model.HasField("graph") or not model.opset_import:
        raise ImportError_("%s: not an ONNX model (no graph or no opset; empty file?)" % path)
    g = model.graph
    opset = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
        elif imp.domain != "ai.onnx.ml":
            raise ImportError_("%s: operator set domain '%s' is not supported" % (path, imp.domain))
    if opset is None or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ImportError_("%s: opset %s is not supported (Kiln imports opsets %d to %d)"
                           % (path, opset, MIN_OPSET, MAX_OPSET))
    try:
        model = shape_inference.infer_shapes(model)
        g = model.graph
    except Exception as e:
        raise ImportError_("%s: ONNX shape inference failed: %s" % (path, e))

    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = [int(d.dim_value) for d in tt.shape.dim]

    name = re.sub(r"\W", "_", model_name or os.path.splitext(os.path.basename(out_json))[0])
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = "m_" + name
    mb = ModelBuilder(name, doc="Imported from %s by tools/onnx2kiln.py (opset %d)"
                      % (os.path.basename(path), opset), opset=17)
    errors = []
    for inp in g.input:
        if inp.name in consts:
            continue
        tt = inp.type.tensor_type
        if tt.elem_type not in KILN_DTYPE:
            errors.append("%s: graph input '%s': element type %d is not supported"
                          % (path, inp.name, tt.elem_type))
            continue
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value") or d.dim_value < 1:
                errors.append("%s: graph input '%s': dimension '%s' is not static (export with "
                              "fixed shapes, no dynamic_axes)" % (path, inp.name,
                                                                  d.dim_param or "?"))
                break
            dims.append(int(d.dim_value))
        else:
            mb.input(inp.name, dims, KILN_DTYPE[tt.elem_type])

    supported = kiln_ops()
    kept = []          # (op, name, inputs, outputs, attrs)
    unsupported = {}   # op -> [node names]
    renamed = {}       # value name -> value name (Identity / Dropout removed)
    for idx, node in enumerate(g.node):
        nname = node.name or "%s_%d" % (node.op_type, idx)
        if node.domain not in ("", "ai.onnx"):
            unsupported.setdefault("%s.%s" % (node.domain, node.op_type), []).append(nname)
            continue
        attrs = {a.name: attr_value(a, numpy_helper) for a in node.attribute}
        ins = [renamed.get(i, i) for i in node.input]
        op = node.op_type
        if op == "Shape" and ins[0] in shapes:
            s = np.array(shapes[ins[0]], dtype=np.int64)
            start, end = attrs.get("start", 0), attrs.get("end", len(s))
            consts[node.output[0]] = s[start:end]
            continue
        if all(i == "" or i in consts for i in ins) and op != "Shape":
            try:
                res = fold(op, attrs, [consts[i] if i else None for i in ins], shapes)
            except Exception as e:
                raise ImportError_("%s: node '%s' (%s): cannot fold: %s" % (path, nname, op, e))
            if res is not None:
                for o, v in zip(node.output, res):
                    if o:
                        consts[o] = np.asarray(v)
                continue
        if op == "Dropout":
            ratio = consts.get(ins[1]) if len(ins) > 1 and ins[1] else None
            training = consts.get(ins[2]) if len(ins) > 2 and ins[2] else None
            if training is None or not bool(training) or (ratio is not None and float(ratio) == 0):
                renamed[node.output[0]] = ins[0]
                if len(node.output) > 1 and node.output[1]:   # the mask: all true
                    if ins[0] not in shapes:
                        unsupported.setdefault("Dropout (mask of unknown shape)", []).append(nname)
                    else:
                        consts[node.output[1]] = np.ones(shapes[ins[0]], dtype=np.bool_)
                continue
        if op == "Identity":
            renamed[node.output[0]] = ins[0]
            continue
        if op not in supported and op != "Pad":  # Pad: folded into its consumer below
            unsupported.setdefault(op, []).append(nname)
            continue
        if op in DEFAULT_ACTIVATIONS and "activations" in attrs:
            dirs = 2 if attrs.get("direction") == "bidirectional" else 1
            if [a.lower() for a in attrs["activations"]] != DEFAULT_ACTIVATIONS[op] * dirs:
                unsupported.setdefault("%s with activations %s" % (op, attrs["activations"]),
                                       []).append(nname)
                continue
            del attrs["activations"]
        kept.append([op, nname, ins, list(node.output), attrs])
    if unsupported:
        total = sum(len(v) for v in unsupported.values())
        lines = ["%s: %d node%s use%s %d op%s Kiln does not support:" % (
            path, total, "s" if total != 1 else "", "" if total != 1 else "s", len(unsupported),
            "s" if len(unsupported) != 1 else "")]
        for op, names in unsupported.items():
            lines.append("  %s: %s" % (op, ", ".join("'%s'" % n for n in names)))
        lines.append("Supported ops: %s" % ", ".join(sorted(supported)))
        errors.append("\n".join(lines))
    if errors:
        raise ImportError_("\n".join(errors))

    # A constant Pad (zeros) feeding a Conv / AveragePool becomes the op's pads.
    producers = {o: k for k, n in enumerate(kept) for o in n[3]}
    uses = {}
    for n in kept:
        for i in n[2]:
            uses[i] = uses.get(i, 0) + 1
    for n in kept:
        if n[0] not in ("Conv", "AveragePool") or n[2][0] not in producers:
            continue
        p = kept[producers[n[2][0]]]
        if p[0] != "Pad" or uses.get(p[3][0], 0) != 1:
            continue
        pads = consts.get(p[2][1]) if len(p[2]) > 1 else np.array(p[4].get("pads", []))
        value = consts.get(p[2][2]) if len(p[2]) > 2 and p[2][2] else np.zeros(1)
        if pads is None or p[4].get("mode", "constant") != "constant" or float(value) != 0:
            continue
        pads = [int(v) for v in pads]
        r = len(pads) // 2
        if any(pads[i] or pads[r + i] for i in range(2)):
            continue
        extra = pads[2:r] + pads[r + 2:]
        old = n[4].get("pads", [0] * len(extra))
        n[4]["pads"] = [a + b for a, b in zip(old, extra)]
        if n[0] == "AveragePool":
            n[4]["count_include_pad"] = 1
        n[2][0] = p[2][0]
        p[0] = None  # dropped
    kept = [n for n in kept if n[0] is not None]
    if any(n[0] == "Pad" for n in kept):
        bad = [n[1] for n in kept if n[0] == "Pad"]
        raise ImportError_("%s: 1 op Kiln does not support: Pad: %s (only a zero constant Pad "
                           "in front of Conv or AveragePool is folded)"
                           % (path, ", ".join("'%s'" % b for b in bad)))

    used = set()
    for n in kept:
        used.update(i for i in n[2] if i)
    outputs = [renamed.get(o.name, o.name) for o in g.output]
    for v in sorted(used | set(outputs)):
        if v in consts:
            arr = consts[v]
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            enc = None
            if arr.dtype.kind in "iu" and arr.size and np.abs(arr.astype(np.float64)).max() > 2**53:
                enc = "base64"
            mb.initializer(v, arr, encoding=enc)
    for op, nname, ins, outs, attrs in kept:
        outs = list(outs)
        while outs and not outs[-1]:
            outs.pop()
        outs = [o or "%s.unused_%d" % (nname, k) for k, o in enumerate(outs)]
        mb.node(op, ins, outs, {k: v for k, v in attrs.items()
                                if not isinstance(v, np.ndarray)}, name=nname)
    for o, orig in zip(outputs, g.output):
        if o != orig.name:
            raise ImportError_("%s: graph output '%s' is an Identity of '%s' (not supported)"
                               % (path, orig.name, o))
        mb.output(o, shapes.get(o, []), KILN_DTYPE.get(orig.type.tensor_type.elem_type, "f32"))
        if o not in shapes:
            del mb.outputs[-1]["shape"]
    wname = os.path.splitext(os.path.basename(out_json))[0] + ".weights.bin"
    text, weights = mb.to_json_and_weights(weights_file=wname)
    d = os.path.dirname(os.path.abspath(out_json))
    os.makedirs(d, exist_ok=True)
    wpath = os.path.join(d, wname)
    tmp = out_json + ".tmp"
    if weights is not None:
        with open(wpath + ".tmp", "wb") as f:
            f.write(weights)
        os.replace(wpath + ".tmp", wpath)
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, out_json)
    return len(kept)


def tensor_to_npy(path, out):
    onnx, numpy_helper, _ = onnx_modules()
    t = onnx.TensorProto()
    try:
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        arr = numpy_helper.to_array(t)
    except FileNotFoundError:
        raise ImportError_("%s: no such file" % path)
    except Exception as e:
        raise ImportError_("%s: not an ONNX TensorProto (%s)" % (path, e))
    if t.data_type not in KILN_DTYPE:
        raise ImportError_("%s: element type %d is not supported" % (path, t.data_type))
    np.save(out + ".tmp.npy", np.ascontiguousarray(arr), allow_pickle=False)
    os.replace(out + ".tmp.npy", out)


def main(argv):
    args, out, tensor, name, dirs = [], None, False, None, []
    it = iter(argv[1:])
    for a in it:
        if a == "-o":
            out = next(it, None)
        elif a == "--tensor":
            tensor = True
        elif a == "--name":
            name = next(it, None)
        elif a == "--weights-dir":
            dirs.append(next(it, "."))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(a)
    if len(args) != 1 or not out:
        sys.stderr.write("usage: onnx2kiln.py model.onnx -o model.json [--name NAME]\n"
                         "       onnx2kiln.py --tensor tensor.pb -o tensor.npy\n")
        return 2
    try:
        if tensor:
            tensor_to_npy(args[0], out)
        else:
            convert(args[0], out, name, dirs)
    except ImportError_ as e:
        sys.stderr.write("%s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (out, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
