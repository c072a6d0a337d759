#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Server-Sent Events and the door's robustness with curl and raw sockets:
# replay-then-live without gaps or duplicates, Last-Event-ID resume,
# filters, heartbeats, slow and half-sent requests timing out, garbage
# requests, and a clean stop with streams open.
. "$(dirname "$0")/lib.sh"
rc_start sse --sse-heartbeat 300ms --http-timeout 1s

CE='Content-Type: application/cloudevents+json'
post() { # post ID TYPE
  curl -s -o /dev/null -w '%{http_code}' -X POST "$RC_URL/events" -H "$CE" \
    -d "{\"specversion\":\"1.0\",\"id\":\"$1\",\"source\":\"/sse\",\"type\":\"$2\"}"
}
for i in 1 2 3 4 5; do post "e$i" "$([ $((i % 2)) -eq 0 ] && echo even || echo odd)" >/dev/null; done

# Each stream runs until the test has seen what it waits for (bounded by
# --max-time 60 and wait_grep), then is stopped by PID: a fixed duration
# cuts a stream short on a loaded machine.
# Replay from 2 then live, filtered to odd: 3, 5, then live 7 (6 is even).
curl -sN --max-time 60 "$RC_URL/events/stream?from=2&type=odd" > "$RC_TMP/sse1" &
S1=$!
# Resume after 4 with Last-Event-ID, no filter: 5, then live 6, 7.
curl -sN --max-time 60 -H 'Last-Event-ID: 4' "$RC_URL/events/stream" > "$RC_TMP/sse2" &
S2=$!
# Live only.
curl -sN --max-time 60 "$RC_URL/events/stream" > "$RC_TMP/sse3" &
S3=$!
# Live from here: the replays are done and the live-only stream is open
# (it has sent its first heartbeat).
wait_grep "$RC_TMP/sse1" '^id: 5$' || true
wait_grep "$RC_TMP/sse2" '^id: 5$' || true
wait_grep "$RC_TMP/sse3" '^: heartbeat$' || true
post e6 even >/dev/null
post e7 odd >/dev/null
for f in sse1 sse2 sse3; do wait_grep "$RC_TMP/$f" '^id: 7$' || true; done
# and one more heartbeat after the last event, so each has been written whole
for f in sse1 sse2 sse3; do
  n=$(grep -c '^: heartbeat$' "$RC_TMP/$f" || true)
  for _ in $(seq 200); do [ "$(grep -c '^: heartbeat$' "$RC_TMP/$f" || true)" -gt "$n" ] && break; sleep 0.05; done
done
kill $S1 $S2 $S3 2>/dev/null || true
wait $S1 $S2 $S3 || true
expect_eq "replay+live filtered ids" "3 5 7" "$(sed -n 's/^id: //p' "$RC_TMP/sse1" | xargs)"
expect_eq "Last-Event-ID resume ids" "5 6 7" "$(sed -n 's/^id: //p' "$RC_TMP/sse2" | xargs)"
expect_eq "live only ids" "6 7" "$(sed -n 's/^id: //p' "$RC_TMP/sse3" | xargs)"
check "event field is the type" grep -q '^event: odd$' "$RC_TMP/sse1"
check "data carries seq" grep -q '^data: {.*"seq":7' "$RC_TMP/sse1"
check "heartbeats" grep -q '^: heartbeat$' "$RC_TMP/sse3"
curl -s --max-time 60 -D "$RC_TMP/sse-head" -o /dev/null "$RC_URL/events/stream" &
SH=$!
wait_grep "$RC_TMP/sse-head" '^\s*$' || true # the blank line that ends the headers
kill $SH 2>/dev/null || true
wait $SH || true
expect_eq "SSE content type" "text/event-stream" "$(tr -d '\r' < "$RC_TMP/sse-head" | sed -n 's/^Content-Type: //Ip')"
expect_eq "SSE bad filter 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$RC_URL/events/stream?since=bad")"

# Many events while a replay runs: every seq exactly once, in order.
curl -sN --max-time 120 "$RC_URL/events/stream?from=1" > "$RC_TMP/sse4" &
S4=$!
for i in $(seq 8 60); do post "e$i" odd >/dev/null; done
wait_grep "$RC_TMP/sse4" '^id: 60$' 60 || true
n=$(grep -c '^: heartbeat$' "$RC_TMP/sse4" || true) # then one more heartbeat: nothing after 60
for _ in $(seq 200); do [ "$(grep -c '^: heartbeat$' "$RC_TMP/sse4" || true)" -gt "$n" ] && break; sleep 0.05; done
kill $S4 2>/dev/null || true
wait $S4 || true
expect_eq "replay-then-live gapless" "$(seq 1 60 | xargs)" "$(sed -n 's/^id: //p' "$RC_TMP/sse4" | xargs)"

# A half-sent request is timed out (http-timeout 1s), not held forever.
start=$(date +%s)
exec 3<>/dev/tcp/127.0.0.1/"$RC_HTTP_PORT"
printf 'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 100\r\n\r\n{"spec' >&3
timeout 10 cat <&3 >/dev/null || true
exec 3<&- 3>&-
elapsed=$(( $(date +%s) - start ))
check "half-sent body timed out (${elapsed}s)" test "$elapsed" -le 5
start=$(date +%s)
exec 3<>/dev/tcp/127.0.0.1/"$RC_HTTP_PORT"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n' >&3
timeout 10 cat <&3 >/dev/null || true
exec 3<&- 3>&-
elapsed=$(( $(date +%s) - start ))
check "half-sent headers timed out (${elapsed}s)" test "$elapsed" -le 5

# Garbage on the wire gets an error or a close, never a crash.
printf 'BLAH\r\n\r\n' | timeout 5 curl -s -o /dev/null telnet://127.0.0.1:"$RC_HTTP_PORT" || true
exec 3<>/dev/tcp/127.0.0.1/"$RC_HTTP_PORT"
printf 'POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' >&3
timeout 5 cat <&3 >/dev/null || true
exec 3<&- 3>&-
printf 'GET /%%ZZ%%00?a=%%&b=%%G1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$RC_TMP/req"
exec 3<>/dev/tcp/127.0.0.1/"$RC_HTTP_PORT"
cat "$RC_TMP/req" >&3
resp=$(timeout 5 head -1 <&3 | tr -d '\r' || true)
exec 3<&- 3>&-
check "bad escapes answered ($resp)" test -n "$resp"
expect_eq "alive after garbage" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$RC_URL/health")"

# Stop with a stream open: the stream ends, the server stops cleanly.
curl -sN --max-time 60 "$RC_URL/events/stream" > "$RC_TMP/sse5" &
S5=$!
wait_grep "$RC_TMP/sse5" '^: heartbeat$' || true # the stream is open
t0=$(date +%s)
rc_stop
wait $S5 || true
check "stop with open stream is quick" test $(( $(date +%s) - t0 )) -le 5
check "clean stop" grep -q "stopped cleanly" "$RC_LOG"
rc_finish
