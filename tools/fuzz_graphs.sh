#!/usr/bin/env bash
# A longer differential run than the suite's fixed seeds: N random valid models (tests/rgraph.c)
# from seed START (default 1000), each through the interpreter and compiled at -O0/-O2/-O3,
# compared as tests/test_random_graphs.c documents. Models that fail are kept as
# /tmp/rgraph_<seed>.json (replay: build/bin/test_random_graphs --file /tmp/rgraph_<seed>.json).
#   usage: tools/fuzz_graphs.sh N [START] [--san]
# --san runs the sanitized build (build-san/, as tools/test-sanitized.sh builds it) and links the
# generated code with the sanitizers too.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: tools/fuzz_graphs.sh N [START] [--san]}
start=1000
san=0
for arg in "${@:2}"; do
  case $arg in
  --san) san=1 ;;
  *) start=$arg ;;
  esac
done
if [ $san = 1 ]; then
  flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  cmake -S . -B build-san -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
    >/dev/null
  cmake --build build-san --target test_random_graphs
  export CC="$PWD/tools/sancc.sh"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  bin=build-san/bin/test_random_graphs
else
  tools/build.sh >/dev/null
  bin=build/bin/test_random_graphs
fi
# One process per 25 seeds, two at a time: a crash loses one batch, not the run.
status=0
pids=()
for ((s = start; s < start + n; s += 25)); do
  e=$((s + 25 < start + n ? s + 25 : start + n))
  "$bin" --seeds "$s:$e" >"/tmp/fuzz_graphs.$s.log" 2>&1 &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
for ((s = start; s < start + n; s += 25)); do
  tail -n1 "/tmp/fuzz_graphs.$s.log" | sed "s/^/seeds $s+: /"
  grep -q ' 0 failed' "/tmp/fuzz_graphs.$s.log" || grep -E 'CHECK|model kept' "/tmp/fuzz_graphs.$s.log" | head -20
  rm -f "/tmp/fuzz_graphs.$s.log"
done
exit $status
