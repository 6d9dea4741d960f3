#!/usr/bin/env bash
# Database faults against a real server. It STOPS AND KILLS the local Postgres
# cluster, so it is not part of `cargo test`; run it on a development or CI
# machine only:   scripts/faults.sh
#
# 1. Postgres stopped: /readyz and a data endpoint answer 503 with
#    Retry-After within 2 s (no hang); /healthz stays 200.
# 2. Postgres back: the same server recovers without restart.
# 3. A write acknowledged with 2xx survives Postgres being killed (SIGKILL).
# 4. A saturated pool answers 503 quickly instead of queueing forever.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
cargo build -q
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg() { pg_ctlcluster --skip-systemctl-redirect "$version" main "$@"; }
db="clientele_faults_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
out=$(mktemp)
fail=0
check() { if [ "$1" = "$2" ]; then echo "ok   $3"; else echo "FAIL $3 (got $1, want $2)"; fail=1; fi; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
elapsed() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" CLIENTELE_BIND="127.0.0.1:$port" \
  CLIENTELE_DB_POOL_SIZE=2 CLIENTELE_DB_POOL_TIMEOUT_MS=500 RUST_LOG=warn \
  target/debug/clientele serve --dev >"$out" 2>"$out.log" &
server=$!
cleanup() {
  pg start >/dev/null 2>&1 || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$out" "$out.log"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ "$(code "$base/readyz")" = 200 ] && break; sleep 0.2; done
token=$(grep -A2 "Admin token" "$out" | tail -n 1)
auth=(-H "Authorization: Bearer $token")

echo "== 1. Postgres stopped"
pg stop -m fast
check "$(code "$base/healthz")" 200 "/healthz 200 while the database is down"
check "$(code "$base/readyz")" 503 "/readyz 503"
check "$(code "${auth[@]}" "$base/v1/clients")" 503 "GET /v1/clients 503"
ms=$(elapsed curl -s --max-time 10 "${auth[@]}" "$base/v1/clients")
[ "$ms" -lt 2000 ] && echo "ok   answered in $ms ms (< 2 s)" || { echo "FAIL answered in $ms ms"; fail=1; }
retry=$(curl -s -D - -o /dev/null "${auth[@]}" "$base/v1/clients" | tr -d '\r' | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
check "${retry:-none}" 1 "Retry-After on 503"

echo "== 2. Postgres back: recovery without restart"
pg start
for _ in $(seq 1 50); do [ "$(code "$base/readyz")" = 200 ] && break; sleep 0.2; done
check "$(code "$base/readyz")" 200 "/readyz 200 again"
check "$(code "${auth[@]}" "$base/v1/clients")" 200 "GET /v1/clients 200 again"

echo "== 3. An acknowledged write survives SIGKILL"
created=$(curl -s -w '\n%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"Durable SAS"}' "$base/v1/clients")
check "$(echo "$created" | tail -n 1)" 201 "POST /v1/clients 201"
id=$(echo "$created" | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# SIGKILL every process of the cluster (postmaster and backends), and wait
# until none is left: a backend still alive holds the shared memory and the
# postmaster's lock file, and `pg start` right away fails on them. Then start,
# retrying while the old processes' resources are released.
pkill -9 -f "postgres -D /var/lib/postgresql/$version/main" || true
for _ in $(seq 1 50); do
  pgrep -x postgres >/dev/null || break
  pkill -9 -x postgres || true
  sleep 0.2
done
started=0
for _ in $(seq 1 30); do
  if pg start >/dev/null 2>&1; then started=1; break; fi
  sleep 0.5
done
check "$started" 1 "Postgres restarts after SIGKILL"
for _ in $(seq 1 100); do [ "$(code "$base/readyz")" = 200 ] && break; sleep 0.2; done
check "$(code "${auth[@]}" "$base/v1/clients/$id")" 200 "the client is there after crash recovery"

echo "== 4. A saturated pool answers 503 fast"
# Hold an exclusive lock: every request touching clients blocks in Postgres,
# holding its pooled connection, until the pool (2) is exhausted.
psql -q -h 127.0.0.1 -U postgres -d "$db" -c "BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;" >/dev/null &
locker=$!
sleep 0.5
holders=()
for _ in 1 2 3; do curl -s -o /dev/null --max-time 10 "${auth[@]}" "$base/v1/clients" & holders+=($!); done
sleep 0.3
start=$(date +%s%N)
status=$(code --max-time 10 "${auth[@]}" "$base/v1/contacts")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "$status" 503 "a request finding no free connection gets 503"
[ "$ms" -lt 2000 ] && echo "ok   answered in $ms ms (< 2 s)" || { echo "FAIL answered in $ms ms"; fail=1; }
wait "$locker" || true
# Only these: a bare `wait` would also wait for the server, forever.
wait "${holders[@]}" || true
check "$(code "${auth[@]}" "$base/v1/contacts")" 200 "the pool serves again after the lock"

[ "$fail" = 0 ] && echo "faults: all checks passed" || { echo "faults: some checks FAILED"; exit 1; }
