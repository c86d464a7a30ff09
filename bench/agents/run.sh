#!/usr/bin/env bash
# bench/agents, two parts:
#  1. evidence: the log analyzer's extraction throughput on a generated 50 MB CI log
#     (bench_evidence; see bench/agents/evidence.cpp), RUNS runs.
#  2. runtime: the agent runtime's own time per step (model and tool time excluded), over AGENT_RUNS
#     two-step runs (a knowledge_search call, then the answer) against a fake upstream answering at
#     once (agent_steps.js), on a collection of 200 small documents.
#
# Usage: bench/agents/run.sh [evidence|runtime|all]    SIZE_MB=50 RUNS=5 AGENT_RUNS=1000
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT=${1:-all}
SIZE_MB=${SIZE_MB:-50} RUNS=${RUNS:-5} AGENT_RUNS=${AGENT_RUNS:-1000}
[ -x build/bench_evidence ] && [ -x build/switchboard ] || { echo "build first: make build" >&2; exit 1; }
if [ "$WHAT" = evidence ] || [ "$WHAT" = all ]; then
  echo "== evidence (SIZE_MB=$SIZE_MB)"
  build/bench_evidence "$SIZE_MB" "$RUNS"
fi
if [ "$WHAT" = runtime ] || [ "$WHAT" = all ]; then
  P_SB=18721 P_FAKE=18722
  work=$(mktemp -d)
  pids=()
  cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
  trap cleanup EXIT
  wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
  node bench/agents/agent_steps.js fake $P_FAKE &
  pids+=($!)
  cat >"$work/sb.toml" <<TOML
[log]
level = "warn"
[[providers]]
name = "mock"
type = "mock"
models = ["echo", "embed"]
[[providers]]
name = "fake"
type = "openai"
base_url = "http://127.0.0.1:$P_FAKE/v1"
[[agents]]
name = "bench"
model = "fake/agent"
tools = ["knowledge_search", "get_document"]
collections = ["runbooks"]
TOML
  build/switchboard serve --config "$work/sb.toml" --listen 127.0.0.1:$P_SB --data-dir "$work/data" >"$work/sb.out" 2>"$work/sb.err" &
  pids+=($!)
  wait_port $P_FAKE
  wait_port $P_SB
  curl -sf localhost:$P_SB/api/v1/collections -H 'Content-Type: application/json' -d '{"name":"runbooks","embedding_model":"mock/embed"}' >/dev/null
  docs=$(node -e 'const d=[];for(let i=0;i<200;i++)d.push({external_id:"rb"+i,title:"Runbook "+i,text:"When npm ci fails with ERESOLVE number "+i+", align the peer dependency versions, pin react, or use overrides."});console.log(JSON.stringify({collection:"runbooks",documents:d}))')
  curl -sf localhost:$P_SB/api/v1/index/batch -H 'Content-Type: application/json' -d "$docs" >/dev/null
  echo "== runtime (AGENT_RUNS=$AGENT_RUNS, two steps each)"
  node bench/agents/agent_steps.js run $P_SB "$AGENT_RUNS"
fi
