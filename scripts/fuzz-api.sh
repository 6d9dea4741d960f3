#!/usr/bin/env bash
# Property-based fuzzing of the API from its own OpenAPI document with
# Schemathesis, run as an integrator's QA team would: every check (negative
# data refused, positive data accepted, undeclared methods answer 405 with
# `Allow`, deleted resources stay gone...) and every phase, the stateful one
# included (it follows the `links` of the document: create a client, a
# contact under it, then an order, read, update and delete them), against a
# real server with an admin token. The few exclusions live in
# scripts/schemathesis.toml, each with the reason it cannot apply.
#
#   scripts/fuzz-api.sh [schemathesis run options]    default: -n 20 --seed 1
#
# CI:        scripts/fuzz-api.sh -n 20 --seed 1 --max-time 300 --workers 1
# Long run:  scripts/fuzz-api.sh -n 60 --seed 4242 --max-time 600 --workers 2
# Any further option goes to `schemathesis run` (e.g. --include-path-regex).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$#" -eq 0 ] && set -- -n 20 --seed 1
venv=target/schemathesis-venv
db="clientele_fuzz_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

scripts/ensure-postgres.sh
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q '4\.32\.5'; then
  python3 -m venv "$venv"
  for attempt in 1 2 3; do
    "$venv/bin/pip" install -q "schemathesis==4.32.5" && break
    [ "$attempt" = 3 ] && exit 1
    sleep 5
  done
fi
cargo build -q

out=$(mktemp)
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" CLIENTELE_BIND="127.0.0.1:$port" \
  CLIENTELE_RATE_LIMIT=100000 CLIENTELE_RATE_BURST=100000 CLIENTELE_DSAR_RATE_LIMIT=100000 CLIENTELE_PUBLIC_RATE_LIMIT=100000 \
  RUST_LOG=warn target/debug/clientele serve --dev >"$out" 2>"$out.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  # The server's own log (warnings and errors only), to read after a failure.
  cp "$out.log" target/fuzz-api-server.log 2>/dev/null || true
  rm -f "$out" "$out.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
token=$(grep -A2 "Admin token" "$out" | tail -n 1)

"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --continue-on-failure "$@"
