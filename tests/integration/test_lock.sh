#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One process per data directory: a second redcar on the same directory
# (same path, a symlink to it, a trailing slash) is refused with a clear
# message and a non-zero exit before it touches the data, the first keeps
# serving reads and writes, and a SIGKILLed owner's lock does not outlive it.
. "$(dirname "$0")/lib.sh"

post() { # post URL ID -> HTTP status
  curl -s -o /dev/null -w '%{http_code}' -X POST "$1/events" \
    -H 'Content-Type: application/cloudevents+json' \
    -d "{\"specversion\":\"1.0\",\"id\":\"$2\",\"source\":\"/lock\",\"type\":\"t\"}"
}
head_seq() { curl -s "$1/info" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'; }

rc_start a
A_PID=$RC_PID A_URL=$RC_URL
expect_eq "first instance accepts a write" 201 "$(post "$A_URL" one)"
before=$(cksum < "$RC_TMP/a/redcar.db")

ln -s "$RC_TMP/a" "$RC_TMP/alias"
for spelling in "$RC_TMP/a" "$RC_TMP/alias" "$RC_TMP/a/" "$RC_TMP/./a"; do
  out=$RC_TMP/second.out
  set +e
  timeout 20 "$REDCAR_BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$spelling" -o "$out" >"$out.stdio" 2>&1
  code=$?
  set -e
  check "second instance on $spelling exits non-zero (got $code)" test "$code" -ne 0 -a "$code" -ne 124
  # The reason goes to the log and, as the log is a file here, to stderr.
  for where in "$out" "$out.stdio"; do
    if grep -q "is locked by another process" "$where"; then
      ok "second instance on $spelling says the directory is locked (${where##*.})"
    else
      fail "second instance on $spelling: no clear message in ${where##*/}: $(cat "$where")"
    fi
  done
  check "second instance on $spelling never listened" bash -c "! grep -q 'listening on' '$out'"
done
expect_eq "database untouched by the refused instances" "$before" "$(cksum < "$RC_TMP/a/redcar.db")"

check "first instance still running" kill -0 "$A_PID"
expect_eq "first instance still accepts writes" 201 "$(post "$A_URL" two)"
expect_eq "first instance still reads" 2 "$(head_seq "$A_URL")"

# The lock is an flock: the kernel drops it with the process, so a crashed
# owner never needs manual clean-up (a stale LOCK file is harmless).
kill -9 "$A_PID"; wait "$A_PID" 2>/dev/null || true
check "LOCK file left behind by the killed owner" [ -e "$RC_TMP/a/LOCK" ]
rc_start a
expect_eq "a new instance takes over after the owner was killed" 2 "$(head_seq "$RC_URL")"
expect_eq "and accepts writes" 201 "$(post "$RC_URL" three)"
# A clean stop releases it as well.
rc_stop "$RC_PID"
rc_start a
expect_eq "a new instance takes over after a clean stop" 3 "$(head_seq "$RC_URL")"
rc_stop "$RC_PID"
rc_finish
