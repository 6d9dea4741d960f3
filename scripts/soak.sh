#!/usr/bin/env bash
# Soak: a release server on loopback under a steady mixed load.
#
#   scripts/soak.sh [seconds, default 300] [connections, default 16]
#
# Lists, gets by id, order upserts and consent writes on one keep-alive
# connection per thread (bench/soak.rs) against `clientele serve --dev` with a
# scratch database. Prints requests, req/s, p50/p99 latency, errors and the
# server's RSS at start, every 30 s and at the end. Fails on any error
# (transport error or non-2xx) or if the RSS at the end exceeds the RSS after
# the first 30 s by more than 50%. Needs Postgres on 127.0.0.1:5432.
seconds=${1:-300}
connections=${2:-16}
source "$(dirname "$0")/soak-server.sh"
load soak "$seconds" "$connections" || exit 1
