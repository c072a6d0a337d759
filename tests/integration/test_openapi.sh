#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Lints schemas/openapi.yaml as OpenAPI 3.1 with @apidevtools/swagger-parser
# (from tests/node, installed by scripts/node-deps.sh), then checks that
# every row of the HTTP route table (src/http/routes.c) is documented.
set -euo pipefail
: "${REDCAR_SRC:?}" "${REDCAR_BUILD:?}"
NT="$REDCAR_SRC/tests/node"
"$REDCAR_SRC/scripts/node-deps.sh"
NT="$NT" SPEC="$REDCAR_SRC/schemas/openapi.yaml" ROUTES="$REDCAR_SRC/src/http/routes.c" node --input-type=module <<'JS'
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const require = createRequire(process.env.NT + "/package.json");
const SwaggerParser = require("@apidevtools/swagger-parser");
let failed = 0;
const ok = (what) => console.log(`ok - ${what}`);
const fail = (what) => { failed++; console.log(`FAIL - ${what}`); };
try {
  const api = await SwaggerParser.validate(process.env.SPEC);
  api.openapi.startsWith("3.1") ? ok(`valid OpenAPI ${api.openapi}`) : fail(`version ${api.openapi} is not 3.1`);
  const src = readFileSync(process.env.ROUTES, "utf8");
  const rows = [...src.matchAll(/\{"(GET|POST|PUT|DELETE)",\s*"([^"]+)",\s*rc__h_/g)];
  rows.length > 5 ? ok(`${rows.length} routes in the table`) : fail("route table not found");
  for (const [, method, pattern] of rows) {
    const op = api.paths?.[pattern]?.[method.toLowerCase()];
    op ? ok(`${method} ${pattern} documented`) : fail(`${method} ${pattern} missing from openapi.yaml`);
  }
} catch (e) {
  fail(`openapi.yaml: ${e.message}`);
}
console.log(failed ? `${failed} failed` : "all passed");
process.exit(failed ? 1 : 0);
JS
