#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# npm packages the tests use (CloudEvents SDK, ioredis, ajv, OpenAPI linter),
# installed once into tests/node/node_modules from tests/node/package.json.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"
if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules
fi
