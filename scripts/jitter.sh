#!/usr/bin/env bash
# Runs the jitter bench (cargo bench --bench jitter) on this box.
#
#   scripts/jitter.sh                 s7rtd started by the bench itself (in-loop figures too)
#   scripts/jitter.sh ADDR:PORT       against an installed, running s7rtd (e.g. 127.0.0.1:102);
#                                     its in-loop histograms come from the daemon's own log
#                                     and [telemetry] histogram_dir (send it SIGUSR1 first)
#   scripts/jitter.sh --smoke         the short CI run (~15 s, no targets)
#
# An installed daemon must allow the bench's 64 connections from this one address:
# max_connections and max_connections_per_ip of at least 64 (the defaults are 32 and 8).
# Extra arguments go to the bench: --rt-cpu N, --load-cpu N, --priority P, --cycle-us N,
# --out DIR. Needs cargo; cyclictest (apt-get install -y rt-tests) and valgrind are used when
# installed and reported as skipped otherwise. SCHED_FIFO phases need root or CAP_SYS_NICE.
# Report: results/<UTC time>-<host>/ (report.md, figures.json, *.svg, hgrm/).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
if [[ $# -gt 0 && $1 =~ ^[0-9a-fA-F.:\[\]]+:[0-9]+$ ]]; then
    args+=(--s7rtd-addr "$1")
    shift
fi
exec cargo bench --bench jitter -- "${args[@]}" "$@"
