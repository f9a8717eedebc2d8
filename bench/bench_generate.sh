#!/usr/bin/env bash
# Token generation, Kiln against ONNX Runtime on one thread: the GPT-2-style decoder of
# tools/gpt_tiny.py at a few configurations (seeded weights, tools/gpt_bench_models.py).
#   Kiln: the decoder over a run-time number of tokens (--max-dim seq=CTX), `kiln build
#         --generate -O3`: prefill of the prompt in one call, then one token per call, the KV
#         cache in the caller's state buffer, updated in place.
#   ORT:  the same one-token decode step exported to ONNX (step.onnx), the cache an input and an
#         output copied back in every call (bench/ort_generate.js), the prompt token by token.
# Both generate greedily; their ids must equal torch's (the run fails otherwise). Prints a
# markdown table: decode tokens/s (median of R runs), and the prompt's time with Kiln's prefill
# against feeding it token by token (--no-prefill), and the build's time and peak RSS.
# A configuration NAME:V:D:H:L:CTX[:SCALE[:N]] (SCALE: tools/gpt_bench_models.py; N tokens to
# generate, default min(CTX - 8, 64)); `gpt2-124m` stands for GPT-2's 124 M-parameter
# configuration, gpt2-124m:50257:768:12:12:1024:3:16 (1.3 GB of models exported into OUT, a few
# minutes). Its random weights make a badly conditioned model: torch's own float32 and float64
# logits part by ~0.5 (of ~400) after a few dozen tokens, so greedy ids can only be compared
# over a short run; at 16 tokens the smallest top-2 margin is 0.49.
# Requirements: /usr/bin/python3 with torch, node + npm (onnxruntime-node is installed into
# build/bench-ort/ as bench/bench_ort.sh does). Numbers are for this machine and its load.
# usage: bench/bench_generate.sh [--runs R] [--configs "NAME:V:D:H:L:CTX[:SCALE[:N]] ..."] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=3 out=build/bench-gen
configs="tiny:64:32:2:2:48 small:2048:256:4:4:256"
while [ $# -gt 0 ]; do
  case $1 in
  --runs) runs=$2; shift 2 ;;
  --configs) configs=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  *) echo "usage: $0 [--runs R] [--configs \"NAME:V:D:H:L:CTX[:SCALE[:N]] ...\"] [--out DIR]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
kiln=$root/build/bin/kiln
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "== Kiln $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
tools/build.sh >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
. bench/ort_env.sh

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ids_of() { "$py" -c 'import numpy, sys; print(",".join(map(str, numpy.load(sys.argv[1]).ravel().tolist())))' "$1"; }

table="| model | parameters | Kiln tokens/s | ORT tokens/s (cache copied) | Kiln / ORT | prompt of P tokens: prefill | token by token | kiln build: time, peak RSS |
|---|---|---|---|---|---|---|---|"
for cfg in $configs; do
  [ "$cfg" = gpt2-124m ] && cfg=gpt2-124m:50257:768:12:12:1024:3:16
  IFS=: read -r name V D H L CTX scale n <<<"$cfg"
  [ -n "$n" ] || n=$((CTX - 8 < 64 ? CTX - 8 : 64)) # tokens to generate after the 6-token prompt
  echo "== $name: V=$V D=$D H=$H L=$L CTX=$CTX, $n tokens"
  "$py" tools/gpt_bench_models.py "$out" "$name" "$V" "$D" "$H" "$L" "$CTX" "$n" "${scale:-1}" \
    >"$out/$name.export.log" 2>&1 ||
    { cat "$out/$name.export.log"; exit 1; }
  params=$(sed -n 's/.*, \([0-9]*\) parameters/\1/p' "$out/$name.export.log")
  d=$out/$name
  sed -n 's/^greedy .*, smallest/   torch greedy: smallest/p' "$out/$name.export.log"
  /usr/bin/time -f '%e %M' -o "$d/build.time" \
    "$kiln" build --generate -O3 -v "$d/kiln/model.json" --max-dim "seq=$CTX" -o "$d/gen" 2>"$d/build.err" ||
    { cat "$d/build.err"; exit 1; }
  read -r bsec bkib <"$d/build.time"
  bmib=$((bkib / 1024))
  echo "   kiln build: $bsec s, peak RSS $bmib MiB, executable $(($(stat -c %s "$d/gen") / 1048576)) MiB; stages:" \
    $(sed -n 's/^kiln: \([a-z]*\) *\([0-9.]* s\).*/\1 \2,/p' "$d/build.err")
  prompt=$(ids_of "$d/prompt.npy")
  golden=$(ids_of "$d/golden_ids.npy")
  kiln_tps=() ort_tps=()
  for r in $(seq "$runs"); do
    ids=$("$d/gen" "$prompt" -n "$n" 2>"$d/kiln.err" | tr ' ' ',')
    [ "$ids" = "$golden" ] || { echo "Kiln's ids differ from torch's: $ids vs $golden" >&2; exit 1; }
    kiln_tps+=("$(sed -n 's/.*: \([0-9.]*\) tokens\/s/\1/p' "$d/kiln.err")")
    node bench/ort_generate.js "$d/step.onnx" "$prompt" "$n" >"$d/ort.json"
    ids=$("$py" -c 'import json, sys; print(",".join(map(str, json.load(open(sys.argv[1]))["ids"])))' "$d/ort.json")
    [ "$ids" = "$golden" ] || { echo "ORT's ids differ from torch's: $ids vs $golden" >&2; exit 1; }
    ort_tps+=("$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["tokens_per_s"])' "$d/ort.json")")
  done
  k=$(printf '%s\n' "${kiln_tps[@]}" | median)
  o=$(printf '%s\n' "${ort_tps[@]}" | median)
  echo "   Kiln tokens/s: ${kiln_tps[*]}; ORT: ${ort_tps[*]}"
  # prefill: the whole sequence but its last token as the prompt (P = 6 + n - 1 tokens)
  long=$(ids_of "$d/kiln/inputs/tok.npy")
  p_len=$(echo "$long" | tr ',' '\n' | wc -l)
  pre=() tbt=()
  for r in $(seq "$runs"); do
    "$d/gen" "$long" -n 1 >/dev/null 2>"$d/pre.err"
    pre+=("$(sed -n 's/.* prompt tokens in \([0-9.]*\) ms.*/\1/p' "$d/pre.err")")
    "$d/gen" "$long" -n 1 --no-prefill >/dev/null 2>"$d/pre.err"
    tbt+=("$(sed -n 's/.* prompt tokens in \([0-9.]*\) ms.*/\1/p' "$d/pre.err")")
  done
  pm=$(printf '%s\n' "${pre[@]}" | median)
  tm=$(printf '%s\n' "${tbt[@]}" | median)
  echo "   prefill of $p_len tokens: ${pre[*]} ms; token by token: ${tbt[*]} ms"
  table+="
| $name (V=$V D=$D H=$H L=$L CTX=$CTX) | $params | $(printf '%.1f' "$k") | $(printf '%.1f' "$o") | $(echo "scale=1; $k / $o" | bc)x | P=$p_len: $pm ms | $tm ms | $bsec s, $bmib MiB |"
done
echo
echo "$table"
