#!/usr/bin/env bash
# Footprint and emulated inference time of every example on a Cortex-M4F (QEMU mps2-an386).
# usage: bench/cortex_m4.sh [REPEAT]   (after tools/build.sh; needs tools/setup.sh --with-cross)
# env: KILN (the kiln binary), KILN_FLAGS (extra compile flags, e.g. --conv=winograd),
#      MODELS (example names, default all)
# Flash = code + constants of the model object (kiln compile --size-report); RAM = the workspace;
# stack = the worst case of a call that --size-report prints (NAME_STACK_SIZE; the C library's
# memset/memcpy come on top where the model calls them; tests/test_emulation.sh m4-stack checks
# it against the painted high-water mark).
# Time per inference = (wall time with REPEAT extra runs - wall time without) / REPEAT, under QEMU's
# TCG emulation on this host: indicative only, not the cycles of a real Cortex-M4.
# Instructions per inference: QEMU with -icount shift=0 advances virtual time 1 ns per instruction;
# SysTick on the processor clock (25 MHz on mps2-an386) counts it, so instructions = ticks x 40.
# A real Cortex-M4 needs more cycles than instructions (loads, FP multiply-add, branches).
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-20}
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-m4-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
# shellcheck disable=SC2054
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -kernel)
now() { date +%s%N; }
echo "| example | code (B) | constants (B) | flash (B) | workspace RAM (B) | stack (B) | instructions / inference | ms / inference (QEMU) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for dir in examples/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.json" ] || continue
  [ -z "${MODELS:-}" ] || [[ " $MODELS " == *" $name "* ]] || continue
  d=$tmp/$name
  mkdir -p "$d"
  $kiln compile "$dir/model.json" --target thumbv7em-none-eabihf --cpu cortex-m4 \
    --features +vfp4d16sp -O3 --name net --size-report ${KILN_FLAGS:-} -o "$d/net.o" >"$d/report"
  code=$(awk '$1 == "code:" {print $2}' "$d/report")
  const=$(awk '$1 == "constants:" {print $2}' "$d/report")
  ws=$(awk '$1 == "workspace:" {print $2}' "$d/report")
  stack=$(awk '$1 == "stack:" {print $2}' "$d/report")
  flash=$((code + const))
  if [ $flash -gt $((4 * 1024 * 1024 - 65536)) ]; then
    echo "| $name | $code | $const | $flash | $ws | $stack | - | does not fit QEMU's 4 MiB |"
    continue
  fi
  ins=() outs=()
  for i in $(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["inputs"]))' "$dir/model.json"); do ins+=("$dir/inputs/$i.npy"); done
  for o in $(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["outputs"]))' "$dir/model.json"); do outs+=("$dir/golden/$o.npy"); done
  build/bin/npy2c "$d/data.c" "${ins[@]}" -- "${outs[@]}"
  # shellcheck disable=SC2086
  arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS -I"$d" -Iruntime -Itests -Itests/emu \
    --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
    tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks" 2>/dev/null
  ticks=$("${qemu[@]/-kernel/-icount}" shift=0 -kernel "$d/ticks" | sed -n 's/^systick: //p')
  insns=$((ticks * 40))
  for r in 0 "$repeat"; do
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_REPEAT=$r -I"$d" -Iruntime -Itests -Itests/emu \
      --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
      tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/prog$r" 2>/dev/null
  done
  best0=999999999999 bestn=999999999999
  for _ in 1 2 3; do
    t0=$(now); "${qemu[@]}" "$d/prog0" >/dev/null; t1=$(now)
    "${qemu[@]}" "$d/prog$repeat" >/dev/null; t2=$(now)
    [ $((t1 - t0)) -lt $best0 ] && best0=$((t1 - t0))
    [ $((t2 - t1)) -lt $bestn ] && bestn=$((t2 - t1))
  done
  per=$(( (bestn - best0) / repeat / 1000 ))
  # QEMU's start-up varies more than a short model's inferences take: no time below that noise
  ms="below QEMU's start-up noise"
  [ $per -gt 0 ] && ms="$((per / 1000)).$(printf %03d $((per % 1000)))"
  echo "| $name | $code | $const | $flash | $ws | $stack | $insns | $ms |"
done
