# Sourced by scripts/soak.sh and scripts/sigterm-under-load.sh: builds the
# release server and the load generator (bench/soak.rs), starts
# `clientele serve --dev` on a free loopback port with a scratch database
# (dropped on exit) and exports SOAK_ADDR, SOAK_TOKEN and SOAK_PID for it.
# `load ARGS...` runs the generator.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh >/dev/null
cargo build --release --quiet
cargo bench --bench soak --no-run --quiet 2>/dev/null || cargo bench --bench soak --no-run

db="clientele_soak_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" CLIENTELE_BIND="127.0.0.1:$port" \
  CLIENTELE_RATE_LIMIT=1000000 CLIENTELE_RATE_BURST=1000000 RUST_LOG=warn \
  target/release/clientele serve --dev >"$out" 2>"$out.log" &
server=$!
server_status=""
cleanup() {
  if [ -z "$server_status" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -s "$out.log" ]; then
    echo "--- server log (warnings and errors, last 20 lines)"
    tail -n 20 "$out.log"
  fi
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$out" "$out.log"
}
trap cleanup EXIT
for _ in $(seq 1 150); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz")" = 200 ] && break
  kill -0 "$server" 2>/dev/null || { echo "the server did not start"; exit 1; }
  sleep 0.2
done
export SOAK_ADDR="127.0.0.1:$port" SOAK_PID="$server"
SOAK_TOKEN=$(grep -A2 "Admin token" "$out" | tail -n 1)
export SOAK_TOKEN
[ -n "$SOAK_TOKEN" ] || { echo "no admin token on the server's stdout"; exit 1; }

load() { cargo bench --bench soak --quiet -- "$@"; }
