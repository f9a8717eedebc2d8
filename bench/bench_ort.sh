#!/usr/bin/env bash
# Kiln against ONNX Runtime on one thread, in one run: every example, the eight model families of
# the kernel-performance issue (all of them are examples) and single Conv/Gemm layers.
#   1. builds Kiln (tools/build.sh, incremental) and measures one core's FMA peak (bench/fma_peak.c)
#   2. installs onnxruntime-node into build/bench-ort/ (npm install --ignore-scripts; the
#      linux-x64 library ships in the package) unless it is there, and checks that it loads
#   3. exports the models with PyTorch (tools/export_bench_models.py) into OUT/models
#   4. per model: kiln import, kiln build -O3 and -O2, MACs from kiln inspect --json
#   5. per run and model, interleaved: the -O3 executable (--repeat N), ONNX Runtime
#      (bench/ort_bench.js: same .onnx, same input .npy, N calls, with the one-Add overhead model
#      timed in the same process), the -O2 executable; outputs compared with ONNX Runtime's
#   5b. where the -O3 and -O2 executables differ, alternates them (20 rounds) for the -O3 <= -O2 goal
#   6. prints markdown tables (ratio Kiln -O3 / (ORT - binding overhead), GFLOP/s, % of the FMA
#      peak), the geomeans and the issue's goals (bench/ort_report.py); the conv and GEMM layers
#      also against an FMA probe run right after each call (bench/peak_paired.sh), since this
#      machine's FMA throughput moves in phases (bench/README.md)
# Exits 1 if an output mismatches or Kiln fails on a model; 2 with --check-goals if a goal is
# missed. ONNX Runtime is a benchmark peer only: nothing outside bench/ needs it.
# Requirements: tools/setup.sh --with-torch (PyTorch, onnx, numpy), node + npm, the npm registry
# on the first run. Numbers are for this machine and its load at the time; compare within a run.
# usage: bench/bench_ort.sh [--repeat-runs R] [--time-ms T] [--models "NAME ..."] [--no-layers]
#                           [--check-goals] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=1 time_ms=300 models="" layers=1 check_goals=() out=build/bench-ort-run
usage() {
  echo "usage: $0 [--repeat-runs R] [--time-ms T] [--models \"NAME ...\"] [--no-layers] [--check-goals] [--out DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
  --repeat-runs) runs=$2; shift 2 ;;     # repeat the whole comparison R times (spread of ratios)
  --time-ms) time_ms=$2; shift 2 ;;      # target duration of one Kiln measurement (sets N)
  --models) models=$2; shift 2 ;;        # only these (names as in models.tsv)
  --no-layers) layers=0; shift ;;
  --check-goals) check_goals=(--check-goals); shift ;;
  --out) out=$2; shift 2 ;;
  *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $time_ms =~ ^[1-9][0-9]*$ ]] || usage
py=/usr/bin/python3                      # Debian's Python: torch, onnx, numpy
kiln=$root/build/bin/kiln
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
results=$out/results.jsonl

echo "== Kiln $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
tools/build.sh >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }

# -- FMA peak of one core: the widest vector width of the host, best of 300 short repeats; run
# again after the measurements (a busy machine can hide the peak for a while), the higher counts
gcc -std=c11 -O2 -march=native bench/fma_peak.c -o "$out/fma_peak"
"$out/fma_peak" 300 | tee "$out/fma_peak.txt"

# -- ONNX Runtime (bench/ort_env.sh: build/bench-ort/, npm install --ignore-scripts)
. bench/ort_env.sh
node -e 'const o = require("onnxruntime-node"); console.log("onnxruntime-node " + o.env.versions.node + " loads")'

# -- models: exported from PyTorch now, into $out/models (nothing in the repository changes)
echo "== exporting the models (tools/export_bench_models.py)"
"$py" tools/export_bench_models.py "$out/models" >"$out/export.log" 2>&1 || { cat "$out/export.log"; exit 1; }
add=$out/models/add_overhead/model.onnx
mapfile -t rows < <(awk -F'\t' '$2 != "overhead"' "$out/models/models.tsv")

selected() { # name kind: whether the model is benchmarked
  [ "$2" = layer ] && [ "$layers" = 0 ] && return 1
  [ -z "$models" ] && return 0
  [[ " $models " == *" $1 "* ]]
}
inputs_of() { # kiln model.json, input dir: the input .npy files in declared order
  "$py" -c 'import json, sys; print(" ".join(sys.argv[2] + "/" + i["name"] + ".npy" for i in json.load(open(sys.argv[1]))["inputs"]))' "$1" "$2"
}
latency() { # executable, args...: the latency line of a --repeat run
  "$@" --quiet | grep '^latency: '
}

# -- compile every model (-O3 and -O2) and choose its repeat count N
declare -A macs reps broken same_code
echo "== compiling (kiln import, kiln build -O3 / -O2)"
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name kind label _ <<<"$row"
  selected "$name" "$kind" || continue
  d=$out/models/$name
  mkdir -p "$d/kiln"
  if ! "$kiln" import "$d/model.onnx" -o "$d/kiln/model.json" >"$d/import.log" 2>&1; then
    broken[$name]="kiln import: $(tr '\n' ' ' <"$d/import.log" | cut -c1-300)"
    continue
  fi
  for o in 3 2; do
    if ! "$kiln" build "$d/kiln/model.json" -O$o -o "$d/kiln_O$o" >"$d/build_O$o.log" 2>&1; then
      broken[$name]="kiln build -O$o: $(tr '\n' ' ' <"$d/build_O$o.log" | cut -c1-300)"
      continue 2
    fi
  done
  # -O3 and -O2 executables byte for byte the same: -O3 <= -O2 holds by construction there
  if cmp -s "$d/kiln_O3" "$d/kiln_O2"; then same_code[$name]=1; else same_code[$name]=0; fi
  macs[$name]=$("$kiln" inspect "$d/kiln/model.json" -O3 --json | "$py" -c 'import json, sys; print(json.load(sys.stdin)["macs"])')
  # N: about time_ms of Kiln -O3 per measurement, between 20 and 20000 runs
  # shellcheck disable=SC2046
  if ! l=$(latency "$d/kiln_O3" $(inputs_of "$d/kiln/model.json" "$d/inputs") -o "$d" --repeat 5); then
    broken[$name]="the -O3 executable failed"
    continue
  fi
  reps[$name]=$(awk -v l="$l" -v t="$time_ms" 'BEGIN { split(l, a, " "); n = int(t * 1000 / a[3]);
    print (n < 20 ? 20 : (n > 20000 ? 20000 : n)) }')
  printf "  %-26s MACs %10s  N %6s\n" "$name" "${macs[$name]}" "${reps[$name]}"
done

# -- measure: per run and model, Kiln -O3, ONNX Runtime, Kiln -O2, back to back
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r name kind label _ <<<"$row"
    selected "$name" "$kind" || continue
    d=$out/models/$name
    if [ -n "${broken[$name]:-}" ]; then
      "$py" bench/ort_report.py fail "$results" --run "$run" --model "$name" --kind "$kind" \
        --label "$label" --stage "${broken[$name]}"
      continue
    fi
    read -ra ins <<<"$(inputs_of "$d/kiln/model.json" "$d/inputs")"
    rm -rf "$d/out_O3" "$d/out_O2" "$d/out_ort"
    mkdir -p "$d/out_O3" "$d/out_O2"
    n=${reps[$name]}
    if ! l3=$(latency "$d/kiln_O3" "${ins[@]}" -o "$d/out_O3" --repeat "$n") ||
       ! j=$(node bench/ort_bench.js "$d/model.onnx" "$d/inputs" "$d/out_ort" --runs "$n" --overhead "$add") ||
       ! l2=$(latency "$d/kiln_O2" "${ins[@]}" -o "$d/out_O2" --repeat "$n"); then
      "$py" bench/ort_report.py fail "$results" --run "$run" --model "$name" --kind "$kind" \
        --label "$label" --stage "a timed run failed (Kiln executable or ONNX Runtime)"
      continue
    fi
    "$py" bench/ort_report.py record "$results" --run "$run" --model "$name" --kind "$kind" \
      --label "$label" --macs "${macs[$name]}" --same-code "${same_code[$name]}" --kiln-o3 "$l3" --kiln-o2 "$l2" --ort "$j" \
      --out-o3 "$d/out_O3" --out-o2 "$d/out_O2" --out-ort "$d/out_ort" --torch "$d/torch"
  done
done

# -- -O3 against -O2 where their code differs: the two executables alternated, 20 rounds
echo "== -O3 vs -O2, alternated (models whose -O3 and -O2 code differ)"
for row in "${rows[@]}"; do
  IFS=$'\t' read -r name kind _ <<<"$row"
  selected "$name" "$kind" && [ -z "${broken[$name]:-}" ] && [ "${same_code[$name]}" = 0 ] || continue
  d=$out/models/$name
  read -ra ins <<<"$(inputs_of "$d/kiln/model.json" "$d/inputs")"
  mkdir -p "$d/out_ab"
  for r in $(seq 1 20); do
    if [ $((r % 2)) = 0 ]; then order="3 2"; else order="2 3"; fi
    for o in $order; do
      echo "$r O$o $(latency "$d/kiln_O$o" "${ins[@]}" -o "$d/out_ab" --repeat "${reps[$name]}")"
    done
  done >"$d/o3o2.txt"
  "$py" bench/ort_report.py o3o2 "$results" --model "$name" --file "$d/o3o2.txt"
done

# -- the conv and GEMM layers against an FMA probe run right after each call (bench/peak_paired.sh)
if [ "$layers" != 0 ] && grep -q avx2 /proc/cpuinfo && grep -q fma /proc/cpuinfo; then
  echo "== paired FMA probe (bench/peak_paired.sh, 1000 calls per layer)"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r name kind _ <<<"$row"
    [ "$kind" = layer ] && selected "$name" "$kind" && [ -z "${broken[$name]:-}" ] || continue
    case $name in conv* | gemm_*) ;; *) continue ;; esac
    d=$out/models/$name
    read -ra ins <<<"$(inputs_of "$d/kiln/model.json" "$d/inputs")"
    if bench/peak_paired.sh "$d/kiln/model.json" 1000 "${ins[@]}" >"$d/paired.txt" 2>&1; then
      "$py" bench/ort_report.py paired "$results" --model "$name" --file "$d/paired.txt"
    else
      echo "  paired $name: bench/peak_paired.sh failed:"; cat "$d/paired.txt"
    fi
  done
fi

echo "== FMA peak again"
"$out/fma_peak" 300 | tee -a "$out/fma_peak.txt"
peak=$(awk '$1 == "peak_gflops" && $2 > p {p = $2} END {print p}' "$out/fma_peak.txt")
echo
"$py" bench/ort_report.py table "$results" --peak "$peak" "${check_goals[@]}" | tee "$out/report.md"
exit "${PIPESTATUS[0]}"
