#!/usr/bin/env bash
# Instructions per request of s7rtd's RT thread under callgrind, with and without [[access]]
# rules: proves that access control costs a request no more than a few bit tests.
#
#   scripts/callgrind-access.sh OUT_DIR LABEL=S7RTD_BINARY...
#
# For each binary and each configuration below, runs the daemon under
# `valgrind --tool=callgrind --separate-threads=yes` twice, serving SMALL and then LARGE
# 4-byte DB reads from one connection (a stdlib-only Python client, so the client's own cost
# is not counted), and reports (I(LARGE) - I(SMALL)) / (LARGE - SMALL) of the RT thread (the
# one whose profile holds event_loop::EventLoop functions): start-up, accept, handshake and
# shutdown cancel out. The loop's own path still varies a little with timing (how reads batch,
# telemetry hand-overs), so each figure is measured REPEAT times: median, min and max. Writes OUT_DIR/report.md and prints it.
#
# Configurations: "open" (no rules: the default), "limited" (a rule limiting the client to
# DBs 1-2 and areas DB/M, so every item passes the grant's and the DB set's bit tests),
# "readonly-reads" (a read-only rule; reads are served as usual).
set -euo pipefail

OUT=${1:?usage: $0 OUT_DIR LABEL=BINARY...}
shift
mkdir -p "$OUT"
SMALL=${S7RT_CG_SMALL:-200}
LARGE=${S7RT_CG_LARGE:-2200}
REPEAT=${S7RT_CG_REPEAT:-5}

declare -A CONFIGS
CONFIGS[open]=''
CONFIGS[limited]='[[access]]
networks = ["127.0.0.0/8"]
areas = ["DB", "M"]
dbs = ["1-2"]'
CONFIGS[readonly-reads]='[[access]]
networks = ["127.0.0.0/8"]
read_only = true'

client() { # PORT N: COTP connect, Setup Communication, N reads of DB1.DBB0..3
    python3 - "$1" "$2" <<'EOF'
import socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def recv_tpkt():
    h = b""
    while len(h) < 4:
        h += s.recv(4 - len(h))
    ln = struct.unpack(">H", h[2:4])[0]
    b = b""
    while len(b) < ln - 4:
        b += s.recv(ln - 4 - len(b))
    return h + b
def job(ref, params):
    pdu = struct.pack(">BBHHHH", 0x32, 1, 0, ref, len(params), 0) + params
    return struct.pack(">BBH", 3, 0, 7 + len(pdu)) + b"\x02\xf0\x80" + pdu
s.sendall(bytes.fromhex("0300001611e00000000100c0010ac1020100c2020101"))
recv_tpkt()
s.sendall(job(0, bytes.fromhex("f0000001000101e0")))
recv_tpkt()
read = bytes.fromhex("0401120a10020004000184000000")
for i in range(n):
    s.sendall(job(i & 0xFFFF, read))
    a = recv_tpkt()
    assert a[21] == 0xFF, a.hex()
s.close()
EOF
}

rt_thread_total() { # OUT_FILE_PREFIX: total of the thread that ran the event loop
    local f
    for f in "$1"-*; do
        if grep -q 'event_loop::EventLoop' "$f"; then
            awk '/^(summary|totals):/ {print $2; exit}' "$f"
            return
        fi
    done
    echo "no thread ran the event loop in $1-*" >&2
    return 1
}

run_once() { # BINARY CONFIG_FILE N OUT_PREFIX
    local bin=$1 cfg=$2 n=$3 out=$4 port line
    rm -f "$out"-*
    # exec: SRV_PID is valgrind itself, which passes SIGTERM on to s7rtd (clean shutdown,
    # then callgrind writes its files). stderr: valgrind warns about epoll_pwait2.
    coproc SRV { exec valgrind --tool=callgrind -q --separate-threads=yes \
        --callgrind-out-file="$out" "$bin" --config "$cfg" --log-level warn 2>/dev/null; }
    read -r line <&"${SRV[0]}"
    port=${line##*:}
    client "$port" "$n"
    kill -TERM "$SRV_PID"
    wait "$SRV_PID" || true
    rt_thread_total "$out"
}

{
    echo "# Instructions per request of the RT thread (callgrind)"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -n) ($(nproc) CPUs, $(uname -r)); shared with other builds while measured (instruction counts do not depend on load; the loop's path varies a little with timing, hence median, min and max)"
    echo "- command: \`scripts/callgrind-access.sh $OUT $*\`"
    echo "- request: one Read Var of DB1.DBB0, 4 bytes, one connection, PDU 480; per request = (I($LARGE) - I($SMALL)) / $((LARGE - SMALL)) of the RT thread; cycle 1 s so idle ticks add little"
    echo
    echo "| binary | config | instructions per request: median | min | max | runs |"
    echo "|---|---|---|---|---|---|"
} >"$OUT/report.md"

for spec in "$@"; do
    label=${spec%%=*}
    bin=${spec#*=}
    for name in open limited readonly-reads; do
        cfg=$OUT/$name.toml
        printf 'listen = "127.0.0.1:0"\n[rt]\nenabled = false\ncycle_us = 1000000\n%s\n' \
            "${CONFIGS[$name]}" >"$cfg"
        if ! "$bin" --config "$cfg" --check-config >/dev/null 2>&1; then
            echo "| $label | $name | (configuration not supported by this binary) | | | |" >>"$OUT/report.md"
            continue
        fi
        per=()
        for ((r = 0; r < REPEAT; r++)); do
            a=$(run_once "$bin" "$cfg" "$SMALL" "$OUT/cg.$label.$name.$SMALL")
            b=$(run_once "$bin" "$cfg" "$LARGE" "$OUT/cg.$label.$name.$LARGE")
            per+=("$(((b - a) / (LARGE - SMALL)))")
        done
        python3 -c "
import statistics, sys
v = sorted(int(x) for x in sys.argv[3:])
print(f'| {sys.argv[1]} | {sys.argv[2]} | {statistics.median(v):.0f} | {v[0]} | {v[-1]} | {len(v)} |')
" "$label" "$name" "${per[@]}" >>"$OUT/report.md"
    done
done
rm -f "$OUT"/cg.*
cat "$OUT/report.md"
