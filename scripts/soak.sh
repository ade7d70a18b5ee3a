#!/usr/bin/env bash
# Soak: scripts/soak.sh DURATION  (seconds, or with a unit: 30s, 10m, 1h)
#
# Runs one s7rtd (--no-rt, ephemeral port) under, at the same time, 16 clients mixing reads
# and writes on regions of their own with reconnects, connection churn (full handshakes and
# bare TCP connections) and a slice of malformed traffic (garbage, COTP data before connect,
# half-open handshakes, unknown functions, reads past the end). Fails unless every
# acknowledged write reads back, the server's RSS and descriptors stay flat, and its counters
# (written at stop) agree with the clients' counts. Driver: examples/soak/.
#
# Environment: S7RTD=path of the daemon (default: target/debug/s7rtd, built here),
#              S7RT_SOAK_CLIENTS=16, S7RT_SOAK_DIR=target/soak (config, log, histograms).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:?usage: scripts/soak.sh DURATION (e.g. 30, 30s, 10m)}
case $duration in
    *h) seconds=$((${duration%h} * 3600)) ;;
    *m) seconds=$((${duration%m} * 60)) ;;
    *s) seconds=${duration%s} ;;
    *) seconds=$duration ;;
esac
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "soak.sh: bad duration $duration" >&2; exit 2; }

if [[ -z ${S7RTD:-} ]]; then
    cargo build --quiet --bin s7rtd
    S7RTD=target/debug/s7rtd
fi
cargo build --quiet --example soak
echo "soak: ${seconds} s against $S7RTD (log and counters in ${S7RT_SOAK_DIR:-target/soak})"
exec target/debug/examples/soak --server "$S7RTD" --seconds "$seconds" \
    --clients "${S7RT_SOAK_CLIENTS:-16}" --dir "${S7RT_SOAK_DIR:-target/soak}"
