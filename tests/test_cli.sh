#!/usr/bin/env bash
# CLI tests: usage: test_cli.sh MODE KILN SRC_DIR BIN_DIR
#   malformed  every file in tests/malformed/EXPECT fails with its JSON path, exit 1, no output
#   examples   `kiln build` executables and `kiln run` reproduce every example's golden
#   link       objects from `kiln compile` link into one C program (tests/link_two_models.c)
#   misc       help texts, --emit asm/llvm, bad flags and targets
#   hostile    models that reach outside their folder or past a resource limit (symlinks, FIFOs,
#              devices, ONNX external data; --weights-dir, --max-*): each a pathed error, exit 1,
#              no output file
#   prune      the prune pass and --prune/--eval: zero channels removed (params in inspect), tied
#              ones kept, magnitude fractions exact, evaluation printed, the accuracy limit and
#              bad options each a clear error with no output file
#   onnx       every example's model.onnx imports (kiln import, the C importer, no Python) and
#              matches the example's golden (interpreter, -O0, -O3 via test_models); the same IR
#              from ONNX and from the imported JSON; --input-shape, --bind, If folding, any
#              tensor name; .onnx accepted by build/run; importer
#              errors (not ONNX, unsupported ops listed, dynamic shapes)
#   state      a model with states (tests/state/lstm, tools/gen_state_tests.py): `kiln run` and a
#              `kiln build` executable fed a sequence of frames equal PyTorch's full-sequence run;
#              the header's state API from C; --state on a model without states; inspect; errors;
#              `kiln build --generate` on a GPT-2-style decode step (tests/gen/gpt_tiny) equals
#              PyTorch's greedy generation; sampling options and their errors
#   dyn        a run-time sequence length (--max-dim, tests/dyn/xattn, tools/gen_dyn_tests.py):
#              `kiln run` and one `kiln build` executable at several lengths equal PyTorch; the
#              header's *_dims entry points from C; length errors; inspect; the GPT-2-style
#              decoder over a run-time number of tokens (tests/gen/gpt_tiny_seq): one call over a
#              whole sequence equals torch; `--generate` with a prefill in one call (and in
#              calls of 16) gives torch's greedy tokens, as token by token does
#   encdec     an encoder-decoder generator (tests/gen/translator, tools/translator.py): the
#              encoder run once and the decoder step fed its outputs equal torch's logits at every
#              step (`kiln run`); `kiln build --generate --encoder` gives torch's greedy
#              translation, stops at --stop, a full context; sampling; every misuse a clear error
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
hostile)
  # fails NAME EXPECTED-STDERR-REGEX CMD...: exit 1, the message, and no file in $tmp/out/
  fails() {
    local name=$1 expect=$2
    shift 2
    rm -rf "$tmp/out" && mkdir -p "$tmp/out"
    timeout 60 "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    if [ $rc -ne 1 ]; then bad "$name: exit $rc, expected 1: $(head -c 300 "$tmp/stderr")"; return; fi
    if ! grep -qE -- "$expect" "$tmp/stderr"; then
      bad "$name: stderr lacks /$expect/: $(head -c 400 "$tmp/stderr")"; return
    fi
    if [ -n "$(ls -A "$tmp/out")" ]; then bad "$name: left $(ls "$tmp/out")"; return; fi
    ok
  }
  m=$tmp/m && mkdir -p "$m" "$tmp/elsewhere"
  model() { # model FILE PATH LENGTH: y = x + secret, secret from external PATH, also an output
    cat >"$1" <<EOF
{"format": "kiln-model", "version": 1, "name": "leak",
 "inputs": [{"name": "x", "dtype": "f32", "shape": [$(($3 / 4))]}],
 "initializers": [{"name": "secret", "dtype": "f32", "shape": [$(($3 / 4))],
                   "external": {"path": "$2", "length": $3}}],
 "nodes": [{"name": "add", "op": "Add", "inputs": ["x", "secret"], "outputs": ["y"]}],
 "outputs": [{"name": "y"}, {"name": "secret"}]}
EOF
  }
  # The issue's model: a file of the build machine carried into the executable's output.
  model "$m/abs.json" /etc/hostname 4
  fails absolute "initializers\[0\] \(secret\)\.external\.path: '/etc/hostname' is outside the model's folder" \
    "$kiln" build "$m/abs.json" -o "$tmp/out/leak"
  fails absolute-compile "\(secret\)\.external\.path: '/etc/hostname' is outside" \
    "$kiln" compile "$m/abs.json" -o "$tmp/out/leak.o"
  fails absolute-run "\(secret\)\.external\.path: '/etc/hostname' is outside" \
    "$kiln" run "$m/abs.json" -o "$tmp/out"
  fails absolute-inspect "\(secret\)\.external\.path: '/etc/hostname' is outside" \
    "$kiln" inspect "$m/abs.json"
  printf 'abcd' >"$tmp/elsewhere/s.bin"
  model "$m/dotdot.json" ../elsewhere/s.bin 4
  fails dotdot "\(secret\)\.external\.path: '\.\./elsewhere/s\.bin' is outside the model's folder: it resolves to '[^']*/elsewhere/s\.bin'" \
    "$kiln" compile "$m/dotdot.json" -o "$tmp/out/x.o"
  # a symlink inside the folder that points out of it, and one that stays inside
  ln -s "$tmp/elsewhere/s.bin" "$m/link_out.bin"
  model "$m/symlink.json" link_out.bin 4
  fails symlink-out "\(secret\)\.external\.path: 'link_out\.bin' is outside the model's folder: it resolves to '[^']*/elsewhere/s\.bin'" \
    "$kiln" compile "$m/symlink.json" -o "$tmp/out/x.o"
  ln -s /etc "$m/etc"
  model "$m/symlink_dir.json" etc/hostname 4
  fails symlink-dir-out "is outside the model's folder: it resolves to '/etc/hostname'" \
    "$kiln" compile "$m/symlink_dir.json" -o "$tmp/out/x.o"
  printf 'abcd' >"$m/in.bin" && ln -s in.bin "$m/link_in.bin"
  model "$m/symlink_in.json" link_in.bin 4
  check "$kiln" compile "$m/symlink_in.json" -o "$tmp/ok.o"
  # --weights-dir names a further folder (repeatable); the file is then accepted
  check "$kiln" compile "$m/dotdot.json" -o "$tmp/ok.o" --weights-dir /nonexistent --weights-dir "$tmp/elsewhere"
  check "$kiln" compile "$m/symlink.json" -o "$tmp/ok.o" --weights-dir "$tmp/elsewhere"
  # a FIFO (must not block), a directory, /dev/zero with a huge length (even when allowed)
  mkfifo "$m/fifo.bin"
  model "$m/fifo.json" fifo.bin 4
  fails fifo "\(secret\)\.external\.path: weight file is not a regular file: '[^']*/fifo\.bin'" \
    "$kiln" compile "$m/fifo.json" -o "$tmp/out/x.o"
  mkdir -p "$m/dir.bin"
  model "$m/dir.json" dir.bin 4
  fails directory "\(secret\)\.external\.path: weight file is not a regular file \(it is a directory\)" \
    "$kiln" compile "$m/dir.json" -o "$tmp/out/x.o"
  model "$m/zero.json" /dev/zero 1000000000
  fails dev-zero "\(secret\)\.external\.path: '/dev/zero' is outside the model's folder" \
    "$kiln" compile "$m/zero.json" -o "$tmp/out/x.o"
  fails dev-zero-allowed "\(secret\)\.external\.path: weight file is not a regular file: '/dev/zero'" \
    "$kiln" compile "$m/zero.json" -o "$tmp/out/x.o" --weights-dir /dev
  # limits: weight bytes, node count (the default and a flag), workspace, compile-time memory
  model "$m/big.json" in.bin 3000000000
  fails weight-bytes "initializers\[0\] \(secret\): the initializers need 3000000000 bytes with this one \(3000000000\), more than the limit of 1073741824 bytes \(--max-weight-bytes\)" \
    "$kiln" compile "$m/big.json" -o "$tmp/out/x.o"
  fails weight-bytes-flag "initializers\[0\] \(secret\): the initializers need 4 bytes with this one \(4\), more than the limit of 3 bytes" \
    "$kiln" compile "$m/symlink_in.json" -o "$tmp/out/x.o" --max-weight-bytes 3
  fails max-nodes "^[^:]*: nodes: [0-9]+ nodes, more than the limit of 2 \(--max-nodes\)" \
    "$kiln" compile "$src/examples/mlp/model.json" -o "$tmp/out/x.o" --max-nodes 2
  python3 -c '
import sys
n = 100001
nodes = ",".join("{\"op\":\"Relu\",\"inputs\":[\"v%d\"],\"outputs\":[\"v%d\"]}" % (i, i + 1) for i in range(n))
open(sys.argv[1], "w").write("{\"format\":\"kiln-model\",\"version\":1,\"inputs\":[{\"name\":\"v0\",\"dtype\":\"f32\",\"shape\":[1]}],\"outputs\":[{\"name\":\"v%d\"}],\"nodes\":[%s]}" % (n, nodes))
' "$m/many.json"
  fails max-nodes-default "nodes: 100001 nodes, more than the limit of 100000 \(--max-nodes\)" \
    "$kiln" compile "$m/many.json" -o "$tmp/out/x.o"
  cat >"$m/ws.json" <<EOF
{"format": "kiln-model", "version": 1, "inputs": [{"name": "x", "dtype": "f32", "shape": [300000000]}],
 "nodes": [{"name": "r1", "op": "Relu", "inputs": ["x"], "outputs": ["h"]},
           {"name": "r2", "op": "Sigmoid", "inputs": ["h"], "outputs": ["y"]}],
 "outputs": [{"name": "y"}]}
EOF
  fails workspace-default "the workspace needs 1200000000 bytes, more than the limit of 1073741824 bytes \(--max-workspace\)" \
    "$kiln" compile "$m/ws.json" -o "$tmp/out/x.o" -O0
  if ! nm "$kiln" 2>/dev/null | grep -q __asan_init; then
    # --max-memory caps Kiln's own address space (not under AddressSanitizer): 512 MB of weights
    # (a sparse file) cannot be mapped within 300 MB
    truncate -s 512000000 "$m/w512.bin"
    model "$m/w512.json" w512.bin 512000000
    fails max-memory "memory.*--max-memory" "$kiln" compile "$m/w512.json" -o "$tmp/out/x.o" --max-memory 300000000
  fi
  # ONNX external data: confined to the .onnx file's folder as well
  /usr/bin/python3 - "$m" <<'EOF'
import os, sys
from onnx import helper, TensorProto
m = sys.argv[1]
for name, loc in (("out", "../elsewhere/s.bin"), ("abs", "/etc/hostname"), ("link", "link_out.bin"),
                  ("fifo", "fifo.bin"), ("in", "in.bin")):
    t = TensorProto(name="secret", data_type=TensorProto.FLOAT, dims=[1])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", loc), ("offset", "0"), ("length", "4")):
        e = t.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "secret"], ["y"])], "leak",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [t])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(os.path.join(m, "onnx_%s.onnx" % name), "wb") as f:
        f.write(model.SerializeToString())
EOF
  for c in out abs link; do
    fails onnx-$c "graph.initializer\[0\] \(secret\).external_data 'location': '[^']*' is outside the model's folder" \
      "$kiln" compile "$m/onnx_$c.onnx" -o "$tmp/out/x.o"
  done
  fails onnx-fifo "graph.initializer\[0\] \(secret\).external_data 'location': weight file is not a regular file: '[^']*fifo.bin'" \
    "$kiln" compile "$m/onnx_fifo.onnx" -o "$tmp/out/x.o"
  check "$kiln" compile "$m/onnx_out.onnx" -o "$tmp/ok.o" --weights-dir "$tmp/elsewhere"
  check "$kiln" compile "$m/onnx_in.onnx" -o "$tmp/ok.o"
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
  check "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I"$tmp" -I"$src/runtime" -I"$src/runtime/host" -I"$src/tests" \
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
  # the tools/ scripts (tools/toolcli.py): --help prints the docstring, a bad option is exit 2
  # naming it, before anything is written (was: a folder named after the option, a traceback)
  py=${KILN_PYTHON:-/usr/bin/python3}
  (cd "$tmp" && "$py" "$src/tools/gen_qfirst_model.py" --help >"$tmp/tool.out" 2>&1)
  check test $? -eq 0
  check grep -q '^gen_qfirst_model: ' "$tmp/tool.out"
  (cd "$tmp" && "$py" "$src/tools/gen_qfirst_model.py" --bogus >"$tmp/tool.out" 2>&1)
  check test $? -eq 2
  check grep -q "unknown option '--bogus'" "$tmp/tool.out"
  (cd "$tmp" && "$py" "$src/tools/bert_qa.py" --help 2>&1 | head -1 | grep -q '^A BERT-style')
  check test $? -eq 0
  (cd "$tmp" && "$py" "$src/tools/bert_qa.py" a b >"$tmp/tool.out" 2>&1)
  check test $? -eq 2
  check test ! -e "$tmp/--help" -a ! -e "$tmp/--bogus" -a ! -e "$tmp/a"
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
  # a named host-triple CPU without --features does not inherit this machine's features: an
  # x86-64-v3 object must not hold AVX-512 (zmm) code even when the build machine has it
  if [ "$(uname -m)" = x86_64 ]; then
    check "$kiln" compile "$src/examples/mnist_cnn/model.json" --cpu x86-64-v3 --emit asm -o "$tmp/v3.s"
    check test "$(grep -c zmm "$tmp/v3.s")" -eq 0
    check "$kiln" compile "$src/examples/mnist_cnn/model.json" --cpu x86-64-v3 --features +avx2,+fma \
      --emit asm -o "$tmp/v3f.s"
    check grep -q 'vfmadd[0-9a-z]*ps.*ymm' "$tmp/v3f.s"
  fi
  # -O3 keeps -O2's unroll budget (cg_module.c): LLVM's larger one copied LeNet-5's pooling
  # loops whole (1.6x the code, measured slower); with it the -O3 code is -O2's, byte for byte
  for o in 2 3; do
    check "$kiln" compile "$src/examples/lenet5/model.json" -O$o --target x86_64-linux-gnu \
      --cpu skylake-avx512 --emit asm -o "$tmp/lenet5_O$o.s"
  done
  check cmp -s "$tmp/lenet5_O2.s" "$tmp/lenet5_O3.s"
  # int8 on AVX-512 VNNI + VBMI: cifar_cnn's conv2 (3x3, stride 1, rows of 16) is the direct
  # convolution (no im2col, CgQGemm.direct_taps): per quad of input channels one loop body of
  # its 9 taps of the 6 x 4 vpdpbusd tile, 216 (the im2col form's body holds 24); its three
  # 2x2/2 MaxPools (rows of 32, 16, 8) pick rows and columns by two-source shuffles, 64 outputs
  # a step, not by one vpermb per tap and 16 outputs (the s x s form, which no other node uses);
  # its depthwise 3x3 on 8x8 planes is one loop body per channel of 3 tap quads x 4 vectors of
  # 16 outputs, each a vpermt2b (4 taps per output) and a vpdpbusd
  ck=$src/examples/cifar_cnn
  check "$kiln" compile "$ck/model.json" --quantize=int8 --calibrate "$ck/inputs/x.npy" \
    --target x86_64-linux-gnu --cpu sapphirerapids \
    --features +avx512f,+avx512bw,+avx512vnni,+avx512vbmi --emit asm -o "$tmp/cifar_q8.s" 2>/dev/null
  check test "$(awk '/^\.LBB/ {n = 0} /vpdpbusd/ {if (++n > m) m = n} END {print m + 0}' \
    "$tmp/cifar_q8.s")" -eq 216
  check test "$(grep -c 'vpermb' "$tmp/cifar_q8.s")" -eq 0
  check test "$(awk '/^\.LBB/ {if (p == 12 && d == 12) k++; p = 0; d = 0} /vpermt2b/ {p++}
    /vpdpbusd/ {d++} END {print k + 0}' "$tmp/cifar_q8.s")" -eq 1
  "$kiln" inspect "$src/examples/mnist_cnn/model.json" >"$tmp/inspect" 2>&1
  check test $? -eq 0
  check grep -q 'workspace:' "$tmp/inspect"
  check grep -q 'MACs:' "$tmp/inspect"
  check "$kiln" compile --list-targets >/dev/null
  # --quantize: bad flags are usage errors (2), bad calibration data user errors (1); no output
  dg="$src/examples/digits_mlp/model.json" cal="$src/tests/digits/calib"
  for flags in "--quantize=int4 --calibrate $cal" "--quantize=int8" "--calibrate $cal" \
    "--quantize=int8 --calibrate $cal --calibration=percentile:20" \
    "--quantize=int8 --calibrate $cal --calibration=kl" "--quant-keep-fp32=fc1" \
    "--quantize=int8 --calibrate $cal --quant-keep-fp32=auto:x" \
    "--quantize=int8-weights --calibrate $cal" "--quantize=int8-weights --quantize=int8" \
    "--quantize=int8-weights --quant-io=int8" \
    "--quantize=int8 --calibrate $cal --quant-io=int4"; do
    # shellcheck disable=SC2086
    "$kiln" compile "$dg" $flags -o "$tmp/q.o" >/dev/null 2>&1
    check test $? -eq 2
    check test ! -e "$tmp/q.o"
  done
  for bad_cal in "$src/examples/digits_cnn/golden/logits.npy" "$tmp/nonexistent" "$src/docs"; do
    "$kiln" compile "$dg" --quantize=int8 --calibrate "$bad_cal" -o "$tmp/q.o" >/dev/null 2>"$tmp/err"
    check test $? -eq 1
    check grep -q -- '--calibrate' "$tmp/err"
    check test ! -e "$tmp/q.o"
  done
  # --calibrate for integer ids and several inputs (tests/calib from tools/gen_calib_multi.py):
  # lstm_classifier's i64 ids from one file (LSTM weights int8, the compiled code equal to the
  # interpreter); bert_qa from a folder of NAME.npy / NAME/ per input (i32 ids converted to
  # i64): the attention-mask Adds stay float (the logits would vanish below one step of the
  # sum), start_logits within 0.6 of fp32 (int8 activations of a 2-layer transformer on 4
  # samples: the worst element is 0.45 off) with the same argmax. Bad folders: exit 1, the
  # message names the file or input, no output.
  lc="$src/examples/lstm_classifier" bq="$src/examples/bert_qa" cm="$src/tests/calib"
  mkdir -p "$tmp/qlc" "$tmp/qlcb" "$tmp/bqq" "$tmp/bqf"
  check "$kiln" run "$lc/model.json" "$lc/inputs/ids.npy" --quantize=int8 --calibrate \
    "$lc/inputs/ids.npy" -o "$tmp/qlc" >/dev/null 2>&1
  check "$kiln" build "$lc/model.json" --quantize=int8 --calibrate "$lc/inputs" -o "$tmp/qlcx" \
    2>/dev/null
  check "$tmp/qlcx" "$lc/inputs/ids.npy" -o "$tmp/qlcb" --quiet
  check "$bin/npycmp" "$tmp/qlcb/probs.npy" "$tmp/qlc/probs.npy"
  "$kiln" inspect "$lc/model.json" --quantize=int8 --calibrate "$lc/inputs" --print \
    >"$tmp/qlc.txt" 2>/dev/null
  check grep -Eq '= LSTM\([^,]*, @W\.int8' "$tmp/qlc.txt"
  bqin=("$bq/inputs/input_ids.npy" "$bq/inputs/attention_mask.npy" "$bq/inputs/token_type_ids.npy")
  check "$kiln" run "$bq/model.json" "${bqin[@]}" -o "$tmp/bqf" >"$tmp/bqf.txt"
  "$kiln" run "$bq/model.json" "${bqin[@]}" -o "$tmp/bqq" --quantize=int8 --calibrate \
    "$cm/bert_qa" >"$tmp/bqq.txt" 2>"$tmp/err"
  check test $? -eq 0
  check grep -q 'int8 calibration on 4 samples' "$tmp/err"
  check grep -q 'QAdd' "$tmp/err"
  check "$bin/npycmp" "$tmp/bqq/start_logits.npy" "$tmp/bqf/start_logits.npy" 0 0.6
  am_q=$(grep -o 'start_logits.*argmax [0-9]*' "$tmp/bqq.txt" | grep -o 'argmax [0-9]*')
  am_f=$(grep -o 'start_logits.*argmax [0-9]*' "$tmp/bqf.txt" | grep -o 'argmax [0-9]*')
  check test -n "$am_f"
  check test "$am_q" = "$am_f"
  "$kiln" inspect "$bq/model.json" --quantize=int8 --calibrate "$cm/bert_qa" --print \
    >"$tmp/bqq.txt" 2>/dev/null
  check grep -q '^%start_logits:f32\[1,24\] = Add(' "$tmp/bqq.txt"
  # --quant-keep-fp32=auto judges the model outputs too: int8 span scores (two -10000 masks
  # added to the logits, ~60 dB on the whole tensor) make span_start/span_end differ from fp32
  # (checked first, so the case stays a real one), so auto must find by measurement at the
  # outputs that /Add_4, /Add_5, /Add_6 stay fp32 (and no other layer); the spans then equal
  # fp32's.
  mkdir -p "$tmp/bqa"
  check test "$(od -An -tx1 "$tmp/bqq/span_start.npy")" != "$(od -An -tx1 "$tmp/bqf/span_start.npy")"
  "$kiln" run "$bq/model.json" "${bqin[@]}" -o "$tmp/bqa" --quantize=int8 --calibrate \
    "$cm/bert_qa" --quant-keep-fp32=auto >/dev/null 2>"$tmp/err"
  check test $? -eq 0
  check grep -q "output 'span_start' is off" "$tmp/err"
  check grep -qx 'kiln: --quant-keep-fp32=auto: keeping /Add_4,/Add_5,/Add_6 in fp32' "$tmp/err"
  check "$bin/npycmp" "$tmp/bqa/span_start.npy" "$tmp/bqf/span_start.npy"
  check "$bin/npycmp" "$tmp/bqa/span_end.npy" "$tmp/bqf/span_end.npy"
  "$kiln" inspect "$bq/model.json" --quantize=int8 --calibrate "$cm/bert_qa" \
    --quant-keep-fp32=auto --json >"$tmp/bqa.json" 2>/dev/null
  check grep -q '"node": "/Add_6", "op": "Add", "sqnr_db": null, "fp32": true' "$tmp/bqa.json"
  check grep -q '{"output": "span_start", "equal": 1.0000}' "$tmp/bqa.json"
  for bc in "bad_count:2 samples of input 'input_ids' but 1 of input 'attention_mask'" \
    "missing:no token_type_ids.npy (or folder token_type_ids/) for input 'token_type_ids'" \
    "f32_ids:f32_ids/input_ids.npy: expected i32 or i64 samples of input 'input_ids'"; do
    "$kiln" compile "$bq/model.json" --quantize=int8 --calibrate "$cm/${bc%%:*}" \
      -o "$tmp/q.o" >/dev/null 2>"$tmp/err"
    check test $? -eq 1
    check grep -qF -- "${bc#*:}" "$tmp/err"
    check test ! -e "$tmp/q.o"
  done
  # an i32 id input calibrated from i64 files: narrowed; a value outside i32 names the element
  gi="$src/tests/ops/gather_embedding_i32"
  "$kiln" inspect "$gi/model.json" --quantize=int8 --calibrate "$cm/gather_i32_ok.npy" --print \
    >"$tmp/gi.txt" 2>"$tmp/err"
  check grep -q 'int8 calibration on 2 samples' "$tmp/err"
  check grep -Eq '^%gather\.q\.1:i8\[2,3,5\] quant = Gather\(@gather\.q, %indices\)' "$tmp/gi.txt"
  "$kiln" compile "$gi/model.json" --quantize=int8 --calibrate "$cm/gather_i32_big.npy" \
    -o "$tmp/q.o" >/dev/null 2>"$tmp/err"
  check test $? -eq 1
  check grep -qF "gather_i32_big.npy: element 10 (1099511627776) does not fit input 'indices' (i32)" \
    "$tmp/err"
  check test ! -e "$tmp/q.o"
  "$kiln" compile "$bq/model.json" --quantize=int8 --calibrate "$bq/inputs/input_ids.npy" \
    -o "$tmp/q.o" >/dev/null 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "has 3 inputs: give folders holding NAME.npy or NAME/ per input" "$tmp/err"
  check test ! -e "$tmp/q.o"
  # a layer kept in fp32 by name, and auto with a threshold no layer meets: no QGemm left
  "$kiln" run "$dg" "$src/examples/digits_mlp/inputs/x.npy" -o "$tmp" --quantize=int8 \
    --calibrate "$cal" --quant-keep-fp32=auto:200 >/dev/null 2>"$tmp/err"
  check test $? -eq 2
  check "$kiln" run "$dg" "$src/examples/digits_mlp/inputs/x.npy" -o "$tmp" --quantize=int8 \
    --calibrate "$cal" --quant-keep-fp32=auto:99 --calibration=mse
  check "$kiln" compile "$dg" --quantize=int8 --calibrate "$cal" --quant-keep-fp32=fc2 \
    --calibration=percentile:99.9 --emit llvm -o "$tmp/q.ll"
  # --quantize=int8-weights: KilnGemmW8 and int8 embedding tables; the compiled code (-O3) agrees
  # with the interpreter on the same quantized graph (float tolerance: the kernel scales the
  # accumulators), and the weights shrink
  for ex in mlp lstm_classifier embedding_bag_classifier transformer_classifier gru_classifier \
    rnn_classifier bilstm_tagger; do
    d="$src/examples/$ex" ins=("$src/examples/$ex"/inputs/*.npy)
    mkdir -p "$tmp/w8i" "$tmp/w8c"
    check "$kiln" run "$d/model.json" "${ins[@]}" --quantize=int8-weights -o "$tmp/w8i"
    check "$kiln" build "$d/model.json" --quantize=int8-weights -O3 -o "$tmp/w8"
    check "$tmp/w8" "${ins[@]}" -o "$tmp/w8c" --quiet
    for f in "$tmp"/w8c/*.npy; do check "$bin/npycmp" "$f" "$tmp/w8i/$(basename "$f")"; done
    "$kiln" inspect "$d/model.json" --quantize=int8-weights --print >"$tmp/w8.txt"
    check grep -Eq 'KilnGemmW8|Cast' "$tmp/w8.txt"
    # the recurrent layers' W and R int8 (with their scales in slots 8, 9)
    if grep -Eq '"op": *"(LSTM|GRU|RNN)"' "$d/model.json"; then
      check grep -Eq '= (LSTM|GRU|RNN)\([^,]*, @W\.int8[^,]*, @R\.int8.*@W\.scale[^,]*, @R\.scale' \
        "$tmp/w8.txt"
    fi
    rm -rf "$tmp/w8i" "$tmp/w8c" "$tmp/w8"
  done
  # --quant-io=int8: int8 model I/O, the header gives the scale and zero point; kiln run and the
  # built driver take the int8 input quantized by those parameters and return int8 logits whose
  # dequantized values are the float-I/O model's outputs exactly. A model whose first layer stays
  # float (digits_lstm: Transpose) is an error naming the input, no output file.
  qio=(--quantize=int8 --calibrate "$cal")
  check "$kiln" compile "$dg" "${qio[@]}" -o "$tmp/qf.o" --header "$tmp/qf.h" 2>/dev/null
  check test "$(grep -c '_SCALE\|_ZERO_POINT' "$tmp/qf.h")" -eq 0
  check "$kiln" compile "$dg" "${qio[@]}" --quant-io=int8 -o "$tmp/qi.o" --header "$tmp/qi.h" 2>/dev/null
  for m in DIGITS_MLP_IN0 DIGITS_MLP_OUT0; do
    check grep -Eq "^#define ${m}_DTYPE 2 " "$tmp/qi.h"
    check grep -Eq "^#define ${m}_SCALE [0-9.e+-]+f " "$tmp/qi.h"
    check grep -Eq "^#define ${m}_ZERO_POINT -?[0-9]+$" "$tmp/qi.h"
  done
  "$kiln" inspect "$dg" "${qio[@]}" --quant-io=int8 --json >"$tmp/qi.json" 2>/dev/null
  check grep -Eq '"inputs": \[\{"name": "x", "dtype": "i8", "shape": \[1, 64\], "scale": [0-9.e+-]+, "zero_point": -?[0-9]+\}' "$tmp/qi.json"
  mkdir -p "$tmp/qiof" "$tmp/qioi" "$tmp/qioc"
  x="$src/examples/digits_mlp/inputs/x.npy"
  ${KILN_PYTHON:-/usr/bin/python3} - "$tmp/qi.h" "$x" "$tmp/xq.npy" <<'EOF2'
import re, sys
import numpy as np
h = open(sys.argv[1]).read()
s = np.float32(float(re.search(r"IN0_SCALE ([0-9.e+-]+)f", h).group(1)))
z = int(re.search(r"IN0_ZERO_POINT (-?[0-9]+)", h).group(1))
x = np.load(sys.argv[2]).astype(np.float32)
np.save(sys.argv[3], np.clip(np.rint(x / s) + z, -128, 127).astype(np.int8))
EOF2
  check "$kiln" run "$dg" "${qio[@]}" "$x" -o "$tmp/qiof" 2>/dev/null
  "$kiln" run "$dg" "${qio[@]}" --quant-io=int8 "$tmp/xq.npy" -o "$tmp/qioi" >"$tmp/qio.out" 2>/dev/null
  check test $? -eq 0
  check grep -Eq '^logits: i8\[1,10\] = (-?[0-9]+ ){9}-?[0-9]+  argmax [0-9]$' "$tmp/qio.out"
  check "$kiln" build "$dg" "${qio[@]}" --quant-io=int8 -o "$tmp/qio_exe" 2>/dev/null
  check "$tmp/qio_exe" "$tmp/xq.npy" -o "$tmp/qioc" --quiet
  check cmp "$tmp/qioi/logits.npy" "$tmp/qioc/logits.npy"
  check ${KILN_PYTHON:-/usr/bin/python3} -c '
import re, sys
import numpy as np
h = open(sys.argv[1]).read()
s = np.float32(float(re.search(r"OUT0_SCALE ([0-9.e+-]+)f", h).group(1)))
z = int(re.search(r"OUT0_ZERO_POINT (-?[0-9]+)", h).group(1))
q, f = np.load(sys.argv[2]), np.load(sys.argv[3])
sys.exit(0 if q.dtype == np.int8 and np.array_equal((q.astype(np.int32) - z).astype(np.float32) * s, f) else 1)
' "$tmp/qi.h" "$tmp/qioi/logits.npy" "$tmp/qiof/logits.npy"
  "$kiln" compile "$src/examples/digits_lstm/model.json" "${qio[@]}" --quant-io=int8 \
    -o "$tmp/ql.o" >/dev/null 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "quant-io=int8: input 'x' is read by" "$tmp/err"
  check test ! -e "$tmp/ql.o"
  # --quant-io=int8 without --quantize: a pre-quantized (QDQ) model's boundary Q/DQ become its
  # int8 I/O (header macros; the numbers: ctest qdq_import); a float model is a user error that
  # says what to do; -O0 (no qdq pass: the input's QuantizeLinear stays u8) is refused too
  qc="$src/tests/onnx/qdq/qdq_cnn/model.onnx"
  check "$kiln" compile "$qc" --quant-io=int8 -o "$tmp/qi.o" --header "$tmp/qi.h"
  check grep -Eq "^#define MODEL_IN0_DTYPE 2 " "$tmp/qi.h"
  check grep -Eq "^#define MODEL_OUT0_ZERO_POINT -?[0-9]+$" "$tmp/qi.h"
  for f in "$dg:-O2:read by fc1 (Gemm)" "$qc:-O0:quantized by x_q to u8"; do
    IFS=: read -r fm fo fe <<<"$f"
    "$kiln" compile "$fm" "$fo" --quant-io=int8 -o "$tmp/ql.o" >/dev/null 2>"$tmp/err"
    check test $? -eq 1
    check grep -qF "$fe" "$tmp/err"
    check grep -q "quantize=int8 --calibrate" "$tmp/err"
    check test ! -e "$tmp/ql.o"
  done
  rm -f "$tmp/qi.o" "$tmp/qi.h"
  rm -rf "$tmp/qiof" "$tmp/qioi" "$tmp/qioc" "$tmp/qio_exe" "$tmp"/q[fil].[oh] "$tmp/qi.json" "$tmp/xq.npy"
  # --quantize=int8 also gives the LSTM int8 gate matrices (its activations stay float)
  "$kiln" inspect "$src/examples/digits_lstm/model.json" "${qio[@]}" --print >"$tmp/ql.txt" 2>&1
  check grep -Eq '= LSTM\([^,]*, @W\.int8[^,]*, @R\.int8' "$tmp/ql.txt"
  # Determinism: the same model compiles to byte-identical object and header.
  check "$kiln" compile "$src/examples/resnet_small/model.json" -o "$tmp/det1.o"
  check "$kiln" compile "$src/examples/resnet_small/model.json" -o "$tmp/det2.o" --header "$tmp/det1b.h"
  check cmp -s "$tmp/det1.o" "$tmp/det2.o"
  check cmp -s "$tmp/det1.h" "$tmp/det1b.h"
  # Names that are not C identifiers or collide after sanitizing: the header still compiles
  # (as C with -Werror and as C++) and the entry points compute the right values.
  check "$kiln" compile "$src/tests/names/model.json" -o "$tmp/names.o"
  check "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I"$tmp" -I"$src/runtime" \
    "$src/tests/names/use_header.c" "$tmp/names.o" "$bin/../lib/libkiln_rt.a" -o "$tmp/use_names"
  check "$tmp/use_names"
  check c++ -Wall -Wextra -Werror -fsyntax-only -x c++ "$tmp/names.h"
  # --max-stack: the worst case in the header (NAME_STACK_SIZE) passes, one byte less is an
  # error naming the node whose function is deepest; recurrent buffers on the stack name their
  # node; the report is in --size-report; no stack report without machine code.
  m4=(--target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp -O3)
  check "$kiln" compile "$src/examples/lenet5/model.json" "${m4[@]}" -o "$tmp/st.o"
  st=$(sed -n 's/^#define LENET5_STACK_SIZE \([0-9]*\)u.*/\1/p' "$tmp/st.h")
  check test -n "$st"
  check "$kiln" compile "$src/examples/lenet5/model.json" "${m4[@]}" -o "$tmp/st.o" --max-stack "$st"
  rm -f "$tmp"/st.*
  "$kiln" compile "$src/examples/lenet5/model.json" "${m4[@]}" -o "$tmp/st.o" --max-stack $((st - 1)) 2>"$tmp/err"
  check test $? -eq 1
  check grep -qE "nodes\[[0-9]+\] \([a-z0-9_]+\): the generated code needs $st bytes of stack \(worst case, lenet5_run[a-z_]*\), more than the limit of $((st - 1)) bytes \(--max-stack\); this node's function takes [0-9]+ bytes" "$tmp/err"
  check test ! -e "$tmp/st.o"
  check test ! -e "$tmp/st.h"
  # the recurrent layers keep their state in the workspace (node scratch), not on the stack: over
  # a tiny limit the error says that only the functions' own frames are left
  "$kiln" build "$src/examples/lstm_classifier/model.json" -o "$tmp/st_exe" --max-stack 16 2>"$tmp/err"
  check test $? -eq 1
  check grep -qE -- "--max-stack: the generated code needs [0-9]+ bytes of stack \(worst case, lstm_classifier_run\), more than the limit of 16 bytes; no node keeps buffers on the stack" "$tmp/err"
  check test ! -e "$tmp/st_exe"
  "$kiln" compile "$src/examples/mlp/model.json" "${m4[@]}" -o "$tmp/st.o" --size-report >"$tmp/out"
  check grep -qE "^  stack: +[0-9]+ bytes \(worst case of a call\)" "$tmp/out"
  check grep -qE "^    mlp_run_ws +frame +[0-9]+, with callees +[0-9]+" "$tmp/out"
  "$kiln" compile "$src/examples/mlp/model.json" --emit llvm --max-stack 100 -o "$tmp/st.ll" 2>/dev/null
  check test $? -eq 2
  check "$kiln" compile "$src/examples/mlp/model.json" --emit llvm -o "$tmp/st.ll"
  check test -z "$(grep STACK_SIZE "$tmp/st.h")"
  # --max-workspace: the exact plan (from inspect --json) passes; one byte less is a user error
  # naming the node whose output ends at the top of the plan, with no output left behind.
  ws=$("$kiln" inspect "$src/examples/mnist_cnn/model.json" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["workspace_bytes"])')
  check "$kiln" compile "$src/examples/mnist_cnn/model.json" --max-workspace "$ws" -o "$tmp/ws.o"
  check grep -q "WORKSPACE_SIZE ${ws}u" "$tmp/ws.h"
  rm -f "$tmp"/ws.*
  "$kiln" compile "$src/examples/mnist_cnn/model.json" --max-workspace $((ws - 1)) -o "$tmp/ws.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -qE "nodes\[[0-9]+\] \([a-z0-9_]+\)\.outputs\[0\]: the workspace needs $ws bytes, more than the limit of $((ws - 1)) bytes \(--max-workspace\)" "$tmp/err"
  check test ! -e "$tmp/ws.o"
  check test ! -e "$tmp/ws.h"
  "$kiln" build "$src/examples/mnist_cnn/model.json" --max-workspace 1000 -o "$tmp/ws" 2>"$tmp/err"
  check test $? -eq 1
  check test ! -e "$tmp/ws"
  "$kiln" compile "$src/examples/mnist_cnn/model.json" --max-workspace 12kb -o "$tmp/ws.o" 2>/dev/null
  check test $? -eq 2
  # inspect after the pass pipeline (issue 4): BatchNorm folded, Conv+Relu fused, JSON fields
  "$kiln" inspect "$src/examples/resnet_small/model.json" >"$tmp/inspect" 2>&1
  check grep -q 'before passes: .*BatchNormalization 9' "$tmp/inspect"
  check grep -q 'fused: .*Conv+Relu' "$tmp/inspect"
  check grep -q 'after -O2 passes: [0-9]* nodes (Gemm 1, Conv 11' "$tmp/inspect"
  if grep 'after -O2' "$tmp/inspect" | grep -q BatchNormalization; then bad "BatchNormalization not folded"; else ok; fi
  "$kiln" inspect "$src/examples/resnet_small/model.json" --json >"$tmp/inspect.json" 2>&1
  check test $? -eq 0
  for field in workspace_bytes workspace_lower_bound_bytes params param_bytes macs before after ops fused passes; do
    check grep -q "\"$field\": " "$tmp/inspect.json"
  done
  check grep -q '"before": {"nodes": 38' "$tmp/inspect.json"
  check grep -q '"Conv+Relu": 5' "$tmp/inspect.json"
  # kernels (issue 9): the choice, the scratch and the register tile per node, text and JSON
  check grep -q 'kernel layer2.conv1: conv-[a-z0-9-]*gemm, tile [0-9]* x [0-9]* floats' "$tmp/inspect"
  # the stride-2 32->64 layer (16x16 -> 8x8): the phase images, not im2col, on vector hosts
  # (plan_conv rounds columns to whole vectors; notes/issue9s.md: 22.9 against 26.7 us)
  check grep -q 'kernel layer3.conv1: conv-padded-wide-gemm' "$tmp/inspect"
  # the 16-channel 32x32 layers: Winograd in small blocks (one tile row, 8-channel blocks)
  check grep -q 'kernel layer1.conv1: conv-winograd-f2x3, tile [0-9]* x [0-9]* floats (16-lane vectors), scratch 33536 bytes' "$tmp/inspect"
  check grep -q '"kernel": "conv-im2col-gemm", "scratch_bytes": [1-9][0-9]*, "macs": [0-9]*, "tile": {"rows": [0-9]*, "cols": [0-9]*' "$tmp/inspect.json"
  "$kiln" inspect "$src/examples/lenet5/model.json" --target thumbv7em-none-eabihf --cpu cortex-m4 \
    --features +vfp4d16sp --json >"$tmp/m4.json" 2>&1
  check grep -q '"lanes": 1}' "$tmp/m4.json"
  "$kiln" inspect "$src/examples/resnet_small/model.json" --conv=loops --json >"$tmp/loops.json" 2>&1
  if grep -q '"kernel": "conv-' "$tmp/loops.json"; then bad "--conv=loops kept a tiled conv"; else ok; fi
  # --layout=nchwc (passes/pass_layout.c): ResNet-8's 16-64 channel convs on NCHW16c values;
  # every KilnLayout copy is at a run's boundary (none reads another's output: back-to-back
  # copies cancelled), graph inputs and outputs stay plain; the default (auto) blocks nothing
  "$kiln" inspect "$src/examples/resnet_small/model.json" --layout=nchwc --json >"$tmp/nchwc.json" 2>&1
  check python3 - "$tmp/nchwc.json" "$tmp/inspect.json" <<'PY'
import json, sys
d, auto = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
k = d["kernels"]
made = {o["name"]: n for n in k for o in n["outputs"]}
copies = [n for n in k if n["op"] == "KilnLayout"]
blocked = [n for n in k if n["kernel"] == "conv-nchwc-direct"]
assert len(blocked) >= 8, len(blocked)
assert all(n["inputs"][0]["layout"] == "nchw16c" and n["outputs"][0]["layout"] == "nchw16c" for n in blocked)
for c in copies:
    assert (c["inputs"][0]["layout"] == "plain") != (c["outputs"][0]["layout"] == "plain"), c
    src = made.get(c["inputs"][0]["name"])
    assert src is None or src["op"] != "KilnLayout", ("back-to-back", c["node"], src["node"])
# the 16-channel stem output enters once; layer1-3 convert out only where non-blocked ops read
assert sum(c["outputs"][0]["layout"] == "nchw16c" for c in copies) <= 2, copies
io = {v["name"] for v in d["inputs"] + d["outputs"]}
assert all(r["layout"] == "plain" for n in k for r in n["inputs"] + n["outputs"] if r and r["name"] in io)
assert not any(n["op"] == "KilnLayout" for n in auto["kernels"])
PY
  "$kiln" compile "$src/examples/lenet5/model.json" --layout=nhwc -o "$tmp/c.o" 2>"$tmp/err"
  check test $? -eq 2
  check grep -q -- "--layout: expected auto, nchw or nchwc, got 'nhwc'" "$tmp/err"
  "$kiln" compile "$src/examples/lenet5/model.json" --conv=fast -o "$tmp/c.o" 2>"$tmp/err"
  check test $? -eq 2
  check grep -q -- "--conv: expected auto, im2col, wide, winograd, subpixel, col2im or loops, got 'fast'" "$tmp/err"
  # ConvTranspose: sub-pixel where the cost model prefers it (the DCGAN's 8x8 and 16x16 layers),
  # col2im for its 4x4 one; either everywhere on request
  "$kiln" inspect "$src/examples/dcgan_generator/model.json" >"$tmp/dcgan" 2>&1
  check grep -q 'kernel [^:]*: convtranspose-subpixel' "$tmp/dcgan"
  check grep -q 'kernel [^:]*: convtranspose-gemm-col2im' "$tmp/dcgan"
  "$kiln" inspect "$src/examples/dcgan_generator/model.json" --conv=col2im >"$tmp/dcgan" 2>&1
  if grep -q 'convtranspose-subpixel' "$tmp/dcgan"; then bad "--conv=col2im kept a sub-pixel kernel"; else ok; fi
  # int8 (docs/quantization.md): QLinearConvTranspose sub-pixel where the int8 cost model prefers
  # it (an AVX-512 VNNI host: ct2-ct4, col2im for the 1x1 -> 4x4 ct1; the Cortex-M4: ct3, ct4),
  # never with --conv=col2im; the VNNI direct conv named and sized as such (cifar_cnn's conv2:
  # the padded copy of 8 channel quads x 18 x 18 words), im2col without VNNI or on request
  dq=("$src/examples/dcgan_generator/model.json" --quantize=int8 --calibrate "$src/examples/dcgan_generator/inputs")
  vnni=(--cpu icelake-server --features +avx512f,+avx512bw,+avx512vnni)
  "$kiln" inspect "${dq[@]}" "${vnni[@]}" >"$tmp/qdcgan" 2>&1
  check grep -q 'kernel ct1: convtranspose-gemm-col2im' "$tmp/qdcgan"
  check test "$(grep -c 'kernel ct[234]: qconvtranspose-subpixel' "$tmp/qdcgan")" -eq 3
  "$kiln" inspect "${dq[@]}" --target thumbv7em-none-eabihf --cpu cortex-m4 >"$tmp/qdcgan" 2>&1
  check test "$(grep -c 'kernel ct[34]: qconvtranspose-subpixel' "$tmp/qdcgan")" -eq 2
  check grep -q 'kernel ct2: convtranspose-gemm-col2im' "$tmp/qdcgan"
  "$kiln" inspect "${dq[@]}" "${vnni[@]}" --conv=col2im >"$tmp/qdcgan" 2>&1
  if grep -q 'qconvtranspose-subpixel' "$tmp/qdcgan"; then bad "--conv=col2im kept an int8 sub-pixel kernel"; else ok; fi
  cq=("$src/examples/cifar_cnn/model.json" --quantize=int8 --calibrate "$src/examples/cifar_cnn/inputs")
  "$kiln" inspect "${cq[@]}" "${vnni[@]}" >"$tmp/qcifar" 2>&1
  check grep -q 'kernel conv2: qconv-direct-dot4, scratch 10368 bytes' "$tmp/qcifar"
  "$kiln" inspect "${cq[@]}" --cpu x86-64-v3 >"$tmp/qcifar" 2>&1
  check grep -q 'kernel conv2: qconv-im2col-dot4' "$tmp/qcifar"
  "$kiln" inspect "${cq[@]}" "${vnni[@]}" --conv=im2col >"$tmp/qcifar" 2>&1
  if grep -q 'qconv-direct-dot4' "$tmp/qcifar"; then bad "--conv=im2col kept a direct int8 conv"; else ok; fi
  # Winograd where the cost model picks it (64->64 3x3 at 8x8), and everywhere it applies on request
  check grep -q 'kernel layer3.conv2: conv-winograd-f2x3' "$tmp/inspect"
  "$kiln" inspect "$src/examples/resnet_small/model.json" --conv=winograd >"$tmp/wino" 2>&1
  check grep -q 'kernel layer1.conv1: conv-winograd-f2x3' "$tmp/wino"
  if grep -q 'kernel layer2.conv1: conv-winograd' "$tmp/wino"; then bad "Winograd on a stride-2 conv"; else ok; fi
  # --profile: the executable prints the median time of every node after its latency
  "$kiln" build "$src/examples/lenet5/model.json" --profile -o "$tmp/prof" 2>&1
  "$tmp/prof" "$src/examples/lenet5/inputs/x.npy" -o "$tmp" --repeat 5 --quiet >"$tmp/prof.out"
  check grep -q '^profile: 8 nodes, medians over 5 runs' "$tmp/prof.out"
  check grep -q '#0 conv1 (Conv+..., conv-' "$tmp/prof.out"
  # -o DIR: a missing folder (and its parents) is created; a file in the way fails before running
  "$tmp/prof" "$src/examples/lenet5/inputs/x.npy" -o "$tmp/new/sub" --quiet >/dev/null 2>&1
  check test -f "$tmp/new/sub/logits.npy"
  "$tmp/prof" "$src/examples/lenet5/inputs/x.npy" -o "$tmp/prof.out" --repeat 5 >"$tmp/o.out" 2>&1
  check test $? -eq 1
  check grep -q "is not a folder" "$tmp/o.out"
  if grep -q latency "$tmp/o.out"; then bad "the model ran before -o was checked"; else ok; fi
  "$kiln" inspect "$src/examples/mlp/model.json" --dot >"$tmp/g.dot" 2>&1
  check grep -q '^digraph "mlp" {' "$tmp/g.dot"
  check grep -q 'subgraph cluster_0 {' "$tmp/g.dot"
  check grep -q 'label="Gemm+Relu"' "$tmp/g.dot"
  "$kiln" inspect "$src/examples/mnist_cnn/model.json" --memory-plan --memory-plan-svg "$tmp/plan.svg" >"$tmp/plan" 2>&1
  check grep -q '^memory plan: workspace [0-9]* bytes, lower bound [0-9]*' "$tmp/plan"
  check grep -q '^<svg ' "$tmp/plan.svg"
  # the picture shows the plan's offsets: every buffer (a value that shares no other's bytes)
  awk 'NF == 5 && $2 ~ /^[0-9]+$/ {print $1, $2}' "$tmp/plan" >"$tmp/roots"
  check test -s "$tmp/roots"
  while read -r name off; do
    check grep -q "<title>$name: offset $off, " "$tmp/plan.svg"
  done <"$tmp/roots"
  # --passes / --print-after / --after; unknown pass names are errors (exit 1, named)
  "$kiln" inspect "$src/examples/mlp/model.json" --after=simplify >"$tmp/after" 2>&1
  check grep -q '^; graph after simplify' "$tmp/after"
  if grep -q 'Dropout(' "$tmp/after"; then bad "Dropout survived simplify"; else ok; fi
  "$kiln" compile "$src/examples/mlp/model.json" --passes=fold,nosuch -o "$tmp/p.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "unknown pass 'nosuch'" "$tmp/err"
  check test ! -e "$tmp/p.o"
  "$kiln" compile "$src/examples/mlp/model.json" --print-after=bogus -o "$tmp/p.o" 2>"$tmp/err"
  check test $? -eq 1
  check "$kiln" compile "$src/examples/mlp/model.json" --passes=dce,fuse --verify-each -o "$tmp/p.o"
  # misspelled triples and CPUs: one clear error naming the flag, exit 1, no output
  for bad in "--target aarch64-linux-gnux:environment 'gnux'" "--target x86_64-foo-linux:vendor 'foo'" \
    "--target thumbv7em-none-eabihf --cpu cortex-m99:unknown CPU 'cortex-m99'"; do
    # shellcheck disable=SC2086
    "$kiln" compile "$src/examples/mlp/model.json" ${bad%%:*} -o "$tmp/bad.o" 2>"$tmp/err"
    check test $? -eq 1
    check test "$(grep -c -- "${bad#*:}" "$tmp/err")" -eq 1
    check test ! -e "$tmp/bad.o"
  done
  # ONNX Runtime's quantize_dynamic (tests/onnx/qdq/dynamic_int8): inspect names the int8 GEMM
  # kernel of each of its 5 MatMulInteger nodes; `kiln build` for the host (VNNI here: u8 x s8)
  # and for x86-64-v3 (AVX2, no VNNI: the generic dot4 on s8 bytes) reproduce the golden exactly
  di=$src/tests/onnx/qdq/dynamic_int8
  "$kiln" inspect "$di/model.onnx" >"$tmp/di.txt" 2>&1
  check test "$(grep -c 'kernel MatMul_[0-9]_quant: qgemm-dot4' "$tmp/di.txt")" -eq 5
  for cpu in "" "--cpu x86-64-v3 --features +avx2,+fma"; do
    rm -rf "$tmp/di_out"
    mkdir -p "$tmp/di_out"
    # shellcheck disable=SC2086
    check "$kiln" build "$di/model.onnx" $cpu -o "$tmp/di_exe"
    check "$tmp/di_exe" "$di/inputs/x.npy" "$di/inputs/x2.npy" -o "$tmp/di_out" >/dev/null
    for y in y2 y3 y4 y5; do check "$bin/npycmp" "$tmp/di_out/$y.npy" "$di/golden/$y.npy" 0 0; done
  done
  # its ConvInteger nodes (tests/onnx/qdq/dynamic_conv): the int8 conv kernel for each of the 11,
  # host (VNNI) and x86-64-v3 builds equal to the golden exactly; planned for VNNI, the 8-channel
  # 16x16 stride-1 one (Conv_13) takes the direct form (not the 3-channel first layer Conv_9, as
  # QLinearConv), its scratch the bias and row sums (4 * 8 + 4 (256 + 256) B, rounded to 2112)
  # and the padded copy (2 channel quads of 18 x 18 words); for the Cortex-M4 the 3x3s of 8+
  # channels each way (Conv_10, Conv_12, Conv_13) the int8 Winograd
  dc=$src/tests/onnx/qdq/dynamic_conv
  "$kiln" inspect "$dc/model.onnx" >"$tmp/dc.txt" 2>&1
  check test "$(grep -c 'kernel Conv_[0-9]*_quant: qconv-' "$tmp/dc.txt")" -eq 11
  "$kiln" inspect "$dc/model.onnx" --cpu icelake-server --features +avx512f,+avx512bw,+avx512vnni \
    >"$tmp/dc.txt" 2>&1
  check grep -q 'kernel Conv_13_quant: qconv-direct-dot4, scratch 4704 bytes' "$tmp/dc.txt"
  check test "$(grep -c 'qconv-direct-dot4' "$tmp/dc.txt")" -eq 1
  "$kiln" inspect "$dc/model.onnx" --target thumbv7em-none-eabihf --cpu cortex-m4 \
    --features +vfp4d16sp >"$tmp/dc.txt" 2>&1
  check grep -q 'kernel Conv_10_quant: qconv-winograd-f2x3' "$tmp/dc.txt"
  check grep -q 'kernel Conv_12_quant: qconv-winograd-f2x3' "$tmp/dc.txt"
  check grep -q 'kernel Conv_13_quant: qconv-winograd-f2x3' "$tmp/dc.txt"
  check test "$(grep -c 'qconv-winograd-f2x3' "$tmp/dc.txt")" -eq 3
  for cpu in "" "--cpu x86-64-v3 --features +avx2,+fma"; do
    rm -rf "$tmp/dc_out"
    mkdir -p "$tmp/dc_out"
    # shellcheck disable=SC2086
    check "$kiln" build "$dc/model.onnx" $cpu -o "$tmp/dc_exe"
    check "$tmp/dc_exe" "$dc/inputs/x.npy" "$dc/inputs/x2.npy" "$dc/inputs/x3.npy" \
      "$dc/inputs/x4.npy" "$dc/inputs/x5.npy" "$dc/inputs/x6.npy" "$dc/inputs/x7.npy" \
      "$dc/inputs/x8.npy" -o "$tmp/dc_out" >/dev/null
    for y in y1 y2 y3 y4 y5 y6 y7 y8 y9 y10; do
      check "$bin/npycmp" "$tmp/dc_out/$y.npy" "$dc/golden/$y.npy" 0 0
    done
  done
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
  # the JSON and ONNX frontends build the same IR: the imported JSON prints the same graph
  for ex in mlp resnet_small transformer_classifier lstm_classifier; do
    rm -rf "$tmp/same" && mkdir -p "$tmp/same"
    check "$kiln" import "$src/examples/$ex/model.onnx" -o "$tmp/same/model.json"
    "$kiln" inspect "$src/examples/$ex/model.onnx" -O0 --print >"$tmp/same/a.txt" 2>&1
    "$kiln" inspect "$tmp/same/model.json" -O0 --print >"$tmp/same/b.txt" 2>&1
    check cmp -s "$tmp/same/a.txt" "$tmp/same/b.txt"
    check grep -q "^graph model opset 17" "$tmp/same/a.txt"
  done
  # no Python at compile time: kiln import, compile and run with a PATH without any python
  mkdir -p "$tmp/nopy"
  for f in kiln; do ln -sf "$kiln" "$tmp/nopy/$f"; done
  env -i PATH="$tmp/nopy" "$kiln" import "$src/examples/lstm_classifier/model.onnx" \
    -o "$tmp/nopy/out/lstm.json" >/dev/null 2>"$tmp/err"
  check test $? -eq 0
  check test -s "$tmp/nopy/out/lstm.weights.bin"
  env -i PATH="$tmp/nopy" "$kiln" compile "$t/torch/lenet5_opset9/model.onnx" -o "$tmp/nopy/l.o" \
    >/dev/null 2>&1
  check test $? -eq 0
  # symbolic dimensions: an error naming the input, or fixed with --input-shape
  "$kiln" run "$t/dynamic_batch.onnx" "$t/shape_folding_x.npy" -o "$tmp" 2>"$tmp/err"
  check test $? -eq 1
  check grep -qF "graph.input[0] (x): dimension 0 ('batch') is not static: fix it with --input-shape x=" "$tmp/err"
  "$py" -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[-1, 2, -3, 4], [5, -6, 7, -8]], np.float32))' "$tmp/x24.npy"
  check "$kiln" run "$t/dynamic_batch.onnx" "$tmp/x24.npy" -o "$tmp/dyn" --input-shape x=2,4
  check "$py" -c 'import numpy as np, sys; y = np.load(sys.argv[1]); assert y.shape == (2, 4) and (y == np.maximum(np.load(sys.argv[2]), 0)).all()' "$tmp/dyn/y.npy" "$tmp/x24.npy"
  for bad in "x=2" "x=0,4" "x=2,5" "nope=1,4" "x=a,b"; do
    "$kiln" compile "$t/dynamic_batch.onnx" -o "$tmp/dyn.o" --input-shape "$bad" 2>"$tmp/err"
    check test $? -eq 1
    check grep -q -- "--input-shape" "$tmp/err"
    check test ! -e "$tmp/dyn.o"
  done
  # If on an input: a clear error naming the node, until --bind makes the condition a constant
  "$py" -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[-1, 2, -3, 4]], np.float32))' "$tmp/x14.npy"
  "$kiln" compile "$t/if_bind.onnx" -o "$tmp/if.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -qF "graph.node[0] (branch): an If whose condition is computed at run time" "$tmp/err"
  check "$kiln" run "$t/if_bind.onnx" "$tmp/x14.npy" -o "$tmp/if1" --bind flag=1
  check "$kiln" run "$t/if_bind.onnx" "$tmp/x14.npy" -o "$tmp/if0" --bind flag=0
  check "$py" -c 'import numpy as np, sys; x = np.load(sys.argv[1]); assert (np.load(sys.argv[2]) == np.maximum(x, 0)).all() and (np.load(sys.argv[3]) == -x).all()' "$tmp/x14.npy" "$tmp/if1/y.npy" "$tmp/if0/y.npy"
  "$kiln" compile "$src/examples/mlp/model.json" -o "$tmp/j.o" --bind x=1 2>"$tmp/err"
  check test $? -eq 1
  check grep -qF -- "--bind: applies to ONNX models only" "$tmp/err"
  # Einsum: the 8 batched-matmul forms become MatMuls (the tiled GEMM kernel), the 3 others stay
  # generic Einsum loops; ctest onnx_cases checks all 11 against numpy
  "$kiln" inspect "$t/cases/einsum_matmul_forms_opset12/model.onnx" -O0 >"$tmp/einsum.txt" 2>&1
  check grep -qF "before passes: 20 nodes (MatMul 8, Reshape 4, Transpose 5, Einsum 3)" "$tmp/einsum.txt"
  # f64 inputs and outputs: computed in f32, a warning names each, the header declares float
  c="$t/cases/f64_io_opset13"
  "$kiln" compile "$c/model.onnx" -o "$tmp/f64.o" 2>"$tmp/err"
  check test $? -eq 0
  check grep -qF "graph.input[0] (x): warning: input is double (f64): Kiln computes the model in float32" "$tmp/err"
  check grep -qF "graph.output[0] (y): warning: output is double (f64)" "$tmp/err"
  check grep -qF "graph.node[3] (to_f64): warning: Cast to double is computed as a Cast to float32" "$tmp/err"
  check test -s "$tmp/f64.o"
  check "$kiln" build "$c/model.onnx" -o "$tmp/f64_exe"
  check "$tmp/f64_exe" "$c/inputs/x.npy" -o "$tmp/f64_out" --quiet
  check "$bin/npycmp" "$tmp/f64_out/y.npy" "$c/golden/y.npy"
  # any tensor name: output files get sanitized stems, build executables too (and -o DIR is
  # created before the model runs)
  c="$t/cases/names_opset21_extra_domain"
  check "$kiln" run "$c/model.onnx" "$c/inputs/gpu_0_data_0.npy" -o "$tmp/names"
  check "$bin/npycmp" "$tmp/names/output_0.npy" "$c/golden/output_0.npy"
  check "$kiln" build "$c/model.onnx" -o "$tmp/names_exe"
  check "$tmp/names_exe" "$c/inputs/gpu_0_data_0.npy" -o "$tmp/names_exe_out/new" --quiet
  check "$bin/npycmp" "$tmp/names_exe_out/new/output_0.npy" "$c/golden/output_0.npy"
  check "$kiln" compile "$c/model.onnx" -o "$tmp/names.o"
  check grep -qF '"gpu_0/data_0"' "$tmp/names.h"
  check grep -qF '"output:0"' "$tmp/names.h"
  # errors: exit 1, a message naming the file and the problem, no output file
  echo "not a protobuf" >"$tmp/garbage.onnx"
  : >"$tmp/empty.onnx"
  for c in "garbage.onnx|not an ONNX model" \
           "empty.onnx|not an ONNX model (no graph or no opset" \
           "unsupported_ops.onnx|3 nodes use 2 ops Kiln does not support" \
           "unsupported_ops.onnx|TopK: 'top1', 'top2'" \
           "unsupported_ops.onnx|Hardmax: 'hardmax'" \
           "dynamic_batch.onnx|graph.input[0] (x): dimension 0 ('batch') is not static"; do
    f=${c%%|*} expect=${c#*|}
    p="$t/$f"
    case $f in garbage.onnx | empty.onnx) p="$tmp/$f" ;; esac
    rm -f "$tmp/imported.json" "$tmp/imported.weights.bin" "$tmp/out.o" "$tmp/out.h"
    "$kiln" import "$p" -o "$tmp/imported.json" 2>"$tmp/err"
    check test $? -eq 1
    check grep -qF -- "$expect" "$tmp/err"
    check test ! -e "$tmp/imported.json"
    check test ! -e "$tmp/imported.weights.bin"
    "$kiln" compile "$p" -o "$tmp/out.o" 2>/dev/null
    check test $? -eq 1
    check test ! -e "$tmp/out.o"
  done
  check "$kiln" import --help >/dev/null
  ;;
prune)
  ex="$src/examples" sp="$src/tests/sparse"
  after_params() { "$kiln" inspect "$@" | awk '/parameters:/ {p = $2} END {print p}'; }
  check test "$(after_params "$sp/prune_chain/model.json")" -eq 503     # 849 before: 5 channels go
  # a residual Add ties a's and b's channels: channel 0, zero in both, goes from a, b (its output
  # and input channel) and c: wa 3x3x3x3 + 3, wb 3x3x3x3 + 3, wc 2x3 + 2 = 176 (270 before);
  # zero in a only (b's zero channel is another), nothing goes
  check test "$(after_params "$sp/prune_residual/model.json")" -eq 176
  check test "$(after_params "$sp/prune_residual_tied/model.json")" -eq 270
  # a Concat along the channels: a's channel 0 and b's channel 1 go, with c's input channels 0
  # and 5: wa 3x3x3x3 + 3, wb 1x3x3x3 + 1, wc 2x4 + 2 = 122 (182 before)
  check test "$(after_params "$sp/prune_concat/model.json")" -eq 122
  check test "$(after_params "$ex/digits_cnn_channels/model.json")" -eq 20666  # 47530 before
  check test "$(after_params "$ex/digits_cnn_channels/model.json" -O0)" -eq 47530
  # a norm threshold nothing passes leaves one channel per prunable layer: conv1..3 1x1x3x3 + 1
  # bias each, fc1 1x16 + 1, fc2 (tied to the output) 10x1 + 10
  check test "$(after_params "$ex/digits_cnn_dense/model.json" "--prune=channels:l2<1e9")" -eq 67
  # inspect: per layer density, format, bytes (indices included) and MACs executed
  m4=(--target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp)
  "$kiln" inspect "$ex/digits_mlp_sparse90/model.json" "${m4[@]}" >"$tmp/insp"
  check grep -q "kernel fc2: sparse-csr, weights 10.0% nonzero, [0-9]* bytes (dense 131072), 3277 MACs" "$tmp/insp"
  check grep -q "weights: [0-9]* bytes as compiled, 201728 dense fp32" "$tmp/insp"
  # the ladder's last rung: pruned then int8 (sparse int8 CSR on the M4), and --eval measures it
  "$kiln" inspect "$ex/digits_mlp_sparse90/model.json" "${m4[@]}" --quantize=int8 \
    --calibrate "$src/tests/digits/calib" >"$tmp/insp" 2>/dev/null
  check grep -q "kernel fc2: sparse-csr, int8 weights 10.0% nonzero, [0-9]* bytes (dense 32768), 3277 MACs" "$tmp/insp"
  check grep -q "weights: [0-9]* bytes as compiled, 201728 dense fp32" "$tmp/insp"
  # the CNN's convolutions too: the int8 CSR conv at 10% density on the M4, 5 bytes per nonzero
  # (i8 value, i32 tap offset) and 33 row pointers: 461 * 5 + 33 * 4
  "$kiln" inspect "$ex/digits_cnn_sparse90/model.json" "${m4[@]}" --quantize=int8 \
    --calibrate "$src/tests/digits/calib" >"$tmp/insp" 2>/dev/null
  check grep -q "kernel conv2: sparse-csr, scratch [0-9]* bytes, int8 weights 10.0% nonzero, 2437 bytes (dense 4608)" "$tmp/insp"
  check grep -q "weights: [0-9]* bytes as compiled, 189504 dense fp32" "$tmp/insp"
  # on the M4, 80% zeros (magnitude:0.8) leave conv2 (54% nonzero) to the dense Winograd, which
  # beats CSR there; at 90% CSR wins (fp32)
  "$kiln" inspect "$ex/digits_cnn_dense/model.json" "${m4[@]}" --prune=magnitude:0.8 >"$tmp/insp"
  check grep -q "kernel conv2: conv-winograd-f2x3" "$tmp/insp"
  "$kiln" inspect "$ex/digits_cnn_sparse90/model.json" "${m4[@]}" >"$tmp/insp"
  check grep -q "kernel conv2: sparse-csr" "$tmp/insp"
  "$kiln" compile "$ex/digits_mlp_sparse90/model.json" -o "$tmp/p.o" --quantize=int8 \
    --calibrate "$src/tests/digits/calib" --eval "$src/tests/digits" >"$tmp/out" 2>/dev/null
  check grep -q "eval after --quantize=int8: agreement .*, accuracy " "$tmp/out"
  "$kiln" inspect --json "$ex/digits_mlp_sparse90/model.json" "${m4[@]}" | python3 -c '
import json, sys
k = {x["node"]: x for x in json.load(sys.stdin)["kernels"]}["fc2"]
w = k["weights"]
# 3277 nonzeros (10% of 256x128) as u16 indices + f32 values, pairs padded, 129 column pointers
assert k["kernel"] == "sparse-csr" and abs(w["density"] - 0.1) < 1e-3, k
assert 3277 * 6 + 129 * 4 <= w["bytes"] <= (3277 + 128) * 6 + 129 * 4 and w["dense_bytes"] == 131072, w
assert w["macs_executed"] == 3277 and k["macs"] == 32768, k' && ok || bad "inspect --json weights"
  # magnitude: a global fraction over every weight, or per node
  density() { # model node|ALL prune-spec -> fraction of nonzero weights
    "$kiln" inspect --json "$1" --prune="$3" | python3 -c '
import json, sys
ks = [k for k in json.load(sys.stdin)["kernels"] if "weights" in k and sys.argv[1] in (k["node"], "ALL")]
nz = sum(k["weights"]["density"] * k["weights"]["dense_bytes"] / 4 for k in ks)
print("%.4f" % (nz / sum(k["weights"]["dense_bytes"] / 4 for k in ks)))' "$2"
  }
  check test "$(density "$ex/digits_mlp_dense/model.json" ALL magnitude:0.8)" = 0.2000
  check test "$(density "$ex/digits_mlp_dense/model.json" fc1 magnitude:fc1=0.9)" = 0.1000
  check test "$(density "$ex/digits_mlp_dense/model.json" fc2 magnitude:fc1=0.9)" = 1.0000
  # --eval: agreement and accuracy after each lossy step; the limit refuses, writing nothing
  rm -f "$tmp/p.o"
  "$kiln" compile "$ex/digits_cnn_dense/model.json" -o "$tmp/p.o" --prune=magnitude:0.5 \
    --prune=channels:conv2=0.25 --eval "$src/tests/digits" >"$tmp/out" 2>"$tmp/err"
  check test $? -eq 0
  check test -f "$tmp/p.o"
  check grep -q "eval after --prune=magnitude:0.5: agreement .*, accuracy " "$tmp/out"
  check grep -q "eval after --prune=channels:conv2=0.25: agreement" "$tmp/out"
  rm -f "$tmp/p.o"
  "$kiln" compile "$ex/digits_mlp_dense/model.json" -o "$tmp/p.o" --prune=magnitude:0.97 \
    --eval "$src/tests/digits" --max-accuracy-drop 1 >"$tmp/out" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q -- "--max-accuracy-drop: --prune=magnitude:0.97 lost .* points of accuracy" "$tmp/err"
  check test ! -e "$tmp/p.o"
  mkdir -p "$tmp/nolabels" "$tmp/badx"
  ln -s "$src/tests/digits/x.npy" "$tmp/nolabels/x.npy"
  "$kiln" compile "$ex/digits_mlp_dense/model.json" -o "$tmp/p.o" --prune=magnitude:0.3 \
    --eval "$tmp/nolabels" >"$tmp/out" 2>"$tmp/err"
  check test $? -eq 0
  check grep -q "agreement" "$tmp/out"
  check test -z "$(grep accuracy "$tmp/out")"
  rm -f "$tmp/p.o"
  ln -s "$src/tests/digits/labels.npy" "$tmp/badx/x.npy"
  # bad options and data: exit 1 (2: usage), the message, no output file
  for c in "1|magnitude:1|fraction '1' is not a number in [0, 1)" \
           "1|magnitude:-0.1|fraction '-0.1' is not a number in [0, 1)" \
           "1|magnitude:nope=0.5|no node named 'nope'" \
           "1|magnitude:flatten=0.5|node 'flatten' (Flatten) has no constant f32 weight" \
           "1|channels:fc2=0.5|node 'fc2': they are tied to graph output 'logits'" \
           "1|channels:conv9=0.5|no node named 'conv9'" \
           "1|channels:conv1=1.5|fraction '1.5' is not a number" \
           "1|frob:0.5|unknown kind 'frob'" \
           "1|channels:l2<-1|norm threshold '-1' is not a number >= 0" \
           "1|magnitude:l2<1|fraction 'l2<1' is not a number in [0, 1)" \
           "1|magnitude:|expected a fraction or a NODE=FRACTION list"; do
    rc=${c%%|*} rest=${c#*|} spec=${rest%%|*} expect=${rest#*|}
    "$kiln" compile "$ex/digits_cnn_dense/model.json" -o "$tmp/p.o" --prune="$spec" 2>"$tmp/err"
    check test $? -eq "$rc"
    check grep -qF -- "$expect" "$tmp/err"
    check test ! -e "$tmp/p.o"
  done
  # lossy channel pruning of one member of a residual group: refused, naming the tie
  rm -f "$tmp/p.o"
  node=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["name"])' \
    "$sp/prune_residual_tied/model.json")
  "$kiln" compile "$sp/prune_residual_tied/model.json" -o "$tmp/p.o" --prune="channels:$node=0.5" 2>"$tmp/err"
  check test $? -eq 1
  check grep -qF -- "by a residual Add" "$tmp/err"
  check test ! -e "$tmp/p.o"
  "$kiln" run "$ex/digits_cnn_dense/model.json" "$ex/digits_cnn_dense/inputs/x.npy" -o "$tmp/runout" \
    --prune=magnitude:0.5 2>"$tmp/err" >/dev/null
  check test $? -eq 1
  check grep -qF -- "--prune: applies to compile and build" "$tmp/err"
  check test ! -e "$tmp/runout/logits.npy"
  "$kiln" inspect "$ex/digits_cnn_dense/model.json" --eval "$src/tests/digits" 2>"$tmp/err" >/dev/null
  check test $? -eq 2
  for c in "2|--max-accuracy-drop -1|--max-accuracy-drop: expected points" \
           "1|--eval $tmp/badx|expected f32[N,1,8,8]" \
           "1|--eval $tmp/none|No such file" \
           "1|--prune=magnitude:0.5 -O0|pruning needs -O1 or above"; do
    rc=${c%%|*} rest=${c#*|} flags=${rest%%|*} expect=${rest#*|}
    # shellcheck disable=SC2086
    "$kiln" compile "$ex/digits_cnn_dense/model.json" -o "$tmp/p.o" $flags 2>"$tmp/err" >/dev/null
    check test $? -eq "$rc"
    check grep -qF -- "$expect" "$tmp/err"
    check test ! -e "$tmp/p.o"
  done
  ;;
state)
  S=$src/tests/state/lstm
  frames=() && for t in 0 1 2 3 4 5; do frames+=("$S/frames/x.$t.npy"); done
  mkdir -p "$tmp/run" "$tmp/exe"
  check "$kiln" run "$S/model.json" "${frames[@]}" -o "$tmp/run" >/dev/null
  check "$kiln" build "$S/model.json" -O3 -o "$tmp/lstm"
  check "$tmp/lstm" "${frames[@]}" -o "$tmp/exe" --quiet
  for t in 0 1 2 3 4 5; do
    check "$bin/npycmp" "$tmp/run/y.$t.npy" "$S/golden/y.$t.npy"
    check "$bin/npycmp" "$tmp/exe/y.$t.npy" "$S/golden/y.$t.npy"
  done
  # the sequence must be whole calls; a single call starts from the initial state
  "$tmp/lstm" "${frames[0]}" "${frames[1]}" "$S/model.json" -o "$tmp/exe" >/dev/null 2>&1
  check test $? -ne 0
  check "$tmp/lstm" "${frames[0]}" -o "$tmp/exe" --quiet
  check "$bin/npycmp" "$tmp/exe/y.npy" "$S/golden/y.0.npy"
  "$kiln" inspect "$S/model.json" >"$tmp/inspect"
  check grep -q "state: 128 bytes in 2 tensors, the caller's (2 updated in place, 0 copied)" "$tmp/inspect"
  "$kiln" inspect "$S/model.json" --memory-plan >"$tmp/inspect"
  check grep -q "^state: 128 bytes, the caller's buffer apart from the workspace" "$tmp/inspect"
  check grep -qE "^  h +0 +32 next 'h_out', written in place" "$tmp/inspect"
  "$kiln" inspect "$S/model.json" --json >"$tmp/inspect.json"
  check grep -q '"state_bytes": 128' "$tmp/inspect.json"
  # the header's contract, from C: reset, two streams, errors for a bad state buffer
  check "$kiln" compile "$S/model.json" --name lstm -o "$tmp/lstm.o"
  check grep -q "#define LSTM_STATE_SIZE 128u" "$tmp/lstm.h"
  cat >"$tmp/main.c" <<'EOF'
#include <stdalign.h>
#include <stdio.h>
#include "krt.h"
#include "lstm.h"
int main(void) {
  static alignas(LSTM_STATE_ALIGN) unsigned char a[LSTM_STATE_SIZE], b[LSTM_STATE_SIZE + 4];
  float x[LSTM_IN0_SIZE] = {0.5f, -1, 0.25f, 2, 0}, ya[LSTM_OUT0_SIZE], yb[LSTM_OUT0_SIZE];
  if (lstm_reset(a, sizeof a) || lstm_reset(b, sizeof b)) return 1;
  if (lstm_run(x, ya, a, sizeof a) || lstm_run(x, ya, a, sizeof a)) return 2;
  if (lstm_run(x, yb, b, sizeof b)) return 3; /* b's first call: not a's second */
  int differ = 0;
  for (int i = 0; i < LSTM_OUT0_SIZE; i++) differ |= ya[i] != yb[i];
  if (!differ) return 4;
  if (lstm_run(x, yb, b, sizeof b)) return 5; /* now b's second call equals a's */
  for (int i = 0; i < LSTM_OUT0_SIZE; i++)
    if (ya[i] != yb[i]) return 6;
  if (lstm_run(x, ya, a, sizeof a - 1) != KRT_ERR_STATE_SIZE) return 7;
  if (lstm_run(x, ya, b + 4, sizeof a) != KRT_ERR_BAD_ALIGNMENT) return 8;
  if (lstm_reset(NULL, sizeof a) != KRT_ERR_NULL_ARG) return 9;
  puts("ok");
  return 0;
}
EOF
  check cc -std=c11 -Wall -Werror -I"$tmp" -I"$src/runtime" "$tmp/main.c" "$tmp/lstm.o" -o "$tmp/main"
  check test "$("$tmp/main")" = ok
  # --state pairs the outputs of a model that declares no states (as one from ONNX)
  /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); del m["states"]; json.dump(m, open(sys.argv[2], "w"))' \
    "$S/model.json" "$tmp/plain.json"
  mkdir -p "$tmp/plain"
  check "$kiln" build "$tmp/plain.json" --state h_out=h,c_out=c -o "$tmp/plain_exe"
  check "$tmp/plain_exe" "$S/frames/x.0.npy" -o "$tmp/plain" --quiet
  check test -e "$tmp/plain/y.npy"
  "$kiln" compile "$tmp/plain.json" --state h_out=nope -o "$tmp/bad.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q -- "--state: the model has no value named 'nope'" "$tmp/err"
  check test ! -e "$tmp/bad.o"
  "$kiln" compile "$tmp/plain.json" --state y=h -o "$tmp/bad.o" 2>"$tmp/err"
  check grep -qF "state 'h' is f32[1,1,8] but its next value 'y' is f32[1,1,1,8]" "$tmp/err"
  # generation: a GPT-2-style decode step (tools/gpt_tiny.py), KV cache and position as states
  G=$src/tests/gen/gpt_tiny
  check "$kiln" build --generate "$G/model.json" -O3 -o "$tmp/gpt"
  check "$tmp/gpt" "$G/prompt.npy" -n 32 -o "$tmp/ids.npy"
  check "$bin/npycmp" "$tmp/ids.npy" "$G/golden_ids.npy" # torch's greedy generation
  ids=$("$tmp/gpt" 5,17,42,8,33,2 -n 32 2>/dev/null)
  check test "$ids" = "$("$tmp/gpt" "$G/prompt.npy" -n 32 2>/dev/null)"
  a=$("$tmp/gpt" 5,17 -n 16 --top-p 0.99 --temperature 50 --seed 7 2>/dev/null)
  check test "$a" = "$("$tmp/gpt" 5,17 -n 16 --top-p 0.99 --temperature 50 --seed 7 2>/dev/null)"
  check test "$a" != "$("$tmp/gpt" 5,17 -n 16 --top-p 0.99 --temperature 50 --seed 8 2>/dev/null)"
  check test "$("$tmp/gpt" 5 -n 16 --stop 57 2>/dev/null)" = "0 0 0 57"
  gen_fails() { # gen_fails MESSAGE ARGS...: exit 2 with the message
    local msg=$1
    shift
    "$tmp/gpt" "$@" >/dev/null 2>"$tmp/err"
    check test $? -eq 2
    check grep -qF -- "$msg" "$tmp/err"
  }
  gen_fails "prompt[1] = 64 is not a token id of this model (0 to 63)" 5,64
  gen_fails "prompt[0] = -1 is not a token id" -1
  gen_fails "-n: the number of tokens must be positive, got 0" 5 -n 0
  gen_fails "-n: the number of tokens must be positive, got -3" 5 -n -3
  gen_fails "--top-p: expected a probability in (0, 1], got 1.5" 5 --top-p 1.5
  gen_fails "--top-p: expected a probability in (0, 1], got 0" 5 --top-p 0
  gen_fails "--temperature: expected a positive number, got 0" 5 --temperature 0
  gen_fails "--top-k: expected at least 1, got 0" 5 --top-k 0
  gen_fails "--stop 99 is not a token id" 5 --stop 99
  gen_fails "'x' is not a token id" 5,x
  # a full context is the model's index error, reported after what was generated
  "$tmp/gpt" 5 -n 60 >"$tmp/out" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "the context is probably full" "$tmp/err"
  check test "$(wc -w <"$tmp/out")" -eq 48
  # attention fusion: by default only over one query row (the decode step), where it wins
  "$kiln" inspect "$G/model.json" >"$tmp/inspect"
  check grep -q "KilnAttention 2" "$tmp/inspect"
  T=$src/examples/transformer_classifier/model.json
  "$kiln" inspect "$T" >"$tmp/inspect"
  check grep -q "Softmax 2" "$tmp/inspect"
  "$kiln" inspect "$T" --attention=all >"$tmp/inspect"
  check grep -q "kernel layers.0_ctx: attention-online-softmax" "$tmp/inspect"
  "$kiln" inspect "$G/model.json" --attention=off >"$tmp/inspect"
  check grep -q "Softmax 2" "$tmp/inspect"
  "$kiln" inspect "$T" --attention=some >/dev/null 2>"$tmp/err"
  check test $? -eq 2
  check grep -q "expected decode, all or off, got 'some'" "$tmp/err"
  # --generate needs a decoder step
  "$kiln" build --generate "$S/model.json" -o "$tmp/nogen" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "is not a decoder step" "$tmp/err"
  check test ! -e "$tmp/nogen"
  ;;
dyn)
  D=$src/tests/dyn/xattn
  ins() { echo "$D/L$1/tok.npy $D/L$1/pos.npy $D/L$1/mask.npy $D/L$1/mem.npy"; }
  check "$kiln" build "$D/model.json" --max-dim seq=16 -O3 -o "$tmp/xattn"
  for n in 1 3 13 16; do
    mkdir -p "$tmp/run$n" "$tmp/exe$n"
    # shellcheck disable=SC2046
    check "$kiln" run "$D/model.json" --max-dim seq=16 $(ins $n) -o "$tmp/run$n" >/dev/null
    # shellcheck disable=SC2046
    check "$tmp/xattn" $(ins $n) -o "$tmp/exe$n" --quiet
    for out in logits probs; do
      check "$bin/npycmp" "$tmp/run$n/$out.npy" "$D/L$n/$out.npy"
      check "$bin/npycmp" "$tmp/exe$n/$out.npy" "$D/L$n/$out.npy"
    done
  done
  # lengths: inputs of one call must agree, and stay within the maximum
  "$tmp/xattn" "$D/L13/tok.npy" "$D/L3/pos.npy" "$D/L13/mask.npy" "$D/L13/mem.npy" -o "$tmp" \
    >/dev/null 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "input 'pos': the run-time length 'seq' (axis 1) is 3, but 13 in an earlier input" "$tmp/err"
  "$tmp/xattn" "$D/tok17.npy" "$D/L3/pos.npy" "$D/L3/mask.npy" "$D/L3/mem.npy" -o "$tmp" \
    >/dev/null 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "input 'tok': the run-time length 'seq' (axis 1) is 17, outside \[1, 16\]" "$tmp/err"
  "$kiln" run "$D/model.json" --max-dim seq=16 "$D/tok17.npy" "$D/L3/pos.npy" "$D/L3/mask.npy" \
    "$D/L3/mem.npy" -o "$tmp" >/dev/null 2>"$tmp/err"
  check test $? -ne 0
  check grep -q "is 17, outside \[1, 16\]" "$tmp/err"
  "$tmp/xattn" --help >"$tmp/help"
  check grep -qF "input  tok          i64[1,seq<=16]" "$tmp/help"
  # reductions, ArgMax and Softmax along the length (tests/dyn/pool): an executable writes the
  # outputs of run-time length at the call's length and the reduced ones whole, = torch
  P=$src/tests/dyn/pool
  check "$kiln" build "$P/model.json" --max-dim seq=16 -O3 -o "$tmp/pool"
  for n in 3 13; do
    mkdir -p "$tmp/pool$n"
    check "$tmp/pool" "$P/L$n/tok.npy" "$P/L$n/pos.npy" -o "$tmp/pool$n" --quiet
    for out in p_start lp_end span_start span_end mean centered pooled lse row_max row_arg; do
      check "$bin/npycmp" "$tmp/pool$n/$out.npy" "$P/L$n/$out.npy"
    done
  done
  "$tmp/pool" --help >"$tmp/help"
  check grep -qF "output span_start   i64[1]" "$tmp/help"
  # a BiLSTM tagger exported by torch.onnx with a dynamic sequence axis (tests/dyn/tagger):
  # kiln run and an executable at several lengths = torch
  T=$src/tests/dyn/tagger
  check "$kiln" build "$T/model.onnx" --max-dim seq=16 -O3 -o "$tmp/tagger"
  for n in 1 8 13; do
    mkdir -p "$tmp/tag_run$n" "$tmp/tag_exe$n"
    check "$kiln" run "$T/model.onnx" --max-dim seq=16 "$T/L$n/tok.npy" -o "$tmp/tag_run$n" >/dev/null
    check "$tmp/tagger" "$T/L$n/tok.npy" -o "$tmp/tag_exe$n" --quiet
    for out in sc tags p mean; do
      check "$bin/npycmp" "$tmp/tag_run$n/$out.npy" "$T/L$n/$out.npy"
      check "$bin/npycmp" "$tmp/tag_exe$n/$out.npy" "$T/L$n/$out.npy"
    done
  done
  # BERT QA exported by torch.onnx with a dynamic sequence axis (tests/dyn/bert_qa, made by
  # tools/bert_qa.py --dynamic): positions and Reshape shapes computed from Shape(ids); kiln run and
  # one executable at several lengths up to the maximum = torch
  Q=$src/tests/dyn/bert_qa
  check "$kiln" build "$Q/model.onnx" --max-dim seq=24 -O3 -o "$tmp/bert_qa"
  for n in 5 17 24; do
    mkdir -p "$tmp/bq_exe$n"
    qin=("$Q/L$n/input_ids.npy" "$Q/L$n/attention_mask.npy" "$Q/L$n/token_type_ids.npy")
    check "$tmp/bert_qa" "${qin[@]}" -o "$tmp/bq_exe$n" --quiet
    for out in start_logits end_logits span_start span_end; do
      check "$bin/npycmp" "$tmp/bq_exe$n/$out.npy" "$Q/L$n/$out.npy"
    done
  done
  qin=("$Q/L5/input_ids.npy" "$Q/L5/attention_mask.npy" "$Q/L5/token_type_ids.npy")
  check "$kiln" run "$Q/model.onnx" --max-dim seq=24 "${qin[@]}" -o "$tmp/bq_run5" >/dev/null
  for out in start_logits end_logits span_start span_end; do
    check "$bin/npycmp" "$tmp/bq_run5/$out.npy" "$Q/L5/$out.npy"
  done
  # kiln import cannot write its length-dependent constants as JSON data: an error, no file
  "$kiln" import "$Q/model.onnx" --max-dim seq=24 -o "$tmp/bq.json" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "computes constants from the run-time length 'seq'" "$tmp/err"
  check test ! -e "$tmp/bq.json"
  # (the tagger's Shape only gives its batch size, the same at every length: imported)
  check "$kiln" import "$T/model.onnx" --max-dim seq=16 -o "$tmp/tagger.json"
  # an ONNX symbolic dim (tests/onnx/dynamic_batch.onnx: x [batch, 4]) as a run-time length
  check "$kiln" run "$src/tests/onnx/dynamic_batch.onnx" --max-dim batch=8 "$src/tests/dyn/batch3_x.npy" \
    -o "$tmp/onnxdyn" >/dev/null
  check "$bin/npycmp" "$tmp/onnxdyn/y.npy" "$src/tests/dyn/batch3_y.npy"
  check "$kiln" build "$src/tests/onnx/dynamic_batch.onnx" --max-dim batch=8 -o "$tmp/onnxdyn_exe"
  check "$tmp/onnxdyn_exe" "$src/tests/dyn/batch3_x.npy" -o "$tmp/onnxdyn2" --quiet
  check "$bin/npycmp" "$tmp/onnxdyn2/y.npy" "$src/tests/dyn/batch3_y.npy"
  "$kiln" compile "$src/tests/onnx/dynamic_batch.onnx" --max-dim batch=0 -o "$tmp/none.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q -- "--max-dim: 'batch=0': the maximum must be an integer from 1 to" "$tmp/err"
  # a decoder over a run-time number of tokens (tools/gpt_tiny.py write_seq): the whole
  # 37-token sequence in one call equals torch; --generate prefills the prompt in one call
  G=$src/tests/gen/gpt_tiny_seq
  mkdir -p "$tmp/gs_run" "$tmp/gs_exe"
  check "$kiln" run "$G/model.json" --max-dim seq=48 "$G/inputs/tok.npy" "$G/inputs/pos.npy" \
    -o "$tmp/gs_run" >/dev/null
  # logits reach |114| here (weights x2): atol 1e-5 of the largest, as emu_state's tolerance
  check "$bin/npycmp" "$tmp/gs_run/logits.npy" "$G/golden/logits.npy" 1e-4 1.2e-3
  check "$kiln" build --generate "$G/model.json" --max-dim seq=48 -O3 -o "$tmp/gptseq"
  check "$tmp/gptseq" "$src/tests/gen/gpt_tiny/prompt.npy" -n 32 -o "$tmp/ids.npy"
  check "$bin/npycmp" "$tmp/ids.npy" "$src/tests/gen/gpt_tiny/golden_ids.npy"
  check "$tmp/gptseq" "$src/tests/gen/gpt_tiny/prompt.npy" -n 32 --no-prefill -o "$tmp/ids2.npy"
  check "$bin/npycmp" "$tmp/ids2.npy" "$src/tests/gen/gpt_tiny/golden_ids.npy"
  check "$tmp/gptseq" "$G/inputs/tok.npy" -n 1 -o "$tmp/next.npy"
  check "$bin/npycmp" "$tmp/next.npy" "$G/golden/next_id.npy"
  # calls of at most 16 tokens: the 37-token prompt in 16 + 16 + 5
  check "$kiln" build --generate "$G/model.json" --max-dim seq=16 -O2 -o "$tmp/gptseq16"
  check "$tmp/gptseq16" "$G/inputs/tok.npy" -n 1 -o "$tmp/next16.npy"
  check "$bin/npycmp" "$tmp/next16.npy" "$G/golden/next_id.npy"
  # the functions of each MatMul per block of rows (4, 2, 1) share one packed copy of its
  # weights: the external weights hold every tensor once (123 904 bytes against weights.bin's
  # 125 248; a copy per block size would make ~330 000)
  check "$kiln" compile "$G/model.json" --max-dim seq=48 -O2 --weights=external -o "$tmp/gs_ext.o"
  check test "$(stat -c %s "$tmp/gs_ext.weights")" -le "$(stat -c %s "$G/weights.bin")"
  "$tmp/gptseq" "$G/inputs/tok.npy" -n 20 >"$tmp/out" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "the context is probably full" "$tmp/err"
  check test "$(wc -w <"$tmp/out")" -eq 12
  "$kiln" build --generate "$src/tests/dyn/xattn/model.json" --max-dim seq=16 -o "$tmp/nogen" \
    2>"$tmp/err"
  check test $? -eq 1
  check grep -q "is not a decoder: with a run-time length it needs an i32/i64 token input" "$tmp/err"
  check test ! -e "$tmp/nogen"
  # no --max-dim: the symbolic dim is an error naming it
  "$kiln" compile "$D/model.json" -o "$tmp/none.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "inputs\[0\] (tok).shape\[1\]: dimension 'seq' is symbolic: give its largest length with --max-dim seq=N" "$tmp/err"
  check test ! -e "$tmp/none.o"
  "$kiln" compile "$D/model.json" --max-dim seq -o "$tmp/none.o" 2>"$tmp/err"
  check test $? -eq 2
  check grep -q "option '--max-dim' needs NAME=N" "$tmp/err"
  # unfused attention (--attention=off): the scores' [1,H,seq,M] cannot be bounded
  "$kiln" compile "$D/model.json" --max-dim seq=16 --attention=off -o "$tmp/none.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "value 'q_t' has the run-time length 'seq' at axis 2 after axes that are not 1" "$tmp/err"
  check test ! -e "$tmp/none.o"
  "$kiln" inspect "$D/model.json" --max-dim seq=16 >"$tmp/inspect"
  check grep -qF "input  mask: f32[1,1,seq<=16,12]" "$tmp/inspect"
  check grep -q "run-time dim seq: 1 to 16, passed to the \*_dims entry points" "$tmp/inspect"
  "$kiln" inspect "$D/model.json" --max-dim seq=16 --json >"$tmp/inspect.json"
  check grep -q '"dims": \[{"name": "seq", "max": 16, "nodes": [0-9]*, "batch": false}\]' "$tmp/inspect.json"
  # the header's contract from C: a length, rows independent of the rows after them, errors
  check "$kiln" compile "$D/model.json" --max-dim seq=16 --name xattn -o "$tmp/xattn.o"
  check grep -q "#define XATTN_DIM0_MAX 16" "$tmp/xattn.h"
  check grep -q "#define XATTN_IN2_DYN_AXIS 2" "$tmp/xattn.h"
  check grep -q "int xattn_run_dims(const int64_t \*dims, const int64_t \*tok" "$tmp/xattn.h"
  cat >"$tmp/main.c" <<'EOF'
#include <stdalign.h>
#include <string.h>
#include "krt.h"
#include "xattn.h"
static int64_t tok[XATTN_IN0_SIZE], pos[XATTN_IN1_SIZE];
static float mask[XATTN_IN2_SIZE], mem[XATTN_IN3_SIZE], a[XATTN_OUT0_SIZE], b[XATTN_OUT0_SIZE];
static float pa[XATTN_OUT1_SIZE], pb[XATTN_OUT1_SIZE];
static alignas(XATTN_WORKSPACE_ALIGN) unsigned char ws[XATTN_WORKSPACE_SIZE + 64];
int main(void) {
  for (int i = 0; i < XATTN_DIM0_MAX; i++) tok[i] = (i * 7) % 24, pos[i] = i;
  for (int i = 0; i < XATTN_IN3_SIZE; i++) mem[i] = (float)(i % 5) - 2;
  int64_t five[1] = {5}, full[1] = {XATTN_DIM0_MAX}, over[1] = {XATTN_DIM0_MAX + 1}, zero[1] = {0};
  if (xattn_run_dims(full, tok, pos, mask, mem, a, pa)) return 1;
  if (xattn_run_ws_dims(five, tok, pos, mask, mem, b, pb, ws)) return 2;
  /* the first 5 rows at length 5 are the first 5 rows at the maximum */
  if (memcmp(a, b, 5 * 24 * sizeof(float))) return 3;
  if (xattn_run_dims(over, tok, pos, mask, mem, b, pb) != KRT_ERR_DIM_RANGE) return 4;
  if (xattn_run_dims(zero, tok, pos, mask, mem, b, pb) != KRT_ERR_DIM_RANGE) return 5;
  if (xattn_run_dims(NULL, tok, pos, mask, mem, b, pb) != KRT_ERR_NULL_ARG) return 6;
  if (xattn_run_ws_dims(five, tok, pos, mask, mem, b, pb, ws + 1) != KRT_ERR_BAD_ALIGNMENT) return 7;
  if (xattn_run(tok, pos, mask, mem, b, pb) || memcmp(a, b, sizeof a)) return 8;
  return 0;
}
EOF
  check cc -std=c11 -I"$tmp" -I"$src/runtime" "$tmp/main.c" "$tmp/xattn.o" -lm -o "$tmp/main"
  check "$tmp/main"
  # two run-time dims, batch and sequence (tests/dyn/enc2, tools/gen_dyn2_tests.py, a torch export
  # with dynamic_axes {0: batch, 1: seq}): kiln run and a built executable at (3, 8) and (4, 3)
  E=$src/tests/dyn/enc2
  check "$kiln" build "$E/model.onnx" --max-dim batch=4,seq=12 -O3 -o "$tmp/enc2"
  for p in B3S8 B4S3; do
    check "$kiln" run "$E/model.onnx" --max-dim batch=4 --max-dim seq=12 "$E/$p/ids.npy" \
      "$E/$p/mask.npy" -o "$tmp/enc2_run$p" >/dev/null
    check "$tmp/enc2" "$E/$p/ids.npy" "$E/$p/mask.npy" -o "$tmp/enc2_exe$p" --quiet
    for o in logits tags pooled; do
      check "$bin/npycmp" "$tmp/enc2_run$p/$o.npy" "$E/$p/$o.npy"
      check "$bin/npycmp" "$tmp/enc2_exe$p/$o.npy" "$E/$p/$o.npy"
    done
  done
  "$tmp/enc2" --help >"$tmp/help"
  check grep -qF "output pooled       f32[batch<=4,5]" "$tmp/help"
  check grep -qF "input  ids          i64[batch<=4,seq<=12]" "$tmp/help"
  "$tmp/enc2" "$E/B4S3/ids.npy" "$E/B3S8/mask.npy" -o "$tmp/none" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "the batch 'batch' (axis 0) is 3, but 4 in an earlier input of the call" "$tmp/err"
  "$kiln" inspect "$E/model.onnx" --max-dim batch=4,seq=12 >"$tmp/inspect"
  check grep -qF "input  ids: i64[batch<=4,seq<=12]" "$tmp/inspect"
  check grep -q "run-time batch batch: 1 to 4, dims\[0\]" "$tmp/inspect"
  # bad --max-dim values: named, exit 1, no output file
  for bad in "batch=4,seq=12,batch=2:'batch=2': dimension 'batch' is given twice" \
    "batch=4,seq=12,sq=3:'sq=3': no graph input has a symbolic dimension 'sq'" \
    "batch=4,seq=0:'seq=0': the maximum must be an integer from 1 to" \
    "batch=-4,seq=12:'batch=-4': the maximum must be an integer from 1 to"; do
    "$kiln" compile "$E/model.onnx" --max-dim "${bad%%:*}" -o "$tmp/none.o" 2>"$tmp/err"
    check test $? -eq 1
    check grep -qF -- "--max-dim: ${bad#*:}" "$tmp/err"
    check test ! -e "$tmp/none.o"
  done
  "$kiln" compile "$E/model.onnx" --max-dim seq=12 -o "$tmp/none.o" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "dimension 0 ('batch') is not static" "$tmp/err"
  "$kiln" import "$E/model.onnx" --max-dim batch=4,seq=12 -o "$tmp/enc2.json" 2>"$tmp/err"
  check test $? -eq 1
  check grep -q "computes constants from the run-time length 'seq' or batch 'batch'" "$tmp/err"
  check test ! -e "$tmp/enc2.json"
  # the header from C: dims {batch, seq}; each batch element computed as alone; range errors
  check "$kiln" compile "$E/model.onnx" --max-dim batch=4,seq=12 --name enc2 -o "$tmp/enc2.o"
  check grep -q "#define ENC2_BATCH_DIM 0" "$tmp/enc2.h"
  check grep -q "#define ENC2_IN0_BATCH_AXIS 0" "$tmp/enc2.h"
  check grep -q "#define ENC2_DIM1_MAX 12" "$tmp/enc2.h"
  cat >"$tmp/main2.c" <<'EOF'
#include <stdalign.h>
#include <string.h>
#include "krt.h"
#include "enc2.h"
enum { B = ENC2_DIM0_MAX, S = ENC2_DIM1_MAX, C = 5 };
static int64_t ids[B * S], mask[B * S], one_ids[S], one_mask[S], tags[B * S], t1[S];
static float logits[B * S * C], pooled[B * C], l1[S * C], p1[C];
static alignas(ENC2_WORKSPACE_ALIGN) unsigned char ws[ENC2_WORKSPACE_SIZE + 64];
int main(void) {
  int64_t dims[2] = {3, 7}, one[2] = {1, 7};
  for (int i = 0; i < 3 * 7; i++) ids[i] = (i * 7 + 3) % 20, mask[i] = i % 7 < 6 - i / 7;
  if (enc2_run_ws_dims(dims, ids, mask, logits, tags, pooled, ws)) return 1;
  for (int b = 0; b < 3; b++) { /* element b alone = element b of the batch */
    memcpy(one_ids, ids + b * 7, 7 * sizeof *ids), memcpy(one_mask, mask + b * 7, 7 * sizeof *ids);
    if (enc2_run_dims(one, one_ids, one_mask, l1, t1, p1)) return 2;
    if (memcmp(l1, logits + b * 7 * C, 7 * C * sizeof *l1) || memcmp(t1, tags + b * 7, 7 * 8) ||
        memcmp(p1, pooled + b * C, C * sizeof *p1))
      return 3;
  }
  int64_t bad[4][2] = {{0, 7}, {B + 1, 7}, {3, 0}, {3, S + 1}};
  for (int k = 0; k < 4; k++)
    if (enc2_run_dims(bad[k], ids, mask, logits, tags, pooled) != KRT_ERR_DIM_RANGE) return 4 + k;
  /* the entry points without dims run at both maxima */
  static float l2[B * S * C], p2[B * C];
  static int64_t t2[B * S];
  int64_t maxima[2] = {B, S};
  for (int i = 0; i < B * S; i++) ids[i] = (i * 5 + 1) % 20, mask[i] = i % S < S - i / S;
  if (enc2_run(ids, mask, logits, tags, pooled) || enc2_run_dims(maxima, ids, mask, l2, t2, p2))
    return 8;
  if (memcmp(logits, l2, sizeof l2) || memcmp(tags, t2, sizeof t2) || memcmp(pooled, p2, sizeof p2))
    return 9;
  return 0;
}
EOF
  check cc -std=c11 -I"$tmp" -I"$src/runtime" "$tmp/main2.c" "$tmp/enc2.o" -lm -o "$tmp/main2"
  check "$tmp/main2"
  ;;
encdec)
  G=$src/tests/gen/translator
  # the interpreter: encoder once, then one decoder call per target token with its outputs
  mkdir -p "$tmp/enc" "$tmp/dec"
  check "$kiln" run "$G/encoder.json" "$G/source.npy" -o "$tmp/enc" >/dev/null
  args=()
  for t in $(seq 0 14); do
    args+=("$G/inputs/tok.$t.npy")
    for x in k.0 v.0 k.1 v.1; do args+=("$tmp/enc/cross_$x.npy"); done
  done
  check "$kiln" run "$G/decoder.json" "${args[@]}" -o "$tmp/dec" >/dev/null
  for t in $(seq 0 14); do check "$bin/npycmp" "$tmp/dec/logits.$t.npy" "$G/golden/logits.$t.npy"; done
  # the generator: greedy ids = torch's eager greedy decode (whole prefix each step, no cache)
  for O in -O0 -O3; do
    check "$kiln" build --generate "$G/decoder.json" --encoder "$G/encoder.json" $O -o "$tmp/tr$O"
    check "$tmp/tr$O" "$G/source.npy" --start 1 -n 15 -o "$tmp/ids$O.npy"
    check "$bin/npycmp" "$tmp/ids$O.npy" "$G/golden_ids.npy"
  done
  tr=$tmp/tr-O3
  greedy=$("$tr" "$G/source.npy" --start 1 -n 15 2>/dev/null)
  check test "$greedy" = "$("$tr" 7,14,21,25,9,23,37,20 --start 1 -n 15 2>/dev/null)"
  check test "$greedy" = "$("$tr" "$G/source.npy" --start 1 -n 15 --top-k 1 --seed 3 2>/dev/null)"
  check test "$("$tr" "$G/source.npy" --start 1 --stop 15 2>/dev/null)" = "6 22 6 22 6 15"
  a=$("$tr" "$G/source.npy" --start 1 -n 15 --top-p 0.9 --temperature 3 --seed 5 2>/dev/null)
  check test "$a" = "$("$tr" "$G/source.npy" --start 1 -n 15 --top-p 0.9 --temperature 3 --seed 5 2>/dev/null)"
  check test "$a" != "$("$tr" "$G/source.npy" --start 1 -n 15 --top-p 0.9 --temperature 3 --seed 6 2>/dev/null)"
  check test "$a" != "$greedy"
  "$tr" "$G/source.npy" --start 1 -n 20 >"$tmp/out" 2>"$tmp/err" # CTX 16: BOS + 15 fed
  check test $? -eq 1
  check grep -q "the context is probably full" "$tmp/err"
  check grep -q "8 source tokens encoded in" "$tmp/err"
  check test "$(wc -w <"$tmp/out")" -eq 16
  tr_fails() { # tr_fails STATUS MESSAGE ARGS...
    local rc=$1 msg=$2
    shift 2
    "$tr" "$@" >/dev/null 2>"$tmp/err"
    check test $? -eq "$rc"
    check grep -qF -- "$msg" "$tmp/err"
  }
  tr_fails 2 "an encoder-decoder generator needs --start ID" "$G/source.npy"
  tr_fails 2 "the source has 3 token(s), the encoder 'translator_encoder' takes exactly 8" 1,2,3 --start 1
  tr_fails 2 "--start 40 is not a token id of this model (0 to 39)" "$G/source.npy" --start 40
  tr_fails 2 "--stop 40 is not a token id" "$G/source.npy" --start 1 --stop 40
  tr_fails 1 "the encoder returned -3: an index input is out of range (a source id outside" \
    1,2,3,4,5,6,7,99 --start 1
  # build misuse: each a message, no executable
  build_fails() { # build_fails STATUS MESSAGE ARGS...
    local rc=$1 msg=$2
    shift 2
    "$kiln" build "$@" -o "$tmp/nogen" >/dev/null 2>"$tmp/err"
    check test $? -eq "$rc"
    check grep -qF -- "$msg" "$tmp/err"
    check test ! -e "$tmp/nogen"
  }
  build_fails 1 "give the encoder with --encoder MODEL" --generate "$G/decoder.json"
  build_fails 2 "--encoder needs --generate" "$G/decoder.json" --encoder "$G/encoder.json"
  build_fails 1 "kiln build --encoder: model 'gpt_tiny' is not an encoder" --generate \
    "$G/decoder.json" --encoder "$src/tests/gen/gpt_tiny/model.json"
  build_fails 1 "encoder output 'cross_k.0' is f32[8,2], the decoder's input of that name is f32[4,8,8]" \
    --generate "$G/decoder.json" --encoder "$G/bad_encoder.json"
  sed 's/cross_v\.1/cross_w.1/g' "$G/decoder.json" >"$tmp/renamed.json"
  cp "$G/weights.bin" "$tmp/weights.bin"
  build_fails 1 "encoder output 'cross_v.1' is not an input of the decoder 'translator_decoder'" \
    --generate "$tmp/renamed.json" --encoder "$G/encoder.json"
  sed 's/cross_k\.0/self_k.0/g' "$G/bad_encoder.json" >"$tmp/state_encoder.json"
  build_fails 1 "encoder output 'self_k.0' is not an input of the decoder 'translator_decoder' but one of its states" \
    --generate "$G/decoder.json" --encoder "$tmp/state_encoder.json"
  build_fails 1 "kiln build --encoder: cannot load the encoder" --generate "$G/decoder.json" \
    --encoder "$tmp/missing.json"
  # --start belongs to an encoder-decoder generator
  check "$kiln" build --generate "$src/tests/gen/gpt_tiny/model.json" -o "$tmp/gpt"
  "$tmp/gpt" 5 --start 1 >/dev/null 2>"$tmp/err"
  check test $? -eq 2
  check grep -qF -- "--start is for an encoder-decoder generator" "$tmp/err"
  ;;
esac
echo "cli-$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
