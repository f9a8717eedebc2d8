#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, -fsanitize=fuzzer,address,undefined) in build-fuzz/ and
# runs each for a fixed time: usage: tools/fuzz.sh [SECONDS_PER_TARGET] (default 60).
# Runs: model (JSON -> IR -> passes -> interpreter), onnx (ONNX bytes -> IR -> passes), npy (the .npy reader), codegen (-> LLVM IR,
# verified), codegen-obj (the codegen target with KILN_FUZZ_CODEGEN_OBJ=1: LLVM's pipeline and
# object emission; slower, half the time), cli (the kiln flag parser), driver (main() of `kiln
# build` executables on a .npy file). KILN_FUZZ_TARGETS picks some runs; KILN_FUZZ_ARGS adds
# libFuzzer options (e.g. -runs=10000000). A long run (README, Robustness): tools/fuzz.sh 1800;
# merge what it grows into fuzz/corpus/<target>/ with fuzz_<target> -merge=1 (printed below).
# Seeds: fuzz/corpus/<target>/ plus every example, op case and malformed model, and 200 random
# valid models (tests/rgraph.c; 40 of them alone for codegen-obj, where LLVM's optimizer runs on
# every input). A crash, leak, timeout (a hang), out-of-memory or sanitizer report fails the run;
# the input that triggered it is saved as build-fuzz/artifacts/<target>/crash-* (add it to
# fuzz/corpus/<target>/ once fixed). Prints libFuzzer's final statistics (executions, executions
# per second) and coverage for each run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
tools/setup.sh --with-fuzz
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -G Ninja -DKILN_FUZZ=ON -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_C_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
runs=${KILN_FUZZ_TARGETS:-model onnx npy codegen codegen-obj cli driver}
targets=$(for r in $runs; do echo "fuzz_${r%-obj}"; done | sort -u | tr '\n' ' ')
cmake --build build-fuzz --target $targets test_random_graphs
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for run in $runs; do
  t=${run%-obj} time=$secs
  unset KILN_FUZZ_CODEGEN_OBJ
  if [ $run = codegen-obj ]; then
    export KILN_FUZZ_CODEGEN_OBJ=1
    time=$(((secs + 1) / 2))
  fi
  work=build-fuzz/work/$run art=build-fuzz/artifacts/$t seeds=build-fuzz/seeds/$run
  rm -rf "$work" "$seeds"
  mkdir -p "$work" "$art" "$seeds"
  # Seeds by kind, so each target starts from inputs of its own format.
  if [ $run = codegen-obj ]; then
    # LLVM's optimizer on every seed would take the whole budget: small random models only
    build-fuzz/bin/test_random_graphs --seeds 1:41 --write "$seeds" >/dev/null
    export KILN_FUZZ_BASE_DIR=$PWD/tests/malformed
  elif [ $t = model ] || [ $t = codegen ]; then
    find examples tests/ops tests/malformed -name '*.json' | while read -r f; do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
    build-fuzz/bin/test_random_graphs --seeds 1:201 --write "$seeds" >/dev/null
    # Models that name external weights find tests/malformed/malformed_weights_16.bin.
    export KILN_FUZZ_BASE_DIR=$PWD/tests/malformed
  elif [ $t = onnx ]; then
    find examples tests/onnx tests/malformed -name '*.onnx' | while read -r f; do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
    export KILN_FUZZ_BASE_DIR=$PWD/tests/malformed
  elif [ $t = npy ] || [ $t = driver ]; then
    find examples tests/ops -name '*.npy' | while read -r f; do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
  fi
  echo "fuzz_$run: $(find "$seeds" "fuzz/corpus/$t" -type f ! -name .keep | wc -l) seed files, ${time}s"
  if ! build-fuzz/bin/fuzz_$t "$work" "fuzz/corpus/$t" "$seeds" -max_total_time="$time" \
      -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -detect_leaks=1 \
      -print_final_stats=1 -artifact_prefix="$art/" ${KILN_FUZZ_ARGS:-} >"build-fuzz/fuzz_$run.log" 2>&1; then
    status=1
    echo "fuzz_$run FAILED:"
    grep -A40 -E 'ERROR|runtime error|SUMMARY|crash-|timeout|leak' "build-fuzz/fuzz_$run.log" | head -80
  fi
  # coverage after loading the seeds (INITED) and at the end (DONE): edges (cov) and features (ft)
  grep -E '#[0-9]+[[:space:]]+(INITED|DONE)' "build-fuzz/fuzz_$run.log" | sed "s/^/fuzz_$run: /"
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
    "build-fuzz/fuzz_$run.log" | sed "s/^/fuzz_$run: /"
  echo "fuzz_$run: corpus $(ls "$work" | wc -l) new files (keep what adds coverage:" \
    "build-fuzz/bin/fuzz_$t -merge=1 fuzz/corpus/$t $work)"
done
exit $status
