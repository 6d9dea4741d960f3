#!/usr/bin/env bash
# Property-based fuzzing of the API from its own OpenAPI document with
# Schemathesis: every operation, positive and negative data, against a real
# server with an admin token. Fails on any 5xx, any answer that does not match
# the documented schema, content type or headers, any undocumented status.
#
#   scripts/fuzz-api.sh [max examples per operation, default 20] [seed, default 1]
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-20}
seed=${2:-1}
venv=target/schemathesis-venv
db="clientele_fuzz_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

scripts/ensure-postgres.sh
if [ ! -x "$venv/bin/schemathesis" ]; then
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
  rm -f "$out" "$out.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
token=$(grep -A2 "Admin token" "$out" | tail -n 1)

"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" --seed "$seed" --continue-on-failure
