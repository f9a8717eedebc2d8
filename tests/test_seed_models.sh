#!/usr/bin/env bash
# The seed-model examples (examples/<name>/ with an inputs.txt, made by the torch definitions in
# tools/: bert_qa.py, bilstm_crf.py, translator.py, vgg16.py). Every example suite already runs
# them (test_models: interpreter, -O0, -O3 = PyTorch's goldens; cli examples, cli onnx, threads,
# emulation); this adds what is theirs: the committed model.json and model.weights.bin are what
# `kiln import model.onnx` writes today, `kiln build model.onnx` (the ONNX file itself) prints the
# lines of expect.txt (e.g. the QA span) and its outputs equal the goldens (npycmp: rtol 1e-4,
# atol 1e-5 for floats, integers exact), and `kiln build -v` prints the time of each stage.
#   usage: test_seed_models.sh KILN SRC_DIR BIN_DIR
set -u
kiln=$1 src=$2 bin=$3
tmp=$(mktemp -d /tmp/kiln-seed-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 n=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*" >&2; fi; }
for dir in "$src"/examples/*/; do
  dir=${dir%/}
  [ -f "$dir/inputs.txt" ] || continue
  n=$((n + 1))
  name=$(basename "$dir")
  mapfile -t ins < <(sed "s|^|$dir/|" "$dir/inputs.txt")
  w=$tmp/$name
  mkdir -p "$w"
  check "$kiln" import "$dir/model.onnx" -o "$w/model.json"
  check cmp -s "$w/model.json" "$dir/model.json"
  check cmp -s "$w/model.weights.bin" "$dir/model.weights.bin"
  check "$kiln" build "$dir/model.onnx" -O0 -o "$w/exe" -v 2>"$w/stages"
  # -v: one line per stage, in order, then the total ("weights": constants of 64 KiB or more)
  check grep -Eqx "load passes lower optimize emit (weights )?link total " \
    <(sed -n 's/^kiln: \([a-z]*\) .* s.*/\1/p' "$w/stages" | tr '\n' ' ')
  "$w/exe" "${ins[@]}" -o "$w/out" >"$w/stdout"
  check test $? -eq 0
  for g in "$dir"/golden/*.npy; do check "$bin/npycmp" "$w/out/$(basename "$g")" "$g"; done
  if [ -f "$dir/expect.txt" ]; then
    while IFS= read -r line; do check grep -qxF "$line" "$w/stdout"; done <"$dir/expect.txt"
  fi
  echo "$name: done"
done
check test $n -eq 4 # bert_qa, bilstm_crf, translator, vgg16_transfer
echo "seed models: $passed passed, $failed failed"
[ $failed -eq 0 ]
