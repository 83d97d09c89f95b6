#!/usr/bin/env bash
# Usage: bench/run.sh [--repeat N]
# Builds the bench preset, makes the 10-copy KJV corpus if missing, and runs wordcount_bench.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset bench
cmake --build --preset bench --target wordcount_bench
corpus=build/data/kjv10.txt
[[ -s "$corpus" ]] || scripts/make-corpus.sh "$corpus" 10
build/bench/bench/wordcount_bench "$corpus" "$@"
