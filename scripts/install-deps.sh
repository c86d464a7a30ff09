#!/usr/bin/env bash
# Installs the Debian 12 packages Switchboard needs.
#   scripts/install-deps.sh          what building and serving needs (make serve)
#   scripts/install-deps.sh --test   that, and what the tests and benchmarks add (make test)
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev ca-certificates
  libsqlite3-dev sqlite3 libstemmer-dev libhnswlib-dev libopenblas-dev
  libpoppler-cpp-dev libgumbo-dev libpugixml-dev libarchive-dev
  libtomlplusplus-dev
  libjemalloc-dev
)
# Tests (GoogleTest, the e2e clients' Node.js, the fuzzers' clang, the README doc test's
# Python and curl) and benchmarks (Google
# Benchmark, wrk, valgrind for instruction counts, the peers' redis-server).
TEST_PACKAGES=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  wrk curl procps valgrind redis-server python3
  nodejs
)

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done
if [ "$with_tests" -eq 1 ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Debian's nodejs comes without npm (NodeSource's includes it): the e2e tests and the
# benchmark peers need npm.
if [ "$with_tests" -eq 1 ] && ! command -v npm >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
