#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A guided tour of Redcar's HTTP API with nothing but curl: append events in
# structured mode, binary mode and as a batch, read them back with filters and
# paging, use the key/value view, see optimistic concurrency refuse a stale
# write (409), and watch the live Server-Sent Events stream for a few seconds.
#
# Every step prints the command's intent, then the server's answer.
# Run it against a local redcar:   ./walkthrough.sh
# or another server:               REDCAR_URL=http://10.0.0.5:8519 ./walkthrough.sh
# It is safe to run many times: the ids and subjects carry a per-run suffix
# (set RUN=... to choose it), so a second run appends new events instead of
# hitting the duplicate rule.
set -euo pipefail

U="${REDCAR_URL:-http://127.0.0.1:8519}"
RUN="${RUN:-$(date +%s)-$$}"
SSE_SECONDS="${SSE_SECONDS:-3}"

# --max-time keeps every request bounded, so a wrong address fails fast
# instead of hanging the tour.
CURL=(curl -sS --max-time 10)

# Headings in bold when printing to a terminal, plain in a log.
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# Pull one integer field out of a small JSON answer; good enough for
# {"seq":12,...} and avoids needing jq for the tour.
json_int() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n1; }

step "0. Is the server up? (GET /health)"
"${CURL[@]}" "$U/health"
echo

step "1. Structured mode: the whole CloudEvent is the JSON body (201 Created, Location: /events/<seq>)"
ANSWER=$("${CURL[@]}" -i -X POST "$U/events" \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"order-'"$RUN"'-1","source":"/shop","type":"com.example.order.created",
       "subject":"orders/'"$RUN"'-1","datacontenttype":"application/json","data":{"total":42}}')
echo "$ANSWER"
ORDER1_SEQ=$(printf '%s' "$ANSWER" | json_int seq)

step "2. The same event again is a retry: 200 with the stored seq, nothing appended"
"${CURL[@]}" -X POST "$U/events" \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"order-'"$RUN"'-1","source":"/shop","type":"com.example.order.created",
       "subject":"orders/'"$RUN"'-1","datacontenttype":"application/json","data":{"total":42}}'
echo

step "3. Binary mode: attributes travel as ce-* headers, the body is the data"
"${CURL[@]}" -X POST "$U/events" \
  -H 'ce-specversion: 1.0' -H "ce-id: order-$RUN-2" -H 'ce-source: /shop' \
  -H 'ce-type: com.example.order.created' -H "ce-subject: orders/$RUN-2" \
  -H 'Content-Type: application/json' -d '{"total":7}'
echo

step "4. A batch: appended all-or-nothing, one seq per event"
"${CURL[@]}" -X POST "$U/events" \
  -H 'Content-Type: application/cloudevents-batch+json' \
  -d '[{"specversion":"1.0","id":"ship-'"$RUN"'-1","source":"/warehouse","type":"com.example.order.shipped","subject":"orders/'"$RUN"'-1"},
       {"specversion":"1.0","id":"ship-'"$RUN"'-2","source":"/warehouse","type":"com.example.order.shipped","subject":"orders/'"$RUN"'-2"}]'
echo

step "5. Read one event by its seq (GET /events/$ORDER1_SEQ)"
"${CURL[@]}" "$U/events/$ORDER1_SEQ"
echo

step "6. Read with filters: every event whose subject starts with orders/$RUN-"
"${CURL[@]}" "$U/events?subject_prefix=orders/$RUN-&limit=10"
echo

step "7. Only the shipments, one JSON event per line (NDJSON)"
"${CURL[@]}" "$U/events?type=com.example.order.shipped&source=/warehouse&subject_prefix=orders/$RUN-" \
  -H 'Accept: application/x-ndjson'

step "8. Paging: a full page carries Redcar-Next (and a Link header) to the next one"
"${CURL[@]}" -D - -o /dev/null "$U/events?subject_prefix=orders/$RUN-&limit=2" | grep -i '^redcar-next\|^link' || true

step "9. Optimistic concurrency: append to orders/$RUN-1 only if its latest event is still seq $ORDER1_SEQ"
# orders/$RUN-1 moved on in step 4 (the shipment), so this is refused with
# 409 and nothing is appended: reload, decide again, retry with the new seq.
"${CURL[@]}" -i -X POST "$U/events?expect_seq=$ORDER1_SEQ&expect_subject=orders/$RUN-1" \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"paid-'"$RUN"'-1","source":"/shop","type":"com.example.order.paid","subject":"orders/'"$RUN"'-1"}'
echo

step "10. ... so read the subject's latest seq and try again: 201"
LATEST=$("${CURL[@]}" "$U/events?subject=orders/$RUN-1&order=desc&limit=1" | json_int seq)
echo "latest seq of orders/$RUN-1 is $LATEST"
"${CURL[@]}" -i -X POST "$U/events?expect_seq=$LATEST&expect_subject=orders/$RUN-1" \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"paid-'"$RUN"'-1","source":"/shop","type":"com.example.order.paid","subject":"orders/'"$RUN"'-1"}'
echo

step "11. A bad event is refused with a problem document naming the attribute (400)"
"${CURL[@]}" -X POST "$U/events" -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"","source":"/shop","type":"x"}'
echo

step "12. Key/value view: PUT /kv/{key} is an io.redcar.kv.put event like any other"
"${CURL[@]}" -X PUT "$U/kv/greeting-$RUN" -H 'Content-Type: text/plain' -d 'hello'
echo
"${CURL[@]}" -X PUT "$U/kv/greeting-$RUN" -H 'Content-Type: text/plain' -d 'hello again'
echo
echo "-- GET /kv/greeting-$RUN (value, with its create/mod seq and version in headers)"
"${CURL[@]}" -i "$U/kv/greeting-$RUN"
echo
echo "-- GET /kv?prefix=greeting-$RUN"
"${CURL[@]}" "$U/kv?prefix=greeting-$RUN"
echo
echo "-- GET /kv/greeting-$RUN/history (the events that made the value)"
"${CURL[@]}" "$U/kv/greeting-$RUN/history"
echo

step "13. Live: Server-Sent Events for ${SSE_SECONDS}s, replaying orders/$RUN-* then following"
# The stream replays what is stored after ?from, then stays open for new
# events; post one in the background a second in to see it arrive live.
(
  sleep 1
  "${CURL[@]}" -o /dev/null -X POST "$U/events" -H 'Content-Type: application/cloudevents+json' \
    -d '{"specversion":"1.0","id":"live-'"$RUN"'","source":"/shop","type":"com.example.order.created","subject":"orders/'"$RUN"'-live","data":{"total":1}}'
) &
# curl's --max-time ends the stream (exit code 28, expected here, hence the
# quiet -s without -S and the `|| true`).
curl -sN --max-time "$SSE_SECONDS" "$U/events/stream?from=${ORDER1_SEQ}&subject_prefix=orders/$RUN-" || true
wait

step "14. Server information"
"${CURL[@]}" "$U/info"
echo
echo
echo "walkthrough done (run $RUN)"
