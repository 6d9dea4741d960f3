#!/usr/bin/env bash
# Makes sure a Postgres server answers on 127.0.0.1:5432 for the tests:
# starts the local cluster if it is installed but stopped, installs Debian's
# postgresql if it is absent (then trusts local TCP connections, since that
# cluster exists only for this machine's tests).
set -euo pipefail

host=127.0.0.1
port=5432
ready() { command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port"; }

if ready; then exit 0; fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

installed_now=false
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "Postgres is not installed: installing Debian's postgresql" >&2
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq postgresql >/dev/null
  installed_now=true
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if $installed_now; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sudo_if_needed sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi
sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "Postgres did not become ready on $host:$port" >&2
exit 1
