#!/usr/bin/env bash
# Streaming demo: web_log_generator serves a live web log on a free port of 127.0.0.1, and
# web_log_analytics prints, every 2 s, the top 3 client IPs of the last 6 s with their countries
# and all-time request counts (Spark's 1 s / 30 s / 10 s example scaled down by --batch-ms 200).
# Extra arguments go to web_log_analytics, e.g. ./demo.sh --seconds 20 or --master 'local[4]'.
# Runs until Ctrl-C without --seconds. The job prints its web UI's address first ("Spark UI:
# http://127.0.0.1:4040"; open it in a browser while it runs). The batch word count demo is
# scripts/demo-word-count.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target web_log_generator web_log_analytics

bin=build/release/examples
tmp=$(mktemp -d)
generator_pid=
analytics_pid=
# On any exit (the end, an error, Ctrl-C, kill): stop both programs by PID, then clean up.
cleanup() {
  for pid in $analytics_pid $generator_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --port 0: the generator binds a free port and writes its number to the port file.
"$bin/web_log_generator" --port 0 --port-file "$tmp/port" --rate 100 2>"$tmp/generator.log" &
generator_pid=$!
for _ in $(seq 100); do
  [[ -s "$tmp/port" ]] && break
  if ! kill -0 "$generator_pid" 2>/dev/null; then
    cat "$tmp/generator.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -s "$tmp/port" ]]; then
  echo "demo.sh: web_log_generator did not start listening" >&2
  exit 1
fi
port=$(<"$tmp/port")
echo "web_log_generator: serving on 127.0.0.1:$port (pid $generator_pid)"

# In the background, so that a signal to this script reaches the trap at once.
"$bin/web_log_analytics" --batch-ms 200 "$@" 127.0.0.1 "$port" &
analytics_pid=$!
status=0
wait "$analytics_pid" || status=$?
analytics_pid=
exit "$status"
