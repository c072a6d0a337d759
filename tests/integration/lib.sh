# SPDX-License-Identifier: Apache-2.0
# Shared helpers for shell integration tests: start the real redcar on free
# loopback ports with a temporary data directory, and stop only what we
# started, by PID. Source it: . "$(dirname "$0")/lib.sh"
set -euo pipefail
: "${REDCAR_BIN:?REDCAR_BIN must point at the redcar binary}"
RC_TMP=$(mktemp -d /tmp/redcar-it.XXXXXX)
. "$(dirname "${BASH_SOURCE[0]}")/../lib_pid.sh"
RC_PIDS=()
rc_cleanup() {
  local p
  for p in "${RC_PIDS[@]:-}"; do kill_own "$p"; done
  rm -rf "$RC_TMP"
}
trap rc_cleanup EXIT

# rc_start NAME [extra redcar args...]: starts redcar with data in $RC_TMP/NAME;
# sets RC_PID, RC_HTTP_PORT, RC_RESP_PORT, RC_URL, RC_LOG.
rc_start() {
  local name=$1; shift
  mkdir -p "$RC_TMP/$name"
  RC_LOG="$RC_TMP/$name.log"
  : > "$RC_LOG"
  "$REDCAR_BIN" -a 127.0.0.1:0 -r 127.0.0.1:0 -d "$RC_TMP/$name" -o "$RC_LOG" "$@" &
  RC_PID=$!
  RC_PIDS+=("$RC_PID")
  # Up to 60 s: a loaded CI machine can take seconds to start a process.
  local i
  for i in $(seq 1200); do
    grep -q "ready" "$RC_LOG" && break
    kill -0 "$RC_PID" 2>/dev/null || { echo "redcar exited:"; cat "$RC_LOG"; return 1; }
    sleep 0.05
  done
  RC_HTTP_PORT=$(sed -n 's/.*http: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$RC_LOG" | tail -1)
  RC_RESP_PORT=$(sed -n 's/.*resp: listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$RC_LOG" | tail -1)
  RC_URL="http://127.0.0.1:$RC_HTTP_PORT"
  [ -n "$RC_HTTP_PORT" ] && [ -n "$RC_RESP_PORT" ] || { cat "$RC_LOG"; return 1; }
}

# rc_stop [PID]: SIGTERM and wait (clean shutdown).
rc_stop() {
  kill_own "${1:-$RC_PID}"
}

# wait_grep FILE REGEX [SECONDS=30]: wait until FILE has a line matching the
# (grep -E) REGEX; 0 when it does, 1 at the deadline. Use it instead of a fixed
# sleep wherever a test needs something to have happened.
wait_grep() {
  local file=$1 re=$2 secs=${3:-30} i
  for i in $(seq $((secs * 20))); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Tally for the plain closing line "N passed, N failed".
RC_PASS=0; RC_FAIL=0
ok()   { RC_PASS=$((RC_PASS+1)); echo "ok - $*"; }
fail() { RC_FAIL=$((RC_FAIL+1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected [$2] got [$3]"; fi; }
rc_finish() { echo "$RC_PASS passed, $RC_FAIL failed"; [ "$RC_FAIL" -eq 0 ]; }
