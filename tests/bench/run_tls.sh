#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What TLS costs each door: one redcar with all four listeners (http, https,
# resp, tls-port) and a test certificate made here, the same loads on the
# plain and the TLS listener one after the other, and the ratio tls/plain.
#   RESP: redis-benchmark (with --tls) GET and SET, pipeline 1 and 16.
#   HTTP: wrk (keep-alive) GET /health and structured POST /events.
# Connections are long-lived, so this is the record layer's cost, not the
# handshake's.
#
# Usage: tests/bench/run_tls.sh [REDCAR_BIN]
# Env:   N (redis-benchmark requests per run, default 200000), CLIENTS (50),
#        DURATION (wrk seconds, default 5), CONNECTIONS (wrk, default 64),
#        FSYNC (default always).
set -euo pipefail
. "$(dirname "$0")/../lib_pid.sh"

BIN=${1:-${REDCAR_BIN:-$(dirname "$0")/../../build/redcar}}
[ -x "$BIN" ] || { echo "no redcar binary at $BIN" >&2; exit 1; }
for c in openssl redis-benchmark wrk; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
FSYNC=${FSYNC:-always}

TMP=$(mktemp -d /tmp/redcar-bench-tls-XXXXXX)
PID=
cleanup() {
    kill_own "$PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---- a CA and a server certificate for 127.0.0.1 ----
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 1 -subj /CN=bench-ca -keyout "$TMP/ca.key" -out "$TMP/ca.crt" 2>/dev/null
openssl req "${ec[@]}" -subj /CN=localhost -keyout "$TMP/server.key" -out "$TMP/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$TMP/ext"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
    -extfile "$TMP/ext" -out "$TMP/server.crt" 2>/dev/null

"$BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 --https 127.0.0.1:0 --tls-port 127.0.0.1:0 \
    --tls-cert-file "$TMP/server.crt" --tls-key-file "$TMP/server.key" \
    -d "$TMP/data" --fsync "$FSYNC" -o "$TMP/redcar.log" -l info &
PID=$!
port() { sed -n "s/.* $1: listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$TMP/redcar.log" | tail -1; }
for _ in $(seq 200); do grep -q ready "$TMP/redcar.log" 2>/dev/null && break; sleep 0.05; done
HTTP=$(port http) HTTPS=$(port https) RESP=$(port resp) RTLS=$(port resp-tls)
[ -n "$RTLS" ] && [ -n "$HTTPS" ] || { echo "server did not start:" >&2; cat "$TMP/redcar.log" >&2; exit 1; }

# rps PORT TEST PIPELINE [--tls --cacert ...]
rps() {
    local p=$1 t=$2 pipe=$3
    shift 3
    { redis-benchmark -p "$p" "$@" -P "$pipe" -c "$CLIENTS" -n "$N" -r 100000 -q -t "$t" 2>/dev/null || true; } |
        tr '\r' '\n' | grep -i 'requests per second' | tail -1 |
        sed -E 's/.*: *([0-9.]+) requests per second.*/\1/'
}
ratio() { python3 -c "print('%.2f' % (float('${2:-0}') / float('${1:-0}')) if float('${1:-0}') else 'n/a')"; }

echo "redcar $("$BIN" --version | cut -d' ' -f2), fsync $FSYNC; $CLIENTS clients x $N requests (RESP), wrk -c$CONNECTIONS ${DURATION}s (HTTP)"
printf '%-22s %12s %12s %8s\n' load plain_rps tls_rps tls/plain
for pipe in 1 16; do
    for t in set get; do
        a=$(rps "$RESP" "$t" "$pipe")
        b=$(rps "$RTLS" "$t" "$pipe" --tls --cacert "$TMP/ca.crt")
        printf '%-22s %12s %12s %8s\n' "RESP $t P=$pipe" "$a" "$b" "$(ratio "$a" "$b")"
    done
done

cat > "$TMP/post.lua" <<'EOF'
n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents+json"
local run = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
request = function()
  n = n + 1
  return wrk.format(nil, "/events", nil, string.format(
    '{"specversion":"1.0","id":"%s-%d","source":"/bench","type":"bench.event","subject":"s/%d","data":{"n":%d}}',
    run .. tostring(math.random(1000000)), n, n % 100, n))
end
EOF
wrk_rps() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$@" 2>/dev/null | sed -n 's/^Requests\/sec: *//p'; }
for load in "GET /health" "POST /events"; do
    extra=()
    [ "$load" = "POST /events" ] && extra=(-s "$TMP/post.lua")
    path=${load#* }
    [ "$load" = "POST /events" ] && path=/
    a=$(wrk_rps "${extra[@]}" "http://127.0.0.1:$HTTP$path")
    # wrk does not verify certificates; the test suite does (tests/integration/test_tls.py)
    b=$(wrk_rps "${extra[@]}" "https://127.0.0.1:$HTTPS$path")
    printf '%-22s %12s %12s %8s\n' "HTTP $load" "$a" "$b" "$(ratio "$a" "$b")"
done
