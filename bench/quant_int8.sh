#!/usr/bin/env bash
# int8 (--quantize=int8) against fp32: host latency, and on a Cortex-M4F (QEMU mps2-an386) flash,
# workspace RAM and instructions per inference (QEMU -icount, as bench/cortex_m4.sh).
# usage: bench/quant_int8.sh [REPEAT]   (after tools/build.sh; needs tools/setup.sh --with-cross)
# REPEAT 0: the Cortex-M4 columns only (host columns "-"); MODELS="a b": other examples (default:
# the five below; resnet_small is int8 end to end: its M4 run is checked bit for bit too)
# Calibration: the digits models on tests/digits/calib (200 training images); the other CNN
# examples on their one sample input (their weights are random: only speed and size count).
# Host latency: the median of REPEAT runs of `kiln build -O3` executables (--repeat), best of 3
# invocations; the M4 runs check the int8 outputs against `kiln run --quantize` (bit for bit for
# the digits models, whose outputs come straight from a DequantizeLinear).
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-2000}
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-q8-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
# shellcheck disable=SC2054
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel)
median() { # best of 3 medians (µs) of REPEAT runs
  local best=""
  for _ in 1 2 3; do
    m=$("$@" --repeat "$repeat" 2>&1 | sed -n 's/.*median \([0-9.]*\) us.*/\1/p')
    if [ -z "$best" ] || awk "BEGIN{exit !($m < $best)}"; then best=$m; fi
  done
  echo "$best"
}
echo "| model | host fp32 (µs) | host int8 (µs) | speedup | M4 flash fp32 / int8 (B) | M4 RAM fp32 / int8 (B) | M4 instructions fp32 | M4 instructions int8 | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in ${MODELS:-digits_mlp digits_cnn lenet5 mnist_cnn cifar_cnn}; do
  dir=examples/$name
  cal=$dir/inputs/x.npy
  case $name in digits_*) cal=tests/digits/calib ;; esac
  q=(--quantize=int8 --calibrate "$cal")
  d=$tmp/$name
  mkdir -p "$d/gq"
  $kiln build "$dir/model.json" -O3 -o "$d/f" 2>/dev/null
  $kiln build "$dir/model.json" -O3 -o "$d/q" "${q[@]}" 2>/dev/null
  tf=- tq=-
  if [ "$repeat" != 0 ]; then
    tf=$(median "$d/f" "$dir/inputs/x.npy" -o "$d")
    tq=$(median "$d/q" "$dir/inputs/x.npy" -o "$d")
  fi
  $kiln run "$dir/model.json" "$dir/inputs/x.npy" -o "$d/gq" "${q[@]}" >/dev/null 2>&1
  row=()
  for v in f q; do
    extra=() golden=$dir/golden exact=""
    # digits: int8 end to end, bit for bit; others end in float ops (Softmax...) after the
    # last DequantizeLinear, compared within the harness's float tolerance
    [ $v = q ] && extra=("${q[@]}") golden=$d/gq
    case $v$name in qdigits_* | qresnet_small) exact=-DEMU_EXACT ;; esac
    $kiln compile "$dir/model.json" --target thumbv7em-none-eabihf --cpu cortex-m4 \
      --features +vfp4d16sp -O3 --name net --size-report -o "$d/net.o" "${extra[@]}" >"$d/report" 2>/dev/null
    code=$(awk '$1 == "code:" {print $2}' "$d/report")
    const=$(awk '$1 == "constants:" {print $2}' "$d/report")
    ws=$(awk '$1 == "workspace:" {print $2}' "$d/report")
    build/bin/npy2c "$d/data.c" "$dir/inputs/x.npy" -- "$golden/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"][0]["name"])' "$dir/model.json").npy"
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS $exact -I"$d" -Iruntime -Itests -Itests/emu \
      --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
      tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks" 2>/dev/null
    out=$("${qemu[@]}" "$d/ticks" || true)
    echo "$out" | grep -q "emu: [1-9][0-9]* passed, 0 failed" || { echo "$name/$v: M4 run failed: $out" >&2; exit 1; }
    ticks=$(echo "$out" | sed -n 's/^systick: //p')
    row+=("$((code + const))" "$ws" "$((ticks * 40))")
  done
  speed=-
  [ "$repeat" != 0 ] && speed=$(awk "BEGIN{printf \"%.2f\", $tf / $tq}")
  echo "| $name | $tf | $tq | $speed | ${row[0]} / ${row[3]} | ${row[1]} / ${row[4]} | ${row[2]} | ${row[5]} | $(awk "BEGIN{printf \"%.2f\", ${row[2]} / ${row[5]}}") |"
done
