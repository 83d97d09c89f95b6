#!/usr/bin/env bash
# Installs the Debian packages Sluice needs to build, test and run its demo.
# Idempotent: prints nothing and exits 0 when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache g++
  libtbb-dev libabsl-dev libfmt-dev libspdlog-dev libcereal-dev
  libgtest-dev libgmock-dev libbenchmark-dev libzstd-dev librocksdb-dev strace gdb
  libcli11-dev bible-kjv netcat-openbsd
  libcpp-httplib-dev nlohmann-json3-dev libjs-chart.js
  chromium chromium-driver python3-selenium prometheus
  libhiredis-dev redis-server librdkafka-dev
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done
# python3 may come from pyenv or similar rather than dpkg.
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: not root and sudo is unavailable; install them as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq "${missing[@]}" >/dev/null
