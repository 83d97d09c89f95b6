#!/usr/bin/env bash
# Usage: scripts/make-corpus.sh OUT COPIES
# Writes the King James Bible (Debian package bible-kjv, ~4.4 MB per copy)
# COPIES times into OUT. Written to OUT.tmp first, then moved into place.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 OUT COPIES" >&2
  exit 2
fi
out=$1
copies=$2
if ! [[ "$copies" =~ ^[1-9][0-9]*$ ]]; then
  echo "make-corpus: COPIES must be a positive integer, got '$copies'" >&2
  exit 2
fi
if ! command -v bible >/dev/null 2>&1; then
  echo "make-corpus: 'bible' not found; install bible-kjv (scripts/install-deps.sh)" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp"
one=$(mktemp)
trap 'rm -f "$tmp" "$one"' EXIT
env -u COLUMNS bible -f "Gen1:1-Rev22:21" >"$one"
if [[ ! -s "$one" ]]; then
  echo "make-corpus: bible produced no output" >&2
  exit 1
fi

: >"$tmp"
for ((i = 0; i < copies; i++)); do
  cat "$one" >>"$tmp"
done
mv -f "$tmp" "$out"
