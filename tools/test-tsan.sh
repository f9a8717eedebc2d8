#!/usr/bin/env bash
# ThreadSanitizer: every example's NAME_run_ws from 4 threads at once, each with its own
# workspace, results compared with the single-threaded run (tests/test_threads.c), the generated
# code instrumented by LLVM 19's tsan passes and the test program built with clang-19
# -fsanitize=thread (the same release's runtime: it has the __tsan_memcpy/__tsan_memset that
# LLVM 19 instruments with, gcc 12's libtsan has not) in build-tsan/. Then the check that the check works: threads sharing one workspace (what the
# non-reentrant NAME_run does) must be reported as a data race.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --with-fuzz # clang-19 and its sanitizer runtimes
san="-fsanitize=thread -fno-omit-frame-pointer"
cmake -S . -B build-tsan -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" >/dev/null
cmake --build build-tsan --target test_threads
export CC=clang-19 # links the generated code into shared libraries
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
build-tsan/bin/test_threads --threads 4 examples/*/
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if build-tsan/bin/test_threads --racy --threads 4 examples/lenet5 >"$log" 2>&1; then
  echo "test-tsan: FAIL: threads sharing one workspace were not reported"; exit 1
fi
if ! grep -q "WARNING: ThreadSanitizer: data race" "$log"; then
  echo "test-tsan: FAIL: the shared-workspace run failed without a data race report:"
  tail -20 "$log"; exit 1
fi
echo "test-tsan: a shared workspace is reported as a data race (as expected):" \
  "$(grep -m1 -A2 'WARNING: ThreadSanitizer: data race' "$log" | tail -2 | tr -s ' ' | tr '\n' ' ')"
echo "test-tsan: passed"
