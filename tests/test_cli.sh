#!/usr/bin/env bash
# CLI tests: usage: test_cli.sh MODE KILN SRC_DIR BIN_DIR
#   malformed  every file in tests/malformed/EXPECT fails with its JSON path, exit 1, no output
#   examples   `kiln build` executables and `kiln run` reproduce every example's golden
#   link       objects from `kiln compile` link into one C program (tests/link_two_models.c)
#   misc       help texts, --emit asm/llvm, bad flags and targets
#   onnx       every example's model.onnx imports (kiln import) and matches the example's golden
#              (interpreter, -O0, -O3 via test_models); .onnx accepted by build/run; importer
#              errors (not ONNX, unsupported ops listed, opset, dynamic shapes); .pb -> .npy
set -u
mode=$1 kiln=$2 src=$3 bin=$4
tmp=$(mktemp -d /tmp/kiln-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { if "$@"; then ok; else bad "$*"; fi; }

case $mode in
malformed)
  while IFS=$'\t' read -r file expect; do
    [ -z "$file" ] && continue
    case $file in \#*) continue ;; esac
    out="$tmp/out.o"
    rm -f "$tmp"/out.*
    "$kiln" compile "$src/tests/malformed/$file" -o "$out" >"$tmp/stdout" 2>"$tmp/stderr"
    rc=$?
    if [ $rc -ne 1 ]; then bad "$file: exit $rc, expected 1"; continue; fi
    if ! grep -qF -- "$expect" "$tmp/stderr"; then
      bad "$file: stderr lacks '$expect': $(head -c 400 "$tmp/stderr")"; continue
    fi
    if ls "$tmp"/out.* >/dev/null 2>&1; then bad "$file: left an output file"; continue; fi
    ok
  done <"$src/tests/malformed/EXPECT"
  ;;
examples)
  for dir in "$src"/examples/*/; do
    name=$(basename "$dir")
    [ -f "$dir/model.json" ] || continue
    exe="$tmp/$name"
    if ! "$kiln" build "$dir/model.json" -o "$exe" 2>"$tmp/err"; then
      bad "$name: kiln build failed: $(cat "$tmp/err")"; continue
    fi
    inputs=$(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["inputs"]))' "$dir/model.json")
    args=()
    for i in $inputs; do args+=("$dir/inputs/$i.npy"); done
    for how in build run; do
      mkdir -p "$tmp/out-$how-$name"
      if [ $how = build ]; then
        "$exe" "${args[@]}" -o "$tmp/out-$how-$name" >"$tmp/stdout" 2>"$tmp/err"
      else
        "$kiln" run "$dir/model.json" "${args[@]}" -o "$tmp/out-$how-$name" >"$tmp/stdout" 2>"$tmp/err"
      fi
      if [ $? -ne 0 ]; then bad "$name: $how failed: $(cat "$tmp/err")"; continue; fi
      for golden in "$dir"/golden/*.npy; do
        check "$bin/npycmp" "$tmp/out-$how-$name/$(basename "$golden")" "$golden"
      done
    done
    # --repeat prints a latency line
    check grep -q . <("$exe" "${args[@]}" -o "$tmp" --repeat 3 --quiet | grep 'latency: median')
  done
  ;;
link)
  ex="$src/examples"
  check "$kiln" compile "$ex/mlp/model.json" --name net_a -o "$tmp/net_a.o"
  check "$kiln" compile "$ex/lenet5/model.json" --name net_b -o "$tmp/net_b.o"
  check "$kiln" compile "$ex/mlp/model.json" --name net_c -o "$tmp/net_c.o" -O0
  check test -f "$tmp/net_a.h"
  check cc -std=c11 -Wall -Wextra -Werror -I"$tmp" -I"$src/runtime" -I"$src/runtime/host" -I"$src/tests" \
    "$src/tests/link_two_models.c" "$tmp/net_a.o" "$tmp/net_b.o" "$tmp/net_c.o" \
    "$bin/../lib/libkiln_npy.a" "$bin/../lib/libkiln_rt.a" -lm -o "$tmp/link_two_models"
  check "$tmp/link_two_models" "$ex"
  # No symbol is exported without the model's prefix.
  for o in net_a net_b net_c; do
    check test -z "$(nm -g --defined-only "$tmp/$o.o" | awk '{print $3}' | grep -v "^$o")"
  done
  ;;
misc)
  for c in compile build run inspect; do check "$kiln" $c --help >/dev/null; done
  check "$kiln" --help >/dev/null
  "$kiln" frobnicate >/dev/null 2>&1; check test $? -eq 2
  "$kiln" compile "$src/examples/mlp/model.json" --bogus >/dev/null 2>&1; check test $? -eq 2
  check "$kiln" compile "$src/examples/mlp/model.json" --emit asm -o "$tmp/mlp.s"
  check grep -q mlp_run "$tmp/mlp.s"
  check "$kiln" compile "$src/examples/mlp/model.json" --emit llvm -o "$tmp/mlp.ll"
  check grep -q 'define.*@mlp_run' "$tmp/mlp.ll"
  "$kiln" compile "$src/examples/mlp/model.json" --target nonsense-triple -o "$tmp/bad.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q -- '--target' "$tmp/err"
  check test ! -e "$tmp/bad.o"
  check test ! -e "$tmp/bad.h"
  check "$kiln" compile "$src/examples/mlp/model.json" --target aarch64-linux-gnu --cpu generic -o "$tmp/a64.o"
  # ELF e_machine (offset 18) of an AArch64 object is 0x00b7
  check test "$(od -An -tx1 -j18 -N2 "$tmp/a64.o" | tr -d ' \n')" = "b700"
  "$kiln" inspect "$src/examples/mnist_cnn/model.json" >"$tmp/inspect" 2>&1
  check test $? -eq 0
  check grep -q 'workspace:' "$tmp/inspect"
  check grep -q 'MACs:' "$tmp/inspect"
  check "$kiln" compile --list-targets >/dev/null
  ;;
onnx)
  py=${KILN_PYTHON:-/usr/bin/python3}
  dirs=()
  n_json=0
  for dir in "$src"/examples/*/; do
    name=$(basename "$dir")
    [ -f "$dir/model.json" ] && n_json=$((n_json + 1))
    [ -f "$dir/model.onnx" ] || continue
    mkdir -p "$tmp/rt/$name"
    if ! "$kiln" import "$dir/model.onnx" -o "$tmp/rt/$name/model.json" 2>"$tmp/err"; then
      bad "$name: kiln import failed: $(cat "$tmp/err")"; continue
    fi
    ok
    ln -s "$dir/inputs" "$tmp/rt/$name/inputs"
    ln -s "$dir/golden" "$tmp/rt/$name/golden"
    dirs+=("$tmp/rt/$name")
  done
  check test "${#dirs[@]}" -eq "$n_json"   # every example has an ONNX twin
  check "$bin/test_models" "${dirs[@]}"
  # .onnx straight into build and run
  ex="$src/examples/lstm_classifier"
  check "$kiln" build "$ex/model.onnx" -o "$tmp/lstm_onnx"
  check "$tmp/lstm_onnx" "$ex/inputs/ids.npy" -o "$tmp" --quiet
  check "$bin/npycmp" "$tmp/probs.npy" "$ex/golden/probs.npy"
  # a token id outside the 10000-row table: the run function returns KRT_ERR_INDEX_RANGE
  "$py" -c 'import numpy as np, sys; a = np.load(sys.argv[1]); a[0, 7] = 10000; np.save(sys.argv[2], a)' \
    "$ex/inputs/ids.npy" "$tmp/bad_ids.npy"
  "$tmp/lstm_onnx" "$tmp/bad_ids.npy" -o "$tmp" >/dev/null 2>"$tmp/err"
  check test $? -ne 0
  check grep -q 'returned -3' "$tmp/err"
  t="$src/tests/onnx"
  check "$kiln" run "$t/shape_folding.onnx" "$t/shape_folding_x.npy" -o "$tmp"
  check "$bin/npycmp" "$tmp/y.npy" "$t/shape_folding_y.npy"
  check "$py" "$src/tools/onnx2kiln.py" --tensor "$t/tensor.pb" -o "$tmp/tensor.npy"
  check cmp -s "$tmp/tensor.npy" "$t/tensor.npy"
  # errors: exit 1, a message naming the file and the problem, no output file
  echo "not a protobuf" >"$tmp/garbage.onnx"
  : >"$tmp/empty.onnx"
  for c in "garbage.onnx|not an ONNX model" \
           "empty.onnx|not an ONNX model (no graph or no opset" \
           "unsupported_ops.onnx|3 nodes use 2 ops Kiln does not support" \
           "unsupported_ops.onnx|TopK: 'top1', 'top2'" \
           "unsupported_ops.onnx|Hardmax: 'hardmax'" \
           "opset9.onnx|opset 9 is not supported" \
           "dynamic_batch.onnx|graph input 'x': dimension 'batch' is not static"; do
    f=${c%%|*} expect=${c#*|}
    p="$t/$f"
    case $f in garbage.onnx | empty.onnx) p="$tmp/$f" ;; esac
    rm -f "$tmp/imported.json" "$tmp/imported.weights.bin" "$tmp/out.o" "$tmp/out.h"
    "$kiln" import "$p" -o "$tmp/imported.json" 2>"$tmp/err"
    check test $? -eq 1
    check grep -qF -- "$expect" "$tmp/err"
    check test ! -e "$tmp/imported.json"
    "$kiln" compile "$p" -o "$tmp/out.o" 2>/dev/null
    check test $? -eq 1
    check test ! -e "$tmp/out.o"
  done
  check "$kiln" import --help >/dev/null
  ;;
esac
echo "cli-$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
