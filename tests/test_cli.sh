#!/usr/bin/env bash
# CLI tests: usage: test_cli.sh MODE KILN SRC_DIR BIN_DIR
#   malformed  every file in tests/malformed/EXPECT fails with its JSON path, exit 1, no output
#   examples   `kiln build` executables and `kiln run` reproduce every example's golden
#   link       objects from `kiln compile` link into one C program (tests/link_two_models.c)
#   misc       help texts, --emit asm/llvm, bad flags and targets
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
  # misspelled triples and CPUs: one clear error naming the flag, exit 1, no output
  for bad in "--target aarch64-linux-gnux:environment 'gnux'" "--target x86_64-foo-linux:vendor 'foo'" \
    "--target thumbv7em-none-eabihf --cpu cortex-m99:unknown CPU 'cortex-m99'"; do
    # shellcheck disable=SC2086
    "$kiln" compile "$src/examples/mlp/model.json" ${bad%%:*} -o "$tmp/bad.o" 2>"$tmp/err"
    check test $? -eq 1
    check test "$(grep -c -- "${bad#*:}" "$tmp/err")" -eq 1
    check test ! -e "$tmp/bad.o"
  done
  ;;
esac
echo "cli-$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
