#!/usr/bin/env bash
# bench/http: HTTP server throughput, latency and memory.
#
# Starts build/switchboard (embedded defaults, access log on, stdout to /dev/null) and, when node
# is installed, a bare Node.js http server with the same two routes as a same-run reference.
# Drives GET /health and POST /api/v1/echo with wrk at concurrency 1, 16 and 256.
#
# Usage: bench/http/run.sh
#   DURATION=10s  length of each measured wrk run (after a 2 s warm-up)
#   REPEAT=1      how many times to measure the whole matrix (one table per repetition)
#   RESULTS=bench/http/RESULTS.md   where to write the Markdown report
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
REPEAT=${REPEAT:-1}
OUT=${RESULTS:-bench/http/RESULTS.md}
BIN=build/switchboard
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps.sh" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

wait_up() {
  for _ in $(seq 50); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "did not start: $1" >&2
  exit 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# run_wrk URL CONCURRENCY [script] -> "rps p50 p99"
run_wrk() {
  local url=$1 c=$2 script=${3:-} threads=2
  [ "$c" -eq 1 ] && threads=1
  local args=(-t"$threads" -c"$c" -d"$DURATION" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local out
  out=$(wrk "${args[@]}" "$url")
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "$rps $p50 $p99 ${errs:-}"
}

echo "starting switchboard" >&2
"$BIN" serve --listen 127.0.0.1:18080 --data-dir "$work/data" >/dev/null 2>"$work/sb.err" &
sb_pid=$!
pids+=("$sb_pid")
wait_up http://127.0.0.1:18080/health
sleep 1
sb_idle=$(rss_kb "$sb_pid")

have_node=0
if command -v node >/dev/null; then
  node bench/http/peer_node.js 18081 &
  node_pid=$!
  pids+=("$node_pid")
  wait_up http://127.0.0.1:18081/health
  sleep 1
  node_idle=$(rss_kb "$node_pid")
  have_node=1
fi

rows=()
for rep in $(seq "$REPEAT"); do
  [ "$REPEAT" -gt 1 ] && rows+=("" "Run $rep of $REPEAT:" "" "| route | concurrency | switchboard req/s | p50 | p99 | node req/s | p50 | p99 | switchboard / node |" "|---|---|---|---|---|---|---|---|---|")
for route in health echo; do
  for c in 1 16 256; do
    if [ "$route" = health ]; then path=/health; script=""; else path=/api/v1/echo; script=bench/http/post.lua; fi
    # Warm-up, then the measured run; switchboard and the peer alternate within the same run.
    wrk -t1 -c"$c" -d2s ${script:+-s $script} "http://127.0.0.1:18080$path" >/dev/null
    read -r sb_rps sb_p50 sb_p99 sb_err < <(run_wrk "http://127.0.0.1:18080$path" "$c" "$script")
    if [ $have_node = 1 ]; then
      wrk -t1 -c"$c" -d2s ${script:+-s $script} "http://127.0.0.1:18081$path" >/dev/null
      read -r nd_rps nd_p50 nd_p99 nd_err < <(run_wrk "http://127.0.0.1:18081$path" "$c" "$script")
      ratio=$(awk -v a="$sb_rps" -v b="$nd_rps" 'BEGIN { printf "%.2f", a / b }')
    else
      nd_rps="-"; nd_p50="-"; nd_p99="-"; ratio="-"
    fi
    echo "$route c=$c switchboard $sb_rps req/s p50 $sb_p50 p99 $sb_p99 $sb_err| node $nd_rps req/s p50 $nd_p50 p99 $nd_p99" >&2
    rows+=("| \`$route\` | $c | $sb_rps | $sb_p50 | $sb_p99 | $nd_rps | $nd_p50 | $nd_p99 | $ratio |")
  done
done
done
sb_peak=$(hwm_kb "$sb_pid")
[ $have_node = 1 ] && node_peak=$(hwm_kb "$node_pid")

{
  echo "# bench/http — results"
  echo
  echo "Command: \`REPEAT=$REPEAT DURATION=$DURATION bench/http/run.sh\` (each measured run after a 2 s warm-up; switchboard and node alternate within one run)."
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ). Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release; echo "$PRETTY_NAME")."
  echo "Load generator: wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') on the same machine (1 thread at c=1, 2 threads otherwise)."
  echo "Switchboard $("$BIN" version | awk '{print $2}'): Release build, embedded defaults (2 I/O threads, access log on, logs to /dev/null)."
  [ $have_node = 1 ] && echo "Peer: Node.js $(node --version) bare \`http\` server (\`bench/http/peer_node.js\`, same routes, no logging), measured in the same run."
  echo
  if [ "$REPEAT" -eq 1 ]; then
    echo "| route | concurrency | switchboard req/s | p50 | p99 | node req/s | p50 | p99 | switchboard / node |"
    echo "|---|---|---|---|---|---|---|---|---|"
  fi
  printf '%s\n' "${rows[@]}"
  echo
  echo "| memory | switchboard | node |"
  echo "|---|---|---|"
  echo "| RSS idle (after start) | $((sb_idle / 1024)) MiB | $([ $have_node = 1 ] && echo "$((node_idle / 1024)) MiB" || echo -) |"
  echo "| peak RSS (whole run) | $((sb_peak / 1024)) MiB | $([ $have_node = 1 ] && echo "$((node_peak / 1024)) MiB" || echo -) |"
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
