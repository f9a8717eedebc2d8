#!/usr/bin/env bash
# Kiln in users' build systems: usage: test_packaging.sh MODE KILN SRC_DIR BIN_DIR BUILD_DIR
#   install   `cmake --install` lays out compiler, libraries, headers, CMake package, pkg-config
#   app       examples/app_cmake (two models, find_package(Kiln)) from a clean directory; runs it
#             against the goldens; editing weights or JSON recompiles only that model
#   makefile  examples/makefile with pkg-config; rebuilds when the weights change
#   firmware  examples/firmware cross-compiled for Cortex-M4F, run on QEMU, checked against the
#             reference interpreter
#   repro     the same model and flags give byte-identical objects and headers from different
#             directories and paths
set -u
mode=$1 kiln=$2 src=$3 bin=$4 build=$5
tmp=$(mktemp -d /tmp/kiln-pkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { if "$@"; then ok; else bad "$*"; fi; }
prefix=$tmp/prefix

install_kiln() {
  cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { bad "cmake --install failed: $(tail -5 "$tmp/install.log")"; return 1; }
}
# A copy of the models, so a test can touch them.
copy_models() {
  mkdir -p "$tmp/models"
  for m in "$@"; do cp -r "$src/examples/$m" "$tmp/models/$m"; done
}

case $mode in
install)
  install_kiln || exit 1
  for f in bin/kiln lib/libkiln_rt.a lib/libkiln_npy.a lib/libkiln_driver.a include/kiln/krt.h \
    include/kiln/krt_npy.h lib/cmake/Kiln/KilnConfig.cmake lib/cmake/Kiln/KilnConfigVersion.cmake \
    lib/cmake/Kiln/KilnModel.cmake lib/pkgconfig/kiln.pc lib/pkgconfig/kiln-npy.pc \
    share/kiln/runtime/krt.c share/kiln/baremetal/startup_cm.c share/kiln/baremetal/mps2.ld; do
    check test -f "$prefix/$f"
  done
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  check test "$(pkg-config --variable=kiln kiln)" -ef "$prefix/bin/kiln"
  check grep -q -- "-lkiln_npy" <(pkg-config --libs kiln-npy)
  check grep -q -- "-lkiln_rt" <(pkg-config --libs kiln-npy)
  # the installed compiler works on its own, `kiln build` included (it finds ../lib)
  check "$prefix/bin/kiln" build "$src/examples/mlp/model.json" -o "$tmp/mlp"
  mkdir -p "$tmp/out"
  check "$tmp/mlp" "$src/examples/mlp/inputs/x.npy" -o "$tmp/out" --quiet
  check "$bin/npycmp" "$tmp/out/logits.npy" "$src/examples/mlp/golden/logits.npy"
  ;;
app)
  install_kiln || exit 1
  copy_models mlp lenet5
  b=$tmp/build-app
  if ! cmake -S "$src/examples/app_cmake" -B "$b" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DMODELS_DIR="$tmp/models" >"$tmp/log" 2>&1; then
    bad "configure failed: $(tail -20 "$tmp/log")"
  else
    check cmake --build "$b"
    # each example has its own input image: check each model on the image of its golden
    mkdir -p "$tmp/out1" "$tmp/out2"
    check "$b/digits" "$src/examples/mlp/inputs/x.npy" "$tmp/out1"
    check "$bin/npycmp" "$tmp/out1/mlp_logits.npy" "$src/examples/mlp/golden/logits.npy"
    check "$b/digits" "$src/examples/lenet5/inputs/x.npy" "$tmp/out2"
    check "$bin/npycmp" "$tmp/out2/cnn_logits.npy" "$src/examples/lenet5/golden/logits.npy"
    check cmake --build "$b" --target digits -- -n # builds cleanly, nothing left
    check test -z "$(ninja -C "$b" -n | grep -i 'kiln: compiling')"
    # new weights: only that model is recompiled
    touch "$tmp/models/lenet5/weights.bin"
    cmake --build "$b" >"$tmp/log" 2>&1
    check grep -q "compiling model digits_cnn" "$tmp/log"
    check test -z "$(grep "compiling model digits_mlp" "$tmp/log")"
    # an edited JSON: recompiled
    touch "$tmp/models/mlp/model.json"
    cmake --build "$b" >"$tmp/log" 2>&1
    check grep -q "compiling model digits_mlp" "$tmp/log"
  fi
  # kiln_add_model with external weights: the weights file is an output and a target property
  p=$tmp/ext
  mkdir -p "$p"
  cat >"$p/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(ext C)
find_package(Kiln REQUIRED)
kiln_add_model(policy MODEL "$src/examples/ppo_policy/model.json" OPTIONS --weights=external)
add_executable(ext main.c)
target_link_libraries(ext PRIVATE policy Kiln::npy)
target_compile_definitions(ext PRIVATE WEIGHTS="\$<TARGET_PROPERTY:policy,KILN_WEIGHTS_FILE>"
                           EXAMPLE="$src/examples/ppo_policy")
CM
  cat >"$p/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "krt_npy.h"
#include "policy.h"
static _Alignas(64) unsigned char w[POLICY_WEIGHTS_SIZE + 1], ws[POLICY_WORKSPACE_SIZE + 1];
int main(void) {
  FILE *f = fopen(WEIGHTS, "rb");
  if (!f || fread(w, 1, sizeof w, f) != POLICY_WEIGHTS_SIZE) return 1;
  fclose(f);
  krt_npy x, g[3];
  char err[256];
  const char *names[3] = {POLICY_OUT0_NAME, POLICY_OUT1_NAME, POLICY_OUT2_NAME};
  float out[3][16];
  if (!krt_npy_read(EXAMPLE "/inputs/obs.npy", &x, err, sizeof err)) return 1;
  if (policy_run_ws(x.data, out[0], out[1], out[2], ws, w) != 0) return 1;
  for (int k = 0; k < 3; k++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s.npy", EXAMPLE, names[k]);
    if (!krt_npy_read(path, &g[k], err, sizeof err)) return 1;
    for (long i = 0; i < g[k].numel; i++) {
      float want = ((float *)g[k].data)[i], d = out[k][i] - want;
      if (!(d <= 1e-5f + 1e-4f * (want < 0 ? -want : want) && -d <= 1e-5f + 1e-4f * (want < 0 ? -want : want))) return 2;
    }
    krt_npy_free(&g[k]);
  }
  krt_npy_free(&x); /* the sanitized suite builds this with LeakSanitizer */
  puts("ext ok");
  return 0;
}
C
  if cmake -S "$p" -B "$p/b" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1 &&
    cmake --build "$p/b" >>"$tmp/log" 2>&1; then
    check test -f "$p/b/kiln_models/policy/policy.weights"
    check grep -q "ext ok" <("$p/b/ext")
  else
    bad "external-weights project: $(tail -20 "$tmp/log")"
  fi
  # a missing MODEL is a configure error that says so
  mkdir -p "$tmp/bad"
  printf 'cmake_minimum_required(VERSION 3.20)\nproject(bad C)\nfind_package(Kiln REQUIRED)\nkiln_add_model(m NAME x)\n' >"$tmp/bad/CMakeLists.txt"
  cmake -S "$tmp/bad" -B "$tmp/bad/b" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1
  check test $? -ne 0
  check grep -q "MODEL <file.json> is required" "$tmp/log"
  ;;
makefile)
  install_kiln || exit 1
  copy_models mlp
  cp -r "$src/examples/makefile" "$tmp/mk"
  mk=(make -C "$tmp/mk" KILN_PREFIX="$prefix" MODEL_DIR="$tmp/models/mlp" O="$tmp/mk-out")
  check "${mk[@]}" -s
  check "$tmp/mk-out/classify" "$src/examples/mlp/inputs/x.npy" "$tmp/logits.npy"
  check "$bin/npycmp" "$tmp/logits.npy" "$src/examples/mlp/golden/logits.npy"
  check "${mk[@]}" -q # up to date
  touch "$tmp/models/mlp/weights.bin"
  "${mk[@]}" -q
  check test $? -eq 1 # out of date after a weights change
  check "${mk[@]}" -s
  check "${mk[@]}" -q
  ;;
firmware)
  install_kiln || exit 1
  command -v arm-none-eabi-gcc >/dev/null || { bad "arm-none-eabi-gcc not found"; exit 1; }
  b=$tmp/build-fw
  if ! cmake -S "$src/examples/firmware" -B "$b" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_TOOLCHAIN_FILE="$src/examples/firmware/arm-none-eabi.cmake" >"$tmp/log" 2>&1; then
    bad "configure failed: $(tail -20 "$tmp/log")"
  elif ! cmake --build "$b" >"$tmp/log" 2>&1; then
    bad "build failed: $(tail -20 "$tmp/log")"
  else
    ok
    check test "$(od -An -tx1 -j18 -N2 "$b/firmware.elf" | tr -d ' \n')" = "2800" # EM_ARM
    timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel "$b/firmware.elf" >"$tmp/fw.out" 2>&1
    check test $? -eq 0
    # the same image through the reference interpreter on the host
    python3 - "$tmp/x.npy" <<'PY'
import struct, sys
vals = [1.0 if 4 <= r < 24 and 13 <= c < 16 else 0.0 for r in range(28) for c in range(28)]
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<784f", *vals))
PY
    mkdir -p "$tmp/ref"
    check "$kiln" run "$src/examples/lenet5/model.json" "$tmp/x.npy" -o "$tmp/ref"
    check python3 - "$tmp/ref/logits.npy" "$tmp/fw.out" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
hlen = struct.unpack("<H", data[8:10])[0]
ref = struct.unpack("<10f", data[10 + hlen:10 + hlen + 40])
got = {}
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 4 and p[0] == "logit":
        got[int(p[1])] = struct.unpack("<f", struct.pack("<I", int(p[2], 16)))[0]
assert sorted(got) == list(range(10)), f"firmware printed {sorted(got)}"
for k in range(10):
    assert abs(got[k] - ref[k]) <= 1e-5 + 1e-4 * abs(ref[k]), f"logit {k}: {got[k]} vs {ref[k]}"
PY
    check grep -q "^digit " "$tmp/fw.out"
    # the int8 MNIST CNN linked for 256 KiB of flash / 64 KiB of RAM: the same probabilities as
    # the reference interpreter running the same quantized (and pruned) graph
    timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none \
      -semihosting-config enable=on,target=native -kernel "$b/mnist_int8.elf" >"$tmp/q8.out" 2>&1
    check test $? -eq 0
    mkdir -p "$tmp/ref8"
    check "$kiln" run "$src/examples/mnist_cnn/model.json" "$tmp/x.npy" -o "$tmp/ref8" \
      --quantize=int8 --calibrate "$src/examples/mnist_cnn/inputs/x.npy" --prune=channels:conv2=0.6
    check python3 - "$tmp/ref8/probs.npy" "$tmp/q8.out" "$b/mnist_int8.map" <<'PY'
import re, struct, sys
data = open(sys.argv[1], "rb").read()
hlen = struct.unpack("<H", data[8:10])[0]
ref = struct.unpack("<10f", data[10 + hlen:10 + hlen + 40])
got = {}
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 3 and p[0] == "prob":
        got[int(p[1])] = struct.unpack("<f", struct.pack("<I", int(p[2], 16)))[0]
assert sorted(got) == list(range(10)), f"firmware printed {sorted(got)}"
for k in range(10):  # int8 up to the DequantizeLinear (exact), then a float Softmax
    assert abs(got[k] - ref[k]) <= 1e-6 + 1e-5 * abs(ref[k]), f"prob {k}: {got[k]} vs {ref[k]}"
# the link used the small part (FLASH_SIZE / RAM_SIZE in the map file)
m = open(sys.argv[3]).read()
assert re.search(r"0x0*40000\s+FLASH_SIZE", m) and re.search(r"0x0*10000\s+RAM_SIZE", m), "sizes"
PY
  fi
  ;;
repro)
  # Two compiles of each configuration: different working directories, relative vs absolute
  # model path, and a copy of the model elsewhere.
  copy_models mnist_cnn
  mkdir -p "$tmp/a" "$tmp/b/deeper/dir"
  for cfg in "" "-O3" "--target thumbv7em-none-eabihf --cpu cortex-m4 --features +vfp4d16sp" \
    "--target aarch64-linux-gnu --cpu generic -O1" "--weights=external" \
    "--weights-section .kiln_weights --target thumbv6m-none-eabi --cpu cortex-m0plus"; do
    # shellcheck disable=SC2086
    (cd "$tmp/a" && "$kiln" compile "$src/examples/mnist_cnn/model.json" $cfg -o net.o) ||
      { bad "compile $cfg"; continue; }
    # shellcheck disable=SC2086
    (cd "$tmp/b/deeper" && "$kiln" compile ../../models/mnist_cnn/model.json $cfg -o dir/net.o) ||
      { bad "compile $cfg (copy)"; continue; }
    check cmp "$tmp/a/net.o" "$tmp/b/deeper/dir/net.o"
    check cmp "$tmp/a/net.h" "$tmp/b/deeper/dir/net.h"
    case $cfg in *external*) check cmp "$tmp/a/net.weights" "$tmp/b/deeper/dir/net.weights" ;; esac
  done
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "pkg-$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
