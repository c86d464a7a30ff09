#!/usr/bin/env bash
# bench/control: what the control plane costs on the request path. One run starts the fast mock
# upstream of bench/gateway and two Switchboards in front of it: "open" (no keys: auth off, no
# limits, as before the control plane) and "keyed" (1,000 API keys, each with rpm and tpm limits
# high enough never to refuse, so every request is authenticated, takes from two GCRA buckets,
# is corrected with the provider's usage and writes a usage row). wrk at concurrency 64, the
# keyed run rotating over the 1,000 keys, the two measured back to back REPS times; medians
# reported with their ratio. Then GET /api/v1/rate-limit/status on the keyed server.
#
# Usage: bench/control/run.sh
#   DURATION=5s   each measured wrk run (after a 2 s warm-up)
#   REPS=3        rounds (open, keyed back to back)
#   KEYS=1000     keys created on the keyed server
#   RESULTS=bench/control/RESULTS.md
#   INSTR=1       also count instructions per request with bench/control/instructions.sh (needs
#                 valgrind; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
REPS=${REPS:-3}
KEYS=${KEYS:-1000}
OUT=${RESULTS:-bench/control/RESULTS.md}
BIN=build/switchboard
MOCK=build/bench_mock_upstream
[ -x "$BIN" ] && [ -x "$MOCK" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps.sh --test" >&2; exit 1; }

P_MOCK=18201 P_OPEN=18202 P_KEYED=18203
ADMIN=sb-bench-admin
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

"$MOCK" "$P_MOCK" 1 & pids+=($!)
wait_port $P_MOCK
cat >"$work/sb.toml" <<TOML
[log]
level = "warn"
[[providers]]
name = "bench"
type = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
TOML
"$BIN" serve --config "$work/sb.toml" --listen 127.0.0.1:$P_OPEN --data-dir "$work/open" >/dev/null 2>"$work/open.err" &
pids+=($!)
SWITCHBOARD_API_KEY=$ADMIN SWITCHBOARD_LIMITS_USAGE_FLUSH_MS=${FLUSH_MS:-1000} "$BIN" serve --config "$work/sb.toml" --listen 127.0.0.1:$P_KEYED --data-dir "$work/keyed" \
  >/dev/null 2>"$work/keyed.err" &
keyed_pid=$!; pids+=($keyed_pid)
wait_port $P_OPEN
wait_port $P_KEYED

echo "creating $KEYS keys" >&2
t0=$(date +%s.%N)
seq "$KEYS" | xargs -P 8 -I{} curl -sf -X POST "http://127.0.0.1:$P_KEYED/api/v1/keys" \
  -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"bench-{}","scopes":["chat"],"rpm":100000000,"tpm":10000000000}' \
  | grep -o '"secret":"[^"]*"' | cut -d'"' -f4 >"$work/keys"
create_s=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$(wc -l <"$work/keys")" -eq "$KEYS" ] || { echo "only $(wc -l <"$work/keys") keys created" >&2; exit 1; }

# run_wrk PORT KEYFILE PATH -> "rps p50 p99 non2xx"
run_wrk() {
  local out
  out=$(SB_KEYS=$2 SB_PATH=$3 wrk -t2 -c64 -d"$DURATION" --latency -s bench/control/keyed.lua "http://127.0.0.1:$1")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $p50 $p99 ${errs:-0}"
}
to_us() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us/, "", v); print v } else if (v ~ /ms$/) { sub(/ms/, "", v); print v * 1000 } else { sub(/s$/, "", v); print v * 1000000 } }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a O_RPS O_P50 O_P99 K_RPS K_P50 K_P99
errors=0
for r in $(seq "$REPS"); do
  SB_PATH=chat wrk -t2 -c64 -d2s -s bench/control/keyed.lua "http://127.0.0.1:$P_OPEN" >/dev/null
  read -r rps p50 p99 e <<<"$(run_wrk $P_OPEN "" chat)"
  O_RPS+=("$rps"); O_P50+=("$(to_us "$p50")"); O_P99+=("$(to_us "$p99")"); errors=$((errors + e))
  SB_KEYS="$work/keys" SB_PATH=chat wrk -t2 -c64 -d2s -s bench/control/keyed.lua "http://127.0.0.1:$P_KEYED" >/dev/null
  read -r rps p50 p99 e <<<"$(run_wrk $P_KEYED "$work/keys" chat)"
  K_RPS+=("$rps"); K_P50+=("$(to_us "$p50")"); K_P99+=("$(to_us "$p99")"); errors=$((errors + e))
  echo "round $r: open ${O_RPS[-1]} req/s p99 ${O_P99[-1]} µs; keyed ${K_RPS[-1]} req/s p99 ${K_P99[-1]} µs" >&2
done
o_rps=$(printf '%s\n' "${O_RPS[@]}" | median); k_rps=$(printf '%s\n' "${K_RPS[@]}" | median)
o_p50=$(printf '%s\n' "${O_P50[@]}" | median); k_p50=$(printf '%s\n' "${K_P50[@]}" | median)
o_p99=$(printf '%s\n' "${O_P99[@]}" | median); k_p99=$(printf '%s\n' "${K_P99[@]}" | median)
ratio=$(echo "scale=3; $k_rps / $o_rps" | bc)
add99=$(echo "$k_p99 - $o_p99" | bc)
add50=$(echo "$k_p50 - $o_p50" | bc)

read -r s_rps s_p50 s_p99 s_err <<<"$(run_wrk $P_KEYED "$work/keys" status)"
sleep 1.5  # one usage flush
rows=$(curl -sf "http://127.0.0.1:$P_KEYED/api/v1/usage?group_by=key" -H "Authorization: Bearer $ADMIN" | grep -o '"requests":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$keyed_pid/status")

{
  echo "# bench/control — results"
  echo
  echo "Run: \`bench/control/run.sh\` (DURATION=$DURATION, REPS=$REPS, KEYS=$KEYS) on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "Both servers and the mock upstream (bench/gateway/mock_upstream.cpp, 1 thread) and wrk (2 threads) share"
  echo "the machine. \"open\": no keys (auth off, no limits). \"keyed\": $KEYS keys with rpm and tpm limits, wrk rotating"
  echo "over all of them, usage rows on. Medians of $REPS alternating rounds at concurrency 64, non-streaming."
  echo
  echo "| server | req/s | p50 | p99 |"
  echo "|---|---|---|---|"
  echo "| open (auth off) | $o_rps | ${o_p50} µs | ${o_p99} µs |"
  echo "| keyed ($KEYS keys, rpm + tpm + usage) | $k_rps | ${k_p50} µs | ${k_p99} µs |"
  echo
  echo "- throughput keyed / open: **$ratio** (target ≥ 0.95)"
  echo "- added latency: p50 **${add50} µs**, p99 **${add99} µs** (target p99 ≤ 50 µs)"
  echo "- non-2xx answers in the measured runs: $errors"
  echo "- \`GET /api/v1/rate-limit/status\` on the keyed server, c=64, rotating keys: **$s_rps req/s** (p50 $s_p50, p99 $s_p99; target ≥ 20,000)"
  echo "- usage rows counted by \`GET /api/v1/usage?group_by=key\` after the run: $rows"
  echo "- creating the $KEYS keys (8 curl at a time): ${create_s} s; keyed server peak RSS: $((rss / 1024)) MiB"
} >"$OUT"
if [ "${INSTR:-1}" != 0 ] && command -v valgrind >/dev/null; then
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  echo "counting instructions (callgrind)" >&2
  counts=$(KEYS=$KEYS bench/control/instructions.sh)
  open_i=$(awk '/^open:/ {print $(NF-3)}' <<<"$counts"); keyed_i=$(awk '/^keyed:/ {print $(NF-3)}' <<<"$counts")
  {
    echo
    echo "User-space instructions per request under callgrind (\`bench/control/instructions.sh\`, c=16, 10 s; steady to ~1 %):"
    echo
    echo "| server | instructions per request |"
    echo "|---|---|"
    echo "| open | $open_i |"
    echo "| keyed | $keyed_i |"
    echo
    echo "- the control plane's own cost: **$((keyed_i - open_i)) instructions per request** (+$(echo "scale=1; 100 * ($keyed_i - $open_i) / $open_i" | bc) %)"
  } >>"$OUT"
fi
cat "$OUT"
