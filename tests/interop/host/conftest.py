"""Fixtures for the host-API suite: the `edge` example (an application embedding s7rt
through `s7rt::host`) driven by python-snap7 1.3 (Snap7's native client)."""

from __future__ import annotations

import os
import queue
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import snap7
from snap7.types import PingTimeout, RecvTimeout, SendTimeout

REPO = Path(__file__).resolve().parents[3]
EDGE = Path(os.environ.get("S7RT_EDGE", REPO / "target" / "debug" / "examples" / "edge"))
TIMEOUT_MS = 3000
PREFIX = "edge: listening on "


class Edge:
    """The running example; its stdout lines are collected by a reader thread."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [str(EDGE), "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith(PREFIX):
            self.proc.kill()
            pytest.fail(f"edge did not start: {line!r} {self.proc.stderr.read()}")
        host, _, port = line[len(PREFIX):].strip().rpartition(":")
        self.host, self.port = host, int(port)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout_s: float = 5.0) -> str:
        """The next stdout line containing `text` (earlier lines are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"edge never printed {text!r}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if text in line:
                return line

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("edge ignored SIGTERM")
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0 and "panicked" not in err, err


@pytest.fixture
def edge():
    e = Edge()
    yield e
    e.stop()


@pytest.fixture
def client(edge):
    c = snap7.client.Client()
    for p in (PingTimeout, SendTimeout, RecvTimeout):
        c.set_param(p, TIMEOUT_MS)
    c.connect(edge.host, 0, 1, edge.port)
    yield c
    c.disconnect()
    c.destroy()
