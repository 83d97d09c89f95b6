#!/usr/bin/env bash
# Builds the word_count example and runs it on the King James Bible: the top five words.
# Extra arguments are passed to word_count, e.g. scripts/demo-word-count.sh --master 'local[2]'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target word_count

corpus=build/data/kjv.txt
if [[ ! -s "$corpus" ]]; then
  scripts/make-corpus.sh "$corpus" 1
fi

build/release/examples/word_count "$@" "$corpus"
