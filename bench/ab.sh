#!/usr/bin/env bash
# One server binary against the seeded bench database, one request file, wrk
# at the given connection counts: the quick A/B of a single change (issue 13's
# note quotes such runs). Run `bench/run.sh` once first: it seeds
# `clientele_bench` and writes the request files into bench/data/requests/.
#
#   bench/ab.sh target/release/clientele bench/data/requests/get_contact.tsv 8 32
#   bench/ab.sh /tmp/clientele-before bench/data/requests/get_contact.tsv 8
#
# Same settings as bench/load.rs (no TLS, no rate limit); 2 s of warm-up at 32
# connections, then 8 s per count. Prints req/s, p50, p99 and errors.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,11p "$0"; exit 2; }
bin=$1 file=$2
shift 2
cd "$(dirname "$0")/.."
secret=bench-only-secret-bench-only-secret-0123
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="postgres://postgres@127.0.0.1:5432/${BENCH_DB:-clientele_bench}?sslmode=disable" \
  CLIENTELE_BIND=127.0.0.1:$port CLIENTELE_JWT_SECRET=$secret \
  CLIENTELE_SUPPRESSION_KEY=bench-only-suppression-key-bench-only-01 \
  CLIENTELE_AUDIT_SIGNING_KEY=YmVuY2gtYXVkaXQtc2lnbmluZy1rZXktMzItYnl0ZXM= \
  CLIENTELE_RATE_LIMIT=10000000 CLIENTELE_RATE_BURST=10000000 RUST_LOG=warn \
  "$bin" serve >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
BENCH_TOKEN=$(CLIENTELE_JWT_SECRET=$secret "$bin" token create --sub bench --scope admin --ttl 1h)
export BENCH_TOKEN
wrk -t2 -c32 -d2s -s bench/wrk.lua "http://127.0.0.1:$port" -- "$file" >/dev/null
for c in "${@:-8}"; do
  line=$(wrk -t2 -c"$c" -d8s -s bench/wrk.lua "http://127.0.0.1:$port" -- "$file" | sed -n 's/^BENCH //p')
  python3 - "$line" "$(basename "$bin")" "$(basename "$file")" "$c" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
print(f"{sys.argv[2]} {sys.argv[3]} c={sys.argv[4]} {d['requests'] / d['duration_us'] * 1e6:.0f} req/s "
      f"p50 {d['p50_us'] / 1000:.2f} ms p99 {d['p99_us'] / 1000:.2f} ms errors {d['status'] + d['timeout']}")
EOF
done
