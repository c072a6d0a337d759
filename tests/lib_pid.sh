# SPDX-License-Identifier: Apache-2.0
# Stop a process only if it is still ours. Bash reaps a finished background
# job at once, so its PID is free for the system to reuse long before an
# EXIT trap runs: a cleanup that kills every PID it ever started could hit
# an unrelated process (another test's server) that got the number since.
# Sourced by tests/integration/lib.sh and tests/bench/lib_servers.sh.

# kill_own PID [SIGNAL]: signal PID (default TERM) and wait for it, only
# while it is a child of this shell.
kill_own() {
  local p=$1 sig=${2:-TERM} ppid
  [ -n "$p" ] && [ -r "/proc/$p/stat" ] || return 0
  # field 4 of /proc/PID/stat, after the "(comm)" that may hold spaces
  ppid=$(sed -E 's/^.*\) [A-Za-z] ([0-9]+) .*$/\1/' "/proc/$p/stat" 2>/dev/null) || return 0
  [ "$ppid" = "$$" ] || return 0
  { kill "-$sig" "$p" 2>/dev/null && wait "$p" 2>/dev/null; } || true
  return 0
}
