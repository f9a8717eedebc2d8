#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, -fsanitize=fuzzer,address,undefined) in build-fuzz/ and
# runs each for a fixed time: usage: tools/fuzz.sh [SECONDS_PER_TARGET] (default 60).
# Targets: model (JSON -> IR -> passes -> interpreter), npy (the .npy reader), cli (the kiln
# flag parser), driver (main() of `kiln build` executables on a .npy file); KILN_FUZZ_TARGETS
# picks some; KILN_FUZZ_ARGS adds libFuzzer options (e.g. -runs=10000000). A long run (README, Robustness): tools/fuzz.sh 1800; merge what it grows into
# fuzz/corpus/<target>/ with fuzz_<target> -merge=1 (tools/fuzz.sh prints the command).
# Seeds: fuzz/corpus/<target>/ plus every example, op case and malformed model. A crash, leak,
# timeout (a hang), out-of-memory or sanitizer report fails the run; the input that triggered it
# is saved as build-fuzz/artifacts/<target>/crash-* (add it to fuzz/corpus/<target>/ once fixed).
# Prints libFuzzer's final statistics (executions, executions per second) for each target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
tools/setup.sh --with-fuzz
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -G Ninja -DKILN_FUZZ=ON -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_C_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
targets=${KILN_FUZZ_TARGETS:-model npy cli driver}
cmake --build build-fuzz --target $(printf 'fuzz_%s ' $targets)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in $targets; do
  work=build-fuzz/work/$t art=build-fuzz/artifacts/$t seeds=build-fuzz/seeds/$t
  rm -rf "$work" "$seeds"
  mkdir -p "$work" "$art" "$seeds"
  # Seeds by kind, so each target starts from inputs of its own format.
  if [ $t = model ]; then
    find examples tests/ops tests/malformed -name '*.json' | while read -r f; do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
    # Models that name external weights find tests/malformed/malformed_weights_16.bin.
    export KILN_FUZZ_BASE_DIR=$PWD/tests/malformed
  elif [ $t = npy ] || [ $t = driver ]; then
    find examples tests/ops -name '*.npy' | while read -r f; do
      cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
  fi
  echo "fuzz_$t: $(find "$seeds" "fuzz/corpus/$t" -type f ! -name .keep | wc -l) seed files, ${secs}s"
  if ! build-fuzz/bin/fuzz_$t "$work" "fuzz/corpus/$t" "$seeds" -max_total_time="$secs" \
      -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -detect_leaks=1 \
      -print_final_stats=1 -artifact_prefix="$art/" ${KILN_FUZZ_ARGS:-} >"build-fuzz/fuzz_$t.log" 2>&1; then
    status=1
    echo "fuzz_$t FAILED:"
    grep -A40 -E 'ERROR|runtime error|SUMMARY|crash-|timeout|leak' "build-fuzz/fuzz_$t.log" | head -80
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
    "build-fuzz/fuzz_$t.log" | sed "s/^/fuzz_$t: /"
  # coverage: libFuzzer's last status line (cov: edges, ft: features, corp: corpus)
  grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "build-fuzz/fuzz_$t.log" | tail -1 |
    sed "s/^/fuzz_$t: final /"
  echo "fuzz_$t: corpus $(ls "$work" | wc -l) new files (keep what adds coverage:" \
    "build-fuzz/bin/fuzz_$t -merge=1 fuzz/corpus/$t $work)"
done
exit $status
