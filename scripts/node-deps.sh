#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# npm packages the tests use (CloudEvents SDK, ioredis, node-redis, ajv, an
# OpenAPI parser), installed once into tests/node/node_modules from
# tests/node/package.json. Safe to call from tests running in parallel: the
# install runs under a lock and only when something is missing.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tests/node" && pwd)"
exec 9>"$dir/.install.lock"
flock 9
if [ ! -f "$dir/node_modules/.installed" ] || [ "$dir/package.json" -nt "$dir/node_modules/.installed" ]; then
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --no-package-lock >&2)
  touch "$dir/node_modules/.installed"
fi
