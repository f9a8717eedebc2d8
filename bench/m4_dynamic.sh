#!/usr/bin/env bash
# Cortex-M4F (QEMU mps2-an386, -icount) instructions per inference and flash of the models of
# bench/bench_ort_dynamic.sh (run that first: it writes them to build/bench-ort-dynamic): the
# float model and the quantize_dynamic file through Kiln, and with KILN_BEFORE=path/to/kiln the
# dynamic file through that binary too (e.g. the commit before MatMulInteger ran on the int8
# kernel). Instructions as bench/cortex_m4.sh counts them (SysTick ticks x 40 under -icount
# shift=0): repeatable, not the cycles of a real M4. The harness checks the outputs against
# `kiln run` (the interpreter): the dynamic MLP files bit for bit, the float models and the
# dynamic CNNs (their Gemms and Softmax stay float) within the harness's tolerance.
# usage: bench/m4_dynamic.sh   (after tools/build.sh; needs tools/setup.sh --with-cross)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
kiln=$root/build/bin/kiln
before=${KILN_BEFORE:-}
src=$root/build/bench-ort-dynamic
tmp=$(mktemp -d /tmp/kiln-m4-dyn-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
# shellcheck disable=SC2054
qemu=(qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native -icount shift=0 -kernel)
m4() { # kiln model.onnx inputs_dir name [-DEMU_EXACT] -> "instructions flash"
  local k=$1 model=$2 dir=$3 d=$tmp/$4 exact=${5:-}
  mkdir -p "$d/golden"
  "$k" compile "$model" --target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp -O3 \
    --name net --size-report -o "$d/net.o" >"$d/report"
  "$kiln" run "$model" $(names input "$model" "$dir/inputs/%s.npy") -o "$d/golden" >/dev/null
  local code const
  code=$(awk '$1 == "code:" {print $2}' "$d/report")
  const=$(awk '$1 == "constants:" {print $2}' "$d/report")
  # shellcheck disable=SC2046
  build/bin/npy2c "$d/data.c" $(names input "$model" "$dir/inputs/%s.npy") -- \
    $(names output "$model" "$d/golden/%s.npy")
  # shellcheck disable=SC2086
  arm-none-eabi-gcc -std=c11 -O2 $flags -DEMU_TICKS $exact -I"$d" -Iruntime -Itests -Itests/emu \
    --specs=rdimon.specs -nostartfiles -T runtime/baremetal/mps2.ld runtime/baremetal/startup_cm.c \
    tests/emu/harness.c "$d/data.c" runtime/krt.c "$d/net.o" -lm -o "$d/ticks"
  local out ticks
  out=$("${qemu[@]}" "$d/ticks")
  ticks=$(sed -n 's/^systick: //p' <<<"$out")
  grep -q " 0 failed" <<<"$out" || echo "$4: the M4 outputs differ from kiln run's: $out" >&2
  echo "$((ticks * 40)) $((code + const))"
}
names() { /usr/bin/python3 -c 'import onnx, sys; g = onnx.load(sys.argv[2]).graph; [print(sys.argv[3] % v.name) for v in getattr(g, sys.argv[1])]' "$@"; }
echo "| model | Kiln fp32: instructions, flash (B) | Kiln dynamic file: instructions, flash (B) | fp32 / dynamic |${before:+ KILN_BEFORE dynamic: instructions, flash (B) |}"
echo "|---|---:|---:|---:|${before:+---:|}"
for m in dynamic_mlp mlp784 ffn256 mnist_cnn cifar_cnn; do
  dir=$src/$m
  f="n/a" r="-"
  # the CNNs' float Gemms and Softmax sum in another order than the interpreter: tolerance
  exact=-DEMU_EXACT
  case $m in *_cnn) exact= ;; esac
  read -r di dfl < <(m4 "$kiln" "$dir/dynamic.onnx" "$dir" "$m-dyn" $exact)
  if [ -f "$dir/float.onnx" ]; then
    read -r fi ffl < <(m4 "$kiln" "$dir/float.onnx" "$dir" "$m-fp32")
    f="$fi, $ffl" r=$(awk -v a="$fi" -v b="$di" 'BEGIN {printf "%.2f", a / b}')
  fi
  b=""
  if [ -n "$before" ]; then
    read -r bi bfl < <(m4 "$before" "$dir/dynamic.onnx" "$dir" "$m-before" $exact)
    b=" $bi, $bfl |"
  fi
  echo "| $m | $f | $di, $dfl | $r |$b"
done
