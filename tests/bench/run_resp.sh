#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side-by-side RESP benchmark: redcar (fsync always) against redis-server
# (appendonly yes, appendfsync always), both on free loopback ports with
# their own temporary directories, driven by the same redis-benchmark loads.
# Prints requests/s for both and the ratio redcar/redis.
#
# Usage: tests/bench/run_resp.sh [REDCAR_BIN]
# Env:   SECONDS_PER_TEST (default 10) sizes -n to about that long per run;
#        CLIENTS (default 50); TESTS (default "set get incr publish");
#        KEYSPACE (default 100000): redis-benchmark -r, random keys out of
#        that many; 0 = redis-benchmark's one fixed key ("key:__rand_int__").
set -euo pipefail

BIN=${1:-${REDCAR_BIN:-$(dirname "$0")/../../build/redcar}}
[ -x "$BIN" ] || { echo "no redcar binary at $BIN" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark" >&2; exit 1; }
SECS=${SECONDS_PER_TEST:-10}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-"set get incr publish"}
KEYSPACE=${KEYSPACE:-100000}
RANDOM_KEYS=()
[ "$KEYSPACE" != 0 ] && RANDOM_KEYS=(-r "$KEYSPACE")

. "$(dirname "$0")/lib_servers.sh"
bench_init bench
bench_start_redcar "$BIN"
bench_start_redis
bench_wait_ping "$RC_PORT" "$RD_PORT"

# requests/s of one load: port test pipeline n
# PUBLISH is not a built-in redis-benchmark test: it runs as a custom command
# (to a channel with one subscriber on each server, see below).
rps() {
    local load=(-t "$2")
    [ "$2" = publish ] && load=(PUBLISH bench:channel hello)
    { redis-benchmark -p "$1" -P "$3" -c "$CLIENTS" -n "$4" "${RANDOM_KEYS[@]}" -q "${load[@]}" 2>/dev/null || true; } |
        tr '\r' '\n' | grep -i 'requests per second' | tail -1 |
        sed -E 's/.*: *([0-9.]+) requests per second.*/\1/' || true
}

# Size -n from a short probe on redis so each run takes about SECS seconds.
size_n() {
    local probe
    probe=$(rps "$RD_PORT" "$1" "$2" 20000)
    python3 -c "print(max(20000, int(float('${probe:-20000}') * $SECS)))"
}

# one live subscriber per server, so PUBLISH fans out as well as appends
redis-cli -p "$RC_PORT" subscribe bench:channel >/dev/null 2>&1 &
bench_on_exit $!
redis-cli -p "$RD_PORT" subscribe bench:channel >/dev/null 2>&1 &
bench_on_exit $!

echo "keys: ${KEYSPACE/#0/one fixed key} (redis-benchmark ${RANDOM_KEYS[*]:-without -r}), $CLIENTS clients, fsync always on both"
printf '%-10s %-4s %14s %14s %8s\n' test P redcar_rps redis_rps ratio
for pipe in 1 16; do
    for t in $TESTS; do
        n=$(size_n "$t" "$pipe")
        # seed keys for GET so that it reads real values on both servers
        if [ "$t" = get ]; then
            redis-benchmark -p "$RC_PORT" -t set -c "$CLIENTS" -n 100000 "${RANDOM_KEYS[@]}" -P 16 -q >/dev/null 2>&1
            redis-benchmark -p "$RD_PORT" -t set -c "$CLIENTS" -n 100000 "${RANDOM_KEYS[@]}" -P 16 -q >/dev/null 2>&1
        fi
        a=$(rps "$RC_PORT" "$t" "$pipe" "$n")
        b=$(rps "$RD_PORT" "$t" "$pipe" "$n")
        ratio=$(python3 -c "print(f'{float(\"${a:-0}\")/max(float(\"${b:-1}\"),1e-9):.2f}')")
        printf '%-10s %-4s %14s %14s %8s\n' "$t" "$pipe" "${a:-?}" "${b:-?}" "$ratio"
    done
done
