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

. "$(dirname "$0")/lib_servers.sh"
bench_init fanout
bench_start_redcar "$BIN"
bench_start_redis
bench_wait_ping "$RC_PORT" "$RD_PORT"

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
