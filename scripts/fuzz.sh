#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target for a set time (default 60 s each), growing the
# corpora in a scratch copy and printing executions per target.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 300 resp event_json
# New interesting inputs found are left in build-fuzz/corpus/<target>/; copy the
# ones worth keeping into tests/fuzz/corpus/<target>/ (CTest replays those).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DRC_FUZZ=ON -DRC_ASAN=ON -DRC_UBSAN=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  cp -n tests/fuzz/corpus/"$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  dict=(); [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "=== fuzz $t for ${secs}s"
  "build-fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
      "build-fuzz/corpus/$t" 2>&1 | grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|crash-" || true
done
