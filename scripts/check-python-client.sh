#!/usr/bin/env bash
# Generates a Python client from the committed OpenAPI document with
# openapi-python-client and runs an integrator's scenario with it
# (scripts/python-client/scenario.py: a client, a contact under it, a PATCH
# of the client with only `sector`, an order, a list of contacts, an access
# request and its ZIP export) against a real server on a fresh database with
# an admin token. Pinned PyPI versions (scripts/python-client/requirements.txt),
# installed into a venv under target/. Fails when a generated Python client
# cannot use the document as written.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/python-client-venv
gen=target/python-client
db="clientele_pyclient_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

scripts/ensure-postgres.sh
if [ ! -x "$venv/bin/openapi-python-client" ] || ! cmp -s scripts/python-client/requirements.txt "$venv/.installed-requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  for attempt in 1 2 3; do
    "$venv/bin/pip" install -q -r scripts/python-client/requirements.txt && break
    [ "$attempt" = 3 ] && exit 1
    sleep 5
  done
  cp scripts/python-client/requirements.txt "$venv/.installed-requirements.txt"
fi

# The generator formats its output with the ruff it depends on (in the venv).
rm -rf "$gen" && mkdir -p "$gen"
log=$(mktemp)
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path openapi/openapi.json \
  --config scripts/python-client/config.yaml --meta none --output-path "$gen/clientele_client" 2>&1 | tee "$log"
# A warning means part of the document was skipped: an operation or a
# response the client cannot call or read.
if grep -qi "warning" "$log"; then
  echo "python: openapi-python-client skipped part of openapi/openapi.json (see above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

cargo build -q
out=$(mktemp)
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" CLIENTELE_BIND="127.0.0.1:$port" \
  RUST_LOG=warn target/debug/clientele serve --dev >"$out" 2>"$out.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  cp "$out.log" target/python-client-server.log 2>/dev/null || true
  rm -f "$out" "$out.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
token=$(grep -A2 "Admin token" "$out" | tail -n 1)

PYTHONPATH="$gen" "$venv/bin/python" scripts/python-client/scenario.py "http://127.0.0.1:$port" "$token"
