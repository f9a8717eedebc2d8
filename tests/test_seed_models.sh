#!/usr/bin/env bash
# The seed models (tests/seed/<name>/, made by the torch definitions in tools/: bert_qa.py, ...):
# each model.onnx imports with the C importer, and the reference interpreter (`kiln run`) and the
# compiled executables (`kiln build` -O0 and -O3) equal PyTorch's goldens (npycmp: rtol 1e-4,
# atol 1e-5 for floats, integers exact); the lines of expect.txt (e.g. the QA span) are in what
# the executable prints; `kiln build -v` prints the time of each stage.
#   usage: test_seed_models.sh KILN SRC_DIR BIN_DIR
set -u
kiln=$1 src=$2 bin=$3
tmp=$(mktemp -d /tmp/kiln-seed-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*" >&2; fi; }
same_as_golden() { # DIR OUTDIR
  for g in "$1"/golden/*.npy; do check "$bin/npycmp" "$2/$(basename "$g")" "$g"; done
}
for dir in "$src"/tests/seed/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  mapfile -t ins < <(sed "s|^|$dir/|" "$dir/inputs.txt")
  w=$tmp/$name
  mkdir -p "$w"
  check "$kiln" import "$dir/model.onnx" -o "$w/model.json"
  check "$kiln" run "$w/model.json" "${ins[@]}" -o "$w/interp"
  same_as_golden "$dir" "$w/interp"
  for opt in -O0 -O3; do
    check "$kiln" build "$dir/model.onnx" "$opt" -o "$w/exe" -v 2>"$w/stages"
    # -v: one line per stage, in order, then the total ("weights": constants of 64 KiB or more)
    check grep -Eqx "load passes lower optimize emit (weights )?link total " \
      <(sed -n 's/^kiln: \([a-z]*\) .* s.*/\1/p' "$w/stages" | tr '\n' ' ')
    "$w/exe" "${ins[@]}" -o "$w/compiled$opt" >"$w/stdout$opt"
    check test $? -eq 0
    same_as_golden "$dir" "$w/compiled$opt"
    if [ -f "$dir/expect.txt" ]; then
      while IFS= read -r line; do check grep -qxF "$line" "$w/stdout$opt"; done <"$dir/expect.txt"
    fi
  done
  echo "$name: done"
done
echo "seed models: $passed passed, $failed failed"
[ $failed -eq 0 ]
