#!/usr/bin/env bash
# The main job: install what is missing, build Kiln, compile an example model (a CNN for
# MNIST digits) to a native executable and run it on the bundled sample input.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
model=${1:-mnist_cnn}
ex=examples/$model
echo "== kiln build $ex/model.json -o build/$model"
build/bin/kiln build "$ex/model.json" -o "build/$model"
inputs=$(python3 -c 'import json,sys; print(" ".join("'"$ex"'/inputs/%s.npy" % i["name"] for i in json.load(open(sys.argv[1]))["inputs"]))' "$ex/model.json")
mkdir -p "build/out-$model"
echo "== build/$model $inputs -o build/out-$model"
"build/$model" $inputs -o "build/out-$model"
for golden in "$ex"/golden/*.npy; do
  if build/bin/npycmp "build/out-$model/$(basename "$golden")" "$golden"; then
    echo "$(basename "$golden" .npy): matches the PyTorch golden (rtol 1e-4, atol 1e-5)"
  else
    echo "$(basename "$golden" .npy): DIFFERS from the PyTorch golden" && exit 1
  fi
done
