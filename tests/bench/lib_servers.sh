# SPDX-License-Identifier: Apache-2.0
# Shared by the side-by-side RESP benchmarks (run_resp.sh, run_fanout.sh):
# free loopback ports, redcar and redis-server started the same way in every
# benchmark, waiting until they answer, and stopping only the processes
# started here, by PID. Source it; it sets an EXIT trap (add more with
# bench_on_exit).
#
#   bench_init NAME              temp dir $BENCH_TMP (removed on exit)
#   bench_start_redcar BIN       -> RC_PORT, RC_PID   (fsync always, log at warn)
#   bench_start_redis            -> RD_PORT, RD_PID   (appendonly yes, appendfsync always)
#   bench_wait_ping PORT...      until each answers PING (10 s at most)
#   bench_on_exit PID...         also stop these on exit (helpers like subscribers)

bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

. "$(dirname "${BASH_SOURCE[0]}")/../lib_pid.sh"
BENCH_PIDS=()
bench_cleanup() {
    local i
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do # helpers first, servers last
        kill_own "${BENCH_PIDS[i]}"
    done
    [ -n "${BENCH_TMP:-}" ] && rm -rf "$BENCH_TMP"
    return 0
}

bench_on_exit() { BENCH_PIDS+=("$@"); }

bench_init() {
    BENCH_TMP=$(mktemp -d "/tmp/redcar-$1-XXXXXX")
    trap bench_cleanup EXIT
}

bench_start_redcar() {
    RC_PORT=$(bench_free_port)
    "$1" -r "127.0.0.1:$RC_PORT" -a 127.0.0.1:0 -d "$BENCH_TMP/redcar" --fsync always -l warn \
        >"$BENCH_TMP/redcar.log" 2>&1 &
    RC_PID=$!
    bench_on_exit "$RC_PID"
}

# The same durability as redcar's fsync always: every write is in the AOF
# and fsynced before the reply. (Redis does not write PUBLISH to the AOF.)
bench_start_redis() {
    RD_PORT=$(bench_free_port)
    mkdir -p "$BENCH_TMP/redis"
    redis-server --port "$RD_PORT" --bind 127.0.0.1 --dir "$BENCH_TMP/redis" --appendonly yes \
        --appendfsync always --save '' --daemonize no --logfile "$BENCH_TMP/redis.log" &
    RD_PID=$!
    bench_on_exit "$RD_PID"
}

bench_wait_ping() {
    local p
    for p in "$@"; do
        for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
}
