#!/usr/bin/env bash
# Graceful shutdown under load: a release server on loopback gets SIGTERM in
# the middle of ~10 s of mixed load (bench/soak.rs, 16 keep-alive
# connections); the load goes on until the server has exited.
#
#   scripts/sigterm-under-load.sh
#
# Fails if an answer was not 2xx (so no 5xx), if a request sent on an accepted
# connection got no answer (reset, or closed before answering: requests in
# flight at SIGTERM must complete), or if the server did not exit with status
# 0 within its 30 s shutdown timeout. New connections refused after SIGTERM
# are expected. Needs Postgres on 127.0.0.1:5432.
source "$(dirname "$0")/soak-server.sh"
fail=0
load sigterm 10 16 || fail=1
# The generator sent SIGTERM and waited for the exit; if it failed early, stop the server.
for _ in $(seq 1 400); do
  state=$(awk '{print $3}' "/proc/$server/stat" 2>/dev/null || true)
  [ -z "$state" ] || [ "$state" = Z ] && break
  sleep 0.1
done
[ -z "$state" ] || [ "$state" = Z ] || { echo "FAIL the server is still running"; kill -9 "$server"; fail=1; }
code=0
wait "$server" || code=$?
server_status=$code
if [ "$code" = 0 ]; then echo "ok   the server exited with status 0"; else echo "FAIL the server exited with status $code"; fail=1; fi
exit $fail
