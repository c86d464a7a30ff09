#!/usr/bin/env bash
# Runs every libFuzzer target of build-fuzz for FUZZ_SECONDS each (default 60), starting from the
# seed corpus tests/fuzz/corpus/<target>/ and growing build-fuzz/corpus/<target>/. Crashes,
# leaks and timeouts go to build-fuzz/findings/<target>/; the exit code is 1 when any target
# found something. FUZZ_TARGETS limits the run to some targets (space separated); FUZZ_TIMEOUT
# (default 20 s) is the time one input may take before it counts as a finding (the extractors'
# parsers have superlinear inputs, bounded in the server by knowledge.extract_timeout_ms).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-20}
targets=${FUZZ_TARGETS:-$(ls tests/fuzz/corpus)}
status=0
for t in $targets; do
  bin="$BUILD/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: $bin not built" >&2; status=1; continue; }
  mkdir -p "$BUILD/corpus/$t" "$BUILD/findings/$t"
  echo "== $t: ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb=2560 -max_len=262144 \
      -print_final_stats=1 -artifact_prefix="$BUILD/findings/$t/" \
      "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" > "$BUILD/findings/$t/log.txt" 2>&1; then
    echo "fuzz: $t found something: $BUILD/findings/$t/" >&2
    status=1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)|^#[0-9]+.*DONE" "$BUILD/findings/$t/log.txt" | tail -3
done
exit $status
