#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start: install the packages, build, and start redcar in the background
# on its embedded default (SQLite under ./redcar-data, HTTP 127.0.0.1:8519,
# RESP 127.0.0.1:6379). Stop it with: kill "$(cat redcar-data/redcar.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p redcar-data
if [ -f redcar-data/redcar.pid ] && kill -0 "$(cat redcar-data/redcar.pid)" 2>/dev/null; then
  echo "redcar already running (pid $(cat redcar-data/redcar.pid))"; exit 0
fi
nohup build/redcar -d redcar-data -o redcar-data/redcar.log >/dev/null 2>&1 &
echo $! > redcar-data/redcar.pid
for _ in $(seq 50); do
  grep -q "ready" redcar-data/redcar.log 2>/dev/null && break
  kill -0 "$(cat redcar-data/redcar.pid)" 2>/dev/null || { cat redcar-data/redcar.log; exit 1; }
  sleep 0.1
done
grep -E "listening|ready" redcar-data/redcar.log
echo "redcar is running (pid $(cat redcar-data/redcar.pid)); try: curl http://127.0.0.1:8519/health"
