#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# redcar-ctl against the real server: every subcommand's output and exit
# code, the two documented argument orders exactly, -w json, tail receiving
# live events (and resuming after a server restart), and the error paths.
# Starts `redcar` on free loopback ports with a temporary data directory and
# stops it by PID on exit.
set -u
. "$(dirname "$0")/../lib_pid.sh"

BUILD=${REDCAR_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
BIN=${REDCAR_BIN:-$BUILD/redcar}
CTL=${REDCAR_CTL:-$BUILD/redcar-ctl}
for b in "$BIN" "$CTL"; do
    [ -x "$b" ] || { echo "missing binary $b"; exit 1; }
done

TMP=$(mktemp -d /tmp/redcar-ctl-test.XXXXXX)
SERVER_PID=
BG_PIDS=()
cleanup() {
    for p in "${BG_PIDS[@]}"; do kill_own "$p"; done
    kill_own "$SERVER_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

FAILS=0
PASSES=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { PASSES=$((PASSES + 1)); }

# start_server [HTTP_ADDR]: starts redcar, sets SERVER_PID and E.
start_server() {
    local addr=${1:-127.0.0.1:0}
    : > "$TMP/server.log"
    "$BIN" -a "$addr" -r 127.0.0.1:0 -d "$TMP/data" -o "$TMP/server.log" &
    SERVER_PID=$!
    local port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/server.log" | tail -1)
        [ -n "$port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "server did not start; log:"; cat "$TMP/server.log"; exit 1
    fi
    E=http://127.0.0.1:$port
    PORT=$port
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# run EXPECTED_RC ARGS...: runs redcar-ctl -e $E ARGS, leaves OUT, ERR, RC.
run() {
    local want=$1; shift
    OUT=$("$CTL" -e "$E" "$@" 2>"$TMP/err"); RC=$?
    ERR=$(cat "$TMP/err")
    if [ "$RC" != "$want" ]; then
        fail "redcar-ctl $* -> exit $RC, want $want; stdout: $OUT; stderr: $ERR"
        return 1
    fi
    pass
    return 0
}
# expect_out REGEX DESCRIPTION: stdout of the last run matches (grep -E).
expect_out() {
    if printf '%s\n' "$OUT" | grep -Eq -- "$1"; then pass; else fail "$2: stdout does not match /$1/: $OUT"; fi
}
expect_err() {
    if printf '%s\n' "$ERR" | grep -Eq -- "$1"; then pass; else fail "$2: stderr does not match /$1/: $ERR"; fi
}
# json_check PYTHON_EXPR DESCRIPTION: evaluates the expression with `d` = stdout parsed.
json_check() {
    if printf '%s' "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" 2>"$TMP/pyerr"; then
        pass
    else
        fail "$2: JSON check ($1) failed on: $OUT $(cat "$TMP/pyerr")"
    fi
}

# wait_subscribers N: until the server counts at least N live subscribers
# (a tail started in the background is then sure to see what follows).
wait_subscribers() {
    local n
    for _ in $(seq 1 100); do
        n=$("$CTL" -e "$E" -w json info 2>/dev/null |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["subscribers"])' 2>/dev/null)
        [ -n "$n" ] && [ "$n" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "no $1 subscribers after 10 s"
}

start_server

# ---- help, version, usage errors (no server needed, but harmless) --------
run 0 --help && expect_out '^Exit codes:' "global help" && expect_out '5  cannot connect' "help lists exit codes"
for c in put get range del history emit events tail info cursor group sub help; do
    run 0 "$c" --help && expect_out "^Usage: redcar-ctl .*$c" "$c --help"
done
run 0 --version && expect_out '^redcar-ctl [0-9]+\.[0-9]+\.[0-9]+$' "--version"
OUT=$("$CTL" 2>&1); RC=$?; [ $RC = 1 ] && pass || fail "no arguments -> exit $RC, want 1"
run 1 bogus && expect_err "unknown command 'bogus'" "unknown command"
run 1 put && expect_err "expected KEY" "put without key"
run 1 get a b && expect_err "extra arguments" "get with two keys"
run 1 range foo --bogus && expect_err "unknown option '--bogus'" "unknown option"
run 1 -w yaml info && expect_err "table or json" "bad --write-out"
run 1 events --limit 0 && expect_err "--limit" "limit 0"
run 1 events --from x && expect_err "--from" "non-numeric --from"
run 1 range a b --prefix && expect_err "prefix" "--prefix with END"
run 1 put '' v && expect_err "empty" "empty key"
run 1 emit --source /x && expect_err "--type is required" "emit without --type"
run 1 emit --type t --ext Bad=1 && expect_err "extension name" "bad extension name"
run 1 emit --type t -f /dev/null && expect_err "cannot be combined" "-f with attribute flags"
run 1 put k --file "$TMP/does-not-exist" && expect_err "cannot open" "missing --file"

# ---- the documented forms, exactly ----------------------------------------
run 0 "foo bar" put && expect_out '^foo +[0-9]+ +1$' "legacy put prints key, seq, version"
run 0 "foo" range && expect_out '^KEY +VALUE +VERSION +CREATE_SEQ +MOD_SEQ$' "legacy range header" \
    && expect_out '^foo +bar +1 +[0-9]+ +[0-9]+$' "legacy range prints foo = bar"
# The documented command lines verbatim (the endpoint given the same way).
OUT=$("$CTL" -e "$E" "foo" range 2>&1); RC=$?
[ $RC = 0 ] && printf '%s\n' "$OUT" | grep -Eq '^foo +bar ' && pass || fail "documented range form: $OUT"

# ---- conventional order -----------------------------------------------------
run 0 put foo2 "bar two" && expect_out '^foo2 +[0-9]+ +1$' "put foo2"
run 0 put fop baz
run 0 put zzz last
run 0 get foo && [ "$OUT" = "bar" ] && pass || fail "get foo printed '$OUT'"
run 0 get foo2 && [ "$OUT" = "bar two" ] && pass || fail "get foo2 printed '$OUT'"
run 0 put foo BAR && expect_out '^foo +[0-9]+ +2$' "second put bumps the version"
run 0 range foo --prefix && expect_out '^foo +BAR +2 ' "prefix has foo" && expect_out '^foo2 +bar two +1 ' "prefix has foo2"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ] && pass || fail "range foo --prefix: want header + 2 rows: $OUT"
run 0 range foo zzz && expect_out '^fop +baz ' "range [foo,zzz) has fop"
printf '%s\n' "$OUT" | grep -q '^zzz' && fail "range [foo,zzz) must exclude zzz" || pass
[ "$(printf '%s\n' "$OUT" | wc -l)" = 4 ] && pass || fail "range foo zzz: want header + 3 rows: $OUT"
run 0 range foo --prefix --count-only && expect_out '^2$' "count-only"
run 0 range foo --prefix --keys-only && expect_out '^KEY +VERSION' "keys-only header"
run 0 range a zzzz --limit 2 && [ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ] && pass || fail "range --limit 2: $OUT"
run 0 range a zzzz --order desc && [ "$(printf '%s\n' "$OUT" | sed -n 2p | cut -d' ' -f1)" = zzz ] && pass \
    || fail "range --order desc first row: $OUT"
# Keys with characters that need percent-encoding.
run 0 put "a b/c?d%e&f" "odd key" && run 0 get "a b/c?d%e&f" && [ "$OUT" = "odd key" ] && pass || fail "odd key: $OUT"
# Values from stdin, byte for byte (binary, with NUL and a trailing newline).
printf 'bin\000ary\377\n' > "$TMP/bin"
run 0 put binkey -f - < "$TMP/bin"
"$CTL" -e "$E" get binkey > "$TMP/bin.out" && cmp -s "$TMP/bin" "$TMP/bin.out" && pass || fail "binary value round trip"
run 0 range binkey && expect_out '^binkey +base64:' "binary value shown as base64"
run 0 put ttlkey v --ttl 3600 -t text/plain
run 0 -w json get ttlkey && json_check 'd["key"]=="ttlkey" and d["value"]=="v" and d["content_type"].startswith("text/plain") and d["version"]==1' "get -w json"

# ---- -w json -----------------------------------------------------------------
run 0 -w json range foo --prefix && json_check 'd["count"]==2 and [i["key"] for i in d["items"]]==["foo","foo2"] and d["items"][0]["value"]=="BAR"' "range -w json"
run 0 range foo -w json && json_check 'd["count"]==1 and d["items"][0]["key"]=="foo" and d["items"][0]["value"]=="BAR" and d["items"][0]["version"]==2' "single-key range -w json"
run 0 -w json put jk jv && json_check 'd["key"]=="jk" and d["seq"]>0 and d["version"]==1' "put -w json"
run 0 -w json range foo --prefix --count-only && json_check 'd["count"]==2' "count-only -w json"

# ---- not found, delete, history ------------------------------------------
run 2 get nosuchkey && expect_err "404" "get missing key reports 404"
run 2 range nosuchkey
run 2 del nosuchkey
run 0 range nosuchkey --prefix && [ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] && pass || fail "empty prefix range: $OUT"
run 0 del foo2 && expect_out '^foo2 +[0-9]+ +true$' "del table"
run 2 get foo2
run 0 history foo2 && expect_out 'io\.redcar\.kv\.put' "history has the put" && expect_out 'io\.redcar\.kv\.del' "history has the delete"
run 0 -w json history foo && json_check 'len(d)==2 and all(e["type"].startswith("io.redcar.kv.") and isinstance(e["seq"],int) for e in d) and d[0]["seq"]<d[1]["seq"]' "history -w json"

# ---- emit ----------------------------------------------------------------
run 0 emit --type com.example.t --source /test --subject s1 --data '{"n":1}' && expect_out '^SEQ +DUPLICATE$' "emit header" \
    && expect_out '^[0-9]+ +false$' "emit row"
run 0 emit --type com.example.t --source /test --id fixed-1 --subject s2 --data hello -t text/plain -x color=red
run 0 -w json emit --type com.example.t --source /test --id fixed-1 --data hello && json_check 'd["duplicate"] is True' "duplicate (source,id) is reported"
run 0 emit --type com.example.t --source /test --id fixed-1 --data hello && expect_out '^[0-9]+ +true$' "duplicate in table"
printf 'raw\001bytes' > "$TMP/data.bin"
run 0 emit --type com.example.bin --source /test --data-file "$TMP/data.bin" -t application/octet-stream
cat > "$TMP/one.json" <<'EOF'
{"specversion":"1.0","id":"file-1","source":"/file","type":"com.example.file","subject":"s3","data":{"from":"file"}}
EOF
run 0 emit -f "$TMP/one.json" && expect_out '^[0-9]+ +false$' "emit -f FILE"
run 0 emit -f - <<'EOF' && [ "$(printf '%s\n' "$OUT" | grep -Ec '^[0-9]+ +false$')" = 2 ] && pass || fail "batch from stdin: $OUT"
[{"specversion":"1.0","id":"b-1","source":"/file","type":"com.example.batch","data":1},
 {"specversion":"1.0","id":"b-2","source":"/file","type":"com.example.batch","data":2}]
EOF
run 4 emit -f - <<<'{"specversion":"1.0","id":"x"}' && expect_err 'HTTP 400' "invalid event from a file is refused with the detail"
run 4 emit -f - <<<'not json' && expect_err 'HTTP 4' "garbage from stdin"
run 4 emit --type t --source '' && expect_err "source" "invalid source caught before sending"
# --expect-seq: the latest seq of the event's subject (0 = none yet). A stale
# expectation is a conflict (exit 3) and appends nothing.
run 0 -w json emit --type com.example.acct --subject acct-1 --data 1 --expect-seq 0 \
    && S1=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
run 3 emit --type com.example.acct --subject acct-1 --data 2 --expect-seq 0 && expect_err 'HTTP 409' "conflict detail"
run 0 emit --type com.example.acct --subject acct-1 --data 2 --expect-seq "${S1:-0}"
run 3 emit --type com.example.acct --data 3 --expect-seq "${S1:-0}" --expect-subject acct-1
run 1 emit --type com.example.acct --data 3 --expect-subject acct-1 && expect_err "needs --expect-seq" "--expect-subject alone"
run 0 -w json events --subject acct-1 && json_check 'len(d)==2' "only the expected appends happened"

# ---- events ----------------------------------------------------------------
run 0 events --type com.example.t && expect_out '^SEQ +TIME +TYPE +SOURCE +SUBJECT +ID +DATA$' "events header" \
    && expect_out ' com\.example\.t +/test +s2 +fixed-1 +hello$' "events row"
[ "$(printf '%s\n' "$OUT" | grep -c 'com.example.t ')" = 2 ] && pass || fail "two com.example.t events: $OUT"
run 0 -w json events --type com.example.t && json_check 'len(d)==2 and all(e["type"]=="com.example.t" and isinstance(e["seq"],int) for e in d) and d[1]["color"]=="red"' "events -w json"
run 0 -w json events && ALL=$OUT && json_check 'len(d) > 10 and [e["seq"] for e in d]==sorted(e["seq"] for e in d)' "all events ascending"
NALL=$(printf '%s' "$ALL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
run 0 -w json events --limit 3 && json_check 'len(d)==3' "--limit 3 gives one page"
run 0 -w json events --limit 3 --all && json_check "len(d)==$NALL and [e['seq'] for e in d]==sorted(set(e['seq'] for e in d))" "--all follows the next links"
run 0 events --limit 2 --all && [ "$(printf '%s\n' "$OUT" | wc -l)" = $((NALL + 1)) ] && pass || fail "--all table: $OUT"
run 0 -w json events --order desc --limit 2 && json_check 'd[0]["seq"]>d[1]["seq"]' "--order desc"
run 0 -w json events --subject s1 && json_check 'len(d)==1 and d[0]["subject"]=="s1" and d[0]["data"]=={"n":1}' "--subject"
run 0 -w json events --subject-prefix s && json_check 'len(d)==3' "--subject-prefix"
run 0 -w json events --source /file && json_check 'len(d)==3' "--source"
run 0 -w json events --from 2 --limit 1 && json_check 'd[0]["seq"]==2' "--from"
run 0 -w json events --after 2 --limit 1 && json_check 'd[0]["seq"]==3' "--after"
run 0 -w json events --type com.example.bin && json_check 'len(d)==1 and "data_base64" in d[0]' "binary data as data_base64"
run 0 -w json events --since 2000-01-01T00:00:00Z --until 2999-01-01T00:00:00Z && json_check "len(d)==$NALL" "--since/--until"
run 4 events --since yesterday && expect_err 'HTTP 400' "bad --since is refused by the server"

# ---- info --------------------------------------------------------------------
run 0 info && expect_out '^health +ok$' "info health" && expect_out '^version +' "info version" && expect_out '^seq +[0-9]+$' "info seq"
run 0 -w json info && json_check 'd["health"]["status"]=="ok" and d["info"]["seq"]>=10' "info -w json"

# ---- tail -----------------------------------------------------------------
# Live: start tail, append, see it arrive.
"$CTL" -e "$E" -w json tail --type com.example.live --count 2 > "$TMP/tail1" 2>"$TMP/tail1.err" &
T1=$!; BG_PIDS+=($T1)
"$CTL" -e "$E" tail --type com.example.live > "$TMP/tail2" 2>"$TMP/tail2.err" &
T2=$!; BG_PIDS+=($T2)
wait_subscribers 2
run 0 emit --type com.example.other --data skip
run 0 emit --type com.example.live --id live-1 --subject L --data '{"live":1}'
run 0 emit --type com.example.live --id live-2 --data two
for _ in $(seq 1 100); do kill -0 $T1 2>/dev/null || break; sleep 0.1; done
if kill -0 $T1 2>/dev/null; then fail "tail --count 2 did not finish"; kill $T1; fi
wait $T1; RC=$?
[ $RC = 0 ] && pass || fail "tail --count 2 exit $RC: $(cat "$TMP/tail1.err")"
OUT=$(cat "$TMP/tail1")
[ "$(wc -l < "$TMP/tail1")" = 2 ] && pass || fail "tail -w json printed: $OUT"
OUT=$(head -1 "$TMP/tail1") && json_check 'd["id"]=="live-1" and d["data"]=={"live":1} and isinstance(d["seq"],int)' "tail -w json event"
# The table tail stops cleanly on SIGINT.
for _ in $(seq 1 50); do grep -q live-2 "$TMP/tail2" && break; sleep 0.1; done
kill -INT $T2
for _ in $(seq 1 50); do kill -0 $T2 2>/dev/null || break; sleep 0.1; done
if kill -0 $T2 2>/dev/null; then fail "tail did not stop on SIGINT"; kill -9 $T2; fi
wait $T2; RC=$?
[ $RC = 0 ] && pass || fail "tail after SIGINT exit $RC: $(cat "$TMP/tail2.err")"
OUT=$(cat "$TMP/tail2")
expect_out '^SEQ +TIME +TYPE' "tail table header"
expect_out ' com\.example\.live +/redcar-ctl +L +live-1 +\{"live":1\}$' "tail table row"
printf '%s\n' "$OUT" | grep -q com.example.other && fail "tail --type let another type through" || pass
# Replay from a position.
OUT=$(timeout 10 "$CTL" -e "$E" -w json tail --from 1 --count 3 2>&1); RC=$?
[ $RC = 0 ] && pass || fail "tail --from 1 --count 3 exit $RC: $OUT"
json_lines_ok=$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; print([json.loads(l)["seq"] for l in sys.stdin])')
[ "$json_lines_ok" = "[1, 2, 3]" ] && pass || fail "tail --from 1 replays 1,2,3: $json_lines_ok"
# Resume after the server goes away and comes back on the same port.
"$CTL" -e "$E" -w json tail --type com.example.resume --count 2 > "$TMP/tail3" 2>"$TMP/tail3.err" &
T3=$!; BG_PIDS+=($T3)
wait_subscribers 1
run 0 emit --type com.example.resume --id r-1 --data 1
for _ in $(seq 1 50); do grep -q r-1 "$TMP/tail3" && break; sleep 0.1; done
stop_server
start_server "127.0.0.1:$PORT"
run 0 emit --type com.example.resume --id r-2 --data 2
for _ in $(seq 1 150); do kill -0 $T3 2>/dev/null || break; sleep 0.1; done
if kill -0 $T3 2>/dev/null; then fail "tail did not resume after a server restart: $(cat "$TMP/tail3" "$TMP/tail3.err")"; kill $T3; fi
wait $T3; RC=$?
OUT=$(cat "$TMP/tail3")
[ $RC = 0 ] && [ "$(grep -c '"r-' "$TMP/tail3")" = 2 ] && pass || fail "tail resume: exit $RC, got: $OUT $(cat "$TMP/tail3.err")"
grep -q reconnecting "$TMP/tail3.err" && pass || fail "tail should say it reconnects"

# ---- sub: push subscriptions (webhooks) ---------------------------------------
run 0 sub --help && expect_out '^Usage: redcar-ctl .*sub' "sub --help"
# A sink on a free loopback port that records each delivery's headers.
cat > "$TMP/sink.py" <<'PY'
import http.server, json, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write(json.dumps({"h": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
: > "$TMP/sink.out"
python3 "$TMP/sink.py" "$TMP/sink.out" > "$TMP/sink.port" &
SINK_PID=$!; BG_PIDS+=($SINK_PID)
for _ in $(seq 1 50); do [ -s "$TMP/sink.port" ] && break; sleep 0.1; done
SINK=http://127.0.0.1:$(head -1 "$TMP/sink.port")/hook
run 0 -w json sub create "$SINK" --id hook1 --type com.example.hook -H 'X-Sink-Key: k1' \
    --max-attempts 3 --attempt-timeout 2000 && json_check 'd["id"]=="hook1" and d["consumer"]=="push.hook1" and d["config"]["max_attempts"]==3 and d["protocolsettings"]["headers"]["X-Sink-Key"]=="k1"' "sub create -w json"
run 0 sub create "$SINK" --id hook2 --subject-prefix orders/ --filters "[{\"sql\":\"type LIKE 'com.%'\"}]" &&
    expect_out '^ID +SINK +ACK_SEQ +LAG' "sub create table header" && expect_out '^hook2 +http://127' "sub create table row"
run 3 sub create "$SINK" --id hook1 && expect_err '409|exists' "sub create existing id: conflict"
run 4 sub create "ftp://nowhere" --id bad && expect_err 'sink' "sub create with a bad sink: refused"
run 1 sub create "$SINK" -H 'no-colon' && expect_err 'NAME:VALUE' "sub create --header without a colon"
run 1 sub create "$SINK" --filters '{"a":1}' && expect_err 'JSON array' "sub create --filters not an array"
run 1 sub frobnicate && expect_err "unknown sub subcommand" "sub unknown subcommand"
run 1 sub get && expect_err "expected ID" "sub get without id"
run 0 emit --type com.example.hook --id hook-ev-1 --data '{"h":1}'
for _ in $(seq 1 100); do grep -q hook-ev-1 "$TMP/sink.out" && break; sleep 0.1; done
OUT=$(cat "$TMP/sink.out") && json_check 'd["h"]["ce-id"]=="hook-ev-1" and d["h"]["x-sink-key"]=="k1" and d["h"]["ce-type"]=="com.example.hook"' "sub: the sink got the event with the extra header"
run 0 sub list && expect_out '^hook1 ' "sub list hook1" && expect_out '^hook2 ' "sub list hook2"
run 0 -w json sub list && json_check 'sorted(s["id"] for s in d)==["hook1","hook2"]' "sub list -w json"
for _ in $(seq 1 50); do
    "$CTL" -e "$E" -w json sub get hook1 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["status"]["delivered"]>=1 else 1)' && break
    sleep 0.1
done
run 0 -w json sub get hook1 && json_check 'd["id"]=="hook1" and d["status"]["delivered"]>=1 and d["status"]["lag"]==0' "sub get: delivered, no lag"
run 0 sub delete hook1 && expect_out '^deleted hook1$' "sub delete"
run 2 sub get hook1 && expect_err '404|not found|No' "sub get deleted: exit 2"
run 2 sub delete hook1
run 0 sub delete hook2
kill $SINK_PID 2>/dev/null; wait $SINK_PID 2>/dev/null

# ---- REDCAR_TOKEN: the bearer token of every request ----------------------------
AUTH_DIR=$TMP/authdata
: > "$TMP/auth.log"
"$BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$AUTH_DIR" -o "$TMP/auth.log" --requirepass s3cret \
    --user 'reader:ro:rpass' &
AUTH_PID=$!; BG_PIDS+=($AUTH_PID)
AP=
for _ in $(seq 1 100); do
    AP=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/auth.log" | tail -1)
    [ -n "$AP" ] && grep -q ready "$TMP/auth.log" && break
    sleep 0.1
done
AE=http://127.0.0.1:$AP
OUT=$(env -u REDCAR_TOKEN -u REDCAR_PASSWORD "$CTL" -e "$AE" put tk v 2>&1); RC=$?
[ $RC = 4 ] && pass || fail "without REDCAR_TOKEN: exit $RC, want 4: $OUT"
OUT=$(REDCAR_TOKEN=s3cret "$CTL" -e "$AE" put tk v 2>&1); RC=$?
[ $RC = 0 ] && pass || fail "REDCAR_TOKEN=requirepass: exit $RC: $OUT"
OUT=$(REDCAR_TOKEN=reader:rpass "$CTL" -e "$AE" get tk 2>&1); RC=$?
[ $RC = 0 ] && [ "$OUT" = v ] && pass || fail "REDCAR_TOKEN=NAME:PASSWORD read: exit $RC: $OUT"
OUT=$(REDCAR_TOKEN=reader:rpass "$CTL" -e "$AE" put tk w 2>&1); RC=$?
[ $RC = 4 ] && pass || fail "read-only token writing: exit $RC, want 4: $OUT"
OUT=$(REDCAR_TOKEN=wrong "$CTL" -e "$AE" get tk 2>&1); RC=$?
[ $RC = 4 ] && pass || fail "wrong REDCAR_TOKEN: exit $RC, want 4: $OUT"
OUT=$(env -u REDCAR_TOKEN REDCAR_PASSWORD=s3cret "$CTL" -e "$AE" get tk 2>&1); RC=$?
[ $RC = 0 ] && [ "$OUT" = v ] && pass || fail "REDCAR_PASSWORD (older name): exit $RC: $OUT"
OUT=$(REDCAR_TOKEN=s3cret "$CTL" -e "$AE" -w json sub list 2>&1); RC=$?
[ $RC = 0 ] && [ "$OUT" = "[]" ] && pass || fail "REDCAR_TOKEN with sub list: exit $RC: $OUT"
"$CTL" --help | grep -q 'REDCAR_TOKEN' && pass || fail "--help documents REDCAR_TOKEN"
kill $AUTH_PID 2>/dev/null; wait $AUTH_PID 2>/dev/null

# ---- endpoint selection and connection errors --------------------------------
OUT=$(REDCAR_ENDPOINT=$E "$CTL" get foo 2>&1); RC=$?
[ $RC = 0 ] && [ "$OUT" = BAR ] && pass || fail "REDCAR_ENDPOINT: exit $RC: $OUT"
OUT=$("$CTL" -e "127.0.0.1:$PORT" get foo 2>&1); [ "$OUT" = BAR ] && pass || fail "host:port endpoint: $OUT"
stop_server
run 5 get foo && expect_err 'cannot reach' "connection refused"
run 5 tail
OUT=$("$CTL" -e ftp://x get foo 2>&1); RC=$?; [ $RC = 1 ] && pass || fail "ftp endpoint exit $RC"

echo "test_ctl: $PASSES checks passed, $FAILS failed"
[ $FAILS = 0 ]
