#!/usr/bin/env bash
# Checks systemd/s7rtd.service with `systemd-analyze verify` against the freshly built binary
# (verify requires ExecStart's binary to exist). Skips with a note where systemd is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "check-systemd: systemd-analyze not installed, skipped"
  exit 0
fi
bin=${1:-$PWD/target/debug/s7rtd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/bin/s7rtd|ExecStart=$bin|" systemd/s7rtd.service > "$tmp/s7rtd.service"
# --man=no: the man page named in Documentation= comes with the package, not this checkout.
systemd-analyze verify --man=no "$tmp/s7rtd.service"
echo "check-systemd: systemd/s7rtd.service verified"
