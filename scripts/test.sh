#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: installs what it needs, then builds and runs every
# test twice through CTest: a normal build, and an ASan+UBSan build.
# Set RC_SKIP_SAN=1 to run only the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/node-deps.sh
jobs=$(nproc)
status=0
run() {
  local dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S . -B "$dir" "$@" >/dev/null
  # The build's own output goes to a log; it is shown only when the build fails.
  if ! cmake --build "$dir" -j"$jobs" > "$dir/build.log" 2>&1; then
    tail -60 "$dir/build.log"; echo "build failed in $dir"; exit 1
  fi
  echo "=== ctest $dir"
  (cd "$dir" && ctest --output-on-failure -j"$jobs") || status=1
  # Each suite's own summary (Check's "Checks:" lines, the integration
  # tests' "N passed, N failed"), from CTest's log of the run.
  echo "=== suite summaries ($dir)"
  grep -hE '^[0-9]+%: Checks: |^[0-9]+ passed, [0-9]+ failed|^replayed [0-9]+ inputs' \
    "$dir/Testing/Temporary/LastTest.log" || true
}
run build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${RC_SKIP_SAN:-0}" != 1 ]; then
  # LeakSanitizer too: the suite must not leak.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run build-asan -DCMAKE_BUILD_TYPE=Debug -DRC_ASAN=ON -DRC_UBSAN=ON
fi
exit $status
