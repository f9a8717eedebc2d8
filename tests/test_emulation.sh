#!/usr/bin/env bash
# Cross targets, run under emulation: usage: test_emulation.sh MODE KILN SRC_DIR BIN_DIR
#   aarch64     aarch64-linux-gnu objects, linked by Debian's cross gcc, run under qemu-aarch64
#   armv7       armv7a-linux-gnueabihf (Cortex-A7, NEON) objects under qemu-arm
#   cortex-m4   thumbv7em-none-eabihf bare metal on QEMU's mps2-an386, I/O over semihosting
#   cortex-m3   thumbv7m-none-eabi soft-float bare metal on mps2-an385
#   cortex-m0   thumbv6m-none-eabi (Cortex-M0+, soft float) objects, run on mps2-an385: QEMU has
#               no M0+ board with enough memory, and a Cortex-M3 executes the ARMv6-M subset
#   riscv64     riscv64-linux-gnu (rv64gc) objects under qemu-riscv64
#   weights     --weights=external (aarch64 under qemu, and the host) and --weights-section
#               (Cortex-M4, placed by the linker script)
#   m4-stack    every example on the Cortex-M4 with the stack painted (harness -DEMU_STACK_PAINT):
#               the high-water mark of one call must equal NET_STACK_SIZE, the worst case
#               `kiln compile` reported; and at most 512 bytes
#   sparse      the pruned digits examples with every sparse kernel forced (--sparse=KIND) and
#               the cost model's choice, on aarch64 (NEON, qemu-aarch64) and the Cortex-M4
#   freestanding  every example compiled for bare metal (Cortex-M4F, M0+, riscv32) needs nothing but memcpy/memset (and, on
#               soft-float cores, the compiler's own float helpers; on all, libgcc's i64 -> f32
#               conversion): no libm, no libc
#   layout      the blocked activation layout forced (--layout=nchwc) on aarch64 (NEON: NCHW4c,
#               qemu-aarch64): resnet_small and cifar_cnn, the blocked conv asserted in inspect
#   ops         the op cases of the ops added for real exporters: bare-metal Cortex-M0+ objects
#               need no libm; those with f32 outputs run on the M0+ (mps2-an385) and AArch64
#   state       a model with states (tests/state/lstm) fed frame by frame in two interleaved
#               streams equals PyTorch's full-sequence run (tests/emu/state_harness.c), aarch64
#               and Cortex-M4; so does tests/gen/gpt_tiny fed one token per call (KV cache), and
#               tests/gen/gpt_tiny_seq (--max-dim seq=48) fed in calls of several run-time
#               lengths (tests/emu/dyn_harness.c), and tests/dyn/pool (reductions, ArgMax and
#               Softmax along the run-time length) and tests/dyn/bidir (GRU/RNN/LSTM over a
#               run-time number of steps) and tests/dyn/bert_qa (a torch dynamic-axes export) at
#               every prefix length (dyn_prefix_harness.c); tests/dyn/enc2 (batch and sequence as
#               two run-time dims) at every (batch, seq) pair of its goldens (dyn2_harness.c)
# Each run links tests/emu/harness.c (model + embedded inputs and PyTorch goldens, via
# tests/emu/npy2c) and checks the outputs on the target itself.
set -u
mode=$1 kiln=$2 src=$3 bin=$4
tmp=$(mktemp -d /tmp/kiln-emu-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
need() {
  for t in "$@"; do
    command -v "$t" >/dev/null || { bad "$t not found (tools/setup.sh --with-cross installs it)"; return 1; }
  done
}

baremetal_flags() { # core -> arm-none-eabi-gcc flags
  case $1 in
  cortex-m4) echo "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16" ;;
  cortex-m3) echo "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft" ;;
  cortex-m0plus) echo "-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft" ;;
  esac
}

# run_model NAME TRIPLE CPU FEATURES CC "CFLAGS" LDKIND RUNNER...
# Compiles examples/NAME for the target, links it with the harness and runs it. The arrays
# kiln_extra (more `kiln compile` flags) and prog_args (arguments of the program) may be set.
kiln_extra=() prog_args=()
run_model() {
  local name=$1 triple=$2 cpu=$3 features=$4 cc=$5 cflags=$6 kind=$7
  shift 7
  local d="$tmp/$name-$triple" dir=${model_dir:-${model_root:-$src/examples}/$name}
  mkdir -p "$d"
  local fargs=()
  [ -n "$features" ] && fargs=(--features "$features")
  # a model without model.json (an ONNX export): inputs.txt, outputs.txt list its files in order
  local model=$dir/model.json
  [ -f "$model" ] || model=$dir/model.onnx
  if ! "$kiln" compile "$model" --target "$triple" --cpu "$cpu" "${fargs[@]}" --name net \
    "${kiln_extra[@]}" -o "$d/net.o" 2>"$d/err"; then
    bad "$name/$triple: kiln compile failed: $(cat "$d/err")"; return
  fi
  local inputs outputs
  if [ -f "$dir/model.json" ]; then
    inputs=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); s={x["input"] for x in m.get("states", [])}; print(" ".join(i["name"] for i in m["inputs"] if i["name"] not in s))' "$dir/model.json")
    outputs=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); s={x["next"] for x in m.get("states", [])}; print(" ".join(i["name"] for i in m["outputs"] if i["name"] not in s))' "$dir/model.json")
  else
    inputs=$(sed 's|^inputs/||; s|\.npy$||' "$dir/inputs.txt")
    outputs=$(sed 's|^golden/||; s|\.npy$||' "$dir/outputs.txt")
  fi
  local args=()
  for i in $inputs; do args+=("$dir/inputs/$i.npy"); done
  args+=(--)
  for o in $outputs; do
    args+=("${golden_dir:-$dir/golden}/$o.npy")
  done
  if ! "$bin/npy2c" "$d/data.c" "${args[@]}"; then bad "$name: npy2c failed"; return; fi
  local link=()
  if [ "$kind" = baremetal ]; then
    link=(--specs=rdimon.specs -nostartfiles -T "$src/runtime/baremetal/mps2.ld"
          "$src/runtime/baremetal/startup_cm.c")
    if [ -f "$d/net.weights" ]; then # external weights: linked as their own read-only section
      (cd "$d" && arm-none-eabi-objcopy -I binary -O elf32-littlearm -B arm \
        --rename-section .data=.kiln_ext_weights,alloc,load,readonly,data,contents \
        net.weights weights.o) || { bad "$name: objcopy of the weights failed"; return; }
      link+=(-DEMU_WEIGHTS_IN_FLASH "$d/weights.o")
    fi
  fi
  # shellcheck disable=SC2086
  if ! "$cc" -std=c11 -O2 -Wall -Wextra -Werror $cflags -I"$d" -I"$src/runtime" -I"$src/tests" \
    -I"$src/tests/emu" "${link[@]}" "${harness:-$src/tests/emu/harness.c}" "$d/data.c" "$src/runtime/krt.c" \
    "$d/net.o" -lm -o "$d/prog" 2>"$d/err"; then
    bad "$name/$triple: link failed: $(head -c 2000 "$d/err")"; return
  fi
  local t0 t1
  t0=$(date +%s%N)
  timeout 300 "$@" "$d/prog" "${prog_args[@]}" >"$d/out" 2>&1
  local rc=$?
  t1=$(date +%s%N)
  if [ $rc -ne 0 ] || ! grep -q "emu: [1-9][0-9]* passed, 0 failed" "$d/out"; then
    bad "$name/$triple: exit $rc: $(tail -c 1500 "$d/out")"; return
  fi
  echo "$name on $triple ($cpu): $(grep 'passed' "$d/out"), $(( (t1 - t0) / 1000000 )) ms wall (emulated)"
  ok
}

case $mode in
sparse)
  need aarch64-linux-gnu-gcc qemu-aarch64 arm-none-eabi-gcc qemu-system-arm || exit 1
  for kind in auto csr block unrolled; do
    kiln_extra=(--sparse=$kind)
    for m in digits_mlp_sparse90 digits_cnn_sparse90 digits_cnn_channels; do
      [ $kind = unrolled ] && [ $m = digits_cnn_channels ] && continue
      run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
        qemu-aarch64 -L /usr/aarch64-linux-gnu
      run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
        "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic \
        -monitor none -semihosting-config enable=on,target=native -kernel
    done
  done
  kiln_extra=()
  ;;
quant)
  # int8 (--quantize=int8): the compiled code must equal the reference interpreter bit for bit
  # on aarch64 (NEON) and the Cortex-M4; the golden is `kiln run --quantize` on the host.
  need aarch64-linux-gnu-gcc qemu-aarch64 arm-none-eabi-gcc qemu-system-arm || exit 1
  for m in digits_mlp digits_cnn; do
    golden_dir="$tmp/golden-$m"
    kiln_extra=(--quantize=int8 --calibrate "$src/tests/digits/calib")
    mkdir -p "$golden_dir"
    if ! "$kiln" run "$src/examples/$m/model.json" "$src/examples/$m"/inputs/*.npy -o "$golden_dir" \
      "${kiln_extra[@]}" >/dev/null 2>"$tmp/err"; then
      bad "$m: kiln run --quantize failed: $(cat "$tmp/err")"; continue
    fi
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "-DEMU_EXACT" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m aarch64-linux-gnu generic +neon,+dotprod aarch64-linux-gnu-gcc "-DEMU_EXACT" \
      linux qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) -DEMU_EXACT" baremetal \
      qemu-system-arm -M mps2-an386 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel
    run_model $m thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m0plus) -DEMU_EXACT" baremetal \
      qemu-system-arm -M mps2-an385 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel
  done
  # 3 input channels and 5x5/3x3 kernels (Conv-order i16 pairs on the M4), lenet5's valid
  # convolutions: their float Softmax ends within the harness's tolerance; resnet_small is int8
  # end to end (QAdd, QMul, QLookup, QGlobalAveragePool): bit for bit
  # tests/gen/qwino: the M4's int8 Winograd on odd channel counts, odd tile edges, asymmetric
  # pads and a partial block of output channels, bit for bit; tests/gen/qwino_pos, qwino_neg
  # (tools/gen_qwino_models.py): batch 2, odd sizes, activation zero points -128 and 127 with
  # x - x_zp reaching 255, weights at +-127 in the patterns that make |U| largest, outputs straight
  # from the convs; all three with --conv=winograd and the kernel asserted in `kiln inspect`;
  # tests/gen/qops (tools/gen_qops_model.py): QConcat, QAveragePool, QLinearConvTranspose, int8
  # Gather, bit for bit on the M4, the M0+ (no hardware divide) and aarch64; tests/gen/qfirst
  # (tools/gen_qfirst_model.py): the M4's first-layer convs without im2col (3 channels in
  # channel pairs, 1 channel 5x5 in tap pairs, odd halves at weight 0, asymmetric pads, batch 2),
  # bit for bit on the M4, the M0+ and aarch64; tests/gen/qpool (tools/gen_qpool_model.py):
  # MaxPool 2x2/2 fused into the conv before it (passes/pass_qpool.c: Winograd and the im2col
  # pairs tile on the M4, the depthwise loop nest on the M4 and the M0+; odd sizes, batch 2,
  # 1 input channel, groups, stride 2, a partial block of output channels; pools with pads or ceil_mode
  # and a conv read twice stay apart), the fusions asserted in `kiln inspect`, bit for bit;
  # tests/gen/qconvt (tools/gen_qconvt_model.py): QLinearConvTranspose on the sub-pixel form
  # (--conv=subpixel, its 3 kernels asserted in `kiln inspect`; strides 2, 3 and (2, 3),
  # output_padding, odd channels), bit for bit on the M4 (phase operands copied for the smlad
  # tile), the M0+ and aarch64 with and without +dotprod; tests/gen/qlut (tools/gen_qlut_model.py):
  # Tanh/Sigmoid lookups fused into the conv or Gemm before them on scalar targets (Winograd,
  # the pairs tiles, the loop nest, the GEMV; after a fused MaxPool; before a MaxPool left a
  # node; a conv output that is a model output or read twice refused), the fusions asserted in
  # `kiln inspect` for the M4 and the M0+, bit for bit on both and on aarch64 (not fused there);
  # its QAveragePools (counts 4, 8, 2: the scalar targets' shift division; 2x2/2 on the M4's
  # sxtab16 form, an odd last column) too
  for m in cifar_cnn lenet5 resnet_small qwino qwino_pos qwino_neg qops qfirst qpool qconvt qlut; do
    exact="" model_root=$src/examples
    case $m in resnet_small | qwino* | qops | qfirst | qpool | qconvt | qlut) exact=-DEMU_EXACT ;; esac
    case $m in qwino* | qops | qfirst | qpool | qconvt | qlut) model_root=$src/tests/gen ;; esac
    golden_dir="$tmp/golden-$m"
    kiln_extra=(--quantize=int8 --calibrate "$model_root/$m/inputs/x.npy")
    mkdir -p "$golden_dir"
    if ! "$kiln" run "$model_root/$m/model.json" "$model_root/$m/inputs/x.npy" -o "$golden_dir" \
      "${kiln_extra[@]}" >/dev/null 2>"$tmp/err"; then
      bad "$m: kiln run --quantize failed: $(cat "$tmp/err")"; continue
    fi
    case $m in qwino*)
      kiln_extra+=(--conv=winograd)
      n_wino=$("$kiln" inspect "$model_root/$m/model.json" --target thumbv7em-none-eabihf \
        --cpu cortex-m4 "${kiln_extra[@]}" --json 2>/dev/null | grep -o '"qconv-winograd-f2x3"' | wc -l)
      [ "$n_wino" = 2 ] || bad "$m: expected 2 qconv-winograd-f2x3 kernels on the M4, got $n_wino"
      ;;
    qpool)
      kiln_extra+=(--conv=winograd)
      n_pool=$("$kiln" inspect "$model_root/$m/model.json" --target thumbv7em-none-eabihf \
        --cpu cortex-m4 "${kiln_extra[@]}" --json 2>/dev/null | grep -o '"pool": "[a-z.]*"' |
        sort | tr '\n' ' ')
      # the quantized pools are named after their outputs (pa.q: pool_a's)
      [ "$n_pool" = '"pool": "pa.q" "pool": "pdw.q" "pool": "pe.q" "pool": "pf.q" "pool": "pg.q" "pool": "ph.q" "pool": "ps.q" ' ] ||
        bad "$m: expected pool_a, _dw, _e, _f, _g, _h and _s fused on the M4, got: $n_pool"
      ;;
    qlut)
      kiln_extra+=(--conv=winograd)
      # the M0+ has no fused MaxPool on conv_p (no Winograd, not the loop nest): tanh_p reads
      # the pool there and stays a node
      for t in "thumbv7em-none-eabihf --cpu cortex-m4" "thumbv6m-none-eabi --cpu cortex-m0plus"; do
        want='"lookup": "sig_2" "lookup": "sig_b" "lookup": "sig_dw" "lookup": "tanh_1" "lookup": "tanh_a" "lookup": "tanh_g" "lookup": "tanh_p" "lookup": "tanh_q" "lookup": "tanh_t" '
        case $t in *m0plus) want=${want/\"lookup\": \"tanh_p\" /} ;; esac
        # shellcheck disable=SC2086
        n_lut=$("$kiln" inspect "$model_root/$m/model.json" --target $t "${kiln_extra[@]}" \
          --json 2>/dev/null | grep -o '"lookup": "[a-z0-9_]*"' | sort | tr '\n' ' ')
        [ "$n_lut" = "$want" ] || bad "$m: expected fused lookups ($t): $want, got: $n_lut"
      done
      ;;
    qconvt)
      kiln_extra+=(--conv=subpixel)
      for t in "thumbv7em-none-eabihf --cpu cortex-m4" "aarch64-linux-gnu"; do
        # shellcheck disable=SC2086
        n_sub=$("$kiln" inspect "$model_root/$m/model.json" --target $t "${kiln_extra[@]}" \
          --json 2>/dev/null | grep -o '"qconvtranspose-subpixel"' | wc -l)
        [ "$n_sub" = 3 ] || bad "$m: expected 3 qconvtranspose-subpixel kernels ($t), got $n_sub"
      done
      ;;
    esac
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) $exact" baremetal qemu-system-arm -M mps2-an386 -nographic \
      -monitor none -semihosting-config enable=on,target=native -kernel
    case $m in resnet_small | qops | qfirst | qpool | qconvt | qlut)
      run_model $m aarch64-linux-gnu generic +neon,+dotprod aarch64-linux-gnu-gcc "$exact" linux \
        qemu-aarch64 -L /usr/aarch64-linux-gnu
      ;;
    esac
    case $m in qconvt)
      run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "$exact" linux \
        qemu-aarch64 -L /usr/aarch64-linux-gnu
      ;;
    esac
    case $m in qops | qfirst | qpool | qconvt | qlut)
      run_model $m thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
        "$(baremetal_flags cortex-m0plus) -DEMU_EXACT" baremetal qemu-system-arm -M mps2-an385 \
        -nographic -monitor none -semihosting-config enable=on,target=native -kernel
      ;;
    esac
  done
  # tests/gen/qround (tools/gen_qround_model.py): QuantizeLinear at its edges (NaN, infinities,
  # ties, the saturation; zero points 3, -128 and 127) byte for byte on the M4F (vcvtr, qadd),
  # the M0+ and aarch64
  model_root=$src/tests/gen golden_dir="$tmp/golden-qround" kiln_extra=()
  mkdir -p "$golden_dir"
  if "$kiln" run "$model_root/qround/model.json" "$model_root/qround/inputs/x.npy" \
    -o "$golden_dir" >/dev/null 2>"$tmp/err"; then
    run_model qround thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic \
      -monitor none -semihosting-config enable=on,target=native -kernel
    run_model qround thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m0plus)" baremetal qemu-system-arm -M mps2-an385 -nographic \
      -monitor none -semihosting-config enable=on,target=native -kernel
    run_model qround aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
  else
    bad "qround: kiln run failed: $(cat "$tmp/err")"
  fi
  unset model_root
  # ONNX Runtime's dynamic quantization (tests/onnx/qdq/dynamic_*: DynamicQuantizeLinear,
  # MatMulInteger/ConvInteger with its run-time zero point, an i8 embedding Gather): equal to the
  # numpy golden of the ONNX definition bit for bit on aarch64 (NEON, and sdot with +dotprod),
  # the Cortex-M4 and the M0+; MatMulInteger of constant weights runs the int8 GEMM kernel
  # (dynamic_int8: u8 weights, non-zero zero points, K and N off the tiles) and ConvInteger the
  # int8 conv kernel (dynamic_conv: run-time padding, u8/i8 weights with zero points, groups,
  # depthwise, strides, dilation, 1-D, sums past 2^24)
  kiln_extra=()
  for m in dynamic_mlp dynamic_gather dynamic_int8 dynamic_conv; do
    d="$tmp/onnx/$m"
    mkdir -p "$d"
    if ! "$kiln" import "$src/tests/onnx/qdq/$m/model.onnx" -o "$d/model.json" 2>"$tmp/err"; then
      bad "$m: kiln import failed: $(cat "$tmp/err")"; continue
    fi
    ln -s "$src/tests/onnx/qdq/$m/inputs" "$src/tests/onnx/qdq/$m/golden" "$d/"
    golden_dir= model_dir=$d run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc \
      "-DEMU_EXACT" linux qemu-aarch64 -L /usr/aarch64-linux-gnu
    golden_dir= model_dir=$d run_model $m aarch64-linux-gnu generic +neon,+dotprod \
      aarch64-linux-gnu-gcc "-DEMU_EXACT" linux qemu-aarch64 -L /usr/aarch64-linux-gnu
    golden_dir= model_dir=$d run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp \
      arm-none-eabi-gcc "$(baremetal_flags cortex-m4) -DEMU_EXACT" baremetal qemu-system-arm \
      -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -kernel
    golden_dir= model_dir=$d run_model $m thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m0plus) -DEMU_EXACT" baremetal qemu-system-arm -M mps2-an385 \
      -nographic -monitor none -semihosting-config enable=on,target=native -kernel
  done
  # sparse int8 (issue 11's pruned-then-quantized rung), sparse-csr forced: the CSR QGemm and
  # the CSR conv on i32 phase images, bit for bit; tests/gen/qsparse: conv shapes (1x1, groups
  # with stride 2 and asymmetric pads, dilation 2, 5x3) at densities 50/1/99/100/0%
  for m in digits_mlp_sparse90 digits_cnn_sparse90 qsparse; do
    model_root=$src/examples calib=$src/tests/digits/calib
    [ $m = qsparse ] && model_root=$src/tests/gen calib=$model_root/$m/inputs/x.npy
    golden_dir="$tmp/golden-$m"
    kiln_extra=(--quantize=int8 --calibrate "$calib")
    mkdir -p "$golden_dir"
    if ! "$kiln" run "$model_root/$m/model.json" "$model_root/$m/inputs/x.npy" -o "$golden_dir" \
      "${kiln_extra[@]}" >/dev/null 2>"$tmp/err"; then
      bad "$m: kiln run --quantize failed: $(cat "$tmp/err")"; continue
    fi
    kiln_extra+=(--sparse=csr)
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "-DEMU_EXACT" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) -DEMU_EXACT" baremetal qemu-system-arm -M mps2-an386 \
      -nographic -monitor none -semihosting-config enable=on,target=native -kernel
  done
  unset model_root calib
  # weight-only int8 (KilnGemmW8, int8 LSTM/GRU gate matrices, float activations): within the
  # float tolerance of the host's interpreter on the same quantized graph (NEON: 4 lanes;
  # Cortex-M4: the scalar path)
  for m in digits_mlp digits_lstm gru_classifier bilstm_tagger; do
    golden_dir="$tmp/golden-w8-$m"
    kiln_extra=(--quantize=int8-weights)
    mkdir -p "$golden_dir"
    if ! "$kiln" run "$src/examples/$m/model.json" "$src/examples/$m"/inputs/*.npy -o "$golden_dir" \
      "${kiln_extra[@]}" >/dev/null 2>"$tmp/err"; then
      bad "$m: kiln run --quantize=int8-weights failed: $(cat "$tmp/err")"; continue
    fi
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4)" baremetal \
      qemu-system-arm -M mps2-an386 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel
  done
  # int8 model I/O (--quant-io=int8): the int8 input (quantized with the scale and zero point
  # kiln inspect reports) in, int8 logits out, bit for bit against the host interpreter
  for m in digits_cnn; do
    model_dir="$tmp/qio-$m" golden_dir="$tmp/golden-qio-$m"
    kiln_extra=(--quantize=int8 --calibrate "$src/tests/digits/calib" --quant-io=int8)
    mkdir -p "$model_dir/inputs" "$golden_dir"
    cp "$src/examples/$m/model.json" "$src/examples/$m/weights.bin" "$model_dir/"
    if ! "$kiln" inspect "$model_dir/model.json" "${kiln_extra[@]}" --json 2>/dev/null |
      ${KILN_PYTHON:-/usr/bin/python3} -c '
import json, sys
import numpy as np
i = json.load(sys.stdin)["inputs"][0]
x = np.load(sys.argv[1]).astype(np.float32)
q = np.rint(x / np.float32(i["scale"])) + i["zero_point"]
np.save(sys.argv[2], np.clip(q, -128, 127).astype(np.int8))
' "$src/examples/$m/inputs/x.npy" "$model_dir/inputs/x.npy" ||
      ! "$kiln" run "$model_dir/model.json" "$model_dir/inputs/x.npy" -o "$golden_dir" \
        "${kiln_extra[@]}" >/dev/null 2>"$tmp/err"; then
      bad "$m: int8 I/O input or kiln run failed: $(cat "$tmp/err")"; continue
    fi
    run_model $m aarch64-linux-gnu generic +neon,+dotprod aarch64-linux-gnu-gcc "-DEMU_EXACT" \
      linux qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) -DEMU_EXACT" baremetal qemu-system-arm -M mps2-an386 \
      -nographic -monitor none -semihosting-config enable=on,target=native -kernel
  done
  kiln_extra=()
  unset golden_dir model_dir
  ;;
aarch64)
  need aarch64-linux-gnu-gcc qemu-aarch64 || exit 1
  for m in mlp mnist_cnn lenet5 resnet_small ppo_policy transformer_classifier bert_qa bilstm_crf; do
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
  done
  ;;
layout)
  need aarch64-linux-gnu-gcc qemu-aarch64 || exit 1
  kiln_extra=(--layout=nchwc)
  for m in resnet_small cifar_cnn; do
    n=$("$kiln" inspect "$src/examples/$m/model.json" --target aarch64-linux-gnu --cpu generic \
      --features +neon --layout=nchwc --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for k in d["kernels"] if k["kernel"] == "conv-nchwc-direct" and k["outputs"][0]["layout"] == "nchw4c"))')
    if [ "${n:-0}" -gt 0 ]; then ok; else bad "$m: no conv-nchwc-direct with nchw4c on aarch64"; fi
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
  done
  kiln_extra=()
  ;;
armv7)
  need arm-linux-gnueabihf-gcc qemu-arm || exit 1
  for m in mlp mnist_cnn lenet5 resnet_small ppo_policy; do
    run_model $m armv7a-linux-gnueabihf cortex-a7 "" arm-linux-gnueabihf-gcc "" linux \
      qemu-arm -L /usr/arm-linux-gnueabihf
  done
  ;;
cortex-m4 | cortex-m3 | cortex-m0)
  need arm-none-eabi-gcc qemu-system-arm || exit 1
  case $mode in
  cortex-m4) triple=thumbv7em-none-eabihf cpu=cortex-m4 feat=+vfp4d16sp board=mps2-an386
    models="mlp mnist_cnn lenet5 ppo_policy cifar_cnn resnet_small dcgan_generator lstm_forecaster embedding_bag_classifier bilstm_tagger" ;;
  cortex-m3) triple=thumbv7m-none-eabi cpu=cortex-m3 feat="" board=mps2-an385
    models="mlp lenet5" ;;
  cortex-m0) triple=thumbv6m-none-eabi cpu=cortex-m0plus feat="" board=mps2-an385
    models="mlp lenet5" ;;
  esac
  for m in $models; do
    run_model $m $triple $cpu "$feat" arm-none-eabi-gcc "$(baremetal_flags $cpu)" baremetal \
      qemu-system-arm -M $board -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel
  done
  if [ $mode = cortex-m4 ]; then
    # The harness can fail: mlp checked against lenet5's golden (same shape) must report failures
    # and reach the host as a non-zero QEMU exit status.
    d="$tmp/mlp-$triple"
    "$bin/npy2c" "$d/wrong.c" "$src/examples/mlp/inputs/x.npy" -- "$src/examples/lenet5/golden/logits.npy"
    # shellcheck disable=SC2046
    arm-none-eabi-gcc -std=c11 -O2 $(baremetal_flags $cpu) -I"$d" -I"$src/runtime" -I"$src/tests" \
      -I"$src/tests/emu" --specs=rdimon.specs -nostartfiles -T "$src/runtime/baremetal/mps2.ld" \
      "$src/runtime/baremetal/startup_cm.c" "$src/tests/emu/harness.c" "$d/wrong.c" \
      "$src/runtime/krt.c" "$d/net.o" -lm -o "$d/wrong"
    timeout 300 qemu-system-arm -M $board -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel "$d/wrong" >"$d/wrong.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && grep -q "emu: [0-9]* passed, [1-9][0-9]* failed" "$d/wrong.out"; then ok
    else bad "a wrong golden was not detected (exit $rc): $(tail -c 500 "$d/wrong.out")"; fi
  fi
  ;;
state)
  need aarch64-linux-gnu-gcc qemu-aarch64 arm-none-eabi-gcc qemu-system-arm || exit 1
  model_dir=$src/tests/state/lstm harness=$src/tests/emu/state_harness.c
  run_model streaming_lstm aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
    qemu-aarch64 -L /usr/aarch64-linux-gnu
  run_model streaming_lstm thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel
  # a GPT-2-style decode step fed one token per call (KV cache and position as states, fused
  # attention with the position mask) equals PyTorch's logits of the whole sequence
  model_dir=$src/tests/gen/gpt_tiny
  run_model gpt_tiny aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
    qemu-aarch64 -L /usr/aarch64-linux-gnu
  run_model gpt_tiny thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel
  # the same decoder over a run-time number of tokens (--max-dim): the sequence in calls of
  # several lengths (prefill, steps) from one state equals PyTorch's logits at every position
  model_dir=$src/tests/gen/gpt_tiny_seq harness=$src/tests/emu/dyn_harness.c
  kiln_extra=(--max-dim seq=48)
  run_model gpt_tiny_seq aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
    qemu-aarch64 -L /usr/aarch64-linux-gnu
  run_model gpt_tiny_seq thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel
  # reductions, ArgMax/ArgMin and Softmax along the run-time length (tests/dyn/pool), recurrent
  # nodes over a run-time number of steps (tests/dyn/bidir): every prefix length of one sequence
  # equals PyTorch's run of that prefix
  harness=$src/tests/emu/dyn_prefix_harness.c
  kiln_extra=(--max-dim seq=16)
  # and BERT QA exported by torch.onnx with a dynamic sequence axis (tests/dyn/bert_qa: positions
  # and Reshape shapes folded from the length) at 1, 5, 8, 17 and its maximum 24
  for m in pool bidir bert_qa; do
    model_dir=$src/tests/dyn/$m
    lens=""
    if [ $m = bert_qa ]; then
      kiln_extra=(--max-dim seq=24) lens="-DDYN_MAX=24 -DDYN_LENGTHS=1,5,8,17,24"
    fi
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "$lens" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
    run_model $m thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) $lens" baremetal qemu-system-arm -M mps2-an386 -nographic \
      -monitor none -semihosting-config enable=on,target=native -kernel
  done
  # two run-time dims, batch and sequence (tests/dyn/enc2, a torch dynamic-axes export): every
  # (batch, seq) pair of its goldens, out-of-range dims -> -6
  model_dir=$src/tests/dyn/enc2 harness=$src/tests/emu/dyn2_harness.c
  kiln_extra=(--max-dim batch=4,seq=12)
  run_model enc2 aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
    qemu-aarch64 -L /usr/aarch64-linux-gnu
  run_model enc2 thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic \
    -monitor none -semihosting-config enable=on,target=native -kernel
  kiln_extra=()
  ;;
m4-stack)
  need arm-none-eabi-gcc qemu-system-arm || exit 1
  for dir in "$src"/examples/*/; do
    m=$(basename "$dir")
    [ -f "$dir/model.json" ] || continue
    [ "$m" = gan_generator ] && continue # 6 MB of weights: does not fit QEMU's 4 MiB flash
    # 375 nodes of unrolled greedy decoding: ~10 s per -O2 compile on CI's 2 shared cores for no
    # op that transformer_classifier, bert_qa and bilstm_crf do not already run on the M4
    [ "$m" = translator ] && continue
    f0=$failed
    run_model "$m" thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m4) -DEMU_STACK_PAINT" baremetal qemu-system-arm -M mps2-an386 \
      -nographic -monitor none -semihosting-config enable=on,target=native -kernel
    [ $failed -ne "$f0" ] && continue
    line=$(grep -o 'stack high-water [0-9]* bytes, reported NET_STACK_SIZE [0-9]* bytes, memset/memcpy use [0-9]* bytes' \
      "$tmp/$m-thumbv7em-none-eabihf/out")
    used=$(echo "$line" | awk '{print $3}') reported=$(echo "$line" | awk '{print $7}')
    lib=$(echo "$line" | awk '{print $11}')
    # The report is the backend's frames over the call graph; the paint sees what was written.
    # Equal, except: the C library's memset/memcpy (measured by the harness, flagged by the
    # header) may come on top when the model calls them, and the deepest frame's alignment
    # padding (at most 4 bytes: AAPCS keeps sp 8-byte aligned) may stay unwritten.
    libcalls=0
    grep -q 'plus what memcpy/memset use' "$tmp/$m-thumbv7em-none-eabihf/net.h" && libcalls=$lib
    echo "$m: stack high-water $used bytes, reported $reported bytes (+ memset/memcpy $libcalls)"
    if [ -n "$used" ] && [ "$used" -ge $((reported - 4)) ] && [ "$used" -le $((reported + libcalls)) ]; then ok
    else bad "$m: stack high-water ${used:-?} bytes, reported ${reported:-?} (+ $libcalls)"; fi
    if [ -n "$reported" ] && [ "$reported" -le 512 ]; then ok
    else bad "$m: ${reported:-?} bytes of stack, more than 512"; fi
  done
  ;;
weights)
  # --weights=external: the object holds code only; the program loads the file and passes it
  need aarch64-linux-gnu-gcc qemu-aarch64 arm-none-eabi-gcc qemu-system-arm || exit 1
  kiln_extra=(--weights=external)
  for m in mnist_cnn ppo_policy; do
    prog_args=("$tmp/$m-aarch64-linux-gnu/net.weights")
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc -DEMU_EXTERNAL_WEIGHTS linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
    prog_args=("$tmp/$m-$(gcc -dumpmachine)/net.weights")
    run_model $m "$(gcc -dumpmachine)" generic "" gcc -DEMU_EXTERNAL_WEIGHTS linux
    for o in "$tmp"/$m-*/net.o; do
      ro=$(size -A "$o" | awk '$1 ~ /rodata/ {s += $2} END {print s + 0}')
      if [ "$ro" -lt 4096 ]; then ok; else bad "$o: $ro bytes of read-only data"; fi
    done
  done
  # --weights-section: the linker script places the section (here: .kiln_weights in flash)
  kiln_extra=(--weights-section .kiln_weights) prog_args=()
  run_model mnist_cnn thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel
  hex=$(arm-none-eabi-readelf -SW "$tmp/mnist_cnn-thumbv7em-none-eabihf/prog" |
    sed -n 's/.*\] \.kiln_weights *PROGBITS *\([0-9a-f]*\) *[0-9a-f]* *\([0-9a-f]*\) .*/\1 \2/p')
  set -- $hex
  # all of mnist_cnn's 1.6 MB of weights, in flash (QEMU's mps2 flash is 0x0-0x400000)
  if [ $# -eq 2 ] && [ $((16#$2)) -ge 1600000 ] && [ $((16#$1 + 16#$2)) -le $((0x400000)) ]; then ok
  else bad ".kiln_weights not placed as expected: '$hex'"; fi
  # --weights=external on bare metal: the blob linked into its own flash section
  kiln_extra=(--weights=external) prog_args=()
  run_model lenet5 thumbv7em-none-eabihf cortex-m4 +vfp4d16sp arm-none-eabi-gcc \
    "$(baremetal_flags cortex-m4)" baremetal qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel
  # bad weights options: usage errors (exit 2) that leave no file
  mlp=$src/examples/mlp/model.json
  for bad_args in "--weights=bogus" "--weights-section bad,name" "--weights-file x.w" \
    "--weights=external --weights-section .w"; do
    # shellcheck disable=SC2086
    (cd "$tmp" && "$kiln" compile "$mlp" $bad_args -o badw.o 2>"$tmp/err")
    rc=$?
    if [ $rc -eq 2 ] && [ -s "$tmp/err" ] && ! ls "$tmp"/badw.* >/dev/null 2>&1; then ok
    else bad "kiln compile $bad_args: exit $rc"; fi
  done
  "$kiln" build "$mlp" --weights=external -o "$tmp/badw" 2>/dev/null
  if [ $? -eq 2 ] && [ ! -e "$tmp/badw" ]; then ok; else bad "kiln build --weights=external"; fi
  # a weights file that cannot be written: exit 1, and neither object nor header is left
  "$kiln" compile "$mlp" --weights=external --weights-file "$tmp/no/such/dir/w" -o "$tmp/badw.o" \
    2>"$tmp/err"
  if [ $? -eq 1 ] && grep -q "weights file" "$tmp/err" && ! ls "$tmp"/badw.* >/dev/null 2>&1; then ok
  else bad "unwritable weights file: $(cat "$tmp/err")"; fi
  ;;
riscv64)
  need riscv64-linux-gnu-gcc qemu-riscv64 || exit 1
  for m in mlp mnist_cnn lenet5; do
    run_model $m riscv64-linux-gnu generic-rv64 +m,+a,+f,+d,+c riscv64-linux-gnu-gcc "" linux \
      qemu-riscv64 -L /usr/riscv64-linux-gnu
  done
  ;;
ops)
  # The op cases of the ops added for real exporters (issue 13): every one compiles for bare
  # metal without libm (rounding, pow, LRN, Resize are plain instructions), and those with f32
  # outputs run under QEMU on a soft-float Cortex-M0+ and on AArch64 against their goldens.
  need arm-none-eabi-gcc arm-none-eabi-nm qemu-system-arm aarch64-linux-gnu-gcc qemu-aarch64 || exit 1
  mem='^(memcpy|memmove|memset|__aeabi_(memcpy|memmove|memset|memclr)[48]?)$'
  softfp='^__aeabi_(f(add|sub|mul|div|cmp[a-z]*|2[a-z]*)|[iu]2f|[iu]l2f|ui2f|u?(idiv|idivmod|ldivmod)|l(asr|lsl|lsr)|lmul)$'
  runs="softplus_wide mish round_half_even floor_mixed pow_tensor_exponent
    pow_negative_base_integer_exponent mod_f32_fmod reducelogsumexp_two_axes_input lrn_alexnet
    instancenorm_4d resize_linear_3d_trilinear conv1d_pads_stride_dilation
    convtranspose1d_stride2_outpad scatternd_kv_cache_write conv3d_pads_stride_dilation
    convtranspose3d_stride2_outpad averagepool3d_exclude_pad_ceil lrn_as_averagepool3d"
  compiles="$runs elu_default selu_default hardswish ceil_mixed sign prelu_channel_slope
    min_five_broadcast mean_two reducel2_last_input reduceprod_last resize_linear_half_pixel
    resize_nearest_default_modes cumsum_exclusive_reverse maxpool1d_ceil_pads globalmaxpool_4d
    depthtospace_crd argmax_ties_select_last argmin_axis0_i32 not_bool and_broadcast xor_broadcast
    scatternd_1d_i64_runtime_indices div_i32_trunc_negative div_i64_trunc mod_i64_python_sign
    mul_i64_scalar concat_i64_stack pad_i32_reflect reshape_bool_mask tile_bool
    cumsum_i64_exclusive where_bool_values upsample_linear_asymmetric maxpool3d_ceil_pads
    conv3d_grouped_relu convtranspose3d_grouped_dilated"
  for name in $compiles; do
    o="$tmp/$name-m0.o"
    if ! "$kiln" compile "$src/tests/ops/$name/model.json" --target thumbv6m-none-eabi \
      --cpu cortex-m0plus -o "$o" 2>"$tmp/err"; then
      bad "$name: compile failed: $(cat "$tmp/err")"; continue
    fi
    extra=$(arm-none-eabi-nm -u "$o" | awk '{print $2}' | grep -Ev "$mem|$softfp")
    if [ -n "$extra" ]; then bad "$name/cortex-m0 needs: $(echo $extra)"; else ok; fi
  done
  model_root=$src/tests/ops
  for m in $runs; do
    run_model $m thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
      "$(baremetal_flags cortex-m0plus)" baremetal qemu-system-arm -M mps2-an385 -nographic \
      -monitor none -semihosting-config enable=on,target=native -kernel
  done
  for m in mish round_half_even pow_tensor_exponent lrn_alexnet resize_linear_3d_trilinear \
    conv1d_pads_stride_dilation; do
    run_model $m aarch64-linux-gnu generic +neon aarch64-linux-gnu-gcc "" linux \
      qemu-aarch64 -L /usr/aarch64-linux-gnu
  done
  # ONNX op cases of opsets 11-19 (tests/onnx/cases), imported to Kiln JSON: Resize's taps
  # (cubic, antialias, axes, half_pixel_symmetric), ScatterND reductions, Pad wrap compile for
  # the Cortex-M0+ without libm; the f32 ones run under qemu-system-arm against their goldens.
  for m in resize_cubic_antialias_opset18 resize_linear_axes_sizes_opset18 \
    resize_half_pixel_symmetric_opset19 resize_cubic_asymmetric_exclude_opset13 \
    scatternd_reductions_opset18 pad_wrap_opset19; do
    d="$tmp/onnx/$m"
    mkdir -p "$d"
    if ! "$kiln" import "$src/tests/onnx/cases/$m/model.onnx" -o "$d/model.json" 2>"$tmp/err"; then
      bad "$m: kiln import failed: $(cat "$tmp/err")"; continue
    fi
    ln -s "$src/tests/onnx/cases/$m/inputs" "$src/tests/onnx/cases/$m/golden" "$d/"
    if ! "$kiln" compile "$d/model.json" --target thumbv6m-none-eabi --cpu cortex-m0plus \
      -o "$d/m0.o" 2>"$tmp/err"; then
      bad "$m: compile failed: $(cat "$tmp/err")"; continue
    fi
    extra=$(arm-none-eabi-nm -u "$d/m0.o" | awk '{print $2}' | grep -Ev "$mem|$softfp")
    if [ -n "$extra" ]; then bad "$m/cortex-m0 needs: $(echo $extra)"; else ok; fi
    case $m in resize_*)
      model_dir=$d run_model $m thumbv6m-none-eabi cortex-m0plus "" arm-none-eabi-gcc \
        "$(baremetal_flags cortex-m0plus)" baremetal qemu-system-arm -M mps2-an385 -nographic \
        -monitor none -semihosting-config enable=on,target=native -kernel ;;
    esac
  done
  ;;
freestanding)
  need arm-none-eabi-nm riscv64-linux-gnu-nm || exit 1
  mem='^(memcpy|memmove|memset|__aeabi_(memcpy|memmove|memset|memclr)[48]?)$'
  # soft float: the compiler's float helpers from libgcc (add, mul, compare, convert), never libm
  softfp='^__aeabi_(f(add|sub|mul|div|cmp[a-z]*|2[a-z]*)|[iu]2f|u?l2f|ui2f)$'
  # 64-bit integer -> float conversion (a Cast of i64 ids or masks, bert_qa): a libgcc helper on
  # every 32-bit core, hard float included (no FPU converts 64-bit integers)
  i64fp='^(__aeabi_u?l2f|__floatu?disf)$'
  for dir in "$src"/examples/*/; do
    name=$(basename "$dir")
    [ -f "$dir/model.json" ] || continue
    [ "$name" = translator ] && continue # as in m4-stack: ~10 s per compile, no op of its own
    for t in "thumbv7em-none-eabihf cortex-m4 +vfp4d16sp" "thumbv6m-none-eabi cortex-m0plus" \
      "riscv32-unknown-none-elf generic-rv32 +m,+f"; do
      set -- $t
      nm=arm-none-eabi-nm
      case $1 in riscv*) nm=riscv64-linux-gnu-nm ;; esac
      o="$tmp/$name-$1.o"
      if ! "$kiln" compile "$dir/model.json" --target "$1" --cpu "$2" ${3:+--features "$3"} \
        -o "$o" 2>"$tmp/err"; then
        bad "$name/$1: compile failed: $(cat "$tmp/err")"; continue
      fi
      allowed="$mem|$i64fp"
      [ "$2" = cortex-m0plus ] && allowed="$mem|$i64fp|$softfp"
      extra=$($nm -u "$o" | awk '{print $2}' | grep -Ev "$allowed")
      if [ -n "$extra" ]; then bad "$name/$1 needs: $(echo $extra)"; else ok; fi
      # weights are read-only data: no writable section holds more than a few bytes
      rw=$(size -A "$o" | awk '$1 ~ /^\.data/ {s += $2} END {print s + 0}')
      if [ "$rw" -gt 64 ]; then bad "$name/$1: $rw bytes of initialized writable data"; else ok; fi
    done
  done
  # --size-report agrees with binutils' view of the same object
  o=$tmp/report.o
  "$kiln" compile "$src/examples/lenet5/model.json" --target thumbv7em-none-eabihf --cpu cortex-m4 \
    --weights-section .kiln_weights --size-report -o "$o" >"$tmp/report" 2>&1
  code=$(size -A "$o" | awk '$1 ~ /^\.(text|ARM\.exidx)/ {s += $2} END {print s + 0}')
  const=$(size -A "$o" | awk '$1 ~ /^\.(rodata|kiln_weights)/ {s += $2} END {print s + 0}')
  weights=$(size -A "$o" | awk '$1 == ".kiln_weights" {print $2}')
  ws=$(sed -n 's/^#define NET_WORKSPACE_SIZE \([0-9]*\)u.*/\1/p' "$tmp/report.h")
  [ -z "$ws" ] && ws=$(sed -n 's/^#define LENET5_WORKSPACE_SIZE \([0-9]*\)u.*/\1/p' "$tmp/report.h")
  if grep -Eq "code: +$code bytes" "$tmp/report" &&
    grep -Eq "constants: +$const bytes \(flash; $weights in .kiln_weights\)" "$tmp/report" &&
    grep -Eq "workspace: +$ws bytes" "$tmp/report" && [ "$weights" -gt 240000 ]; then ok
  else bad "size report (code $code, constants $const, weights $weights, ws $ws): $(cat "$tmp/report")"; fi
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "emu-$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
