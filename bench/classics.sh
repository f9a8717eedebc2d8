#!/usr/bin/env bash
# ImageNet-style classics at 224x224 with their real widths (tools/export_imagenet_classics.py
# --full: ResNet-18/50, SqueezeNet 1.1, ShuffleNet v2, DenseNet-121, AlexNet with LRN, a
# GoogLeNet-style inception net; seeded random weights, PyTorch's default names and opset):
# per model the time of `kiln import` (ONNX -> JSON), of `kiln build` (-O2, ONNX read directly),
# one run of the executable, and the largest absolute difference of its output from PyTorch's
# and from Kiln's reference interpreter (`kiln run`). Too big for CI (the weights are
# 5-240 MB per model); tests/onnx/classics/ holds the reduced variants that ctest runs.
# usage: bench/classics.sh [OUT] [name ...]      (after tools/build.sh; OUT default /tmp/kiln-classics)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/kiln-classics}
[ $# -gt 0 ] && shift
kiln=$PWD/${KILN:-build/bin/kiln}
py=/usr/bin/python3
mkdir -p "$out"
$py tools/export_imagenet_classics.py "$out" --full "$@" 2>/dev/null
maxdiff() { $py -c 'import numpy as np, sys; a, b = (np.load(f).astype(np.float64) for f in sys.argv[1:]); print("%.3g" % np.abs(a - b).max())' "$1" "$2"; }
secs() { local t0=$1; $py -c "import sys; print('%.2f' % ($(date +%s.%N) - $t0))"; }
printf "%-11s %9s %9s %9s %9s %12s %12s %10s\n" model onnx_MB import_s build_s run_s "|torch-kiln|" "|interp-kiln|" "max|torch|"
names=$*
[ -n "$names" ] || names=$(ls "$out")
for name in $names; do
  d=$out/$name
  [ -f "$d/model.onnx" ] || continue
  mb=$($py -c "import os; print('%.1f' % (os.path.getsize('$d/model.onnx') / 1e6))")
  in=$(ls "$d"/inputs/*.npy) golden=$(ls "$d"/golden/*.npy)
  t0=$(date +%s.%N); "$kiln" import "$d/model.onnx" -o "$d/json/model.json"; ti=$(secs "$t0")
  t0=$(date +%s.%N); "$kiln" build "$d/model.onnx" -O2 -o "$d/exe"; tb=$(secs "$t0")
  t0=$(date +%s.%N); "$d/exe" "$in" -o "$d/kiln" --quiet; tr=$(secs "$t0")
  "$kiln" run "$d/model.onnx" "$in" -o "$d/interp" >/dev/null
  got=$d/kiln/$(basename "$golden")
  printf "%-11s %9s %9s %9s %9s %12s %12s %10s\n" "$name" "$mb" "$ti" "$tb" "$tr" \
    "$(maxdiff "$golden" "$got")" "$(maxdiff "$d/interp/$(basename "$golden")" "$got")" \
    "$($py -c "import numpy as np; print('%.3g' % np.abs(np.load('$golden')).max())")"
done
