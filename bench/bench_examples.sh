#!/usr/bin/env bash
# For every example: compile time, object size (text/data/bss from `size`), workspace, and the
# median latency of `--repeat N` runs of the `kiln build` executable. Numbers are for this
# machine only; compare ratios measured in one run.
# usage: bench/bench_examples.sh [-O LEVEL] [--repeat N]      (after tools/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
level=2 repeat=200
while [ $# -gt 0 ]; do
  case $1 in
  -O) level=$2; shift 2 ;;
  --repeat) repeat=$2; shift 2 ;;
  *) echo "usage: $0 [-O LEVEL] [--repeat N]" >&2; exit 2 ;;
  esac
done
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
printf "%-16s %10s %10s %10s %8s %12s %12s %14s\n" model params MACs compile_s text data workspace median_us
for dir in examples/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.json" ] || continue
  t0=$(date +%s.%N)
  "$kiln" compile "$dir/model.json" -O"$level" -o "$tmp/$name.o"
  t1=$(date +%s.%N)
  read -r text data bss _ < <(size "$tmp/$name.o" | tail -1)
  "$kiln" build "$dir/model.json" -O"$level" -o "$tmp/$name"
  inputs=$(python3 -c 'import json,sys; print(" ".join(sys.argv[2] + "/inputs/" + i["name"] + ".npy" for i in json.load(open(sys.argv[1]))["inputs"]))' "$dir/model.json" "$dir")
  lat=$("$tmp/$name" $inputs -o "$tmp" --repeat "$repeat" --quiet | sed -n 's/latency: median \([0-9.]*\) us.*/\1/p')
  info=$("$kiln" inspect "$dir/model.json" -O"$level" | sed -n '/after/,$p')  # the optimized graph
  params=$(sed -n 's/.*parameters: \([0-9]*\).*/\1/p' <<<"$info")
  macs=$(sed -n 's/.*MACs: \([0-9]*\).*/\1/p' <<<"$info")
  ws=$(sed -n 's/.*workspace: \([0-9]*\) bytes.*/\1/p' <<<"$info")
  printf "%-16s %10s %10s %10.3f %8s %12s %12s %14s\n" "$name" "$params" "$macs" \
    "$(awk "BEGIN{print $t1 - $t0}")" "$text" "$data" "$ws" "$lat"
done
