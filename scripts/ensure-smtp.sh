#!/usr/bin/env bash
# Makes sure a Python with aiosmtpd is on the machine, for the tests' real
# SMTP server (tests/api/helpers/smtp.rs): Debian's python3-aiosmtpd, or,
# without apt, aiosmtpd from PyPI for the python3 on PATH.
set -euo pipefail

has() { "$1" -c 'import aiosmtpd' >/dev/null 2>&1; }
if has /usr/bin/python3 || has python3; then exit 0; fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's python3-aiosmtpd" >&2
  sudo_if_needed apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq python3-aiosmtpd >/dev/null || true
fi
if has /usr/bin/python3 || has python3; then exit 0; fi
echo "installing aiosmtpd from PyPI" >&2
python3 -m pip install --quiet --user aiosmtpd
has python3
