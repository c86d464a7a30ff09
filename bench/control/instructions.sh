#!/usr/bin/env bash
# bench/control/instructions.sh: user-space instructions per chat completion counted by
# callgrind (as bench/gateway/instructions.sh), for the two servers of bench/control/run.sh:
# "open" (no keys) and "keyed" (KEYS API keys with rpm and tpm, requests rotating over them,
# usage rows written). Times on a shared 2-core machine move by 20-40 % between runs; these
# counts by about 1 %, so the control plane's own cost shows. The kernel's socket work is not
# counted, and the database writer's thread is (its usage inserts).
#
# Usage: bench/control/instructions.sh   (C=16 DURATION=10s KEYS=1000)
# Prints two lines: "<server>: <requests> requests, <instructions> instructions per request".
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/switchboard
C=${C:-16}
DURATION=${DURATION:-10s}
KEYS=${KEYS:-1000}
MOCK=build/bench_mock_upstream
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -x "$BIN" ] && [ -x "$MOCK" ] || { echo "build first: make build" >&2; exit 1; }
P_MOCK=18231 P_SB=18232
ADMIN=sb-bench-admin
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; cp "$work"/cg-* "$KEEP"/ 2>/dev/null; rm -rf "$work"' EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

"$MOCK" "$P_MOCK" 1 >/dev/null 2>&1 & pids+=($!)
cat >"$work/sb.toml" <<TOML
[log]
level = "warn"
[[providers]]
name = "bench"
type = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
TOML
wait_port $P_MOCK

# count NAME KEYFILE ENV...: one server under callgrind, warmed up, then measured.
count() {
  local name=$1 keys=$2
  shift 2
  env "$@" valgrind --tool=callgrind --callgrind-out-file="$work/cg-$name.%p" "$BIN" serve --config "$work/sb.toml" \
    --listen 127.0.0.1:$P_SB --data-dir "$work/data-$name" >/dev/null 2>"$work/valgrind-$name.err" &
  local vg=$!
  pids+=($vg)
  wait_port $P_SB
  if [ -n "$keys" ]; then
    seq "$KEYS" | xargs -P 4 -I{} curl -sf -X POST "http://127.0.0.1:$P_SB/api/v1/keys" \
      -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
      -d '{"name":"bench-{}","scopes":["chat"],"rpm":100000000,"tpm":10000000000}' \
      | grep -o '"secret":"[^"]*"' | cut -d'"' -f4 >"$keys"
  fi
  SB_KEYS=$keys SB_PATH=chat wrk -t1 -c"$C" -d3s -s bench/control/keyed.lua "http://127.0.0.1:$P_SB" >/dev/null
  callgrind_control -z $vg >/dev/null 2>&1
  local n
  n=$(SB_KEYS=$keys SB_PATH=chat wrk -t1 -c"$C" -d"$DURATION" -s bench/control/keyed.lua "http://127.0.0.1:$P_SB" \
      | awk '/requests in/ {print $1}')
  sleep 1.5  # the usage rows of the last second are written (and counted)
  callgrind_control -d $vg >/dev/null 2>&1
  sleep 1
  local total
  total=$(grep -h '^summary:' "$work"/cg-$name.*.1 | awk '{print $2}' | sort -g | tail -1)
  kill $vg 2>/dev/null || true
  wait $vg 2>/dev/null || true
  echo "$name: $n requests, $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }') instructions per request"
}
count open ""
count keyed "$work/keys" SWITCHBOARD_API_KEY=$ADMIN
