#!/usr/bin/env bash
# Makes Debian's prometheus and promtool binaries available under target/prometheus/ and prints
# that bin directory. The package is downloaded with apt-get and unpacked, never installed:
# installing it would start a Prometheus service on the host. Reused when already unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/target/prometheus
bin=$dest/root/usr/bin
if [[ -x $bin/prometheus && -x $bin/promtool ]]; then
    echo "$bin"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "ensure-prometheus: apt-get not found; install Debian's prometheus package by hand" >&2
    exit 1
fi
rm -rf "$dest" && mkdir -p "$dest/deb"
# apt-get download writes into the current directory; the _apt sandbox user may not be able
# to write there, so let apt fall back to root quietly.
(cd "$dest/deb" && { apt-get download -q prometheus >&2 2>/dev/null ||
    { apt-get update -q >&2 && apt-get download -q prometheus >&2; }; })
dpkg-deb -x "$dest"/deb/prometheus_*.deb "$dest/root"
"$bin/prometheus" --version >&2
echo "$bin"
