#!/usr/bin/env bash
# Installs Kiln's build dependencies from Debian 12's archive where they are missing.
# libprotobuf-c-dev and protobuf-c-compiler build the ONNX importer (frontend/fe_onnx.c);
# python3-onnx and python3-numpy write the ONNX files and .npy data some tests use; strace lets
# pkg_install check that the installed kiln never executes python.
# --with-torch also installs PyTorch and scikit-learn (its bundled digits dataset: tools/digits_data.py),
# needed only to regenerate goldens and to train the example models (tools/gen_*.py, tools/train_*.py).
# --with-cross also installs the cross compilers and QEMU that the emulation tests use.
# --with-fuzz also installs clang-19 and its runtimes (libFuzzer) for tools/fuzz.sh.
set -euo pipefail
pkgs=(llvm-19-dev libzstd-dev libcjson-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev cmake ninja-build pkg-config gcc g++
      python3 binutils make python3-numpy python3-onnx strace)
for arg in "$@"; do
  case $arg in
  --with-torch) pkgs+=(python3-torch python3-sklearn) ;;
  # clang's libFuzzer and sanitizer runtimes for tools/fuzz.sh
  --with-fuzz) pkgs+=(clang-19 libclang-rt-19-dev) ;;
  # cross compilers, C libraries and QEMU for the emulation tests (tests/test_emulation.sh)
  --with-cross) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
                       libc6-dev-armhf-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
                       qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm) ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "kiln setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q -o DPkg::Lock::Timeout=900 --no-install-recommends "${missing[@]}"
