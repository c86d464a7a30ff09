#!/usr/bin/env bash
# bench/knowledge/uploads.sh: upload throughput with extraction in sandboxed worker processes
# (this build) against a build of BASE (default 1ed8d5b, the last commit that parsed documents
# in the server process), in the same run, alternating ROUNDS times: PDF uploads (multipart,
# 8 in flight, 5 pages each) and text ingestion (JSON, SciFact abstracts) through bench.js.
# The BASE binary is built once into build-base/<commit>/ from a git worktree.
#
# Usage: bench/knowledge/uploads.sh   BASE=1ed8d5b  PDF_DOCS=400  CHUNKS=2000  ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${BASE:-1ed8d5b}
PDF_DOCS=${PDF_DOCS:-400}
CHUNKS=${CHUNKS:-2000}
ROUNDS=${ROUNDS:-3}
DATA=${DATA:-../shared/data/scifact}
NEW=build/switchboard
OLD=build-base/$BASE/build/switchboard
[ -x "$NEW" ] || { echo "build first: make build" >&2; exit 1; }
if [ ! -x "$OLD" ]; then
  echo "building $BASE into build-base/$BASE" >&2
  [ -d "build-base/$BASE/src" ] || git worktree add --detach "build-base/$BASE/src" "$BASE" >&2
  cmake -S "build-base/$BASE/src" -B "build-base/$BASE/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "build-base/$BASE/build" --target switchboard >&2
fi
P=18931
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
printf '[[providers]]\nname = "bench"\ntype = "mock"\nembedding_rank = 48\n' >"$work/config.toml"
export MODEL=bench/embed
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; exit 1; }
run() {  # binary -> the JSON line of bench.js
  rm -rf "$work/data"
  "$1" serve --config "$work/config.toml" --listen 127.0.0.1:$P --data-dir "$work/data" --log-level warn >/dev/null 2>"$work/err" &
  pid=$!
  wait_port $P
  node bench/knowledge/bench.js $P "$DATA/corpus.jsonl" "$DATA/queries.jsonl" "$CHUNKS" bench "$PDF_DOCS"
  kill $pid; wait $pid 2>/dev/null || true; pid=""
}
field() { node -e "console.log(JSON.parse(process.argv[1])[process.argv[2]].toFixed(2))" "$1" "$2"; }
echo "| round | build | PDF files/s | PDF MB/s | text MB/s |"
echo "|---|---|---|---|---|"
for r in $(seq "$ROUNDS"); do
  for which in base sandbox; do
    bin=$NEW; label="$(git rev-parse --short HEAD) (workers)"
    [ $which = base ] && { bin=$OLD; label="$BASE (in process)"; }
    out=$(run "$bin")
    echo "| $r | $label | $(field "$out" pdf_docs_per_s) | $(field "$out" pdf_mb_per_s) | $(field "$out" mb_per_s) |"
  done
done
