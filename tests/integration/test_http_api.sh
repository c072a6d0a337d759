#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every HTTP route and error of the door, driven with curl against the real
# server: the three CloudEvents modes, duplicates, preconditions, listing
# with filters and paging, binary GET, KV, health/info/metrics, and the
# malformed cases (404, 405 + Allow, 400 naming the attribute, 413 early
# and while streaming, 415).
. "$(dirname "$0")/lib.sh"
rc_start http --http-max-body 65536 --max-event-size 32768

CE='Content-Type: application/cloudevents+json'
BATCH='Content-Type: application/cloudevents-batch+json'
# code METHOD PATH [curl args...] -> prints the status code; body in $RC_TMP/body, headers in $RC_TMP/hdr
code() {
  local m=$1 p=$2; shift 2
  curl -s -o "$RC_TMP/body" -D "$RC_TMP/hdr" -w '%{http_code}' -X "$m" "$RC_URL$p" "$@"
}
body() { cat "$RC_TMP/body"; }
hdr() { tr -d '\r' < "$RC_TMP/hdr" | sed -n "s/^$1: //Ip" | head -1; }

# ---- POST /events: structured, duplicates -------------------------------------------
expect_eq "structured 201" 201 "$(code POST /events -H "$CE" -d '{"specversion":"1.0","id":"a1","source":"/it","type":"it.created","subject":"acct/1","data":{"n":1}}')"
expect_eq "structured body" '{"seq":1,"duplicate":false}' "$(body)"
expect_eq "structured Location" /events/1 "$(hdr Location)"
expect_eq "duplicate 200" 200 "$(code POST /events -H "$CE" -d '{"specversion":"1.0","id":"a1","source":"/it","type":"it.created"}')"
expect_eq "duplicate body" '{"seq":1,"duplicate":true}' "$(body)"

# ---- binary mode ---------------------------------------------------------------------------
expect_eq "binary 201" 201 "$(code POST /events -H 'ce-specversion: 1.0' -H 'ce-id: b1' -H 'ce-source: /it' \
  -H 'ce-type: it.binary' -H 'ce-subject: caf%C3%A9' -H 'ce-traceparent: 00-abc' -H 'Content-Type: text/plain' -d 'hello world')"
expect_eq "binary seq" '{"seq":2,"duplicate":false}' "$(body)"
expect_eq "binary invalid UTF-8 400" 400 "$(code POST /events -H 'ce-specversion: 1.0' -H 'ce-id: b2' -H 'ce-source: /it' -H 'ce-type: t' -H 'ce-subject: %FF' -d x)"
check "binary error names the header" grep -q 'ce-subject' "$RC_TMP/body"
expect_eq "binary missing id 400" 400 "$(code POST /events -H 'ce-specversion: 1.0' -H 'ce-source: /it' -H 'ce-type: t' -d x)"
check "missing id named" grep -q '"detail":"id' "$RC_TMP/body"

# ---- batch ---------------------------------------------------------------------------------------
expect_eq "batch 201" 201 "$(code POST /events -H "$BATCH" -d '[{"specversion":"1.0","id":"c1","source":"/it","type":"it.batch"},{"specversion":"1.0","id":"c2","source":"/it","type":"it.batch","subject":"acct/2"}]')"
expect_eq "batch body" '{"items":[{"seq":3,"duplicate":false},{"seq":4,"duplicate":false}]}' "$(body)"
expect_eq "batch Location" /events/3 "$(hdr Location)"
expect_eq "batch all duplicates 200" 200 "$(code POST /events -H "$BATCH" -d '[{"specversion":"1.0","id":"c1","source":"/it","type":"it.batch"}]')"
expect_eq "batch invalid 400" 400 "$(code POST /events -H "$BATCH" -d '[{"specversion":"1.0","id":"c3","source":"/it","type":"t"},{"specversion":"1.0","id":"c4","type":"t"}]')"
check "batch error names the index and attribute" grep -q '\[1\] source' "$RC_TMP/body"
expect_eq "batch not appended" 4 "$(curl -s "$RC_URL/info" | sed 's/.*"seq":\([0-9]*\).*/\1/')"

# ---- errors -----------------------------------------------------------------------------------
expect_eq "invalid structured 400" 400 "$(code POST /events -H "$CE" -d '{"specversion":"1.0","id":"x","source":"/it","type":"t","time":"yesterday"}')"
check "problem+json" test "$(hdr Content-Type)" = application/problem+json
check "detail names time" grep -q '"detail":"time' "$RC_TMP/body"
check "problem type is a relative URI" grep -q '"type":"/problems/event-invalid"' "$RC_TMP/body"
expect_eq "not JSON 400" 400 "$(code POST /events -H "$CE" -d '{"specversion":')"
expect_eq "415 unknown media type" 415 "$(code POST /events -H 'Content-Type: text/csv' -d 'a,b')"
expect_eq "415 no content type" 415 "$(code POST /events --data-binary @/dev/null)"
expect_eq "404 unknown path" 404 "$(code GET /nope)"
expect_eq "405 method" 405 "$(code DELETE /events)"
expect_eq "405 Allow" "POST, GET" "$(hdr Allow)"
expect_eq "409 expect_seq" 409 "$(code POST '/events?expect_seq=3&expect_subject=acct/1' -H "$CE" -d '{"specversion":"1.0","id":"d1","source":"/it","type":"t","subject":"acct/1"}')"
expect_eq "expect_seq ok" 201 "$(code POST /events -H 'Redcar-Expect-Seq: 1' -H "$CE" -d '{"specversion":"1.0","id":"d1","source":"/it","type":"t","subject":"acct/1"}')"
head -c 70000 /dev/zero | tr '\0' 'a' > "$RC_TMP/big"
expect_eq "413 from Content-Length" 413 "$(code POST /events -H "$CE" --data-binary @"$RC_TMP/big")"
expect_eq "413 while streaming (chunked)" 413 "$(code POST /events -H "$CE" -H 'Transfer-Encoding: chunked' --data-binary @"$RC_TMP/big")"
head -c 40000 /dev/zero | tr '\0' 'a' > "$RC_TMP/mid"
expect_eq "413 over max-event-size" 413 "$(code POST /events -H 'ce-specversion: 1.0' -H 'ce-id: big' -H 'ce-source: /it' -H 'ce-type: t' --data-binary @"$RC_TMP/mid")"
expect_eq "server alive after errors" 200 "$(code GET /health)"

# ---- GET /events -----------------------------------------------------------------------------------
expect_eq "list 200" 200 "$(code GET '/events?limit=2')"
expect_eq "list media type" application/cloudevents-batch+json "$(hdr Content-Type)"
expect_eq "list next" '/events?after=2&limit=2' "$(hdr Redcar-Next)"
expect_eq "list Link" '</events?after=2&limit=2>; rel="next"' "$(hdr Link)"
check "list carries seq" grep -q '"seq":2}]$' "$RC_TMP/body"
expect_eq "ndjson lines" 5 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events" | wc -l)"
expect_eq "filter type" 2 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events?type=it.batch" | wc -l)"
expect_eq "filter subject_prefix" 2 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events?subject_prefix=acct/" | grep -c acct/1)"
expect_eq "filter source+after" 2 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events?source=/it&after=3" | wc -l)"
expect_eq "filter since future" 0 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events?since=2999-01-01T00:00:00Z" | wc -l)"
expect_eq "desc first" 5 "$(curl -s -H 'Accept: application/x-ndjson' "$RC_URL/events?order=desc&limit=1" | sed 's/.*"seq":\([0-9]*\)}$/\1/')"
expect_eq "bad limit 400" 400 "$(code GET '/events?limit=100000')"
expect_eq "bad since 400" 400 "$(code GET '/events?since=nope')"

# ---- GET /events/{seq} -----------------------------------------------------------------------------
expect_eq "get one" 200 "$(code GET /events/2)"
expect_eq "get one media type" application/cloudevents+json "$(hdr Content-Type)"
check "get one has seq" grep -q '"seq":2}$' "$RC_TMP/body"
expect_eq "get binary" 200 "$(code GET /events/2 -H 'Accept: text/plain')"
expect_eq "binary body" "hello world" "$(body)"
expect_eq "binary ce-subject" "caf%C3%A9" "$(hdr ce-subject)"
expect_eq "binary ce-seq" 2 "$(hdr ce-seq)"
expect_eq "get missing 404" 404 "$(code GET /events/999)"
expect_eq "get bad seq 400" 400 "$(code GET /events/abc)"

# ---- KV -------------------------------------------------------------------------------------------------
expect_eq "kv put new 201" 201 "$(code PUT /kv/color -H 'Content-Type: text/plain' -d red)"
check "kv put body" grep -q '"key":"color","seq":[0-9]*,"version":1}' "$RC_TMP/body"
expect_eq "kv put again 200" 200 "$(code PUT '/kv/color?ttl=3600' -H 'Content-Type: text/plain' -d blue)"
check "kv version 2" grep -q '"version":2}' "$RC_TMP/body"
expect_eq "kv get" 200 "$(code GET /kv/color)"
expect_eq "kv value" blue "$(body)"
expect_eq "kv ctype" text/plain "$(hdr Content-Type)"
expect_eq "kv version header" 2 "$(hdr Redcar-Version)"
check "kv expires header" test -n "$(hdr Redcar-Expires)"
expect_eq "kv slash key" 201 "$(code PUT /kv/a%2Fb -H "Content-Type:" --data-binary v)"
expect_eq "kv slash get ctype" application/octet-stream "$( code GET /kv/a%2Fb >/dev/null; hdr Content-Type)"
expect_eq "kv list count" '{"count":2}' "$(curl -s "$RC_URL/kv?count_only=true")"
check "kv list items" sh -c "curl -s '$RC_URL/kv?prefix=col' | grep -q '\"key\":\"color\",\"value\":\"blue\",\"content_type\":\"text/plain\"'"
check "kv history" sh -c "curl -s '$RC_URL/kv/color/history' | grep -q 'io.redcar.kv.put'"
check "kv events come from redcar://http" sh -c "curl -s '$RC_URL/kv/color/history' | grep -q '\"source\":\"redcar://http\"'"
expect_eq "kv delete" 200 "$(code DELETE /kv/color)"
check "kv delete body" grep -q '"deleted":true' "$RC_TMP/body"
expect_eq "kv delete absent 404" 404 "$(code DELETE /kv/color)"
expect_eq "kv get absent 404" 404 "$(code GET /kv/color)"
expect_eq "kv bad ttl 400" 400 "$(code PUT '/kv/x?ttl=-1' -d v)"

# ---- health, info, metrics -----------------------------------------------------------------------------
expect_eq "health" '{"status":"ok"}' "$(curl -s "$RC_URL/health")"
check "info fields" sh -c "curl -s '$RC_URL/info' | grep -q '\"version\":\"0.1.0\",\"uptime_s\":[0-9]*,\"seq\":[0-9]*,\"events\":[0-9]*,\"keys\":1,\"subscribers\":[0-9]*,\"http\":\"127.0.0.1:$RC_HTTP_PORT\"'"
curl -s "$RC_URL/metrics" > "$RC_TMP/metrics"
check "metrics appends" grep -q '^redcar_appends_total [0-9]' "$RC_TMP/metrics"
check "metrics requests" grep -q '^redcar_http_requests_total{method="POST",route="/events",code="201"} [0-9]' "$RC_TMP/metrics"
check "metrics 404 unmatched" grep -q 'route="unmatched",code="404"' "$RC_TMP/metrics"
check "metrics histogram" grep -q '^redcar_http_request_duration_seconds_bucket{method="GET",route="/health",le="+Inf"} [0-9]' "$RC_TMP/metrics"
check "metrics head" grep -q '^redcar_head_seq [0-9]' "$RC_TMP/metrics"

rc_stop
check "clean stop" grep -q "stopped cleanly" "$RC_LOG"
rc_finish
