#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build bench_append in Release and run it in a temporary directory.
#   tests/bench/run_append.sh [bench_append options, e.g. -n 1000000 -s both]
# Without options: the batch throughput comparison, then single-event
# requests from CLIENTS (default 50) clients for each kind (events, notime,
# put, put-random, incr): the writer's CPU per event is the figure to watch.
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
if [ $# -gt 0 ]; then
    "$bin" -d "$tmp" "$@"
    exit
fi
# 1. throughput against plain SQLite (producers keeping a window in flight)
"$bin" -d "$tmp" -n 1000000 -r 2 -s both
# 2. single-event requests from 50 clients, answered through one answer
#    thread as the doors do (HTTP POST /events, RESP SET/PUBLISH): events/s,
#    CPU per event of the writer and of the sync thread, beside plain
#    SQLite storing the same rows in transactions of the store's group size.
for k in events notime put put-random incr; do
    "$bin" -d "$tmp" -a -p "${CLIENTS:-50}" -w 1 -n "${SINGLE_N:-100000}" -s always -k "$k" -r 2
done
