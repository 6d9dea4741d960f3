#!/usr/bin/env bash
# GraphQL vs REST: "50 contacts with their orders" as one GraphQL query or as
# 1 + 50 REST calls, against a release server on loopback.
#
# Builds the release binary and the bench client (first time: a few minutes),
# then runs for about 20 s: the client starts `clientele serve` on a free port
# with a database of its own, seeds it, measures each way, prints the figures,
# stops the server and drops the database.
#
#   bench/graphql_vs_rest.sh                     # 8 s per way, 4 clients
#   BENCH_SECONDS=5 BENCH_CLIENTS=2 bench/graphql_vs_rest.sh
#
# Needs Postgres (CLIENTELE_TEST_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/postgres). wrk and oha are not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench graphql_vs_rest --quiet
