#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` into a staging prefix: binaries, the default config
# (generated from the settings table, and loadable), the systemd unit, man
# pages that render without warnings, and bash completion that completes.
. "$(dirname "$0")/lib.sh"
: "${REDCAR_BUILD:?}"
STAGE=$RC_TMP/stage
cmake --install "$REDCAR_BUILD" --prefix "$STAGE" >/dev/null
for f in bin/redcar bin/redcar-ctl etc/redcar/redcar.conf lib/systemd/system/redcar.service \
         share/man/man1/redcar.1 share/man/man1/redcar-ctl.1 share/bash-completion/completions/redcar-ctl; do
  check "installed $f" test -s "$STAGE/$f"
done
expect_eq "staged redcar --version" "redcar 0.1.0" "$("$STAGE/bin/redcar" --version)"

# Every setting of the table is in the default file, commented, at its default.
conf=$STAGE/etc/redcar/redcar.conf
missing=""
for name in $("$STAGE/bin/redcar" --help | sed -n 's/^ *\(-[a-z], \)\{0,1\}--\([a-z-]*\) .*(default:.*/\2/p'); do
  case $name in http|resp|dir|requirepass|maxclients|fsync) ;; esac
  grep -qE "^# ($name|$(echo "$name" | sed 's/^log$/logfile/; s/^log-level$/loglevel/')) " "$conf" || missing="$missing $name"
done
expect_eq "default config lists every setting" "" "$missing"
check "service settings are active lines" grep -qx 'dir /var/lib/redcar' "$conf"
# The file loads (with every default uncommented too), flags override it.
sed -E 's/^# ([a-z][a-z-]+ )/\1/' "$conf" > "$RC_TMP/all.conf"
REDCAR_BIN="$STAGE/bin/redcar" rc_start staged "$RC_TMP/all.conf"
check "staged server runs on the uncommented default config" kill -0 "$RC_PID"
check "flags override the file (data dir)" test -f "$RC_TMP/staged/redcar.db"
rc_stop

check "unit starts the installed binary on the installed config" \
  grep -qE "^ExecStart=/.*/bin/redcar /.*etc/redcar/redcar.conf$" "$STAGE/lib/systemd/system/redcar.service"
check "unit runs as its own user with state in /var/lib/redcar" \
  grep -qE '^(DynamicUser=yes|StateDirectory=redcar)$' "$STAGE/lib/systemd/system/redcar.service"
if command -v systemd-analyze >/dev/null 2>&1; then
  out=$(systemd-analyze verify "$STAGE/lib/systemd/system/redcar.service" 2>&1 | grep -v -e 'not executable' -e 'Failed to' -e "Command 'man " -e 'is not a valid path' || true)
  check "systemd-analyze has no complaint about the unit" test -z "$out"
  [ -n "$out" ] && echo "$out"
fi

for m in redcar redcar-ctl; do
  if command -v groff >/dev/null 2>&1; then
    warn=$(groff -man -ww -z "$STAGE/share/man/man1/$m.1" 2>&1 || true)
    check "man page $m(1) renders without warnings" test -z "$warn"
    [ -n "$warn" ] && echo "$warn"
  fi
done

# Completion: commands, then a command's options, read from the program itself.
comp() {
  PATH="$STAGE/bin:$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _redcar_ctl; echo "${COMPREPLY[*]}"' \
    _ "$STAGE/share/bash-completion/completions/redcar-ctl" "$@"
}
expect_eq "completes a command" "put" "$(comp redcar-ctl pu)"
check "completes a command's options" bash -c "[[ ' $(comp redcar-ctl range --pr) ' == *' --prefix '* ]]"
expect_eq "completes the global --cacert" "--cacert" "$(comp redcar-ctl --cac)"
rc_finish
