#!/usr/bin/env bash
# Kiln's generated MatMul (both operands run-time inputs: the transformer's sequence products)
# against OpenBLAS's cblas_sgemm on one thread, same sizes, interleaved, in one run. Evidence for
# the kernel issue's "--blas" question (docs/kernels.md): does linking OpenBLAS pay anywhere?
# usage: bench/blas.sh [ROUNDS]   (after tools/build.sh; needs libopenblas-dev)
# Prints per size the best median over ROUNDS (default 3) interleaved rounds of each, and
# OpenBLAS's core type (Debian's OpenBLAS picks its kernels at run time; OPENBLAS_CORETYPE
# overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
kiln=${KILN:-build/bin/kiln}
tmp=$(mktemp -d /tmp/kiln-bench-blas-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 bench/sgemm_openblas.c -lopenblas -o "$tmp/sgemm"
core=$(OPENBLAS_VERBOSE=2 OPENBLAS_NUM_THREADS=1 "$tmp/sgemm" 1 1 1 1 2>&1 | sed -n 's/^Core: //p' | tail -1)
echo "OpenBLAS core type: ${core:-unknown} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}), one thread"
echo
echo "| M x N x K | Kiln (µs) | OpenBLAS (µs) | Kiln ÷ OpenBLAS | Kiln GFLOP/s | OpenBLAS GFLOP/s |"
echo "|---|---:|---:|---:|---:|---:|"
for size in 32x64x64 64x64x64 128x128x128 32x512x128 256x256x256 512x512x512; do
  IFS=x read -r M N K <<<"$size"
  d=$tmp/$size
  mkdir -p "$d"
  python3 - "$d" "$M" "$N" "$K" <<'PY'
import json, struct, sys
d, M, N, K = sys.argv[1], *map(int, sys.argv[2:])
model = {"format": "kiln-model", "version": 1, "opset": 17, "name": "mm",
         "inputs": [{"name": "a", "dtype": "f32", "shape": [M, K]},
                    {"name": "b", "dtype": "f32", "shape": [K, N]}],
         "outputs": [{"name": "c", "dtype": "f32", "shape": [M, N]}], "initializers": [],
         "nodes": [{"name": "mm", "op": "MatMul", "inputs": ["a", "b"], "outputs": ["c"]}]}
json.dump(model, open(f"{d}/mm.json", "w"))
def npy(path, shape):
    n = shape[0] * shape[1]
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % shape
    header += " " * (63 - len(header) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % n, *[((i * 7) % 13 - 6) / 8 for i in range(n)]))
npy(f"{d}/a.npy", (M, K))
npy(f"{d}/b.npy", (K, N))
PY
  "$kiln" build "$d/mm.json" -O3 -o "$d/mm" >/dev/null
  reps=$((20000000 / (M * N * K) + 20))
  kbest="" obest=""
  for _ in $(seq "$rounds"); do
    k=$("$d/mm" "$d/a.npy" "$d/b.npy" -o "$d" --repeat "$reps" | sed -n 's/^latency: median \([0-9.]*\).*/\1/p')
    o=$(OPENBLAS_NUM_THREADS=1 "$tmp/sgemm" "$M" "$N" "$K" "$reps" | sed -n 's/^median \([0-9.]*\).*/\1/p')
    kbest=$(python3 -c "print(min([float(x) for x in '$kbest $k'.split()]))")
    obest=$(python3 -c "print(min([float(x) for x in '$obest $o'.split()]))")
  done
  python3 -c "
M, N, K, k, o = $M, $N, $K, $kbest, $obest
f = 2 * M * N * K / 1e3
print(f'| {M} x {N} x {K} | {k:.1f} | {o:.1f} | {k / o:.2f} | {f / k:.1f} | {f / o:.1f} |')"
done
