#!/usr/bin/env bash
# Pruned digits models (tools/train_digits_pruned.py) dense vs 80% vs 90% vs channel-pruned:
# host latency, Cortex-M4 flash and instructions per inference (issue 11).
# usage: bench/sparsity.sh [REPEAT]   (after tools/build.sh; needs tools/setup.sh --with-cross)
# Host: `kiln build -O3` executables, median of REPEAT runs (--repeat), with the cost model's
# kernels (auto) and with the sparse kernels turned off (--sparse=dense: dense Kiln on the same
# weights). Cortex-M4F (thumbv7em, QEMU mps2-an386): flash = code + constants of the model
# object (kiln compile --size-report), instructions per inference from QEMU -icount as in
# bench/cortex_m4.sh (SysTick ticks x 40).
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-3000}
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-sparse-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
# shellcheck disable=SC2054
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel)
latency() { # exe input -> microseconds (best of 3 minima: the machine is shared)
  mkdir -p "$tmp/out"
  for _ in 1 2 3; do
    "$1" "$2" -o "$tmp/out" --repeat "$repeat" --quiet | sed -n "s/.*, min \([0-9.]*\) us.*/\1/p"
  done | sort -g | head -1
}
m4() { # model.json sparse-kind [kiln flags...] -> "flash instructions"
  local d=$tmp/m4 dir model=$1 kind=$2
  shift 2
  dir=$(dirname "$model")
  rm -rf "$d" && mkdir -p "$d"
  $kiln compile "$model" --target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp -O3 \
    --sparse="$kind" --name net --size-report -o "$d/net.o" "$@" >"$d/report" 2>/dev/null
  local code const
  code=$(awk '$1 == "code:" {print $2}' "$d/report")
  const=$(awk '$1 == "constants:" {print $2}' "$d/report")
  build/bin/npy2c "$d/data.c" "$dir/inputs/x.npy" -- "$dir/golden/logits.npy"
  # shellcheck disable=SC2086
  arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS -I"$d" -Iruntime -Itests -Itests/emu \
    --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
    tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks" 2>/dev/null
  local ticks
  # (int8: the harness's float tolerance may fail on the golden; only the ticks count here)
  ticks=$("${qemu[@]}" "$d/ticks" 2>/dev/null | sed -n 's/^systick: //p' || true)
  echo "$((code + const)) $((${ticks:-0} * 40))"
}
echo "| model | host µs (auto) | host µs (--sparse=dense) | M4 flash B (auto) | M4 flash B (dense) | M4 instructions (auto) | M4 instructions (dense) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in digits_mlp_dense digits_mlp_sparse80 digits_mlp_sparse90 digits_mlp_block90 \
  digits_cnn_dense digits_cnn_sparse80 digits_cnn_sparse90 digits_cnn_channels; do
  model=examples/$name/model.json
  row="| $name"
  for kind in auto dense; do
    $kiln build "$model" -O3 --sparse=$kind -o "$tmp/$name.$kind" >/dev/null
    row="$row | $(latency "$tmp/$name.$kind" "examples/$name/inputs/x.npy")"
  done
  read -r fa ia < <(m4 "$model" auto)
  read -r fd id < <(m4 "$model" dense)
  echo "$row | $fa | $fd | $ia | $id |"
done

# Pruning at compile time (no fine-tuning) of the dense models, measured by --eval on the test
# split: agreement with the unpruned model and accuracy after each step.
echo
echo "| model | --prune | agreement (%) | accuracy (%) | M4 flash B | M4 instructions |"
echo "|---|---|---:|---:|---:|---:|"
for name in digits_mlp_dense digits_cnn_dense; do
  for spec in magnitude:0.5 magnitude:0.8 magnitude:0.9 channels:0.25 channels:0.5; do
    [ $name = digits_mlp_dense ] && [ "${spec%%:*}" = channels ] && [ "$spec" = channels:0.5 ] && continue
    line=$($kiln compile "examples/$name/model.json" -o "$tmp/p.o" --prune=$spec --eval tests/digits |
      sed -n 's/.*agreement \([0-9.]*\)%.*accuracy \([0-9.]*\)%.*/\1 | \2/p')
    d=$tmp/m4p && rm -rf "$d" && mkdir -p "$d"
    $kiln compile "examples/$name/model.json" --target thumbv7em-none-eabihf --cpu cortex-m4 \
      --features +vfp4d16sp -O3 --prune=$spec --name net --size-report -o "$d/net.o" >"$d/report"
    flash=$(awk '$1 == "code:" {c = $2} $1 == "constants:" {k = $2} END {print c + k}' "$d/report")
    # the harness also compares with the unpruned golden (and fails); only the ticks count here
    build/bin/npy2c "$d/data.c" "examples/$name/inputs/x.npy" -- "examples/$name/golden/logits.npy"
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS -I"$d" -Iruntime -Itests -Itests/emu \
      --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
      tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks" 2>/dev/null
    ticks=$("${qemu[@]}" "$d/ticks" 2>/dev/null | sed -n 's/^systick: //p' || true)
    echo "| $name | $spec | $line | $flash | $((${ticks:-0} * 40)) |"
  done
done

# The compression ladder on the Cortex-M4F: fp32 dense -> pruned (90%, fine-tuned) -> int8
# (--quantize=int8, calibrated on tests/digits/calib) -> pruned int8 (sparse int8 kernels where
# the cost model picks them: CSR QGemm and CSR QLinearConv); accuracy on the 360 test images by
# --eval (int8: the quantized graph, interpreter = compiled bits); host µs as above (auto).
echo
echo "| model | rung | accuracy (%) | host µs | M4 flash B | M4 instructions |"
echo "|---|---|---:|---:|---:|---:|"
quant=(--quantize=int8 --calibrate tests/digits/calib)
for kind in mlp cnn; do
  for rung in "fp32 dense" "pruned" "int8" "pruned int8"; do
    name=digits_${kind}_dense
    case $rung in pruned*) name=digits_${kind}_sparse90 ;; esac
    kflags=()
    case $rung in *int8) kflags=("${quant[@]}") ;; esac
    acc=$($kiln compile "examples/$name/model.json" -o "$tmp/l.o" ${kflags[@]+"${kflags[@]}"} --eval tests/digits \
      2>/dev/null | sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' | tail -1)
    $kiln build "examples/$name/model.json" -O3 -o "$tmp/l.exe" ${kflags[@]+"${kflags[@]}"} >/dev/null 2>&1
    us=$(latency "$tmp/l.exe" "examples/$name/inputs/x.npy")
    read -r fl ins < <(m4 "examples/$name/model.json" auto ${kflags[@]+"${kflags[@]}"})
    echo "| $name | $rung | $acc | $us | $fl | $ins |"
  done
done