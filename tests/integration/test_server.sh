#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The redcar process: flags, config file, refusals with a clear message and a
# non-zero exit, ports chosen with 0 reported everywhere, clean shutdown.
. "$(dirname "$0")/lib.sh"

check "--help lists the flags" bash -c "'$REDCAR_BIN' --help | grep -q -- '-a, --http HOST:PORT'"
expect_eq "--version" "redcar 0.1.0" "$("$REDCAR_BIN" --version)"
set +e
out=$("$REDCAR_BIN" --bogus 2>&1); rc=$?
set -e
expect_eq "unknown flag exits 2" 2 "$rc"
check "unknown flag is named" grep -q -- "--bogus" <<<"$out"
set +e
out=$("$REDCAR_BIN" -l loud 2>&1); rc=$?
set -e
expect_eq "bad value exits 2" 2 "$rc"
check "bad value names the setting and the choices" grep -q "loglevel: expected one of" <<<"$out"
printf 'maxclients many\n' > "$RC_TMP/bad.conf"
set +e
out=$("$REDCAR_BIN" "$RC_TMP/bad.conf" 2>&1); rc=$?
set -e
expect_eq "bad config file exits 2" 2 "$rc"
check "bad config file names file and line" grep -q "bad.conf:1:" <<<"$out"

# A config file, with a flag overriding it; port 0 picks free ports.
printf 'loglevel debug\nmaxclients 77\n' > "$RC_TMP/good.conf"
rc_start main "$RC_TMP/good.conf" --maxclients 88
check "port 0: the log names the HTTP port" test "$RC_HTTP_PORT" -gt 0
check "port 0: the log names the RESP port" test "$RC_RESP_PORT" -gt 0
check "log level from the file" grep -q " DEBUG " "$RC_LOG"
expect_eq "flag overrides the file" "88" "$(redis-cli -p "$RC_RESP_PORT" config get maxclients | tail -1)"
info=$(curl -s "$RC_URL/info")
check "/info reports the bound RESP port" grep -q "\"resp\":\"127.0.0.1:$RC_RESP_PORT\"" <<<"$info"
check "/info reports the bound HTTP port" grep -q "\"http\":\"127.0.0.1:$RC_HTTP_PORT\"" <<<"$info"
check "/info counts no subscribers when none are connected" grep -q '"subscribers":0' <<<"$info"

# A port in use is refused, by either door, with a message and exit 1.
set +e
out=$("$REDCAR_BIN" -a "127.0.0.1:$RC_HTTP_PORT" -r 127.0.0.1:0 -d "$RC_TMP/other1" -o stderr 2>&1); rc=$?
set -e
expect_eq "HTTP port in use exits 1" 1 "$rc"
check "HTTP port in use is explained" grep -q "http: cannot listen" <<<"$out"
set +e
out=$("$REDCAR_BIN" -a 127.0.0.1:0 -r "127.0.0.1:$RC_RESP_PORT" -d "$RC_TMP/other2" -o stderr 2>&1); rc=$?
set -e
expect_eq "RESP port in use exits 1" 1 "$rc"
check "RESP port in use is explained" grep -q "resp: cannot listen" <<<"$out"

# Clean shutdown on SIGTERM (and SIGINT): in-flight work finished, store closed.
curl -s -o /dev/null -X PUT "$RC_URL/kv/k" -d v
kill -TERM "$RC_PID"; wait "$RC_PID"; rc=$?
expect_eq "SIGTERM exits 0" 0 "$rc"
check "shutdown is logged as clean" grep -q "stopped cleanly" "$RC_LOG"
rc_start again
kill -INT "$RC_PID"; wait "$RC_PID"; rc=$?
expect_eq "SIGINT exits 0" 0 "$rc"
rc_finish
