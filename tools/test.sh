#!/usr/bin/env bash
# The whole test suite: install what is missing, build with -Werror, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --with-cross
tools/build.sh -DKILN_WERROR=ON
ctest --test-dir build --output-on-failure -j2 "$@"
