#!/usr/bin/env bash
# bench/agents: the log analyzer's evidence extraction throughput on a generated 50 MB CI log
# (bench_evidence; see bench/agents/evidence.cpp), five runs. The agent runtime's own time per
# step is not measured yet: the runtime is not built (RESULTS.md).
#
# Usage: bench/agents/run.sh    SIZE_MB=50 RUNS=5
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-50} RUNS=${RUNS:-5}
[ -x build/bench_evidence ] || { echo "build first: make build" >&2; exit 1; }
build/bench_evidence "$SIZE_MB" "$RUNS"
