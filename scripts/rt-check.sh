#!/usr/bin/env bash
# Shows what a running s7rtd actually got: the RT thread's policy, priority and CPU, and how
# much memory is locked. Usage: scripts/rt-check.sh [PID]  (default: the oldest s7rtd process)
set -euo pipefail
pid=${1:-$(pgrep -o -x s7rtd || true)}
if [ -z "$pid" ]; then echo "rt-check: no s7rtd process found" >&2; exit 1; fi
echo "s7rtd pid $pid"
grep -E '^(VmLck|VmRSS)' "/proc/$pid/status"
for task in /proc/"$pid"/task/*; do
  tid=${task##*/}
  name=$(cat "$task/comm")
  printf '%-18s tid %-7s %s; %s\n' "$name" "$tid" "$(chrt -p "$tid" | tr '\n' ' ')" "$(taskset -cp "$tid")"
done
