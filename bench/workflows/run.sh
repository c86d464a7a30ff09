#!/usr/bin/env bash
# bench/workflows, three parts (each prints what RESULTS.md records):
#  1. intent: the local intent classifier's latency (50 intents x 20 examples), three runs.
#  2. comparison: N=10000 pairwise comparisons through a fake upstream answering after 50 ms,
#     (a) as Switchboard batches (POST /api/v1/comparison/batch, jobs.concurrency = C, finished
#     jobs counted on /api/v1/events) and (b) the seed's architecture: BullMQ 6.7.0 on Debian's
#     redis-server (AOF everysec) with a Node worker (concurrency C) calling the same fake with
#     the same structured request and validating the answer. Same fake, same C, one run.
#  3. websocket: SUBS=1000 subscribers on /api/v1/ws receiving job events; delivery p99.
#
# Usage: bench/workflows/run.sh [intent|comparison|websocket|all]
#        N=10000 C=50 DELAY_MS=50 SUBS=1000 JOBS=100 PAUSE_MS=20 QUERIES=20000
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT=${1:-all}
N=${N:-10000} C=${C:-50} DELAY_MS=${DELAY_MS:-50}
SUBS=${SUBS:-1000} JOBS=${JOBS:-100} PAUSE_MS=${PAUSE_MS:-20}
QUERIES=${QUERIES:-20000}
BIN=build/switchboard
[ -x "$BIN" ] && [ -x build/bench_intent_latency ] || { echo "build first: make build" >&2; exit 1; }

P_REDIS=16389 P_SB=18711 P_FAKE=18712
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

start_sb() {  # start_sb CONFIG_EXTRA
  rm -rf "$work/data"
  cat >"$work/sb.toml" <<TOML
[log]
level = "warn"
[storage]
synchronous = "normal"
[jobs]
concurrency = $C
max_queued = 1000000
[events]
max_pending_events = 100000
max_pending_bytes = 268435456
[[providers]]
name = "mock"
type = "mock"
[[providers]]
name = "fake"
type = "openai"
base_url = "http://127.0.0.1:$P_FAKE/v1"
$1
TOML
  "$BIN" serve --config "$work/sb.toml" --listen 127.0.0.1:$P_SB --data-dir "$work/data" >"$work/sb.out" 2>"$work/sb.err" &
  sb_pid=$!
  pids+=($sb_pid)
  wait_port $P_SB
}
stop_sb() { kill "$sb_pid"; wait "$sb_pid" 2>/dev/null || true; }

if [ "$WHAT" = intent ] || [ "$WHAT" = all ]; then
  echo "== intent (QUERIES=$QUERIES, three runs)"
  for i in 1 2 3; do build/bench_intent_latency "$QUERIES"; done
fi

if [ "$WHAT" = comparison ] || [ "$WHAT" = all ]; then
  command -v redis-server >/dev/null || { echo "redis-server missing: scripts/install-deps.sh --test" >&2; exit 1; }
  if [ ! -d bench/jobs/node_modules/bullmq ]; then (cd bench/jobs && { npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null; }); fi
  export NODE_PATH=$PWD/bench/jobs/node_modules
  node bench/workflows/comparison.js fake $P_FAKE "$DELAY_MS" &
  pids+=($!)
  wait_port $P_FAKE
  mkdir -p "$work/redis"
  redis-server --port $P_REDIS --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly yes \
    --appendfsync everysec --daemonize no --logfile "$work/redis.log" &
  pids+=($!)
  wait_port $P_REDIS
  echo "== comparison (N=$N, C=$C, upstream latency ${DELAY_MS} ms)"
  start_sb ""
  node bench/workflows/comparison.js sb "$N" $P_SB
  stop_sb
  REDIS_PORT=$P_REDIS node bench/workflows/comparison.js bull "$N" "$C" $P_FAKE
  echo "fake upstream calls: $(curl -s http://127.0.0.1:$P_FAKE/count)"
fi

if [ "$WHAT" = websocket ] || [ "$WHAT" = all ]; then
  echo "== websocket (SUBS=$SUBS, JOBS=$JOBS, one every ${PAUSE_MS} ms)"
  ulimit -n 65536 2>/dev/null || true
  start_sb ""
  node --experimental-websocket --no-warnings bench/workflows/ws_delivery.js $P_SB "$SUBS" "$JOBS" "$PAUSE_MS"
  grep -c '"level":"error"' "$work/sb.out" | sed 's/^/server errors logged: /' || true
  stop_sb
fi
