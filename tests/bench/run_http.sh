#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP door throughput beside the framework's ceiling. Runs wrk (keep-alive)
# against:
#   - bench_mhd_ceiling: a trivial libmicrohttpd handler answering 201 to
#     POST with the door's answer, with the door's connection pool, timeout
#     and limits (see its header), in each way the door can run
#     libmicrohttpd (CEILING_MODES: MHD's epoll or poll thread pool, or
#     loops of our own in external epoll mode, as http-event-loop loop).
#     Each is printed; the fastest is the ceiling of every row, whatever
#     event loop redcar runs;
#   - the same handler in "defer" mode: each POST answered the way the door
#     answers appends in that event loop (suspended and resumed by another
#     thread with MHD's pool; answered in the next round with loop), no
#     store behind it;
#   - redcar (fsync always, group commit): single-event POST in structured
#     and binary mode for each event loop (http-event-loop), and batched
#     POST of BATCH events;
# and prints events/s with the ratio door/ceiling (target >= 0.5 for single
# events), and each server's CPU per request (user+system of the whole
# process, from /proc): on a shared or small machine the events/s move with
# the machine's load, the CPU per request much less. The batched figure is
# also set beside the plain-SQLite figure of the store benchmark
# (bench_append -o plain, 1000 rows per transaction; target >= 0.7) when
# bench_append is built.
#
# Usage: tests/bench/run_http.sh [BUILD_DIR]
# Env: REDCAR_BIN, DURATION (s, default 10), CONNECTIONS (one or more wrk
#      connection counts, default "256"), WRK_THREADS (default 2),
#      BATCH (default 1000), BATCH_CONNECTIONS (default 8), FSYNC ("always"
#      by default; "always normal" adds the fsync-normal figures),
#      HTTP_EVENT_LOOP (redcar's http-event-loop and http-threads as
#      MODE:THREADS, default "loop:1 epoll:4"; the first one also runs the
#      batched row), CEILING_MODES (the same form, default "epoll:4 loop:1
#      loop:2" and every HTTP_EVENT_LOOP value), HTTP_THREADS (THREADS where
#      an entry has none, default 4).
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-${REDCAR_BUILD:-$src/build}}"
BIN=${REDCAR_BIN:-$build/redcar}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-256}
FSYNC=${FSYNC:-always}
WRK_THREADS=${WRK_THREADS:-2}
HTTP_THREADS=${HTTP_THREADS:-4}
# MODE:THREADS entries (a bare MODE takes HTTP_THREADS)
full() { local e; for e in "$@"; do case $e in *:*) echo "$e" ;; *) echo "$e:$HTTP_THREADS" ;; esac; done; }
HTTP_EVENT_LOOP=$(full ${HTTP_EVENT_LOOP:-loop:1 epoll:4} | tr '\n' ' ')
CEILING_MODES=$(full ${CEILING_MODES:-epoll:4 loop:1 loop:2} $HTTP_EVENT_LOOP | awk '!seen[$0]++' | tr '\n' ' ')
BATCH=${BATCH:-1000}
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no redcar binary at $BIN (set REDCAR_BIN)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/redcar-bench-http-XXXXXX)
. "$src/tests/lib_pid.sh"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do kill_own "$p"; done
  rm -rf "$TMP"
}
trap cleanup EXIT

CEIL="$build/bench_mhd_ceiling"
if [ ! -x "$CEIL" ]; then # bench targets link the whole tree; the ceiling needs only MHD
  CEIL="$TMP/bench_mhd_ceiling"
  cc -std=c11 -O2 -D_GNU_SOURCE "$src/tests/bench/bench_mhd_ceiling.c" -o "$CEIL" \
    $(pkg-config --cflags --libs libmicrohttpd) -lpthread
fi

wait_port() { # LOGFILE REGEX -> port
  local i
  for i in $(seq 200); do
    local p
    p=$(sed -n "s/.*$2.*127.0.0.1:\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null | tail -1)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05
  done
  echo "server did not start:" >&2; cat "$1" >&2; return 1
}

# ---- wrk scripts ----------------------------------------------------------------------
cat > "$TMP/common.lua" <<'EOF'
local counter = 0
local run = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
function setup(thread)
  counter = counter + 1
  thread:set("tid", run .. "-" .. counter)
end
n = 0
wrk.method = "POST"
EOF
cat "$TMP/common.lua" - > "$TMP/structured.lua" <<'EOF'
wrk.headers["Content-Type"] = "application/cloudevents+json"
request = function()
  n = n + 1
  return wrk.format(nil, "/events", nil, string.format(
    '{"specversion":"1.0","id":"%s-%d","source":"/bench","type":"bench.event","subject":"sensor/%d","data":{"n":%d,"v":%d}}',
    tid, n, n % 100, n, n % 1000))
end
EOF
cat "$TMP/common.lua" - > "$TMP/binary.lua" <<'EOF'
request = function()
  n = n + 1
  local h = { ["Content-Type"] = "application/json", ["ce-specversion"] = "1.0",
              ["ce-id"] = tid .. "-" .. n, ["ce-source"] = "/bench", ["ce-type"] = "bench.event",
              ["ce-subject"] = "sensor/" .. (n % 100) }
  return wrk.format(nil, "/events", h, string.format('{"n":%d,"v":%d}', n, n % 1000))
end
EOF
cat "$TMP/common.lua" - > "$TMP/batch.lua" <<EOF
local size = $BATCH
wrk.headers["Content-Type"] = "application/cloudevents-batch+json"
request = function()
  n = n + 1
  local parts = {}
  for i = 1, size do
    parts[i] = string.format(
      '{"specversion":"1.0","id":"%s-%d-%d","source":"/bench","type":"bench.event","subject":"sensor/%d","data":{"n":%d}}',
      tid, n, i, i % 100, i)
  end
  return wrk.format(nil, "/events", nil, "[" .. table.concat(parts, ",") .. "]")
end
EOF
cat > "$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %d %.2f\n", summary.requests / (summary.duration / 1e6), errors,
                         latency:percentile(99) / 1000))
end
EOF
for f in structured binary batch; do cat "$TMP/report.lua" >> "$TMP/$f.lua"; done

cpu_ticks() { # PID -> utime+stime of the process (clock ticks)
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
TCK=$(getconf CLK_TCK)

# rps URL SCRIPT CONNECTIONS SERVER_PID -> "req/s errors p99ms cpu_us_per_req"
rps() {
  local t0 out
  t0=$(cpu_ticks "$4")
  out=$(wrk -t"$WRK_THREADS" -c"$3" -d"${DURATION}s" -s "$2" "$1" 2>&1 | sed -n 's/^RESULT //p')
  echo "$out $(awk -v a="$t0" -v b="$(cpu_ticks "$4")" -v t="$TCK" -v d="$DURATION" -v o="$out" \
    'BEGIN { split(o, f, " "); n = f[1] * d; if (n > 0) printf "%.1f", (b - a) / t / n * 1e6; else print "n/a" }')"
}

# All servers run side by side (an idle one sleeps in epoll) and every
# redcar load is measured right after the ceilings with the same wrk
# settings, so a machine whose load drifts compares like with like.
declare -A CPID CURL DPID DURL
for m in $CEILING_MODES; do
  "$CEIL" 0 "${m#*:}" plain "${m%:*}" > "$TMP/ceiling-$m.log" 2>&1 &
  CPID[$m]=$!
  PIDS+=(${CPID[$m]})
  CURL[$m]="http://127.0.0.1:$(wait_port "$TMP/ceiling-$m.log" "listening on")/events"
done
# The same handler answering as the door answers appends: what deferring
# costs in libmicrohttpd itself, in each event loop.
for ev in $HTTP_EVENT_LOOP; do
  "$CEIL" 0 "${ev#*:}" defer "${ev%:*}" > "$TMP/ceiling-defer-$ev.log" 2>&1 &
  DPID[$ev]=$!
  PIDS+=(${DPID[$ev]})
  DURL[$ev]="http://127.0.0.1:$(wait_port "$TMP/ceiling-defer-$ev.log" "listening on")/events"
done
NKEEP=${#PIDS[@]}
start_redcar() { # FSYNC MODE:THREADS -> sets URL, RP
  rm -rf "$TMP/data" "$TMP/redcar.log"
  mkdir -p "$TMP/data"
  "$BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$TMP/data" -o "$TMP/redcar.log" --fsync "$1" \
    --http-threads "${2#*:}" --http-event-loop "${2%:*}" &
  RPID=$!
  PIDS+=($RPID)
  RP=$(wait_port "$TMP/redcar.log" "http: listening on")
  URL="http://127.0.0.1:$RP/events"
}
stop_redcar() { # and forget its pid, which the system may hand out again
  kill_own "$RPID"
  PIDS=("${PIDS[@]:0:$NKEEP}")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { printf '%-46s %12.0f %8s %9s %8s %12s\n' "$@"; }

BATCH_CONN=${BATCH_CONNECTIONS:-8}
printf '\nHTTP door vs libmicrohttpd ceiling (%ss per run, wrk -t%d; MODE:THREADS as http-event-loop:http-threads)\n' \
  "$DURATION" "$WRK_THREADS"
printf '%-46s %12s %8s %9s %8s %12s\n' "load" "events/s" "errors" "p99 ms" "ratio" "cpu us/req"
for fs in $FSYNC; do
  first=1
  for ev in $HTTP_EVENT_LOOP; do
    start_redcar "$fs" "$ev"
    for c in $CONNECTIONS; do
      # every ceiling mode; the fastest is the ceiling
      ceil_rps=0
      declare -A CROW=()
      for m in $CEILING_MODES; do
        CROW[$m]=$(rps "${CURL[$m]}" "$TMP/structured.lua" "$c" "${CPID[$m]}")
        r=${CROW[$m]%% *}
        ceil_rps=$(awk -v a="$r" -v b="$ceil_rps" 'BEGIN { print (a > b) ? a : b }')
      done
      read -r def_rps def_err def_p99 def_cpu <<< "$(rps "${DURL[$ev]}" "$TMP/structured.lua" "$c" "${DPID[$ev]}")"
      read -r st_rps st_err st_p99 st_cpu <<< "$(rps "$URL" "$TMP/structured.lua" "$c" "$RPID")"
      read -r bin_rps bin_err bin_p99 bin_cpu <<< "$(rps "$URL" "$TMP/binary.lua" "$c" "$RPID")"
      for m in $CEILING_MODES; do
        read -r m_rps m_err m_p99 m_cpu <<< "${CROW[$m]}"
        row "ceiling (trivial 201 handler, $m), c=$c" "$m_rps" "$m_err" "$m_p99" "$(ratio "$m_rps" "$ceil_rps")" "$m_cpu"
      done
      row "ceiling, deferred ($ev), c=$c" "$def_rps" "$def_err" "$def_p99" "$(ratio "$def_rps" "$ceil_rps")" "$def_cpu"
      row "structured, fsync $fs, $ev, c=$c" "$st_rps" "$st_err" "$st_p99" "$(ratio "$st_rps" "$ceil_rps")" "$st_cpu"
      row "binary, fsync $fs, $ev, c=$c" "$bin_rps" "$bin_err" "$bin_p99" "$(ratio "$bin_rps" "$ceil_rps")" "$bin_cpu"
    done
    if [ -n "$first" ]; then
      read -r bat_rps bat_err bat_p99 bat_cpu <<< "$(rps "$URL" "$TMP/batch.lua" "$BATCH_CONN" "$RPID")"
      bat_evs=$(awk -v r="$bat_rps" -v b="$BATCH" 'BEGIN { printf "%.1f", r * b }')
      bat_cpu=$(awk -v c="$bat_cpu" -v b="$BATCH" 'BEGIN { if (c + 0 > 0) printf "%.2f/ev", c / b; else print "n/a" }')
      row "batched, $BATCH/POST, fsync $fs, $ev (c=$BATCH_CONN)" "$bat_evs" "$bat_err" "$bat_p99" "" "$bat_cpu"
      [ "$fs" = always ] && bat_always=$bat_evs
    fi
    first=
    head_seq=$(curl -s "http://127.0.0.1:$RP/info" | sed 's/.*"seq":\([0-9]*\).*/\1/')
    stop_redcar
    echo "events stored (fsync $fs, $ev): $head_seq"
  done
done
bat_evs=${bat_always:-$bat_evs}

# ---- batched vs plain SQLite (store benchmark) --------------------------------------------------
BA="$build/bench_append"
[ -x "$BA" ] || BA="$build/tests/bench/bench_append"
if [ -x "$BA" ]; then
  plain=$("$BA" -n 200000 -s always -o plain -d "$TMP" 2>/dev/null |
    sed -n 's/.*plain sqlite, pre-encoded, 1000\/txn: *\([0-9.]*\) ev\/s.*/\1/p' | head -1)
  if [ -n "$plain" ]; then
    row "plain SQLite, 1000 rows/txn (fsync always)" "$plain" "" "" ""
    echo "batched HTTP / plain SQLite = $(ratio "$bat_evs" "$plain") (target >= 0.70)"
  fi
else
  echo "(bench_append not built: no plain-SQLite comparison)"
fi
