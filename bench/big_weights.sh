#!/usr/bin/env bash
# Peak memory and time of Kiln on the full VGG16 (138 M parameters, 553 MB of f32 weights; seeded
# weights, tools/vgg16.py, generated into a temporary folder and removed): `kiln import`,
# `kiln compile` of the ONNX file, of the imported JSON, with --weights=external, and `kiln build`;
# peak RSS by /usr/bin/time -v (maximum resident set size), wall time, output file sizes; then the
# built executable's output against PyTorch's; then the VGG16 transfer model at 224x224 (the 13
# conv layers and a new 10-class head, tools/vgg16.py transfer): build, latency, output.
# usage: bench/big_weights.sh [-O LEVEL] [--kiln PATH] [--keep DIR]
#   --kiln PATH  another kiln executable (e.g. an older build, for before/after)
#   --keep DIR   generate into DIR and keep it (default: a temporary folder, removed)
set -euo pipefail
cd "$(dirname "$0")/.."
level=2 kiln=$PWD/build/bin/kiln keep=
while [ $# -gt 0 ]; do
  case $1 in
  -O) level=$2; shift 2 ;;
  --kiln) kiln=$(realpath "$2"); shift 2 ;;
  --keep) keep=$2; shift 2 ;;
  *) echo "usage: $0 [-O LEVEL] [--kiln PATH] [--keep DIR]" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
if [ -n "$keep" ]; then
  tmp=$keep; mkdir -p "$tmp"
else
  tmp=$(mktemp -d /tmp/kiln-big-weights-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
fi
[ -f "$tmp/model.onnx" ] || /usr/bin/python3 tools/vgg16.py full "$tmp" >/dev/null
wbytes=553430176 # 138 357 544 f32 parameters
# one line of the table: what, seconds, peak MiB, peak / weight bytes, output bytes
measure() {
  local what=$1 out=$2; shift 2
  /usr/bin/time -v -o "$tmp/time.txt" "$@" >/dev/null
  local s kib
  s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); v = 0; for (i = 1; i <= n; i++) v = v * 60 + t[i]; print v}' "$tmp/time.txt")
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
  printf "| %s | %.1f | %d | %.2f | %s |\n" "$what" "$s" $((kib / 1024)) \
    "$(awk -v k="$kib" -v w="$wbytes" 'BEGIN {print k * 1024 / w}')" "$(stat -c %s "$out")"
}
echo "kiln: $kiln, -O$level; weights: $wbytes bytes"
echo
echo "| step | time (s) | peak RSS (MiB) | peak / weights | output (bytes) |"
echo "|---|---:|---:|---:|---:|"
mkdir -p "$tmp/imp"
measure "import model.onnx" "$tmp/imp/model.weights.bin" "$kiln" import "$tmp/model.onnx" -o "$tmp/imp/model.json"
measure "compile model.onnx" "$tmp/a.o" "$kiln" compile "$tmp/model.onnx" -O"$level" -o "$tmp/a.o"
measure "compile model.json (imported)" "$tmp/b.o" "$kiln" compile "$tmp/imp/model.json" -O"$level" -o "$tmp/b.o"
measure "compile model.onnx --weights=external" "$tmp/c.weights" "$kiln" compile "$tmp/model.onnx" -O"$level" \
  --weights=external -o "$tmp/c.o"
echo "(--weights=external: object $(stat -c %s "$tmp/c.o") bytes)"
measure "build model.onnx (with linking)" "$tmp/vgg16" "$kiln" build "$tmp/model.onnx" -O"$level" -o "$tmp/vgg16"
rm -f "$tmp"/[abc].o "$tmp/c.weights"
"$tmp/vgg16" "$tmp/inputs/x.npy" -o "$tmp/out" --quiet
compare() {
  /usr/bin/python3 - "$1" <<'EOF'
import sys
import numpy as np
d = sys.argv[1]
k, t = np.load(d + "/out/logits.npy"), np.load(d + "/golden/logits.npy")
err = np.abs(k - t).max()
ok = np.allclose(k, t, rtol=1e-4, atol=1e-5 * np.abs(t).max())
print("logits vs PyTorch: max |diff| %.3g (max |logit| %.3g), argmax %d vs %d: %s" % (
    err, np.abs(t).max(), k.argmax(), t.argmax(), "ok" if ok and k.argmax() == t.argmax() else "MISMATCH"))
sys.exit(0 if ok else 1)
EOF
}
compare "$tmp"
[ -f "$tmp/transfer/model.onnx" ] || /usr/bin/python3 tools/vgg16.py transfer "$tmp/transfer" >/dev/null
echo
echo "| step | time (s) | peak RSS (MiB) | peak / weights | output (bytes) |"
echo "|---|---:|---:|---:|---:|"
wbytes=$((14719818 * 4)) # the transfer model's parameters
measure "build transfer 224x224" "$tmp/transfer/exe" "$kiln" build "$tmp/transfer/model.onnx" -O"$level" -o "$tmp/transfer/exe"
"$tmp/transfer/exe" "$tmp/transfer/inputs/x.npy" -o "$tmp/transfer/out" --repeat 10 | grep -i median || true
compare "$tmp/transfer"
