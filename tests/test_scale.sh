#!/usr/bin/env bash
# Scale: large synthetic models (tools/gen_scale_model.py, generated in /tmp and removed) compile,
# and the compiled code computes what the reference interpreter computes.
#   usage: test_scale.sh KILN SRC_DIR BIN_DIR
# - 3000 layers (6000 nodes) at -O0, and 200 layers at -O2 (past CG_INLINE_MAX_NODES: each node
#   stays a function of its own);
# - $KILN_SCALE_WEIGHTS_MB (default 256) MiB of weights, external to a JSON model and inside an
#   ONNX file (raw_data): the object holds every byte, the compiled code equals the interpreter,
#   and the compiler's peak RSS stays within 1.5x the weight bytes plus 256 MiB, for `kiln
#   compile` of either file and for `kiln import` (large constants stream to a file and into the
#   object, codegen/cg_blob.c; ONNX payloads are read in place: docs/onnx.md. Measured at -O1 for
#   256 MiB: JSON 328 MiB, the 256 MiB cover LLVM's and the sanitizer runtime's own footprint;
#   before streaming, 1107 MiB, 4.3x). bench/bench_scale.sh and bench/big_weights.sh (VGG16)
#   record the tables; timing is not asserted.
set -u
kiln=$1 src=$2 bin=$3
mb=${KILN_SCALE_WEIGHTS_MB:-256}
tmp=$(mktemp -d /tmp/kiln-scale-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { if "$@"; then ok; else bad "$*"; fi; }
# Runs a command; prints its peak RSS in KiB (getrusage of the child) on fd 3.
peak_kib() {
  python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(r)' "$@" 2>&3
}

# Builds DIR's model with OPT, runs it on DIR/x.npy and compares with `kiln run`.
same_as_interpreter() {
  local dir=$1 opt=$2
  check "$kiln" build "$dir/model.json" "$opt" -o "$dir/exe"
  mkdir -p "$dir/compiled" "$dir/interp"
  check "$dir/exe" "$dir/x.npy" -o "$dir/compiled" --quiet
  check "$kiln" run "$dir/model.json" "$dir/x.npy" -o "$dir/interp"
  check "$bin/npycmp" "$dir/compiled/y.npy" "$dir/interp/y.npy"
  rm -f "$dir/exe"
}

python3 "$src/tools/gen_scale_model.py" "$tmp/deep" layers 3000 >/dev/null
same_as_interpreter "$tmp/deep" -O0
check grep -q 'SCALE_WORKSPACE_SIZE 128u' <("$kiln" compile "$tmp/deep/model.json" -O0 -o "$tmp/deep/m.o" && cat "$tmp/deep/m.h")
rm -rf "$tmp/deep"

python3 "$src/tools/gen_scale_model.py" "$tmp/mid" layers 200 >/dev/null
same_as_interpreter "$tmp/mid" -O2
rm -rf "$tmp/mid"

python3 "$src/tools/gen_scale_model.py" "$tmp/wide" weights "$mb" --onnx >/dev/null
wbytes=$(stat -c %s "$tmp/wide/weights.bin")
limit=$((3 * wbytes / 2 + (256 << 20)))
for m in model.json model.onnx; do
  kib=$(peak_kib "$kiln" compile "$tmp/wide/$m" -O1 -o "$tmp/wide/m.o" 3>&1 >/dev/null)
  check test -n "$kib"
  echo "$m: weights: $wbytes bytes; object: $(stat -c %s "$tmp/wide/m.o") bytes; peak RSS: $((kib / 1024)) MiB"
  check test "$(stat -c %s "$tmp/wide/m.o")" -ge "$wbytes"
  check test "$((kib * 1024))" -le "$limit"
  rm -f "$tmp/wide/m.o"
done
mkdir -p "$tmp/wide/imp"
kib=$(peak_kib "$kiln" import "$tmp/wide/model.onnx" -o "$tmp/wide/imp/m.json" 3>&1 >/dev/null)
echo "import: peak RSS: $((kib / 1024)) MiB"
check test "$((kib * 1024))" -le "$limit"
check cmp -s "$tmp/wide/imp/m.weights.bin" "$tmp/wide/weights.bin"
rm -rf "$tmp/wide/imp"
same_as_interpreter "$tmp/wide" -O1
check "$kiln" run "$tmp/wide/model.onnx" "$tmp/wide/x.npy" -o "$tmp/wide/onnx"
check "$bin/npycmp" "$tmp/wide/onnx/y.npy" "$tmp/wide/interp/y.npy"
rm -rf "$tmp/wide"

echo "scale: $passed passed, $failed failed"
[ $failed -eq 0 ]
