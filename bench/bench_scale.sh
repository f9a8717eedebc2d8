#!/usr/bin/env bash
# Compile time and peak memory of `kiln compile` as synthetic models grow
# (tools/gen_scale_model.py): a chain of N x (Gemm + Relu) layers, and Gemm layers with M MiB of
# external weights. Peak RSS is the compiler process's getrusage ru_maxrss; time is wall clock.
# Numbers are for this machine only; look at how they grow, not at their size.
# usage: bench/bench_scale.sh [-O LEVEL] [--layers "100 300 1000 3000"] [--weights "32 64 128 256 512"]
set -euo pipefail
cd "$(dirname "$0")/.."
level=2 layers="100 300 1000 3000" weights="32 64 128 256 512"
while [ $# -gt 0 ]; do
  case $1 in
  -O) level=$2; shift 2 ;;
  --layers) layers=$2; shift 2 ;;
  --weights) weights=$2; shift 2 ;;
  *) echo "usage: $0 [-O LEVEL] [--layers LIST] [--weights LIST]" >&2; exit 2 ;;
  esac
done
kiln=$PWD/build/bin/kiln
tmp=$(mktemp -d /tmp/kiln-bench-scale-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
measure() { # prints "seconds peak_kib" of one command
  python3 -c 'import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
if r: sys.exit("command failed: %s" % " ".join(sys.argv[1:]))
print("%.2f %d" % (time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))' "$@"
}
printf "%-8s %8s %8s %14s %10s %12s %10s\n" kind size nodes weight_MiB compile_s peak_RSS_MiB peak/weights
for n in $layers; do
  python3 tools/gen_scale_model.py "$tmp/m" layers "$n" >/dev/null
  read -r s kib < <(measure "$kiln" compile "$tmp/m/model.json" -O"$level" -o "$tmp/m/m.o")
  wb=$(stat -c %s "$tmp/m/weights.bin")
  printf "%-8s %8s %8d %14.1f %10s %12d %10s\n" layers "$n" $((2 * n)) "$(awk -v b="$wb" 'BEGIN{print b / 1048576}')" "$s" $((kib / 1024)) -
  rm -rf "$tmp/m"
done
for mb in $weights; do
  python3 tools/gen_scale_model.py "$tmp/m" weights "$mb" >/dev/null
  read -r s kib < <(measure "$kiln" compile "$tmp/m/model.json" -O"$level" -o "$tmp/m/m.o")
  wb=$(stat -c %s "$tmp/m/weights.bin")
  nodes=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["nodes"]))' "$tmp/m/model.json")
  printf "%-8s %8s %8d %14.1f %10s %12d %10.2f\n" weights "${mb}MiB" "$nodes" "$(awk -v b="$wb" 'BEGIN{print b / 1048576}')" "$s" \
    $((kib / 1024)) "$(awk -v k="$kib" -v b="$wb" 'BEGIN{print k * 1024 / b}')"
  rm -rf "$tmp/m"
done
