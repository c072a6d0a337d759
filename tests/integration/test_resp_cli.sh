#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# RESP door with redis-cli and raw bytes (printf | nc-style, through bash's
# /dev/tcp): the commands most clients use, and Redis's malformed-protocol
# answers. Starts the real redcar on free loopback ports, stops it by PID.
set -u
. "$(dirname "$0")/../lib_pid.sh"
BIN=${REDCAR_BIN:-$(dirname "$0")/../../build/redcar}
[ -x "$BIN" ] || { echo "no redcar at $BIN"; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli missing"; exit 1; }

TMP=$(mktemp -d /tmp/redcar-cli-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" -r "127.0.0.1:$PORT" -a 127.0.0.1:0 -d "$TMP/data" --fsync normal >"$TMP/log" 2>&1 &
PID=$!
cleanup() { kill_own "$PID"; rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

fail=0
eq() { # name got want
    if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got [$2] want [$3]"; fail=1; fi
}
cli() { redis-cli -p "$PORT" "$@" 2>&1; }
# raw: send bytes, print what the server answers until it closes (or 2 s)
raw() {
    python3 - "$PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(2)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    out += b"<open>"
sys.stdout.write(out.decode("latin-1").replace("\r\n", "|"))
EOF
}

eq "ping" "$(cli ping)" "PONG"
eq "set" "$(cli set greeting 'hello world')" "OK"
eq "get" "$(cli get greeting)" "hello world"
eq "incr" "$(cli incr counter)" "1"
eq "incrby" "$(cli incrby counter 41)" "42"
eq "wrongtype" "$(cli lpush greeting x)" "WRONGTYPE Operation against a key holding the wrong kind of value"
eq "unknown" "$(cli nosuch a)" "ERR unknown command 'nosuch', with args beginning with: 'a' "
eq "arity" "$(cli get)" "ERR wrong number of arguments for 'get' command"
eq "hset" "$(cli hset user:1 name ada lang c)" "2"
eq "hget" "$(cli hget user:1 lang)" "c"
eq "rpush" "$(cli rpush q a b c)" "3"
eq "lrange" "$(cli lrange q 0 -1 | tr '\n' ' ')" "a b c "
eq "del" "$(cli del q greeting)" "2"
eq "exists" "$(cli exists q greeting)" "0"
eq "dbsize" "$(cli dbsize)" "2"
eq "info" "$(cli info server | grep -c redis_version)" "1"
eq "command docs" "$(cli command docs get | head -1)" "get"
eq "save is a durable no-op" "$(cli save)" "OK"
eq "pipe mode" "$(printf 'SET p1 a\r\nSET p2 b\r\nGET p1\r\n' | redis-cli -p "$PORT" | tr '\n' ' ')" "OK OK a "
eq "multi via cli" "$(printf 'MULTI\nINCR counter\nINCR counter\nEXEC\n' | redis-cli -p "$PORT" | tr '\n' ' ')" "OK QUEUED QUEUED 43 44 "

# malformed protocol: exact Redis answers, then the server closes
eq "negative multibulk ignored" "$(raw '*-10\r\nPING\r\n')" "+PONG|<open>"
eq "invalid multibulk" "$(raw '*abc\r\n')" "-ERR Protocol error: invalid multibulk length|"
eq "huge multibulk" "$(raw '*3000000000\r\n')" "-ERR Protocol error: invalid multibulk length|"
eq "bad bulk length" "$(raw '*1\r\n$-5\r\n')" "-ERR Protocol error: invalid bulk length|"
eq "huge bulk length" "$(raw '*1\r\n$2000000000\r\n')" "-ERR Protocol error: invalid bulk length|"
eq "expected dollar" "$(raw '*2\r\n$3\r\nGET\r\n:1\r\n')" "-ERR Protocol error: expected '\$', got ':'|"
eq "unbalanced quotes" "$(raw 'set "a b\r\n')" "-ERR Protocol error: unbalanced quotes in request|"
eq "desync" "$(raw '*1\r\n$2\r\nPING\r\n')" "-ERR unknown command 'PI', with args beginning with: |<open>"
eq "inline telnet" "$(raw 'PING\r\nECHO "a\\x41"\r\nQUIT\r\n')" "+PONG|\$2|aA|+OK|"
eq "server alive after abuse" "$(cli ping)" "PONG"

kill "$PID"
wait "$PID"
rc=$?
eq "clean shutdown" "$rc" "0"
PID=
exit $fail
