#!/usr/bin/env bash
# Capture check: runs interop suites again while tshark captures the loopback interface, then
# decodes every frame the s7rtd servers sent with Wireshark's TPKT/COTP/S7comm dissectors and
# fails on any malformed packet or any expert item of severity warning or error.
#
# The fixtures (tests/interop/conftest.py, tests/interop/nodes7/s7rtd.js) append each server's
# ephemeral port to $S7RT_PORT_LOG; the decode treats exactly those ports as TPKT and looks only
# at frames whose TCP source port is one of them (the server's answers). Client frames are
# summarised for information only (some clients send malformed requests on purpose of their
# own bugs; see the report at the end).
#
# Needs tshark (installed with apt-get when missing and running as root) and the right to
# capture on lo (root). Knobs:
#   S7RT_CAPTURE_SUITES="snap7_v1 snap7_v3 nodes7"   suites run under capture (scripts/test.sh names)
#   S7RT_CAPTURE_KEEP=1                               keep the capture directory
set -euo pipefail

cd "$(dirname "$0")/../../.."
SUITES=${S7RT_CAPTURE_SUITES:-"snap7_v1 snap7_v3 nodes7"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s7rt-capture.XXXXXX")
# Wireshark's expert severities (epan/proto.h): PI_NOTE 0x00400000, PI_WARN 0x00600000,
# PI_ERROR 0x00800000.
PI_WARN=0x00600000
TSHARK_PID=

cleanup() {
    if [[ -n $TSHARK_PID ]] && kill -0 "$TSHARK_PID" 2>/dev/null; then kill -INT "$TSHARK_PID" || true; fi
    if [[ -n ${S7RT_CAPTURE_KEEP:-} ]]; then echo "capture kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ensure_tshark() {
    command -v tshark >/dev/null && return 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "tshark missing: install it (e.g. sudo apt-get install -y tshark)" >&2
        return 1
    fi
    echo "installing tshark with apt-get"
    # wireshark-common asks whether non-root users may capture; answer "no" up front.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark; }
}

# check PCAP PORTS_FILE: decodes the servers' frames; prints counts and the expert summary;
# returns 1 if any server frame is malformed or carries a warning/error expert item.
check() {
    local pcap=$1 ports
    ports=$(sort -un "$2" | paste -sd, -)
    if [[ -z $ports ]]; then
        echo "no server ports recorded: did the suites run?" >&2
        return 1
    fi
    local decode=() p
    for p in ${ports//,/ }; do decode+=(-d "tcp.port==$p,tpkt"); done
    local server="tcp.srcport in {$ports}"
    tshark_r() { tshark -r "$pcap" "${decode[@]}" "$@" 2>/dev/null; }

    local seen nports
    seen=$(tshark_r -Y "$server && tcp.flags.syn == 1" -T fields -e tcp.srcport | sort -u | wc -l)
    nports=$(tr ',' '\n' <<<"$ports" | wc -l)
    echo "servers: $nports started, $seen seen accepting connections in the capture"
    echo "server frames with payload: $(tshark_r -Y "$server && tcp.len > 0" | wc -l)," \
        "S7comm PDUs: $(tshark_r -Y "$server && s7comm" -T fields -e s7comm.header.rosctr | tr ',' '\n' | wc -l)," \
        "payload frames not decoded as TPKT: $(tshark_r -Y "$server && tcp.len > 0 && !tpkt" | wc -l)"
    echo "--- expert summary, server frames:"
    tshark_r -q -z "expert,note,$server" | sed -n '/^[A-Z]/,$p'
    local problems
    # A bare ACK carrying a D-SACK is the kernel telling a retransmitting peer it had the
    # data already (seen when the shared machine delays a client past its RTO); a bare RST
    # is the kernel answering a client's bytes that arrive after the server closed (a
    # refusal, a shutdown) — timing on a loaded machine decides whether the client sends
    # them first. Neither has payload from the server, so neither is counted. Every frame
    # with payload still is.
    problems=$(tshark_r -Y "$server && (_ws.malformed || _ws.expert.severity >= $PI_WARN) && !((tcp.options.sack.dsack || tcp.flags.reset == 1) && tcp.len == 0)" \
        -T fields -e frame.number -e tcp.stream -e _ws.expert.severity -e _ws.expert.message)
    local undecoded
    undecoded=$(tshark_r -Y "$server && tcp.len > 0 && !tpkt" -T fields -e frame.number)
    echo "--- client frames (information only):"
    tshark_r -q -z "expert,warn,tcp.dstport in {$ports}" | sed -n '/^[A-Z]/,$p'
    if ((seen < nports)); then
        echo "FAIL: the capture misses servers (capture incomplete?)" >&2
        return 1
    fi
    if [[ -n $problems || -n $undecoded ]]; then
        echo "FAIL: server frames flagged by the dissector (frame, stream, severity, message):" >&2
        printf '%s\n' "$problems" "$undecoded" | sed '/^$/d' | head -50 >&2
        return 1
    fi
    echo "no malformed packet and no warning/error expert item in any server frame"
}

# The check must be able to fail: a synthetic server answer whose S7 header announces an
# 8-byte parameter that is not there has to be reported.
self_test() {
    local dir=$WORK/self-test
    mkdir -p "$dir"
    # TPKT(len 20) + COTP DT + S7 Ack_Data header with param length 8, followed by 1 byte.
    echo "0000 03 00 00 14 02 f0 80 32 03 00 00 00 01 00 08 00 00 00 00 f0" >"$dir/frame.txt"
    text2pcap -q -T 40102,50000 -4 127.0.0.1,127.0.0.1 "$dir/frame.txt" "$dir/bad.pcap" >/dev/null 2>&1 ||
        text2pcap -T 40102,50000 -4 127.0.0.1,127.0.0.1 "$dir/frame.txt" "$dir/bad.pcap" >/dev/null
    echo 40102 >"$dir/ports"
    if check "$dir/bad.pcap" "$dir/ports" >"$dir/out" 2>&1; then
        cat "$dir/out"
        echo "self-test FAILED: a malformed server frame was not reported" >&2
        return 1
    fi
    echo "self-test: a malformed server frame is reported"
}

ensure_tshark
self_test

# A 64 MiB capture buffer: loopback bursts (pipelined clients) must not overrun it.
tshark -i lo -f tcp -B 64 -q -w "$WORK/cap.pcapng" 2>"$WORK/tshark.err" &
TSHARK_PID=$!
for _ in $(seq 100); do
    grep -q "Capturing on" "$WORK/tshark.err" && break
    kill -0 "$TSHARK_PID" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "Capturing on" "$WORK/tshark.err"; then
    cat "$WORK/tshark.err" >&2
    echo "tshark could not capture on lo (root needed)" >&2
    exit 1
fi

echo "running under capture: $SUITES"
suites_rc=0
S7RT_PORT_LOG=$WORK/ports S7RT_SUITES=$SUITES S7RT_SKIP_RUST=1 bash scripts/test.sh || suites_rc=$?

sleep 0.5 # let the last FIN/ACKs reach the capture
kill -INT "$TSHARK_PID"
for _ in $(seq 100); do kill -0 "$TSHARK_PID" 2>/dev/null || break; sleep 0.1; done
wait "$TSHARK_PID" || true
TSHARK_PID=
grep -i "captured\|dropped" "$WORK/tshark.err" || true
if grep -qiE "[1-9][0-9]* packets? dropped" "$WORK/tshark.err"; then
    echo "FAIL: tshark dropped packets" >&2
    exit 1
fi

section_rc=0
echo "==== decode (tshark $(tshark --version 2>/dev/null | head -1 | awk "{print \$3}")) ===="
check "$WORK/cap.pcapng" "$WORK/ports" || section_rc=$?
if ((suites_rc != 0)); then
    echo "FAIL: the suites themselves failed under capture (exit $suites_rc)" >&2
    exit 1
fi
exit "$section_rc"
