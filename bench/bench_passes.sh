#!/usr/bin/env bash
# Latency of every example without and with the graph passes, measured in one run so the ratios
# compare like with like: median of `--repeat N` runs of the `kiln build` executable for
#   O0      -O0 (no graph passes, LLVM -O0)
#   O3-nop  -O3 --passes=memplan (LLVM -O3, graph as written: isolates the graph passes)
#   O3      -O3 (the full pipeline)
# and the workspace of each. Numbers are for this machine only.
# usage: bench/bench_passes.sh [--repeat N]      (after tools/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=200
while [ $# -gt 0 ]; do
  case $1 in
  --repeat) repeat=$2; shift 2 ;;
  *) echo "usage: $0 [--repeat N]" >&2; exit 2 ;;
  esac
done
kiln=build/bin/kiln
tmp=$(mktemp -d /tmp/kiln-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
latency() { # dir name flags...
  local dir=$1 name=$2; shift 2
  "$kiln" build "$dir/model.json" "$@" -o "$tmp/$name"
  local inputs
  inputs=$(python3 -c 'import json,sys; print(" ".join(sys.argv[2] + "/inputs/" + i["name"] + ".npy" for i in json.load(open(sys.argv[1]))["inputs"]))' "$dir/model.json" "$dir")
  "$tmp/$name" $inputs -o "$tmp" --repeat "$repeat" --quiet |
    sed -n 's/latency: median \([0-9.]*\) us.*/\1/p'
}
ws() { "$kiln" inspect "$1/model.json" "${@:2}" | sed -n 's/.*workspace: \([0-9]*\) bytes.*/\1/p' | tail -1; }
printf "%-16s %10s %10s %10s %9s %9s %10s %10s\n" model O0_us O3nop_us O3_us O0/O3 nop/O3 ws_O0 ws_O3
for dir in examples/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  [ -f "$dir/model.json" ] || continue
  a=$(latency "$dir" "$name-o0" -O0)
  b=$(latency "$dir" "$name-nop" -O3 --passes=memplan)
  c=$(latency "$dir" "$name-o3" -O3)
  printf "%-16s %10s %10s %10s %9.2f %9.2f %10s %10s\n" "$name" "$a" "$b" "$c" \
    "$(awk "BEGIN{print $a / $c}")" "$(awk "BEGIN{print $b / $c}")" "$(ws "$dir" -O0)" "$(ws "$dir" -O3)"
done
