#!/usr/bin/env bash
# Lints the committed OpenAPI document with Redocly CLI's `recommended`
# ruleset (pinned in scripts/redocly/package.json, installed into target/,
# no global install). Fails on any error; warnings are printed and pass.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/redocly-lint
mkdir -p "$dir"
cp scripts/redocly/package.json "$dir/"
cd "$dir"
if [ ! -x node_modules/.bin/redocly ] || ! cmp -s package.json .installed-package.json; then
  for attempt in 1 2 3; do
    npm install --no-audit --no-fund --silent && break
    [ "$attempt" = 3 ] && exit 1
    sleep 5
  done
  cp package.json .installed-package.json
fi
# No usage reports leave the machine.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
node_modules/.bin/redocly lint --extends recommended --format stylish ../../openapi/openapi.json
echo "redocly: openapi/openapi.json passes the recommended ruleset (0 errors)"
