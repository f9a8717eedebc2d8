#!/usr/bin/env bash
# The model's GFLOP/s paired per call with an FMA probe of the same flops (bench/peak_paired.c):
# "% of the FMA peak" measured against the peak the core gives at that moment, on a machine
# whose speed changes by phases (other tenants; bench/README.md). Host x86 with FMA only.
# usage: bench/peak_paired.sh model.json [N] [in.npy ...]
#   N calls (default 2000); inputs default to the model's own .npy files next to model.json
#   (inputs/<name>.npy, as bench/bench_ort.sh exports them). Needs gcc and a built Kiln.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
model=$1 n=${2:-2000}
shift $(($# < 2 ? $# : 2))
kiln=$root/build/bin/kiln
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$kiln" compile "$model" -O3 --name net -o "$tmp/net.o"
macs=$("$kiln" inspect "$model" -O3 --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["macs"])')
gcc -std=c11 -O2 -march=native -I"$root/runtime" -I"$root/runtime/host" "$root/bench/peak_paired.c" \
  "$tmp/net.o" "$root/build/lib/libkiln_npy.a" "$root/build/lib/libkiln_rt.a" -lm -o "$tmp/peak_paired"
if [ $# -eq 0 ]; then
  mapfile -t ins < <(/usr/bin/python3 -c 'import json, os, sys; m = sys.argv[1]
print("\n".join(os.path.join(os.path.dirname(m), "inputs", i["name"] + ".npy") for i in json.load(open(m))["inputs"]))' "$model")
  set -- "${ins[@]}"
fi
echo "MACs $macs, $n calls"
"$tmp/peak_paired" "$macs" "$n" "$@"
