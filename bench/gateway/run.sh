#!/usr/bin/env bash
# bench/gateway: the gateway's own cost. One run measures the same fast mock upstream
# (bench/gateway/mock_upstream.cpp, one I/O thread) (a) directly, (b) through Switchboard and
# (c) through the Portkey gateway (@portkey-ai/gateway from npm), with wrk at concurrency 1, 16,
# 64 and 256, non-streaming and streaming; then time to first token (sequential, node client),
# peak RSS with 256 concurrent slow streams, and an RSS soak through Switchboard.
#
# Usage: bench/gateway/run.sh
#   DURATION=5s    each measured wrk run (after a 2 s warm-up)
#   REPS=3         rounds per cell (direct, switchboard, portkey back to back); medians reported
#   SOAK_S=300     soak length in seconds (0 skips it)
#   SB_LOG=info    Switchboard's log.level (its access log stays on; stdout goes to /dev/null)
#   ALT_SPIN_US=0  server.spin_us of a second Switchboard measured at concurrency 1 and 64 beside
#                  the first, which runs with the default (100; "" skips the second)
#   RESULTS=bench/gateway/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
REPS=${REPS:-3}
SOAK_S=${SOAK_S:-300}
SB_LOG=${SB_LOG:-info}
ALT_SPIN_US=${ALT_SPIN_US-0}
OUT=${RESULTS:-bench/gateway/RESULTS.md}
BIN=build/switchboard
MOCK=build/bench_mock_upstream
[ -x "$BIN" ] && [ -x "$MOCK" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps.sh" >&2; exit 1; }
if [ ! -d bench/gateway/node_modules/@portkey-ai/gateway ]; then
  (cd bench/gateway && npm ci --no-audit --no-fund >/dev/null)
fi

P_MOCK=18101 P_SB=18102 P_PK=18103 P_SPIN=18104
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

"$MOCK" "$P_MOCK" 1 & pids+=($!)
wait_port $P_MOCK
cat >"$work/sb.toml" <<TOML
[log]
level = "$SB_LOG"
[[providers]]
name = "bench"
type = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
TOML
"$BIN" serve --config "$work/sb.toml" --listen 127.0.0.1:$P_SB --data-dir "$work/data" >/dev/null 2>"$work/sb.err" &
sb_pid=$!; pids+=($sb_pid)
if [ -n "$ALT_SPIN_US" ]; then
  sed "s/^level = .*/&\n[server]\nspin_us = $ALT_SPIN_US/" "$work/sb.toml" >"$work/spin.toml"
  "$BIN" serve --config "$work/spin.toml" --listen 127.0.0.1:$P_SPIN --data-dir "$work/data-spin" >/dev/null 2>"$work/spin.err" &
  spin_pid=$!; pids+=($spin_pid)
  wait_port $P_SPIN
fi
(cd bench/gateway && exec node node_modules/@portkey-ai/gateway/build/start-server.js --port=$P_PK --headless) >"$work/pk.log" 2>&1 &
pk_pid=$!; pids+=($pk_pid)
wait_port $P_SB
wait_port $P_PK
sleep 2
sb_idle=$(rss_kb $sb_pid)
pk_idle=$(rss_kb "$(pgrep -P $pk_pid || echo $pk_pid)" 2>/dev/null || rss_kb $pk_pid)
pk_node=$(pgrep -f "start-server.js --port=$P_PK" | head -1)
pk_idle=$(rss_kb "$pk_node")

# target name -> URL and extra env for chat.lua
url_of() { case $1 in direct) echo "http://127.0.0.1:$P_MOCK/v1/chat/completions";; sb) echo "http://127.0.0.1:$P_SB/v1/chat/completions";; spin) echo "http://127.0.0.1:$P_SPIN/v1/chat/completions";; pk) echo "http://127.0.0.1:$P_PK/v1/chat/completions";; esac; }
pk_env() { [ "$1" = pk ] && echo "http://127.0.0.1:$P_MOCK/v1" || echo ""; }

# run_wrk TARGET CONCURRENCY STREAM DURATION -> "rps p50 p99 errors cpu_per_req_us"
run_wrk() {
  local t=$1 c=$2 s=$3 d=$4 threads=2 pid
  [ "$c" -eq 1 ] && threads=1
  case $t in direct) pid=$(pgrep -f "bench_mock_upstream $P_MOCK");; sb) pid=$sb_pid;; spin) pid=$spin_pid;; pk) pid=$pk_node;; esac
  local c0; c0=$(cpu_s "$pid")
  local out
  out=$(SB_STREAM=$s SB_PORTKEY_HOST=$(pk_env "$t") wrk -t$threads -c"$c" -d"$d" --latency -s bench/gateway/chat.lua "$(url_of "$t")")
  local c1; c1=$(cpu_s "$pid")
  local rps p50 p99 errs total
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print "sock"}' <<<"$out" | tr '\n' ',' )
  local cpu_us
  cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1e6 / n; else print "-" }')
  echo "$rps $p50 $p99 ${errs:-0} $cpu_us"
}
# median_runs LINES: per column, the median of the runs' "rps p50 p99 errors cpu" lines (latencies
# compared in µs; the errors column is the one of the median-rps run).
median_runs() {
  local lines="$1" col out="" v
  for col in 1 2 3 5; do
    v=$(printf '%s' "$lines" | awk -v c=$col 'NF { print $c }' | while read -r x; do
          printf '%s %s\n' "$(to_us "$x")" "$x"; done | sort -g | awk '{ a[NR]=$2 } END { print a[int((NR+1)/2)] }')
    out+="$v "
  done
  local errs
  errs=$(printf '%s' "$lines" | awk 'NF' | sort -g -k1,1 | awk '{ a[NR]=$4 } END { print a[int((NR+1)/2)] }')
  read -r m_rps m_p50 m_p99 m_cpu <<<"$out"
  echo "$m_rps $m_p50 $m_p99 $errs $m_cpu"
}
to_us() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us/,"",v); print v+0 } else if (v ~ /ms$/) { sub(/ms/,"",v); print v*1000 } else if (v ~ /s$/) { sub(/s/,"",v); print v*1e6 } else print v }'; }

echo "warming up Portkey (10 s)" >&2
SB_PORTKEY_HOST="http://127.0.0.1:$P_MOCK/v1" wrk -t1 -c8 -d10s -s bench/gateway/chat.lua "$(url_of pk)" >/dev/null

table=()
for stream in 0 1; do
  for c in 1 16 64 256; do
    # REPS rounds of direct, switchboard, portkey back to back; each figure is the median over
    # the rounds (the noise of a shared 2-vCPU machine moves single runs by 20-40 %).
    declare -A R=() RUNS=()
    targets="direct sb pk"
    { [ "$c" -eq 1 ] || [ "$c" -eq 64 ]; } && [ -n "$ALT_SPIN_US" ] && targets="direct sb spin pk"
    for rep in $(seq "$REPS"); do
      for t in $targets; do
        SB_STREAM=$stream SB_PORTKEY_HOST=$(pk_env $t) wrk -t1 -c"$c" -d2s -s bench/gateway/chat.lua "$(url_of $t)" >/dev/null 2>&1 || true
        one=$(run_wrk $t "$c" $stream "$DURATION")
        RUNS[$t]+="$one"$'\n'
        echo "stream=$stream c=$c $t round $rep: $one" >&2
      done
    done
    for t in $targets; do R[$t]=$(median_runs "${RUNS[$t]}"); done
    read -r d_rps d_p50 d_p99 d_err d_cpu <<<"${R[direct]}"
    read -r k_rps k_p50 k_p99 k_err k_cpu <<<"${R[pk]}"
    mode=$([ $stream = 1 ] && echo stream || echo whole)
    row() {  # row LABEL MEDIANS: one table row for a Switchboard's medians against direct and Portkey
      local s_rps s_p50 s_p99 s_err s_cpu add50 add99 ratio_d ratio_k
      read -r s_rps s_p50 s_p99 s_err s_cpu <<<"$2"
      add50=$(( $(to_us "$s_p50" | cut -d. -f1) - $(to_us "$d_p50" | cut -d. -f1) ))
      add99=$(( $(to_us "$s_p99" | cut -d. -f1) - $(to_us "$d_p99" | cut -d. -f1) ))
      ratio_d=$(awk -v a="$s_rps" -v b="$d_rps" 'BEGIN { printf "%.0f%%", 100*a/b }')
      ratio_k=$(awk -v a="$s_rps" -v b="$k_rps" 'BEGIN { if (b > 0) printf "%.1f×", a/b; else print "-" }')
      table+=("| $1 | $c | $d_rps | $d_p50 / $d_p99 | $s_rps | $s_p50 / $s_p99 | ${add50} µs / ${add99} µs | $s_cpu | $k_rps | $k_p50 / $k_p99 | $k_cpu | $k_err | $ratio_d | $ratio_k |")
    }
    row "$mode" "${R[sb]}"
    [ -n "${R[spin]:-}" ] && row "$mode, spin_us=$ALT_SPIN_US" "${R[spin]}"
  done
done

echo "time to first token" >&2
ttft_d=$(node bench/gateway/ttft.js "$(url_of direct)" 300)
ttft_s=$(node bench/gateway/ttft.js "$(url_of sb)" 300)
ttft_k=$(node bench/gateway/ttft.js "$(url_of pk)" 300 "http://127.0.0.1:$P_MOCK/v1")

echo "256 slow concurrent streams" >&2
SB_STREAM=1 SB_CHUNK_DELAY_MS=50 wrk -t2 -c256 -d15s -s bench/gateway/chat.lua "$(url_of sb)" >"$work/streams_sb.txt"
sb_hwm=$(hwm_kb $sb_pid)
SB_STREAM=1 SB_CHUNK_DELAY_MS=50 SB_PORTKEY_HOST="http://127.0.0.1:$P_MOCK/v1" wrk -t2 -c256 -d15s -s bench/gateway/chat.lua "$(url_of pk)" >"$work/streams_pk.txt"
pk_hwm=$(hwm_kb "$pk_node")
sb_streams=$(awk '/requests in/ {print $1}' "$work/streams_sb.txt")
pk_streams=$(awk '/requests in/ {print $1}' "$work/streams_pk.txt")
pk_stream_errs=$(awk '/Non-2xx/ {print $NF}' "$work/streams_pk.txt")

soak_line="skipped (SOAK_S=0)"
if [ "$SOAK_S" -gt 0 ]; then
  echo "soak ${SOAK_S}s through switchboard" >&2
  wrk -t2 -c64 -d"${SOAK_S}s" -s bench/gateway/chat.lua "$(url_of sb)" >"$work/soak.txt" &
  wrk_pid=$!
  : >"$work/rss.txt"
  start=$(date +%s)
  while kill -0 $wrk_pid 2>/dev/null; do
    echo "$(( $(date +%s) - start )) $(rss_kb $sb_pid)" >>"$work/rss.txt"
    sleep 10
  done
  soak_reqs=$(awk '/requests in/ {print $1}' "$work/soak.txt")
  # Least-squares slope of RSS over time, after the first minute (warm-up growth excluded).
  soak_line=$(awk 'NR>1 && $1>=60 { n++; sx+=$1; sy+=$2; sxx+=$1*$1; sxy+=$1*$2 }
                   NR==1 {first=$2} {last=$2; if ($2>max) max=$2}
                   END { s = (n>1) ? (n*sxy - sx*sy) / (n*sxx - sx*sx) : 0;
                         printf "RSS %d KiB at start, %d KiB at end, max %d KiB; slope after the first minute %.1f KiB/min", first, last, max, s*60 }' "$work/rss.txt")
  soak_line="$soak_reqs requests at c=64 over ${SOAK_S} s: $soak_line"
fi

{
  echo "# bench/gateway results"
  echo
  echo "Generated by \`bench/gateway/run.sh\` on $(date -u +%Y-%m-%d) from commit $(git rev-parse --short HEAD) ($(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ //'))."
  echo "Upstream: \`bench_mock_upstream\` (one I/O thread). Switchboard: log.level=$SB_LOG, access log on, server.spin_us default (100, adaptive),"
  echo "stdout to /dev/null, jemalloc. Portkey: @portkey-ai/gateway $(node -p "require('./bench/gateway/node_modules/@portkey-ai/gateway/package.json').version"), warmed up 10 s."
  echo "All figures from one run: per cell, $REPS rounds of direct, switchboard and portkey back to back, wrk -t2 (-t1 at c=1)"
  echo "for $DURATION each after a 2 s warm-up; each figure is the median of its rounds."
  echo "Added latency = Switchboard − direct. CPU/req = the gateway process's CPU time per request (µs)."
  echo
  echo "| mode | c | direct req/s | direct p50 / p99 | switchboard req/s | p50 / p99 | added p50 / p99 | sb CPU/req µs | portkey req/s | p50 / p99 | pk CPU/req µs | pk non-2xx | sb / direct | sb / portkey |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${table[@]}"
  echo
  echo "Time to first token (300 sequential streamed requests, node client, p50 / p99 µs, errors):"
  echo "direct $ttft_d; switchboard $ttft_s; portkey $ttft_k."
  echo
  echo "Memory: idle RSS switchboard $((sb_idle/1024)) MiB, portkey $((pk_idle/1024)) MiB. Peak RSS with 256 concurrent"
  echo "streams (50 ms between chunks, 15 s): switchboard $((sb_hwm/1024)) MiB ($sb_streams streams completed), portkey"
  echo "$((pk_hwm/1024)) MiB ($pk_streams streams, non-2xx: ${pk_stream_errs:-0})."
  echo
  echo "Soak: $soak_line."
} >"$OUT"
echo "wrote $OUT" >&2
cat "$OUT"
