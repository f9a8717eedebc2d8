#!/usr/bin/env bash
# Kiln against ONNX Runtime on one thread for the BERT QA encoder and the nn.Transformer translator
# (tools/bert_qa.py, tools/translator.py): the seed models' configurations and larger ones
# (tools/seed_bench_models.py exports them into OUT, with PyTorch's goldens).
#   Kiln: kiln import model.onnx, kiln build -O3; the executable's --repeat N (median, fastest).
#   ORT:  bench/ort_bench.js on the same .onnx and inputs, N calls, with the one-Add model timed in
#         the same process: its median (fastest) is the binding's per-call overhead, subtracted
#         (as bench/bench_ort.sh does).
# Outputs against PyTorch's goldens: Kiln's integer outputs (span, translation ids) must be equal,
# its floats within 1e-5 + 1e-4 |x| (the seed tests' tolerance) or no further off than 10x ONNX
# Runtime's error (the larger configurations are less well conditioned); the run fails otherwise.
# Both runtimes' max errors are printed.
# Prints a markdown table: medians over R runs of Kiln median and ORT net median, their ratio, the
# min-max spread of the ratio over runs, and the ratio of the fastest calls.
# Requirements: /usr/bin/python3 with torch and onnx, node + npm (onnxruntime-node is installed into
# build/bench-ort/ as bench/bench_ort.sh does). Numbers are for this machine and its load.
# usage: bench/bench_seed_ort.sh [--runs R] [--time-ms T] [--models "NAME ..."] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=3 time_ms=500 out=build/bench-seed models="bert_qa bert_qa_256 translator translator_512"
usage() {
  echo "usage: $0 [--runs R] [--time-ms T] [--models \"NAME ...\"] [--out DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
  --runs) runs=$2; shift 2 ;;
  --time-ms) time_ms=$2; shift 2 ;;
  --models) models=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $time_ms =~ ^[1-9][0-9]*$ ]] || usage
py=/usr/bin/python3
kiln=$root/build/bin/kiln
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "== Kiln $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
tools/build.sh >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
. bench/ort_env.sh
echo "== exporting (tools/seed_bench_models.py, tools/export_bench_models.py add_overhead)"
# shellcheck disable=SC2086
"$py" tools/seed_bench_models.py "$out" $models >"$out/export.log" 2>&1 || { cat "$out/export.log"; exit 1; }
"$py" tools/export_bench_models.py "$out" add_overhead >"$out/export_add.log" 2>&1 ||
  { cat "$out/export_add.log"; exit 1; }
add=$out/add_overhead/model.onnx

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
field() { "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d[sys.argv[2]][sys.argv[3]])' "$@"; }
# err GOLDEN_DIR OUT_DIR: "MAXABS INTS FLOATS": the largest |difference| of the float outputs;
# INTS 1 if the integer outputs are equal, FLOATS 1 if the floats are within 1e-5 + 1e-4 |golden|
err() {
  "$py" - "$1" "$2" <<'EOF'
import glob, os, sys
import numpy as np
worst, ints, floats = 0.0, 1, 1
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.npy"))):
    a, b = np.load(f), np.load(os.path.join(sys.argv[2], os.path.basename(f)))
    if np.issubdtype(a.dtype, np.integer):
        ints &= int(a.shape == b.shape and (a == b).all())
    elif a.shape != b.shape:
        floats = 0
    else:
        worst = max(worst, float(np.abs(a.astype(np.float64) - b).max()))
        floats &= int(np.allclose(b, a, rtol=1e-4, atol=1e-5))
print("%.3g %d %d" % (worst, ints, floats))
EOF
}

table="| model | parameters | Kiln -O3 median (fastest) | ORT net median (fastest) | Kiln / ORT | spread over runs | fastest / fastest | N |
|---|---|---|---|---|---|---|---|"
for name in $models; do
  d=$out/$name
  params=$(sed -n "s|^$d: \\([0-9]*\\) parameters.*|\\1|p" "$out/export.log")
  "$kiln" import "$d/model.onnx" -o "$d/kiln/model.json" >"$d/import.log" 2>&1 || { cat "$d/import.log"; exit 1; }
  /usr/bin/time -f '%e s, %M KB' -o "$d/build.time" "$kiln" build -O3 "$d/kiln/model.json" -o "$d/kiln_O3"
  mapfile -t ins < <(sed "s|^|$d/|" "$d/inputs.txt")
  pilot=$("$d/kiln_O3" "${ins[@]}" -o "$d/out_kiln" --repeat 5 --quiet | sed -n 's/^latency: median \([0-9.]*\) us.*/\1/p')
  n=$(awk -v l="$pilot" -v t="$time_ms" 'BEGIN { n = int(t * 1000 / l); print (n < 20 ? 20 : (n > 20000 ? 20000 : n)) }')
  echo "== $name: $params parameters, build $(cat "$d/build.time"), N=$n"
  ratios=() kmed=() kmin=() omed=() omin=()
  for r in $(seq "$runs"); do
    l=$("$d/kiln_O3" "${ins[@]}" -o "$d/out_kiln" --repeat "$n" --quiet | grep '^latency: ')
    read -r kerr kints kfloats <<<"$(err "$d/golden" "$d/out_kiln")"
    node bench/ort_bench.js "$d/model.onnx" "$d/inputs" "$d/out_ort" --runs "$n" --overhead "$add" >"$d/ort.json"
    read -r oerr oints _ <<<"$(err "$d/golden" "$d/out_ort")"
    echo "   max |error| against PyTorch: Kiln $kerr, ORT $oerr; integer outputs equal: Kiln $kints, ORT $oints"
    if [ "$kints" = 0 ] || { [ "$kfloats" = 0 ] && ! awk -v k="$kerr" -v o="$oerr" 'BEGIN { exit !(k <= 10 * o) }'; }; then
      echo "$name: Kiln's outputs differ from PyTorch's" >&2
      exit 1
    fi
    km=$(sed -n 's/^latency: median \([0-9.]*\) us, min \([0-9.]*\) us.*/\1/p' <<<"$l")
    kf=$(sed -n 's/^latency: median \([0-9.]*\) us, min \([0-9.]*\) us.*/\2/p' <<<"$l")
    om=$(echo "$(field "$d/ort.json" model median) - $(field "$d/ort.json" overhead median)" | bc -l)
    of=$(echo "$(field "$d/ort.json" model min) - $(field "$d/ort.json" overhead min)" | bc -l)
    kmed+=("$km") kmin+=("$kf") omed+=("$om") omin+=("$of")
    ratios+=("$(echo "$km / $om" | bc -l)")
    printf '   run %d: Kiln %.1f us (fastest %.1f), ORT net %.1f us (fastest %.1f), ratio %.2f\n' \
      "$r" "$km" "$kf" "$om" "$of" "${ratios[-1]}"
  done
  k=$(printf '%s\n' "${kmed[@]}" | median) o=$(printf '%s\n' "${omed[@]}" | median)
  kf=$(printf '%s\n' "${kmin[@]}" | sort -g | head -1) of=$(printf '%s\n' "${omin[@]}" | sort -g | head -1)
  lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1) hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
  table+="
| $name | $params | $(printf '%.1f us (%.1f)' "$k" "$kf") | $(printf '%.1f us (%.1f)' "$o" "$of") | $(printf '%.2fx' "$(echo "$k / $o" | bc -l)") | $(printf '%.2f-%.2f' "$lo" "$hi") | $(printf '%.2fx' "$(echo "$kf / $of" | bc -l)") | $n |"
done
echo
echo "$table" | tee "$out/report.md"
