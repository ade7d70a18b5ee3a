#!/usr/bin/env python3
"""Control-socket latency, measured beside the S7 path in one run.

Starts `s7rtd --no-rt` on 127.0.0.1 with a control socket and a few tags, then measures, each
as a distribution over many samples:

  socket write   round trip of {"op":"write"} (answered once the RT loop applied it)
  socket read    round trip of {"op":"read"}
  S7 write       round trip of python-snap7's db_write of the same 4 bytes (the reference)
  S7 read        round trip of python-snap7's db_read of the same 4 bytes
  S7 -> watch    python-snap7 db_write until the `watch` event arrives on the socket

and writes results/<UTC time>-<host>-ctl-latency/report.md with the machine, the command and
the ratios socket/S7 from the same run. Run it with the venv that has python-snap7 3.x:

    target/venv/snap7-3/bin/python scripts/ctl-latency.py [--samples 2000] [--s7rtd PATH]

(`scripts/test.sh` creates that venv.) The numbers depend on the machine's load: compare
only within one report.
"""

import argparse
import datetime
import json
import os
import platform
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snap7 import Client

REPO = Path(__file__).resolve().parents[1]

CONFIG = """
listen = "127.0.0.1:0"
[rt]
enabled = false
[host]
socket = "{sock}"
[[db]]
number = 1
size = 64
[[tag]]
name = "Bench.Value"
address = "DB1.DBD4"
type = "DINT"
"""


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(samples):
    return {p: pct(samples, p) * 1e6 for p in (50, 90, 99)}


class Ctl:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")

    def send(self, req):
        self.file.write(json.dumps(req).encode() + b"\n")
        self.file.flush()

    def line(self):
        return json.loads(self.file.readline())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--s7rtd", default=str(REPO / "target" / "debug" / "s7rtd"))
    ap.add_argument("--out", default=str(REPO / "results"))
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="s7rt-ctl-latency-"))
    sock = tmp / "s7rtd.sock"
    cfg = tmp / "s7rtd.toml"
    cfg.write_text(CONFIG.format(sock=sock))
    proc = subprocess.Popen(
        [a.s7rtd, "--config", str(cfg), "--no-rt", "--log-level", "warn"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("s7rtd: listening on "), line
        port = int(line.rsplit(":", 1)[1])
        s7 = Client()
        s7.connect("127.0.0.1", 0, 1, port)
        ctl = Ctl(str(sock))
        n = a.samples
        series = {k: [] for k in ("socket write", "socket read", "S7 write", "S7 read", "S7 -> watch")}
        for i in range(n):
            t = time.perf_counter()
            ctl.send({"op": "write", "tag": "Bench.Value", "value": i})
            assert ctl.line()["ok"]
            series["socket write"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ctl.send({"op": "read", "tag": "Bench.Value"})
            assert ctl.line()["value"] == i
            series["socket read"].append(time.perf_counter() - t)
            data = bytearray(i.to_bytes(4, "big"))
            t = time.perf_counter()
            s7.db_write(1, 4, data)
            series["S7 write"].append(time.perf_counter() - t)
            t = time.perf_counter()
            s7.db_read(1, 4, 4)
            series["S7 read"].append(time.perf_counter() - t)
        watcher = Ctl(str(sock))
        watcher.send({"op": "watch"})
        assert watcher.line()["ok"]
        for i in range(n):
            data = bytearray((n + i).to_bytes(4, "big"))
            t = time.perf_counter()
            s7.db_write(1, 4, data)
            ev = watcher.line()
            series["S7 -> watch"].append(time.perf_counter() - t)
            assert ev["tags"][0]["value"] == n + i, ev
        s7.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = Path(a.out) / f"{stamp}-{platform.node() or 'host'}-ctl-latency"
    out.mkdir(parents=True, exist_ok=True)
    s = {k: summary(v) for k, v in series.items()}
    rows = "\n".join(
        f"| {k} | {v[50]:.0f} | {v[90]:.0f} | {v[99]:.0f} |" for k, v in s.items()
    )
    ratio = lambda x, y, p: s[x][p] / s[y][p]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    report = f"""# Control socket latency ({stamp})

Command: `{Path(sys.executable).relative_to(REPO) if str(sys.executable).startswith(str(REPO)) else sys.executable} scripts/ctl-latency.py --samples {n}`
(s7rtd `{a.s7rtd}` at commit {commit}, `--no-rt`: ordinary thread, default 1 ms cycle).
Machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()},
load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end (shared with other jobs).
Clients: python-snap7 3.3 (pure Python) for S7, a Python JSON-lines client for the socket,
both on 127.0.0.1, one request at a time, {n} samples per row.

| µs | p50 | p90 | p99 |
|---|---|---|---|
{rows}

Ratios from this run: socket write / S7 write p50 {ratio('socket write', 'S7 write', 50):.2f}×,
p99 {ratio('socket write', 'S7 write', 99):.2f}×; socket read / S7 read p50
{ratio('socket read', 'S7 read', 50):.2f}×, p99 {ratio('socket read', 'S7 read', 99):.2f}×.
Why the socket is slower than S7 here: the RT loop takes host commands (the socket's reads
and writes, through the host API's queues) when it wakes, and nothing wakes it for them: it
takes them at its next request or cycle tick (1 ms by default). A socket read waits for that
turn; a socket write is answered once applied (the host API's `sync`), so it waits too.
"S7 -> watch" is an S7 write's round trip plus the event's way through the host
notification queue, the watch thread (which polls it every 1 ms) and the socket. The
daemon is a {"debug" if "/debug/" in a.s7rtd else "release"} build.
"""
    (out / "report.md").write_text(report)
    (out / "figures.json").write_text(json.dumps(s, indent=1))
    print(report)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
