#!/usr/bin/env bash
# Generates TypeScript types from the committed OpenAPI document with
# openapi-typescript and type-checks an integrator's scenario with
# `tsc --strict` (scripts/typescript/: pinned npm versions, installed into
# target/). Fails when a typed client cannot use the document as written.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/typescript-check
mkdir -p "$dir"
cp scripts/typescript/package.json scripts/typescript/tsconfig.json scripts/typescript/scenario.ts "$dir/"
cd "$dir"
if [ ! -x node_modules/.bin/tsc ] || ! cmp -s package.json .installed-package.json; then
  for attempt in 1 2 3; do
    npm install --no-audit --no-fund --silent && break
    [ "$attempt" = 3 ] && exit 1
    sleep 5
  done
  cp package.json .installed-package.json
fi
mkdir -p generated
node_modules/.bin/openapi-typescript ../../openapi/openapi.json -o generated/api.d.ts --silent
node_modules/.bin/tsc -p tsconfig.json
echo "typescript: the scenario type-checks against openapi/openapi.json"
