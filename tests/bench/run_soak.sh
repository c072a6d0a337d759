#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The long soak: tests/integration/test_soak.py for minutes instead of the
# CI's ~60 s (same checks: memory back near its baseline, no fd leaked, the
# log consistent), then the figures it printed: throughput and p50/p99/p999
# per operation, connections, RSS over time, peak waves.
#
# The figures are what one Python (asyncio) process on the same machine can
# drive: on 2 cores the client, not the server, is usually the bottleneck, so
# read them as a soak's operating point, not as redcar's ceiling (see
# run_http.sh / run_resp.sh for that).
#
# Usage: tests/bench/run_soak.sh [BUILD_DIR]   (holds redcar)
# Env:   REDCAR_SOAK_SECONDS (600), REDCAR_SOAK_CONC (300), REDCAR_SOAK_PEAK
#        (3000), REDCAR_SOAK_PEAK_EVERY (30), REDCAR_SOAK_WARMUP (20),
#        REDCAR_SOAK_MIN_CONNS (20000), REDCAR_SOAK_FSYNC (normal), REDCAR_SOAK_SEED;
#        LOG (where the full output goes; default a temp file, kept on failure)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-${REDCAR_BUILD:-$HERE/../../build}}
export REDCAR_BIN=$BUILD/redcar
[ -x "$REDCAR_BIN" ] || { echo "no redcar in $BUILD" >&2; exit 1; }
export REDCAR_SOAK_SECONDS=${REDCAR_SOAK_SECONDS:-600}
export REDCAR_SOAK_CONC=${REDCAR_SOAK_CONC:-300}
export REDCAR_SOAK_PEAK=${REDCAR_SOAK_PEAK:-3000}
export REDCAR_SOAK_PEAK_EVERY=${REDCAR_SOAK_PEAK_EVERY:-30}
export REDCAR_SOAK_WARMUP=${REDCAR_SOAK_WARMUP:-20}
export REDCAR_SOAK_MIN_CONNS=${REDCAR_SOAK_MIN_CONNS:-20000}
export REDCAR_SOAK_FSYNC=${REDCAR_SOAK_FSYNC:-normal}
LOG=${LOG:-$(mktemp /tmp/redcar-soak-XXXXXX.log)}

echo "soak: ${REDCAR_SOAK_SECONDS}s, ${REDCAR_SOAK_CONC} concurrent clients, peaks of" \
     "${REDCAR_SOAK_PEAK} every ${REDCAR_SOAK_PEAK_EVERY}s, fsync ${REDCAR_SOAK_FSYNC}; full output: $LOG"
rc=0
python3 -u "$HERE/../integration/test_soak.py" >"$LOG" 2>&1 || rc=$?

# the figures and the verdict; every failed check in full
grep -E '^# (operation|[a-z]+\.[a-z]+ |all operations|RSS|peak wave|warm-up conn|baseline)' "$LOG" | sed 's/^# //'
grep -E '^FAIL' "$LOG" || true
tail -n 1 "$LOG"
if [ "$rc" -eq 0 ]; then
    rm -f "$LOG"
else
    echo "soak failed (exit $rc); full output kept in $LOG" >&2
fi
exit "$rc"
