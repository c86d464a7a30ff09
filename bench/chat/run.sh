#!/usr/bin/env bash
# bench/chat: Switchboard's own time per RAG turn at CHUNKS chunks (default 100,000), the
# response cache (hit latency, hit rate on a replayed log of repeated questions) and the delay
# from a collection write to the first fresh answer. One Switchboard with the assistant "bench"
# (hybrid retrieval, top 5, memory 20 turns) over a collection embedded in the server by a mock
# provider (embedding_rank 48, as bench/knowledge), answering through the fast mock upstream of
# bench/gateway (its time is excluded: Server-Timing says how much was the model's). bench.js
# says what each number is.
#
# Usage: bench/chat/run.sh    CHUNKS=100000 SESSIONS=100 TURNS=5 HITS=500 LOG=2000 DISTINCT=300
#        DATA=../shared/data/scifact RESULTS=bench/chat/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
CHUNKS=${CHUNKS:-100000}
DATA=${DATA:-../shared/data/scifact}
OUT=${RESULTS:-bench/chat/RESULTS.md}
BIN=build/switchboard
MOCK=build/bench_mock_upstream
[ -x "$BIN" ] && [ -x "$MOCK" ] || { echo "build first: make build" >&2; exit 1; }
[ -f "$DATA/corpus.jsonl" ] || { echo "no $DATA/corpus.jsonl" >&2; exit 1; }
P_MOCK=18501 P=18502
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

"$MOCK" "$P_MOCK" 1 >/dev/null 2>&1 & pids+=($!)
wait_port $P_MOCK
cat >"$work/sb.toml" <<TOML
[log]
level = "warn"
[[providers]]
name = "up"
type = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
[[providers]]
name = "bench"
type = "mock"
embedding_rank = 48
[[assistants]]
name = "bench"
collections = ["bench"]
model = "up/m"
mode = "hybrid"
top_k = 5
TOML
"$BIN" serve --config "$work/sb.toml" --listen 127.0.0.1:$P --data-dir "$work/data" >/dev/null 2>"$work/err" &
sb=$!; pids+=($sb)
wait_port $P
echo "filling $CHUNKS chunks, then the chat runs" >&2
r=$(node bench/chat/bench.js $P "$DATA/corpus.jsonl" "$DATA/queries.jsonl" "$CHUNKS")
echo "$r" >&2
rss=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$sb/status")
f() { node -e "const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v !== 'number' || Number.isInteger(v) ? v : v.toFixed(Number(process.argv[3]||2)))" "$r" "$1" "${2:-2}"; }
{
  echo "# bench/chat — results"
  echo
  echo "Run: \`bench/chat/run.sh\` (CHUNKS=$CHUNKS) on $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)."
  echo "One Switchboard, the assistant \`bench\` (hybrid retrieval, top 5, memory 20 turns, follow-ups rewritten) over"
  echo "$(f chunks) chunks of SciFact text embedded at 384 dimensions by an in-process mock model (embedding_rank 48);"
  echo "the model is bench/gateway's fast mock upstream, its time excluded (Server-Timing \`upstream\`). One request at a"
  echo "time from Node on loopback. No peer is named by the issue; the targets are the issue's."
  echo
  echo "| measure | p50 | p99 | target |"
  echo "|---|---|---|---|"
  echo "| own time per RAG turn (Server-Timing \`chat\`: memory read and write, retrieval, prompt, citations), $(f turns) turns | $(f own_p50_ms) ms | $(f own_p99_ms) ms | p50 ≤ 5 ms, p99 ≤ 15 ms |"
  echo "| of which retrieval (hybrid search of each turn's query) | $(f retrieval_p50_ms) ms | $(f retrieval_p99_ms) ms | |"
  echo "| the same turns seen by the client (with the mock model's calls) | $(f client_p50_ms) ms | $(f client_p99_ms) ms | |"
  echo "| cache hit, own time ($(f hit_answers) hits of $(f hit_requests) repeated questions) | $(f hit_own_p50_ms 3) ms | $(f hit_own_p99_ms 3) ms | p99 ≤ 1 ms |"
  echo "| cache hit seen by the client | $(f hit_client_p50_ms) ms | $(f hit_client_p99_ms) ms | |"
  echo
  echo "- replayed log: $(f log_requests) questions (Zipf over 300, $(f log_distinct) distinct) in $(f log_s 1) s: $(f log_hits) hits: **$(f log_repeat_hit_rate 3) of the repeats** (a question's first ask cannot hit; target > 0.8), $(f log_hit_rate 3) of all requests"
  echo "- invalidation: $(f fresh_after_write) of $(f invalidation_trials) questions asked right after a document write (cached before it) were answered fresh; from the write's 2xx to the fresh answer: p50 $(f write_to_fresh_answer_p50_ms) ms, max $(f write_to_fresh_answer_max_ms) ms (one uncached turn; target < 1 s)"
  echo "- filling the collection: $(f fill_s 0) s; peak RSS $rss MiB"
} >"$OUT"
cat "$OUT"
