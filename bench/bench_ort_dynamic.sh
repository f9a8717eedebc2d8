#!/usr/bin/env bash
# ONNX Runtime's dynamic quantization (quantize_dynamic: DynamicQuantizeLinear -> MatMulInteger
# -> Cast -> Mul by the scales) through Kiln, against the same model in float through Kiln and
# against ONNX Runtime on the same dynamic .onnx file, one thread. Models: the qdq_import test
# file tests/onnx/qdq/dynamic_mlp (tiny, 2 x 3 rows, with a ConvInteger and a MatMul of two
# activations, the latter on the float path), an MLP 784-512-256-10 at batch 1 and a transformer
# feed-forward block (64 tokens, d 256 -> 1024 -> 256, Relu); the last two are written here in
# float (random fixed-seed weights) and in the form quantize_dynamic writes (per-tensor
# symmetric i8 weights; tools/gen_qdq_tests.py's ort_dynamic_head). And the mnist_cnn and
# cifar_cnn examples with every Conv in quantize_dynamic's ConvInteger form (per-tensor weights,
# i8 symmetric by default as quantize_dynamic's default QInt8, CONV_WTYPE=u8 for QUInt8's u8
# asymmetric ones; ONNX Runtime's ConvInteger takes no per-channel weight zero points; the Gemms
# stay float, quantize_dynamic has no Gemm); their float models have the same, dequantized
# weights. Kiln builds at -O3; with
# KILN_BEFORE=path/to/kiln, that binary (e.g. a build of the commit before MatMulInteger ran on
# the int8 kernel) builds the dynamic file too. ORT: bench/ort_bench.js with its binding overhead
# (a one-Add model in the same process) subtracted, as bench_ort_int8.sh. R interleaved rounds
# of N calls each; the table gives the best median and the minimum, and the spread of the
# medians. Last column: the largest |Kiln dynamic - ORT dynamic| over the outputs.
# usage: bench/bench_ort_dynamic.sh [--repeat-runs R] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=3 n=2000
while [ $# -gt 0 ]; do
  case $1 in
  --repeat-runs) runs=$2; shift 2 ;;
  --runs) n=$2; shift 2 ;;
  *) echo "usage: $0 [--repeat-runs R] [--runs N]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
kiln=$root/build/bin/kiln
before=${KILN_BEFORE:-}
out=$root/build/bench-ort-dynamic
. bench/ort_env.sh
rm -rf "$out"
mkdir -p "$out/inputs"
"$py" - "$out" <<'PYEOF'
import os, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
sys.path.insert(0, "tools")
import gen_qdq_tests as q  # noqa: E402

out = sys.argv[1]
g = helper.make_graph([helper.make_node("Add", ["x", "c"], ["y"])], "add",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
                      [numpy_helper.from_array(np.full((1, 1), 0.5, np.float32), "c")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.save(m, os.path.join(out, "add.onnx"))
np.save(os.path.join(out, "inputs", "x.npy"), np.full((1, 1), 0.25, np.float32))
rng = np.random.default_rng(7)


def model(name, shape, dims):
    """float and quantize_dynamic forms of x @ W1 + b1, Relu, ..., x @ Wn + bn (no Relu last)"""
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "inputs"))
    x = rng.standard_normal(shape).astype(np.float32)
    np.save(os.path.join(d, "inputs", "x.npy"), x)
    fnodes, dnodes, finits, dinits, cur = [], [], [], [], "x"
    for i in range(len(dims) - 1):
        w = (rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        b = (rng.standard_normal(dims[i + 1]) * 0.1).astype(np.float32)
        s = np.float32(np.abs(w).max() / 127)
        wq = np.clip(np.rint(w / s), -127, 127).astype(np.int8)
        wf = (wq.astype(np.float32) * s).astype(np.float32)  # the float model: the same weights
        last = i == len(dims) - 2
        y = "y" if last else "h%d" % i
        pre = "p%d" % i
        finits += [numpy_helper.from_array(wf, "W%d" % i), numpy_helper.from_array(b, "B%d" % i)]
        fnodes += [helper.make_node("MatMul", [cur, "W%d" % i], ["m%d" % i], name="MatMul_%d" % i),
                   helper.make_node("Add", ["m%d" % i, "B%d" % i], [y if last else pre],
                                    name="Add_%d" % i)]
        dinits += [numpy_helper.from_array(wq, "W%d_quantized" % i),
                   numpy_helper.from_array(s, "W%d_scale" % i),
                   numpy_helper.from_array(np.int8(0), "W%d_zero_point" % i),
                   numpy_helper.from_array(b, "B%d" % i)]
        mo = q.ort_dynamic_head("MatMul_%d" % i, cur, "W%d" % i, s, 0, dnodes)
        dnodes.append(helper.make_node("Add", [mo, "B%d" % i], [y if last else pre],
                                       name="Add_%d" % i))
        if not last:
            for nodes in (fnodes, dnodes):
                nodes.append(helper.make_node("Relu", [pre], [y], name="Relu_%d" % i))
        cur = y
    oshape = list(shape[:-1]) + [dims[-1]]
    for kind, nodes, inits in (("float", fnodes, finits), ("dynamic", dnodes, dinits)):
        gr = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", 1, list(shape))],
                               [helper.make_tensor_value_info("y", 1, oshape)], inits)
        mm = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)])
        mm.ir_version = 8
        onnx.checker.check_model(mm)
        onnx.save(mm, os.path.join(d, kind + ".onnx"))


model("mlp784", (1, 784), [784, 512, 256, 10])
model("ffn256", (1, 64, 256), [256, 1024, 256])


def conv_model(name, wtype):
    """examples/NAME/model.onnx with every Conv in quantize_dynamic's form (DynamicQuantizeLinear of
    its input, once per tensor; ConvInteger with per-tensor weights, i8 symmetric or u8 asymmetric
    (QUInt8); Cast, Mul of the scales, Mul; the bias Reshape'd to [1, M, 1, 1] and added), the
    Gemms in float (quantize_dynamic has no Gemm); the float model with the same, dequantized
    weights"""
    src = onnx.load(os.path.join("examples", name, "model.onnx"))
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "inputs"))
    x = np.load(os.path.join("examples", name, "inputs", "x.npy"))
    np.save(os.path.join(d, "inputs", "x.npy"), x)
    g = src.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    fin, din = dict(inits), dict(inits)
    fnodes, dnodes, quantized = [], [], set()
    for nd in g.node:
        if nd.op_type != "Conv" or nd.input[1] not in inits:
            fnodes.append(nd)
            dnodes.append(nd)
            continue
        w = inits[nd.input[1]].astype(np.float32)
        if wtype == "i8":
            s = np.float32(np.abs(w).max() / 127)
            zp = np.int8(0)
            wq = np.clip(np.rint(w / s), -127, 127).astype(np.int8)
        else:
            lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
            s = np.float32((hi - lo) / 255)
            zp = np.uint8(np.clip(round(-lo / s), 0, 255))
            wq = np.clip(np.rint(w / s) + float(zp), 0, 255).astype(np.uint8)
        fin[nd.input[1]] = ((wq.astype(np.float32) - float(zp)) * s).astype(np.float32)
        fnodes.append(nd)
        xin, wn, cn = nd.input[0], nd.input[1], nd.name or nd.output[0]
        if xin not in quantized:
            quantized.add(xin)
            dnodes.append(helper.make_node("DynamicQuantizeLinear", [xin],
                                           [xin + "_quantized", xin + "_scale", xin + "_zero_point"],
                                           name=xin + "_QuantizeLinear"))
        din.pop(wn)
        din[wn + "_quantized"], din[wn + "_scale"], din[wn + "_zero_point"] = wq, s, zp
        y = nd.output[0]
        mo = cn + "_out" if len(nd.input) > 2 else y
        ci = helper.make_node("ConvInteger", [xin + "_quantized", wn + "_quantized",
                                              xin + "_zero_point", wn + "_zero_point"],
                              [cn + "_output_quantized"], name=cn + "_quant")
        ci.attribute.extend(nd.attribute)
        dnodes += [ci,
                   helper.make_node("Cast", [cn + "_output_quantized"],
                                    [cn + "_output_quantized_cast_output"],
                                    name=cn + "_output_quantized_cast", to=TensorProto.FLOAT),
                   helper.make_node("Mul", [xin + "_scale", wn + "_scale"],
                                    [cn + "_quant_scales_mul:0"], name=cn + "_quant_scales_mul"),
                   helper.make_node("Mul", [cn + "_output_quantized_cast_output",
                                            cn + "_quant_scales_mul:0"], [mo],
                                    name=cn + "_quant_output_scale_mul")]
        if len(nd.input) > 2:
            din[cn + "_bias_shape"] = np.array([1, -1, 1, 1], np.int64)
            dnodes += [helper.make_node("Reshape", [nd.input[2], cn + "_bias_shape"],
                                        [cn + "_bias_reshaped"], name=cn + "_bias_reshape"),
                       helper.make_node("Add", [mo, cn + "_bias_reshaped"], [y],
                                        name=cn + "_bias_add")]
    for kind, nodes, ii in (("float", fnodes, fin), ("dynamic", dnodes, din)):
        gr = helper.make_graph(nodes, name, list(g.input), list(g.output),
                               [numpy_helper.from_array(np.asarray(v), k) for k, v in ii.items()])
        mm = helper.make_model(gr, opset_imports=list(src.opset_import))
        mm.ir_version = 8
        onnx.checker.check_model(mm)
        onnx.save(mm, os.path.join(d, kind + ".onnx"))


conv_model("mnist_cnn", os.environ.get("CONV_WTYPE", "i8"))
conv_model("cifar_cnn", os.environ.get("CONV_WTYPE", "i8"))
PYEOF
d=$out/dynamic_mlp
mkdir -p "$d"
cp tests/onnx/qdq/dynamic_mlp/model.onnx "$d/dynamic.onnx"
cp -r tests/onnx/qdq/dynamic_mlp/inputs "$d/"
latency() { "$@" | sed -n 's/^latency: median \([0-9.]*\) us, min \([0-9.]*\) us.*/\1 \2/p'; }
ort() { # model.onnx input_dir out_dir -> "median min" without the binding overhead
  node bench/ort_bench.js "$1" "$2" "$3" --runs "$n" --overhead "$out/add.onnx" |
    "$py" -c 'import json,sys; r=json.load(sys.stdin); o=r["overhead"]["median"]; print("%.3f %.3f" % (r["model"]["median"]-o, r["model"]["min"]-o))'
}
best() { # "median min" lines -> best median (min), median of the medians, worst median
  printf '%s\n' "$@" | sort -g | awk '{m[NR] = $1; n = n == "" || $2 < n ? $2 : n}
    END {printf "%.1f (min %.1f; medians %.1f-%.1f)", m[1], n, m[1], m[NR]}'
}
first() { printf '%s\n' "$@" | sort -g | head -1 | awk '{print $1}'; }
echo "| model | Kiln fp32 (float model) | Kiln dynamic file | ORT dynamic file | Kiln dyn / Kiln fp32 | Kiln dyn / ORT dyn |${before:+ Kiln dynamic, KILN_BEFORE |} max abs diff Kiln-ORT |"
echo "|---|---:|---:|---:|---:|---:|${before:+---:|}---:|"
for m in dynamic_mlp mlp784 ffn256 mnist_cnn cifar_cnn; do
  d=$out/$m
  mapfile -t ins < <("$py" -c 'import onnx, sys; [print(sys.argv[2] + "/inputs/" + i.name + ".npy") for i in onnx.load(sys.argv[1]).graph.input]' "$d/dynamic.onnx" "$d")
  [ -f "$d/float.onnx" ] && "$kiln" build "$d/float.onnx" -O3 -o "$d/fp32" 2>/dev/null
  "$kiln" build "$d/dynamic.onnx" -O3 -o "$d/dyn" 2>/dev/null
  [ -n "$before" ] && "$before" build "$d/dynamic.onnx" -O3 -o "$d/dyn_before" 2>/dev/null
  declare -a kf=() kd=() od=() kb=()
  for r in $(seq "$runs"); do
    mkdir -p "$d/o_kf" "$d/o_kd" "$d/o_kb"
    [ -f "$d/fp32" ] && kf+=("$(latency "$d/fp32" "${ins[@]}" -o "$d/o_kf" --repeat "$n")")
    kd+=("$(latency "$d/dyn" "${ins[@]}" -o "$d/o_kd" --repeat "$n")")
    od+=("$(ort "$d/dynamic.onnx" "$d/inputs" "$d/o_od")")
    [ -n "$before" ] && kb+=("$(latency "$d/dyn_before" "${ins[@]}" -o "$d/o_kb" --repeat "$n")")
  done
  diff=$("$py" - "$d/o_kd" "$d/o_od" <<'PYEOF'
import glob, os, sys
import numpy as np
print("%.3g" % max(float(np.abs(np.load(f) - np.load(os.path.join(sys.argv[2], os.path.basename(f)))).max())
                   for f in glob.glob(sys.argv[1] + "/*.npy")))
PYEOF
)
  fcol="n/a (no float model)" r1="-"
  if [ ${#kf[@]} -gt 0 ]; then
    fcol=$(best "${kf[@]}")
    r1=$(awk -v a="$(first "${kd[@]}")" -v b="$(first "${kf[@]}")" 'BEGIN {printf "%.2f", a / b}')
  fi
  r2=$(awk -v a="$(first "${kd[@]}")" -v b="$(first "${od[@]}")" 'BEGIN {printf "%.2f", a / b}')
  bcol=""
  [ -n "$before" ] && bcol=" $(best "${kb[@]}") |"
  echo "| $m | $fcol | $(best "${kd[@]}") | $(best "${od[@]}") | $r1 | $r2 |$bcol $diff |"
  unset kf kd od kb
done
echo
echo "(µs per inference; best median of $runs interleaved rounds of $n calls, the minimum, and the range of the medians; ORT minus its binding overhead)"
