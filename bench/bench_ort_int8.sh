#!/usr/bin/env bash
# Kiln's import of a pre-quantized (QDQ) ONNX model against ONNX Runtime on the same file, one
# thread. Per CNN example: tools/qdq_export.py writes the QDQ model ONNX Runtime's quantize_static
# would write (u8 activations, per-channel i8 weights, i32 bias; calibration on the example input
# and 8 fixed-seed samples); Kiln builds it at -O3 (the qdq pass maps it onto QLinearConv/QGemm)
# and ONNX Runtime runs it (bench/ort_bench.js, its per-call binding overhead measured on a
# one-Add model in the same process and subtracted); the float model is timed the same way.
# Outputs: top-1 of Kiln's and ONNX Runtime's int8 outputs, and their largest difference.
# Numbers are for this machine and its load at the time (2 shared cores: noisy; medians and
# minimums of R interleaved runs). Requirements: as bench/bench_ort.sh (node + npm, onnx, numpy).
# usage: bench/bench_ort_int8.sh [--repeat-runs R] [--runs N] [--models "mnist_cnn cifar_cnn"]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=3 n=2000 models="mnist_cnn cifar_cnn"
while [ $# -gt 0 ]; do
  case $1 in
  --repeat-runs) runs=$2; shift 2 ;;
  --runs) n=$2; shift 2 ;;
  --models) models=$2; shift 2 ;;
  *) echo "usage: $0 [--repeat-runs R] [--runs N] [--models \"NAME ...\"]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
kiln=$root/build/bin/kiln
out=$root/build/bench-ort-int8
tools/build.sh >/dev/null
. bench/ort_env.sh
rm -rf "$out"
mkdir -p "$out"
mkdir -p "$out/inputs"
"$py" - "$out/add.onnx" "$out/inputs/x.npy" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
g = helper.make_graph([helper.make_node("Add", ["x", "c"], ["y"])], "add",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
                      [numpy_helper.from_array(np.full((1, 1), 0.5, np.float32), "c")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.save(m, sys.argv[1])
np.save(sys.argv[2], np.full((1, 1), 0.25, np.float32))
EOF
latency() { "$@" | sed -n 's/^latency: median \([0-9.]*\) us, min \([0-9.]*\) us.*/\1 \2/p'; }
ort() { # model.onnx input_dir out_dir -> "median min" without the binding overhead
  node bench/ort_bench.js "$1" "$2" "$3" --runs "$n" --overhead "$out/add.onnx" |
    "$py" -c 'import json,sys; r=json.load(sys.stdin); o=r["overhead"]["median"]; print("%.3f %.3f" % (r["model"]["median"]-o, r["model"]["min"]-o))'
}
echo "| model | Kiln fp32 | ORT fp32 | Kiln int8 (QDQ import) | ORT int8 (same QDQ) | Kiln int8 / ORT int8 | top-1 equal, max abs diff |"
echo "|---|---:|---:|---:|---:|---:|---|"
for m in $models; do
  d=$out/$m ex=$root/examples/$m
  mkdir -p "$d"
  "$py" tools/qdq_export.py "$ex/model.onnx" "$ex"/inputs/*.npy "$d/qdq.onnx" --samples 8 >/dev/null
  "$kiln" build "$ex/model.onnx" -O3 -o "$d/fp32" 2>/dev/null
  "$kiln" build "$d/qdq.onnx" -O3 -o "$d/int8" 2>/dev/null
  ins=("$ex"/inputs/*.npy)
  declare -a kf=() of=() ki=() oi=()
  for r in $(seq "$runs"); do
    mkdir -p "$d/o_kf" "$d/o_ki"
    kf+=("$(latency "$d/fp32" "${ins[@]}" -o "$d/o_kf" --repeat "$n")")
    of+=("$(ort "$ex/model.onnx" "$ex/inputs" "$d/o_of")")
    ki+=("$(latency "$d/int8" "${ins[@]}" -o "$d/o_ki" --repeat "$n")")
    oi+=("$(ort "$d/qdq.onnx" "$ex/inputs" "$d/o_oi")")
  done
  cmp=$("$py" - "$d/o_ki" "$d/o_oi" <<'EOF'
import glob, os, sys
import numpy as np
for f in sorted(glob.glob(sys.argv[1] + "/*.npy")):
    a, b = np.load(f), np.load(os.path.join(sys.argv[2], os.path.basename(f)))
    print("%s, %.3g" % ("yes" if a.argmax() == b.argmax() else "NO", float(np.abs(a - b).max())))
EOF
)
  best() { printf '%s\n' "$@" | awk '{m = m == "" || $1 < m ? $1 : m; n = n == "" || $2 < n ? $2 : n} END {printf "%.1f (min %.1f)", m, n}'; }
  ratio=$(printf '%s\n' "${ki[@]}" | awk '{print $1}' | sort -g | head -1)
  ratio_o=$(printf '%s\n' "${oi[@]}" | awk '{print $1}' | sort -g | head -1)
  echo "| $m | $(best "${kf[@]}") | $(best "${of[@]}") | $(best "${ki[@]}") | $(best "${oi[@]}") | $(awk -v a="$ratio" -v b="$ratio_o" 'BEGIN {printf "%.2f", a / b}') | $cmp |"
  unset kf of ki oi
done
echo
echo "(µs; best median of $runs interleaved runs of $n calls, and the minimum; ORT minus its binding overhead)"
