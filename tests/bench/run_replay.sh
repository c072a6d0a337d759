#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replay throughput over HTTP: load EVENTS small events (batched POSTs), then
# read them all back
#   - through a cursor (POST /cursors start=beginning, then
#     GET /cursors/{name}/events?limit=LIMIT as NDJSON, acknowledging each
#     batch with POST /cursors/{name}/ack before the next fetch);
#   - through a cursor fetched with autoack=true (each fetch acknowledges
#     what it returns, one request per batch);
#   - by plain paging, GET /events?after=S&limit=LIMIT as NDJSON, for
#     comparison (no positions kept, nothing written).
# Both with bench_replay (one keep-alive connection, plain sockets; checks
# every event arrives once, in order). Prints events/s (target for the
# cursor: >= 200,000 events/s) and the cursor/paging ratio. A cursor with
# the defaults (ack_wait_ms 0, max_deliver 0) is served by the store's read
# path: no row written per event, NDJSON formatted straight from the read.
#
# Usage: tests/bench/run_replay.sh [BUILD_DIR]   (holds redcar, bench_replay)
# Env:   EVENTS (1000000), LIMIT (10000), BATCH (load batch, 5000),
#        FSYNC (always), RUNS (2: cursor and paging runs, best counts)
set -euo pipefail
. "$(dirname "$0")/../lib_pid.sh"

BUILD=${1:-${REDCAR_BUILD:-$(dirname "$0")/../../build}}
BIN=$BUILD/redcar
TOOL=$BUILD/bench_replay
[ -x "$BIN" ] && [ -x "$TOOL" ] || { echo "no redcar or bench_replay in $BUILD" >&2; exit 1; }
EVENTS=${EVENTS:-1000000}
LIMIT=${LIMIT:-10000}
BATCH=${BATCH:-5000}
FSYNC=${FSYNC:-always}
RUNS=${RUNS:-2}

TMP=$(mktemp -d /tmp/redcar-replay-XXXXXX)
PID=
cleanup() {
    kill_own "$PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$TMP/data" --fsync "$FSYNC" -o "$TMP/redcar.log" &
PID=$!
PORT=
for _ in $(seq 200); do
    PORT=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/redcar.log" 2>/dev/null |
        tail -1 || true)
    [ -n "$PORT" ] && grep -q ready "$TMP/redcar.log" && break
    sleep 0.05
done
[ -n "$PORT" ] || { echo "redcar did not start:" >&2; cat "$TMP/redcar.log" >&2; exit 1; }

"$TOOL" -p "$PORT" -n "$EVENTS" -b "$BATCH" load >&2

rate() { sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$1"; }
best_cursor=0
best_auto=0
best_events=0
for i in $(seq "$RUNS"); do
    line=$("$TOOL" -p "$PORT" -c "replay$i" -l "$LIMIT" -e "$EVENTS" cursor)
    echo "  $line" >&2
    r=$(rate "$line"); [ "$r" -gt "$best_cursor" ] && best_cursor=$r
    line=$("$TOOL" -p "$PORT" -c "auto$i" -l "$LIMIT" -e "$EVENTS" autoack)
    echo "  $line" >&2
    r=$(rate "$line"); [ "$r" -gt "$best_auto" ] && best_auto=$r
    line=$("$TOOL" -p "$PORT" -l "$LIMIT" -e "$EVENTS" events)
    echo "  $line" >&2
    r=$(rate "$line"); [ "$r" -gt "$best_events" ] && best_events=$r
done
printf '%-34s %14s\n' "replay of $EVENTS events" events_s
printf '%-34s %14s\n' "cursor NDJSON (limit $LIMIT, ack)" "$best_cursor"
printf '%-34s %14s\n' "cursor NDJSON (limit $LIMIT, autoack)" "$best_auto"
printf '%-34s %14s\n' "GET /events NDJSON (limit $LIMIT)" "$best_events"
# The cursor keeps a durable position (and acks every batch); paging keeps
# nothing. A ratio near 1 means the position costs next to nothing.
awk -v c="$best_cursor" -v e="$best_events" 'BEGIN { if (e > 0) printf "%-34s %14.2f\n", "ratio cursor / paging", c / e }'
