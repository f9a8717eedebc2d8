#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc) in
# build-san/. Generated model code runs inside sanitized processes: tests load it into sanitized
# test programs and `kiln build` links sanitized executables (CC=tools/sancc.sh). LeakSanitizer
# (on by default with ASan) fails any test whose process leaks, the compiler included.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-san -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" \
  >/dev/null
cmake --build build-san
export CC="$PWD/tools/sancc.sh"
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-san --output-on-failure -j2 "$@"
