#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side-by-side fan-out benchmark: one publisher, SUBS subscribers over RESP,
# against redcar (fsync always) and redis-server (appendonly yes,
# appendfsync always), each on a free loopback port with its own temporary
# directory, driven by the same tool (bench_fanout: plain sockets, one epoll
# loop for the subscribers, one pipelining publisher). Prints the delivered
# messages/s of both and the ratio redcar/redis (target: >= 0.7).
#
# Note the asymmetry this measures honestly: Redis does not write PUBLISH to
# its AOF, so it never fsyncs for it; every redcar PUBLISH is an event in
# the log, committed (group commit, fsync always) before it fans out.
#
# Usage: tests/bench/run_fanout.sh [BUILD_DIR]   (holds redcar, bench_fanout)
# Env:   SUBS (100), MSGS (20000), SIZE (64 bytes), PIPE (64), RUNS (3: the
#        best run of each server counts)
set -euo pipefail

BUILD=${1:-${REDCAR_BUILD:-$(dirname "$0")/../../build}}
BIN=$BUILD/redcar
TOOL=$BUILD/bench_fanout
[ -x "$BIN" ] && [ -x "$TOOL" ] || { echo "no redcar or bench_fanout in $BUILD" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    { echo "needs redis-server and redis-cli" >&2; exit 1; }
SUBS=${SUBS:-100}
MSGS=${MSGS:-20000}
SIZE=${SIZE:-64}
PIPE=${PIPE:-64}
RUNS=${RUNS:-3}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d /tmp/redcar-fanout-XXXXXX)
RC_PORT=$(free_port)
RD_PORT=$(free_port)
RC_PID=
RD_PID=
cleanup() {
    [ -n "$RC_PID" ] && kill "$RC_PID" 2>/dev/null && wait "$RC_PID" 2>/dev/null || true
    [ -n "$RD_PID" ] && kill "$RD_PID" 2>/dev/null && wait "$RD_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" -r "127.0.0.1:$RC_PORT" -a 127.0.0.1:0 -d "$TMP/redcar" --fsync always -l warn \
    >"$TMP/redcar.log" 2>&1 &
RC_PID=$!
mkdir -p "$TMP/redis"
redis-server --port "$RD_PORT" --bind 127.0.0.1 --dir "$TMP/redis" --appendonly yes \
    --appendfsync always --save '' --daemonize no --logfile "$TMP/redis.log" &
RD_PID=$!
for p in "$RC_PORT" "$RD_PORT"; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# best delivered_rate of RUNS runs against a port
best() {
    local b=0 line rate
    for _ in $(seq "$RUNS"); do
        line=$("$TOOL" -p "$1" -s "$SUBS" -n "$MSGS" -d "$SIZE" -P "$PIPE" -c "bench:fanout:$RANDOM") ||
            { echo "bench_fanout failed on port $1: $line" >&2; exit 1; }
        echo "  port $1: $line" >&2
        rate=$(sed -E 's/.*delivered_rate=([0-9]+).*/\1/' <<<"$line")
        [ "$rate" -gt "$b" ] && b=$rate
    done
    echo "$b"
}

echo "fan-out: 1 publisher (pipeline $PIPE), $SUBS subscribers, $MSGS messages of $SIZE bytes" >&2
a=$(best "$RC_PORT")
b=$(best "$RD_PORT")
ratio=$(python3 -c "print(f'{$a/max($b,1):.2f}')")
printf '%-22s %14s %14s %8s\n' test redcar_msg_s redis_msg_s ratio
printf '%-22s %14s %14s %8s\n' "fanout-$SUBS" "$a" "$b" "$ratio"
