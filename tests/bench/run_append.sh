#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build bench_append in Release and run it in a temporary directory.
#   tests/bench/run_append.sh [bench_append options, e.g. -n 1000000 -s both]
# BUILD_DIR overrides the build directory (default: <src>/build-bench-append).
# If the full tree does not build (bench targets link every module), the
# benchmark is compiled directly against the store, event and core libraries.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$src/build-bench-append}"
tmp="$(mktemp -d /tmp/rc-bench-append-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
if cmake --build "$build" -j"$(nproc)" --target bench_append >"$tmp/build.log" 2>&1; then
    for bin in "$build/bench_append" "$build/tests/bench/bench_append"; do
        [ -x "$bin" ] && break
    done
else
    echo "run_append.sh: full bench target did not build; linking against rc_store only" >&2
    cmake --build "$build" -j"$(nproc)" --target rc_store >/dev/null
    bin="$build/bench_append_store_only"
    cc -std=c11 -O2 -DNDEBUG -D_GNU_SOURCE -I"$src/include" -I"$src/src" \
        "$src/tests/bench/bench_append.c" -o "$bin" \
        "$build/librc_store.a" "$build/librc_event.a" "$build/librc_core.a" \
        $(pkg-config --libs sqlite3 libcjson) -lpthread -lm
fi
[ $# -eq 0 ] && set -- -n 1000000 -r 2 -s both
"$bin" -d "$tmp" "$@"
