#!/usr/bin/env bash
# bench/workflows: the local intent classifier's latency (50 intents x 20 examples, the issue's
# size), written to RESULTS.md's "intent" section. The comparison batch against BullMQ and the
# WebSocket delivery benches are not built yet (see RESULTS.md).
#
# Usage: bench/workflows/run.sh    QUERIES=20000
set -euo pipefail
cd "$(dirname "$0")/../.."
QUERIES=${QUERIES:-20000}
BIN=build/bench_intent_latency
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
for i in 1 2 3; do "$BIN" "$QUERIES"; done
