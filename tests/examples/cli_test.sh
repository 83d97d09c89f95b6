#!/usr/bin/env bash
# The examples' command lines (CLI11), run as a user runs them: --help prints the usage and exits
# 0 (word_count --help is no longer a file name); a bad value, a missing argument or an unknown
# one is an error that names what was wrong and exits 2 (--batch-ms 1e3 is no longer 1 ms, nor
# --seconds -5 forever). Nothing here starts a job.
#
#   cli_test.sh EXAMPLES_DIR EXAMPLE...
set -uo pipefail

bin=$1
shift
failures=0

# expect STATUS REGEX EXAMPLE ARG...: the example exits with STATUS, its output matching REGEX.
expect() {
  local status=$1 regex=$2 example=$3
  shift 3
  local out rc
  # Each run is bounded, so that a hang names its command line instead of timing out the test.
  out=$(timeout -k 10 120 "$bin/$example" "$@" 2>&1)
  rc=$?
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "FAIL: $example $* did not exit within 120 s"
    failures=$((failures + 1))
    return
  fi
  if [[ $rc -ne $status ]] || ! grep -Eq -- "$regex" <<<"$out"; then
    echo "FAIL: $example $* exited $rc (expected $status, output matching /$regex/); output:"
    echo "$out"
    failures=$((failures + 1))
  fi
}

for example in "$@"; do
  expect 0 "^Usage: $example \[OPTIONS\]" "$example" --help
done

expect 2 "^queue_stream_event_counts: --batch-ms: expected a whole number of milliseconds above 0, got '1e3'$" \
  queue_stream_event_counts --batch-ms 1e3
expect 2 "--batch-ms: expected .*, got '0'" network_word_count --batch-ms 0
expect 2 "--batch-ms: expected .*, got '0x10'" bad_customers --batch-ms 0x10
expect 2 "--seconds: expected a number of seconds from 0 to 1e9, got '-5'" \
  queue_stream_modulo --seconds -5
expect 2 "--seconds: expected .*, got 'nan'" directory_word_count --seconds nan /tmp
expect 2 "--seconds: 1 required FLOAT missing" queue_stream_event_counts --seconds
expect 2 "^word_count: FILE is required" word_count
expect 2 "not expected: --bogus" windowed_word_count --bogus
expect 2 "not expected: extra" queue_stream_event_counts extra
expect 2 "CHECKPOINT_DIR is required" recoverable_word_count input
expect 2 "PORT: expected a port number from 1 to 65535, got '99999'" \
  network_word_count localhost 99999
expect 2 "HOST excludes --dir" windowed_word_count --dir /tmp localhost
expect 2 "--port: expected .*, got '-1'" bad_customers --port -1
expect 2 "--seed: expected .*, got '-1'" web_log_generator --seed -1
expect 2 "--malformed: expected a fraction from 0 to 1, got '1.5'" web_log_generator --malformed 1.5
expect 2 "Run with --help for more information" stateful_network_word_count --checkpoint

if [[ $failures -gt 0 ]]; then
  echo "cli_test: $failures failed"
  exit 1
fi
echo "cli_test: every example's command line behaves"
