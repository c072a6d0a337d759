#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Each way the HTTP door runs libmicrohttpd (http-event-loop loop with one
# and with two loops, epoll and poll thread pools), with curl: concurrent
# appends in the three modes answered once each with distinct seqs, KV
# writes, a live SSE stream and a long-poll woken from other threads, and
# a clean stop with a stream and a long-poll still open. A Redis client
# writes through the RESP door meanwhile: both doors close store batches
# on their own threads and take turns at the group commit.
. "$(dirname "$0")/lib.sh"

CE='Content-Type: application/cloudevents+json'
BATCH='Content-Type: application/cloudevents-batch+json'
N=40

for mode in "loop 1" "loop 2" "epoll 2" "poll 1"; do
  set -- $mode
  name="$1-$2"
  rc_start "$name" --http-event-loop "$1" --http-threads "$2" --sse-heartbeat 300ms
  curl -sN --max-time 60 "$RC_URL/events/stream" > "$RC_TMP/$name.sse" &
  SSE=$!
  wait_grep "$RC_TMP/$name.sse" '^: heartbeat$' || true

  # concurrent appends: structured, binary, batches of two; SETs over RESP
  redis-benchmark -p "$RC_RESP_PORT" -c 4 -n 3000 -t set -q > "$RC_TMP/$name.rb" 2>&1 &
  RB=$!
  pids=()
  for i in $(seq $N); do
    case $((i % 3)) in
      0) curl -s -o "$RC_TMP/$name.r$i" -w '%{http_code}\n' -X POST "$RC_URL/events" -H "$CE" \
           -d "{\"specversion\":\"1.0\",\"id\":\"s$i\",\"source\":\"/loops\",\"type\":\"t\"}" \
           > "$RC_TMP/$name.c$i" & ;;
      1) curl -s -o "$RC_TMP/$name.r$i" -w '%{http_code}\n' -X POST "$RC_URL/events" \
           -H 'ce-specversion: 1.0' -H "ce-id: b$i" -H 'ce-source: /loops' -H 'ce-type: t' \
           -H 'Content-Type: text/plain' -d "body $i" > "$RC_TMP/$name.c$i" & ;;
      2) curl -s -o "$RC_TMP/$name.r$i" -w '%{http_code}\n' -X POST "$RC_URL/events" -H "$BATCH" \
           -d "[{\"specversion\":\"1.0\",\"id\":\"x$i\",\"source\":\"/loops\",\"type\":\"t\"},{\"specversion\":\"1.0\",\"id\":\"y$i\",\"source\":\"/loops\",\"type\":\"t\"}]" \
           > "$RC_TMP/$name.c$i" & ;;
    esac
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  wait "$RB" || true
  expect_eq "$name: every append 201" "$N" "$(cat "$RC_TMP/$name".c* | grep -c '^201$' || true)"
  check "$name: RESP SETs answered" grep -aq 'SET: .* requests per second' "$RC_TMP/$name.rb"
  http_total=$((N + N / 3))
  seqs=$(cat "$RC_TMP/$name".r* | grep -o '"seq":[0-9]*' | sort -u | wc -l)
  expect_eq "$name: distinct seqs" "$http_total" "$seqs"
  total=$((http_total + 3000))
  expect_eq "$name: stored" "$total" "$(curl -s "$RC_URL/info" | sed 's/.*"seq":\([0-9]*\).*/\1/')"

  # KV through the same path (a transaction in the round's group)
  expect_eq "$name: kv put" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$RC_URL/kv/k" -d v1)"
  expect_eq "$name: kv get" v1 "$(curl -s "$RC_URL/kv/k")"
  expect_eq "$name: kv delete" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$RC_URL/kv/k")"
  total=$((total + 2))

  # the stream saw every event live, woken by the store's commits
  wait_grep "$RC_TMP/$name.sse" "^id: $total\$" || true
  expect_eq "$name: stream got all" "$total" "$(grep -c '^id: ' "$RC_TMP/$name.sse" || true)"

  # a long-poll parks its connection; an append from another client wakes it
  curl -s -o /dev/null -w '%{http_code}' -X POST "$RC_URL/cursors" -H 'Content-Type: application/json' \
    -d '{"name":"lp","start":"end"}' > "$RC_TMP/$name.cur"
  expect_eq "$name: cursor" 201 "$(cat "$RC_TMP/$name.cur")"
  curl -s --max-time 30 "$RC_URL/cursors/lp/events?wait_ms=20000" > "$RC_TMP/$name.lp" &
  LP=$!
  sleep 0.5
  curl -s -o /dev/null -X POST "$RC_URL/events" -H "$CE" \
    -d '{"specversion":"1.0","id":"lp1","source":"/loops","type":"t"}'
  wait "$LP" || true
  check "$name: long-poll woken with the event" grep -q '"id":"lp1"' "$RC_TMP/$name.lp"

  # stop with a stream and a long-poll open: both end, the server stops cleanly
  curl -s --max-time 30 "$RC_URL/cursors/lp/events?wait_ms=20000" > /dev/null &
  LP2=$!
  sleep 0.3
  rc_stop
  wait "$SSE" 2>/dev/null || true
  wait "$LP2" 2>/dev/null || true
  check "$name: stopped cleanly" grep -q 'stopped cleanly' "$RC_LOG"
  check "$name: no suspended connections left" bash -c "! grep -q 'still suspended' '$RC_LOG'"
done
rc_finish
