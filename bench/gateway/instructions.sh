#!/usr/bin/env bash
# bench/gateway/instructions.sh: user-space instructions per proxied chat completion, counted by
# callgrind. Unlike times on a shared machine, the count barely moves from run to run, so it
# compares two builds of the hot path reliably (it does not count the kernel's socket work).
#
# Usage: bench/gateway/instructions.sh [BINARY]   (default build/switchboard)
#   C=16 DURATION=10s   wrk connections and measured time (after a 3 s warm-up, not counted)
# Prints: "<requests> requests, <instructions> instructions per request".
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-build/switchboard}
C=${C:-16}
DURATION=${DURATION:-10s}
MOCK=build/bench_mock_upstream
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -x "$BIN" ] && [ -x "$MOCK" ] || { echo "build first: make build" >&2; exit 1; }
P_MOCK=18131 P_SB=18132
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

"$MOCK" "$P_MOCK" 1 >/dev/null 2>&1 & pids+=($!)
cat >"$work/sb.toml" <<TOML
[log]
level = "info"
[[providers]]
name = "bench"
type = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
TOML
wait_port $P_MOCK
valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$BIN" serve --config "$work/sb.toml" \
  --listen 127.0.0.1:$P_SB --data-dir "$work/data" >/dev/null 2>"$work/valgrind.err" &
vg=$!; pids+=($vg)
wait_port $P_SB
url=http://127.0.0.1:$P_SB/v1/chat/completions
wrk -t1 -c"$C" -d3s -s bench/gateway/chat.lua "$url" >/dev/null
callgrind_control -z $vg >/dev/null 2>&1
n=$(wrk -t1 -c"$C" -d"$DURATION" -s bench/gateway/chat.lua "$url" | awk '/requests in/ {print $1}')
callgrind_control -d $vg >/dev/null 2>&1
sleep 1
# The dump holds everything counted since the zeroing: the measured run only.
total=$(grep -h '^summary:' "$work"/cg.*.1 | awk '{print $2}' | sort -g | tail -1)
echo "$n requests, $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }') instructions per request"
