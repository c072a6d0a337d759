#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster mode beside a single node, in one run on one machine (loopback):
#   - append throughput with redis-benchmark SET: -P 1 (each client waits for
#     every acknowledgement: synchronous publish) and -P 16 (16 requests in
#     flight per client: asynchronous, batched publishes), on a single node
#     and on node A of a cluster (three nats-server processes, R3 stream);
#   - publish-to-visible latency, p50/p99: PUBLISH on one node, a Redis
#     subscriber on the other (cluster) or the same node (single), measured
#     from just before the PUBLISH to the message's arrival.
# Every process is started here on free ports and stopped by its PID.
#
# Usage: tests/bench/run_cluster.sh [REDCAR_BIN]
# Env:   SECONDS_PER_TEST (default 5), CLIENTS (default 50), SAMPLES (default 500)
set -euo pipefail
. "$(dirname "$0")/../lib_pid.sh"

BIN=${1:-${REDCAR_BIN:-$(dirname "$0")/../../build/redcar}}
[ -x "$BIN" ] || { echo "no redcar binary at $BIN" >&2; exit 1; }
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "needs nats-server" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark" >&2; exit 1; }
SECS=${SECONDS_PER_TEST:-5}
CLIENTS=${CLIENTS:-50}
SAMPLES=${SAMPLES:-500}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d /tmp/redcar-bench-cluster-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill_own "$p"; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# three nats-server processes, one JetStream cluster
CP=() RP=() MP=()
for i in 0 1 2; do CP[$i]=$(free_port); RP[$i]=$(free_port); MP[$i]=$(free_port); done
for i in 0 1 2; do
    routes=
    for j in 0 1 2; do [ "$j" != "$i" ] && routes="${routes:+$routes,}nats://127.0.0.1:${RP[$j]}"; done
    "$NATS" -a 127.0.0.1 -p "${CP[$i]}" -m "${MP[$i]}" -n "n$i" -js -sd "$TMP/nats$i" \
        --cluster_name rc --cluster "nats://127.0.0.1:${RP[$i]}" --routes "$routes" \
        >"$TMP/nats$i.log" 2>&1 &
    PIDS+=($!)
done
URLS="nats://127.0.0.1:${CP[0]},nats://127.0.0.1:${CP[1]},nats://127.0.0.1:${CP[2]}"
for _ in $(seq 150); do
    curl -fs "http://127.0.0.1:${MP[0]}/jsz" | grep -q '"leader"' && break
    sleep 0.2
done

# start_redcar VAR NAME [ARGS...]: sets VAR to the RESP port once ready
# (not a command substitution: the process must be this shell's child)
start_redcar() {
    local var=$1 name=$2
    shift 2
    "$BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$TMP/$name" -o "$TMP/$name.log" -l info "$@" &
    PIDS+=($!)
    for _ in $(seq 300); do grep -q ready "$TMP/$name.log" 2>/dev/null && break; sleep 0.1; done
    printf -v "$var" '%s' "$(grep -o 'resp: listening on 127.0.0.1:[0-9]*' "$TMP/$name.log" | tail -1 | sed 's/.*://')"
    [ -n "${!var}" ] || { echo "redcar $name did not start:" >&2; cat "$TMP/$name.log" >&2; exit 1; }
}
start_redcar SINGLE single
start_redcar A a --cluster "$URLS" --node a
start_redcar B b --cluster "$URLS" --node b

rps() { # port pipeline n
    { redis-benchmark -p "$1" -P "$2" -c "$CLIENTS" -n "$3" -r 100000 -q -t set 2>/dev/null || true; } |
        tr '\r' '\n' | grep -i 'requests per second' | tail -1 |
        sed -E 's/.*: *([0-9.]+) requests per second.*/\1/' || true
}
size_n() { # port pipeline: about SECS seconds of work
    local probe
    probe=$(rps "$1" "$2" 5000)
    python3 -c "print(max(5000, int(float('${probe:-5000}') * $SECS)))"
}

echo "append throughput: redis-benchmark SET, $CLIENTS clients, fsync always, cluster = 3 nats-server (R3) + 2 redcar"
printf '%-26s %14s %14s %8s\n' load single_rps cluster_rps ratio
for pipe in 1 16; do
    n=$(size_n "$SINGLE" "$pipe")
    s=$(rps "$SINGLE" "$pipe" "$n")
    c=$(rps "$A" "$pipe" "$n")
    label="SET -P $pipe ($([ "$pipe" = 1 ] && echo sync || echo async-batched))"
    printf '%-26s %14s %14s %8s\n' "$label" "${s:-?}" "${c:-?}" \
        "$(python3 -c "print('%.2f' % (float('${c:-0}') / float('${s:-1}')))" 2>/dev/null || echo ?)"
done

command -v redis-cli >/dev/null &&
    echo "node A: $(redis-cli -p "$A" info cluster | tr -d '\r' | grep -E 'published_messages|coalesced_requests' | tr '\n' ' ')"
echo
echo "publish-to-visible latency ($SAMPLES PUBLISH, one at a time)"
/usr/bin/python3 - "$SINGLE" "$A" "$B" "$SAMPLES" <<'EOF'
import sys, time, redis
single, a, b, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def measure(pub_port, sub_port):
    sub = redis.Redis(port=sub_port, socket_timeout=30).pubsub()
    sub.subscribe("lat")
    sub.get_message(timeout=5)
    pub = redis.Redis(port=pub_port, socket_timeout=30)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        pub.publish("lat", str(i))
        while True:
            m = sub.get_message(timeout=10)
            if m is None:
                raise SystemExit("no message within 10 s")
            if m["type"] == "message" and m["data"] == str(i).encode():
                break
        out.append((time.perf_counter() - t0) * 1e6)
    sub.close()
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]

s50, s99 = measure(single, single)
c50, c99 = measure(a, b)
print("%-34s %10s %10s" % ("", "p50_us", "p99_us"))
print("%-34s %10.0f %10.0f" % ("single node (pub and sub on it)", s50, s99))
print("%-34s %10.0f %10.0f" % ("cluster (PUBLISH on A, sub on B)", c50, c99))
print("ratio cluster/single: p50 %.2f, p99 %.2f" % (c50 / s50, c99 / s99))
EOF
