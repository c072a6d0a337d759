#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Validates schemas/samples/ against schemas/cloudevent.schema.json with a
# real JSON Schema validator (ajv, draft 2020-12, with ajv-formats): every
# sample under valid/ must pass and every one under invalid/ must fail.
# batch-*.json go against #/$defs/batch, the others against the event root.
# (tests/unit/test_event_json.c runs the same samples through the C decoder,
# so the schema and the C validator are held to the same answers.)
#
# ajv comes from tests/node (scripts/node-deps.sh installs it when missing).
set -euo pipefail

SRC=${REDCAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${REDCAR_BUILD:-$SRC/build}
TOOLS=$SRC/tests/node
"$SRC/scripts/node-deps.sh"

TOOLS=$TOOLS SCHEMA=$SRC/schemas/cloudevent.schema.json SAMPLES=$SRC/schemas/samples node - <<'EOF'
const path = require('path');
const fs = require('fs');
const modules = path.join(process.env.TOOLS, 'node_modules');
const Ajv2020 = require(path.join(modules, 'ajv/dist/2020')).default;
const addFormats = require(path.join(modules, 'ajv-formats')).default;

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const schema = JSON.parse(fs.readFileSync(process.env.SCHEMA, 'utf8'));
ajv.addSchema(schema);
const validateEvent = ajv.getSchema(schema.$id);
const validateBatch = ajv.getSchema(schema.$id + '#/$defs/batch');
if (!validateEvent || !validateBatch) throw new Error('schema did not compile');

let failures = 0, count = 0;
for (const expect of ['valid', 'invalid']) {
  const dir = path.join(process.env.SAMPLES, expect);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) { console.error(`no samples in ${dir}`); failures++; }
  for (const f of files) {
    count++;
    const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const validate = f.startsWith('batch') ? validateBatch : validateEvent;
    const ok = validate(doc);
    if (ok !== (expect === 'valid')) {
      failures++;
      const why = ok ? 'accepted' : ajv.errorsText(validate.errors);
      console.log(`FAIL ${expect}/${f}: ${why}`);
    } else {
      console.log(`ok   ${expect}/${f}`);
    }
  }
}
console.log(`${count - failures}/${count} samples as expected`);
process.exit(failures ? 1 : 0);
EOF
