#!/usr/bin/env bash
# User-space instructions per 4-byte DB read of s7rtd, measured the way the jitter bench does
# (benches/jitter/phases.rs, issue #8 target 2), but standalone so a change can be checked in
# a minute, and broken down by part and by function.
#
#   scripts/callgrind-read.sh [OUT_DIR] [BINARY] [BEFORE_BINARY]
#
# Runs BINARY (default target/release/s7rtd; build it first) under `valgrind --tool=callgrind`
# (whole process, every thread) twice, serving SMALL and then LARGE reads of DB1.DBB0..3 from
# one connection (PDU 480), with the default configuration except `[rt] enabled = false` and a
# 100 ms cycle (idle ticks would otherwise add instructions that depend on valgrind's speed):
# receive timestamps and histograms stay on. Per request = (Ir(LARGE) - Ir(SMALL)) /
# (LARGE - SMALL): start-up, accept, handshake and shutdown cancel out. The client is
# `s7reads` (crates/s7rt-bench, the jitter bench's client code) outside valgrind, so its own
# cost is not counted. With BEFORE_BINARY (an older build) the parts table gets a column for
# it, measured the same way in the same run.
#
# Writes OUT_DIR (default target/callgrind-read) /report.md: the total, the per-request slope
# grouped into parts (docs/realtime.md "Where a request's cost goes" is this table), then per
# function and per source file (exclusive cost, `callgrind_annotate --inclusive=no`).
# Environment: S7RT_CG_SMALL (default 1000), S7RT_CG_LARGE (default 20000), S7RT_CG_REPEAT
# (pairs of runs, default 3; the median is reported), S7RT_CG_KEEP=1 keeps the callgrind
# output files, S7RT_CG_VALGRIND_ARGS (e.g. --dump-instr=yes), S7RT_CG_CLIENT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/callgrind-read}
BIN=${2:-target/release/s7rtd}
BEFORE=${3:-}
CLIENT=${S7RT_CG_CLIENT:-target/release/s7reads}
SMALL=${S7RT_CG_SMALL:-1000}
LARGE=${S7RT_CG_LARGE:-20000}
REPEAT=${S7RT_CG_REPEAT:-3}
mkdir -p "$OUT"
for b in "$BIN" ${BEFORE:+"$BEFORE"}; do
    [[ -x $b ]] || { echo "no binary $b (cargo build --release --bin s7rtd)" >&2; exit 1; }
done
[[ -x $CLIENT ]] || { echo "no client $CLIENT (cargo build --release -p s7rt-bench --bin s7reads)" >&2; exit 1; }

CFG=$OUT/read.toml
printf 'listen = "127.0.0.1:0"\n[rt]\nenabled = false\ncycle_us = 100000\n' >"$CFG"

run_once() { # BINARY N OUT_FILE: one callgrind run of BINARY serving N reads
    local bin=$1 n=$2 out=$3 line port
    rm -f "$out"
    # exec: SRV_PID is valgrind itself, which passes SIGTERM on to s7rtd (clean shutdown,
    # then callgrind writes its file). stderr: valgrind warns about epoll_pwait2.
    # shellcheck disable=SC2086 # S7RT_CG_VALGRIND_ARGS is a list of options
    coproc SRV { exec valgrind --tool=callgrind -q ${S7RT_CG_VALGRIND_ARGS:-} \
        --callgrind-out-file="$out" "$bin" --config "$CFG" --log-level warn 2>/dev/null; }
    read -r line <&"${SRV[0]}"
    port=${line##*:}
    "$CLIENT" "127.0.0.1:$port" "$n"
    kill -TERM "$SRV_PID"
    wait "$SRV_PID" || true
}

# The loop's own path hardly varies, but what runs per unit of time does (cycle ticks every
# 100 ms, the housekeeping thread's 5 ms polls, how reads batch): a loaded machine makes the
# larger run longer. So each pair is measured REPEAT times and the median pair reported.
measure() { # TAG BINARY
    local tag=$1 bin=$2 r n
    for ((r = 0; r < REPEAT; r++)); do
        for n in "$SMALL" "$LARGE"; do
            run_once "$bin" "$n" "$OUT/callgrind.$tag.$n.$r.out"
            callgrind_annotate --inclusive=no --threshold=100 --show-percs=no --auto=no \
                "$OUT/callgrind.$tag.$n.$r.out" >"$OUT/annotate.$tag.$n.$r.txt" 2>/dev/null
        done
    done
}
measure now "$BIN"
[[ -z $BEFORE ]] || measure before "$BEFORE"

python3 - "$OUT" "$SMALL" "$LARGE" "$BIN" "$REPEAT" "$BEFORE" <<'EOF'
import re, sys, datetime, os, platform, collections
out, small, large, binary = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
repeat, before = int(sys.argv[5]), sys.argv[6]
span = large - small

def parse(tag, n, r):
    total, funcs = None, collections.Counter()
    for line in open(f"{out}/annotate.{tag}.{n}.{r}.txt"):
        m = re.match(r"^\s*([\d,]+)\s+PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"^\s*([\d,]+)\s+(.*?)\s*$", line)
        if m and ":" in m.group(2):
            funcs[m.group(2)] += int(m.group(1).replace(",", ""))
    return total, funcs

def median_pair(tag):
    pairs = []
    for r in range(repeat):
        ta, fa = parse(tag, small, r)
        tb, fb = parse(tag, large, r)
        pairs.append(((tb - ta) / span, ta, tb, fa, fb))
    pairs.sort(key=lambda p: p[0])
    per, ta, tb, fa, fb = pairs[len(pairs) // 2]
    rows = []
    for k in set(fa) | set(fb):
        d = (fb[k] - fa[k]) / span
        if abs(d) >= 0.5:
            rows.append((d, k))
    rows.sort(reverse=True)
    return per, [p[0] for p in pairs], ta, tb, rows

# Parts: by the source file the instructions came from (inlined code keeps its own file);
# code inlined from std or a dependency counts for the part of the function it ran in.
# The first matching rule wins.
PARSE = "parsing and answering (TPKT, COTP, S7 header, item, image copy, framing)"
LOOP = "event loop (dispatch, buffers, bookkeeping, host queue check)"
SYSCALL = "system call wrappers (epoll wait, recvmsg with the receive timestamp, sendto)"
TELEMETRY = "telemetry on the RT thread (histogram records, counters)"
CLOCK = "clock readings and time arithmetic"
MEM = "memcpy/memset"
OTHER = "other threads (housekeeping: recorders to histograms), other std"
SMALLER = "functions under 0.5 per request"
ORDER = [PARSE, LOOP, SYSCALL, TELEMETRY, CLOCK, MEM, OTHER, SMALLER]
FILE_RULES = [
    (SYSCALL, r"(src/rt/sys\.rs|libc-[\d.]+/|syscall\.S|cancellation\.c|epoll|recvmsg|sendto)"),
    (CLOCK, r"(clock_gettime|src/plc/time\.rs|src/plc/mono)"),
    (TELEMETRY, r"(src/telemetry/|hdrhistogram|src/metrics/)"),
    (MEM, r"(memmove|memcpy|memset)"),
    (LOOP, r"(src/event_loop|src/host/|crossbeam)"),
    (PARSE, r"(src/session|src/wire/|src/service/|src/plc/|src/access/)"),
]
SYMBOL_RULES = [
    # The RT thread's closure: the compiler inlines the whole loop into it.
    (LOOP, r"s7rt::(event_loop::|server::Server::start::\{\{closure\}\})"),
    (PARSE, r"s7rt::(session|service|wire|plc|access)::"),
]
# Functions of other threads first, whatever file their code came from: the housekeeping
# thread (its main is std's __rust_begin_short_backtrace) turning recorders into histograms.
OTHER_THREADS = r"(__rust_begin_short_backtrace|HistogramIterator|s7rt::(metrics|housekeeping)::)"

def part(key):
    file, _, sym = key.partition(":")
    if re.search(OTHER_THREADS, sym):
        return OTHER
    for name, rx in FILE_RULES:
        if re.search(rx, file):
            return name
    for name, rx in SYMBOL_RULES:
        if re.search(rx, sym):
            return name
    return OTHER

def breakdown(per, rows):
    parts = collections.Counter()
    symbols = collections.Counter()
    for d, k in rows:
        parts[part(k)] += d
        symbols[re.sub(r"\s*\[.*\]$", "", k.partition(":")[2])] += d
    parts[SMALLER] += per - sum(d for d, _ in rows)
    return parts, symbols

now = median_pair("now")
now_parts, now_symbols = breakdown(now[0], now[4])
was = median_pair("before") if before else None
was_parts = breakdown(was[0], was[4])[0] if was else None

def runs(m):
    return ", ".join(f"{v:.1f}" for v in m[1])

with open(f"{out}/report.md", "w") as f:
    f.write("# Instructions per 4-byte DB read (callgrind, whole process)\n\n")
    f.write(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}; "
            f"host: {platform.node()} ({os.cpu_count()} CPUs, {platform.release()}); "
            f"load average {os.getloadavg()[0]:.1f} (shared machine: only the time-dependent "
            "costs, cycle ticks and housekeeping polls, vary with it)\n")
    f.write(f"- command: `scripts/callgrind-read.sh {out} {binary}{' ' + before if before else ''}` "
            f"(S7RT_CG_SMALL={small}, S7RT_CG_LARGE={large}, S7RT_CG_REPEAT={repeat})\n")
    f.write(f"- `{binary}`: {repeat} pairs of runs, per request {runs(now)}; median pair "
            f"Ir({small}) = {now[2]}, Ir({large}) = {now[3]}\n")
    if was:
        f.write(f"- `{before}` (before): per request {runs(was)}; median pair "
                f"Ir({small}) = {was[2]}, Ir({large}) = {was[3]}\n")
    f.write(f"\n**instructions per request: {now[0]:.1f}** (median of {repeat})"
            + (f"; before: {was[0]:.1f}" if was else "") + "\n\n")
    if was:
        f.write("| part | before | now |\n|---|---:|---:|\n")
        for name in ORDER:
            f.write(f"| {name} | {was_parts[name]:.0f} | {now_parts[name]:.0f} |\n")
        f.write(f"| **total** | **{was[0]:.0f}** | **{now[0]:.0f}** |\n\n")
    else:
        f.write("| part | per request |\n|---|---:|\n")
        for name in ORDER:
            f.write(f"| {name} | {now_parts[name]:.0f} |\n")
        f.write(f"| **total** | **{now[0]:.0f}** |\n\n")
    f.write("Per function (exclusive; code inlined into it counts for it):\n\n")
    f.write("| per request | function |\n|---:|---|\n")
    for k, v in sorted(now_symbols.items(), key=lambda x: -x[1]):
        f.write(f"| {v:.1f} | `{k}` |\n")
    f.write("\nPer source file (code inlined from std counted together; file paths shortened):\n\n")
    by_file = collections.Counter()
    for d, k in now[4]:
        name = k.partition(":")[0]
        name = "std (inlined)" if name.startswith("/rustc/") else name
        name = re.sub(r"^/root/\.cargo/registry/src/[^/]+/", "", name)
        name = re.sub(r"^\./.*/", "glibc: ", name)
        name = re.sub(r"^" + re.escape(os.getcwd()) + "/", "", name)
        by_file[name] += d
    f.write("| per request | source file |\n|---:|---|\n")
    for k, v in sorted(by_file.items(), key=lambda x: -x[1]):
        f.write(f"| {v:.1f} | `{k}` |\n")
    f.write("\nPer source file and function:\n\n")
    f.write("| per request | file:function | part |\n|---:|---|---|\n")
    for d, k in now[4]:
        f.write(f"| {d:.1f} | `{k}` | {part(k)} |\n")
EOF
[[ ${S7RT_CG_KEEP:-0} == 1 ]] || rm -f "$OUT"/callgrind.*.out
cat "$OUT/report.md"
