#!/usr/bin/env bash
# Where the instructions of one inference go on a Cortex-M4F: instructions per node function
# (and C library function) under QEMU mps2-an386, from a log of every executed translation block.
# usage: bench/m4_profile.sh MODEL_DIR [kiln compile flags, e.g. --quantize=int8 --calibrate X]
# (after tools/build.sh; needs tools/setup.sh --with-cross). The harness runs the model once to
# check it, twice more with bad workspaces (refused at once) and once between SysTick reads, so "(whole run)" is about twice one inference plus
# start-up; bench/cortex_m4.sh gives the exact count of one inference.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: bench/m4_profile.sh MODEL_DIR [kiln flags]}
shift
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-m4-profile-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
target=(--target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp -O3 --name net)
$kiln compile "$dir/model.json" "${target[@]}" "$@" -o "$tmp/net.o" 2>/dev/null
$kiln compile "$dir/model.json" "${target[@]}" "$@" --emit llvm -o "$tmp/net.ll" 2>/dev/null
ins=()
for i in $(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["inputs"]))' "$dir/model.json"); do ins+=("$dir/inputs/$i.npy"); done
outs=() # the goldens only size the outputs here (an int8 run may differ from them)
for o in $(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["outputs"]))' "$dir/model.json"); do outs+=("$dir/golden/$o.npy"); done
build/bin/npy2c "$tmp/data.c" "${ins[@]}" -- "${outs[@]}"
# shellcheck disable=SC2086
arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS -I"$tmp" -Iruntime -Itests -Itests/emu \
  --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
  tests/emu/harness.c "$tmp/data.c" runtime/krt.c "$tmp/net.o" -lm -o "$tmp/prog" 2>/dev/null
qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native \
  -icount shift=0 -d in_asm,exec,nochain -D "$tmp/log" -kernel "$tmp/prog" >/dev/null 2>&1 || true
python3 bench/m4_profile.py "$tmp/prog" "$tmp/log" "$tmp/net.ll"
