#!/usr/bin/env bash
# Sourced by the bench scripts that run ONNX Runtime (bench_ort.sh, bench_ort_int8.sh,
# bench_seed_ort.sh, bench_generate.sh): one place for where onnxruntime-node lives and how it is
# installed. ORT is a benchmark peer only, never a dependency of Kiln: it goes into the build
# tree (build/bench-ort/), installed with --ignore-scripts (its install script only fetches
# optional GPU providers; the linux-x64 CPU library is in the package). One thread for ORT and
# OpenBLAS, as Kiln's code runs.
# usage: root=REPO; . bench/ort_env.sh   (sets ortdir, exports NODE_PATH; installs on first use)
ortdir=$root/build/bench-ort
export NODE_PATH=$ortdir/node_modules OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
if [ ! -f "$ortdir/node_modules/onnxruntime-node/package.json" ]; then
  mkdir -p "$ortdir"
  [ -f "$ortdir/package.json" ] || echo '{"name": "kiln-bench-ort", "private": true}' >"$ortdir/package.json"
  (cd "$ortdir" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node)
fi
