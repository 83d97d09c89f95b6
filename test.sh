#!/usr/bin/env bash
# Builds everything with the release preset and runs the whole test suite.
# Extra arguments are passed to ctest, e.g. ./test.sh -R Rdd -LE slow
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
ctest --preset release -j2 "$@"
