#!/usr/bin/env bash
# The checkpoint writer under real kernel errors: strace makes the N-th write(2) of a checkpoint
# write fail with ENOSPC, for every N, and fdatasync/rename fail with EIO/ENOSPC. Each time the
# writer must exit non-zero naming the error, leave no temporary file, and leave the earlier
# checkpoint byte-identical and loadable. Exits 77 (skipped) where ptrace is not allowed.
#
#   enospc_test.sh CHECKPOINT_WRITE_TOOL STRACE
set -euo pipefail

tool=$1
strace=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice_enospc.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# LeakSanitizer cannot run under ptrace; sanitizer builds still check everything else.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

if ! "$strace" -f -o /dev/null true 2>/dev/null; then
  echo "enospc_test: strace cannot trace here (ptrace not permitted); skipping"
  exit 77
fi

fail() {
  echo "enospc_test: FAIL: $*" >&2
  exit 1
}

"$tool" write "$dir" 1000 first
cp "$dir/checkpoint-0000000001000" "$dir.expected"
trap 'rm -rf "$dir" "$dir.expected"' EXIT

# -P limits tracing, and so injection, to the syscalls on the temporary file: sanitizer runtimes
# make write(2) calls of their own at start-up.
temp="$dir/.checkpoint-0000000002000.tmp"

# Runs a write of checkpoint 2000 under the given strace injection; it must fail with `reason`
# and leave the directory as it was.
expect_failed_write() {
  local reason=$1
  shift
  local out rc=0
  out=$("$strace" -f -o /dev/null -P "$temp" "$@" "$tool" write "$dir" 2000 second 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "write under '$*' succeeded"
  [[ $out == *"$reason"* ]] || fail "write under '$*' said: $out"
  check_intact "$*"
}

check_intact() {
  local entries
  entries=$(ls -A "$dir")
  [[ $entries == "checkpoint-0000000001000" ]] || fail "after '$1' the directory holds: $entries"
  cmp -s "$dir/checkpoint-0000000001000" "$dir.expected" || fail "after '$1' checkpoint 1000 changed"
  [[ $("$tool" load "$dir") == "1000 first" ]] || fail "after '$1' checkpoint 1000 does not load"
}

failures=0
for n in $(seq 1 50); do
  rc=0
  out=$("$strace" -f -o /dev/null -P "$temp" -e trace=write -e inject=write:error=ENOSPC:when=$n \
    "$tool" write "$dir" 2000 second 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then
    break  # the write has fewer than n write(2) calls: nothing was injected
  fi
  [[ $out == *"No space left on device"* ]] || fail "write with write #$n failing said: $out"
  check_intact "write #$n fails"
  failures=$((failures + 1))
done
[[ $failures -ge 3 ]] || fail "only $failures write(2) calls could be failed"
[[ $("$tool" load "$dir") == "2000 second" ]] || fail "the uninjected write did not load"
rm "$dir/checkpoint-0000000002000"

expect_failed_write "Input/output error" -e trace=fdatasync -e inject=fdatasync:error=EIO
expect_failed_write "No space left on device" \
  -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:error=ENOSPC
echo "enospc_test: ok ($failures injected write failures, fdatasync and rename failures)"
