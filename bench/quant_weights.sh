#!/usr/bin/env bash
# Weight-only int8 (--quantize=int8-weights) on the recurrent examples: Cortex-M4F flash
# (code + constants from `kiln compile --size-report`), Cortex-M4 instructions per inference
# (QEMU -icount shift=0, SysTick ticks x 40, as bench/quant_int8.sh) for digits_lstm, and host
# latency fp32 vs int8-weights for lstm_classifier (kiln build -O3, ROUNDS interleaved
# invocations of --repeat REPEAT: the minimum of the minimums and the median of the medians;
# the machine is shared, so treat host numbers as rough).
#   bench/quant_weights.sh [REPEAT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-2000} rounds=${2:-5}
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-w8-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel)
m4=(--target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp -O3)
w8=(--quantize=int8-weights)
out_name() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"][0]["name"])' "$1"; }

echo "| model | M4 flash fp32 (B) | M4 flash int8-weights (B) | ratio |"
echo "|---|---:|---:|---:|"
for name in digits_lstm lstm_classifier gru_classifier bilstm_tagger; do
  sizes=()
  for v in f w; do
    extra=()
    [ $v = w ] && extra=("${w8[@]}")
    "$kiln" compile "examples/$name/model.json" "${m4[@]}" --size-report -o "$tmp/$name.o" \
      "${extra[@]}" >"$tmp/report"
    code=$(awk '$1 == "code:" {print $2}' "$tmp/report")
    const=$(awk '$1 == "constants:" {print $2}' "$tmp/report")
    sizes+=("$((code + const))")
  done
  echo "| $name | ${sizes[0]} | ${sizes[1]} | $(awk "BEGIN{printf \"%.2f\", ${sizes[0]} / ${sizes[1]}}") |"
done

echo
echo "| model | M4 instructions fp32 | M4 instructions int8-weights | ratio |"
echo "|---|---:|---:|---:|"
for name in digits_lstm; do
  dir=examples/$name d=$tmp/m4-$name
  mkdir -p "$d/gw"
  "$kiln" run "$dir/model.json" "$dir/inputs/x.npy" -o "$d/gw" "${w8[@]}" >/dev/null
  counts=()
  for v in f w; do
    extra=() golden=$dir/golden
    [ $v = w ] && extra=("${w8[@]}") golden=$d/gw
    "$kiln" compile "$dir/model.json" "${m4[@]}" --name net -o "$d/net.o" "${extra[@]}"
    build/bin/npy2c "$d/data.c" "$dir/inputs/x.npy" -- "$golden/$(out_name "$dir/model.json").npy"
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS -I"$d" -Iruntime -Itests -Itests/emu \
      --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
      tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks"
    out=$("${qemu[@]}" "$d/ticks" || true)
    echo "$out" | grep -q "emu: [1-9][0-9]* passed, 0 failed" || { echo "$name/$v: M4 run failed: $out" >&2; exit 1; }
    counts+=("$(( $(echo "$out" | sed -n 's/^systick: //p') * 40 ))")
  done
  echo "| $name | ${counts[0]} | ${counts[1]} | $(awk "BEGIN{printf \"%.2f\", ${counts[0]} / ${counts[1]}}") |"
done

echo
echo "| model | host fp32 min / median (µs) | host int8-weights min / median (µs) |"
echo "|---|---:|---:|"
for name in lstm_classifier; do
  dir=examples/$name
  "$kiln" build "$dir/model.json" -O3 -o "$tmp/f"
  "$kiln" build "$dir/model.json" -O3 -o "$tmp/w" "${w8[@]}"
  for v in f w; do : >"$tmp/lat.$v"; done
  for _ in $(seq "$rounds"); do
    for v in f w; do
      "$tmp/$v" "$dir"/inputs/*.npy -o "$tmp" --quiet --repeat "$repeat" 2>&1 |
        sed -n 's/.*median \([0-9.]*\) us, min \([0-9.]*\) us.*/\2 \1/p' >>"$tmp/lat.$v"
    done
  done
  stat() { sort -n -k2 "$1" | awk '{min = NR == 1 || $1 < min ? $1 : min; med[NR] = $2} END {printf "%.1f / %.1f", min, med[int((NR + 1) / 2)]}'; }
  echo "| $name | $(stat "$tmp/lat.f") | $(stat "$tmp/lat.w") |"
done
