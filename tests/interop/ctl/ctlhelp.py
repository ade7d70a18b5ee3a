"""Helpers of the control-socket suite: the tags of the test configuration, a JSON-lines client
of the socket, and the server handle the fixtures in conftest.py hand out. (A module of its own
name: test modules cannot import a conftest.py.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from s7image import TEST_CONFIG

# The daemon the root conftest starts (same rule: $S7RTD or the debug build).
S7RTD = Path(os.environ.get("S7RTD", Path(__file__).resolve().parents[3] / "target/debug/s7rtd"))

# Tags of every type, at the places an S7 CPU would put them; initial values where the
# tests read them back.
TAGS = """
[[tag]]
name = "Line4.Speed"
address = "DB1.DBD4"
type = "REAL"
initial = 12.5

[[tag]]
name = "Line4.Run"
address = "DB1.DBX0.3"
type = "BOOL"
initial = true

[[tag]]
name = "Line4.Jog"
address = "DB1.DBX0.4"
type = "BOOL"

[[tag]]
name = "Line4.Mode"
address = "DB1.DBB1"
type = "BYTE"

[[tag]]
name = "Line4.Status"
address = "DB1.DBW2"
type = "WORD"
initial = "16#BEEF"

[[tag]]
name = "Line4.Pieces"
address = "DB1.DBD8"
type = "DINT"
initial = -100000

[[tag]]
name = "Line4.Mask"
address = "DB1.DBD12"
type = "DWORD"

[[tag]]
name = "Line4.Offset"
address = "DB1.DBW16"
type = "INT"

[[tag]]
name = "Line4.Precise"
address = "DB1.DBB20"
type = "LREAL"

[[tag]]
name = "Line4.Grade"
address = "DB1.DBB28"
type = "CHAR"
initial = "A"

[[tag]]
name = "Line4.Recipe"
address = "DB1.DBB30"
type = "STRING[20]"
initial = "Mix A"

[[tag]]
name = "Line4.Cycle"
address = "DB1.DBD52"
type = "TIME"
initial = "T#1m30s"

[[tag]]
name = "Line4.Started"
address = "DB1.DBB56"
type = "DATE_AND_TIME"

[[tag]]
name = "Flags.Count"
address = "MW10"
type = "INT"

[[tag]]
name = "Inputs.Sensor"
address = "EW4"
type = "WORD"

[[tag]]
name = "Outputs.Valve"
address = "A1.2"
type = "BOOL"
"""


def config(sock: Path, extra: str = "") -> str:
    return TEST_CONFIG + f'\n[host]\nsocket = "{sock}"\n{extra}\n' + TAGS


class Ctl:
    """One JSON-lines connection to the control socket."""

    def __init__(self, path: Path, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")

    def send_raw(self, data: bytes) -> None:
        self.file.write(data)
        self.file.flush()

    def line(self) -> dict:
        raw = self.file.readline()
        assert raw, "the server closed the connection"
        return json.loads(raw)

    def answer(self) -> dict:
        """The next line that is not an event."""
        while True:
            v = self.line()
            if "event" not in v:
                return v

    def call(self, **req) -> dict:
        self.send_raw(json.dumps(req).encode() + b"\n")
        return self.answer()

    def ok(self, **req) -> dict:
        v = self.call(**req)
        assert v["ok"] is True, v
        return v

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class CtlServer:
    def __init__(self, server, sock: Path):
        self.server = server
        self.sock = sock
        self.host, self.port = server.host, server.port
        self._conns: list[Ctl] = []

    def ctl(self, timeout: float = 5.0) -> Ctl:
        c = Ctl(self.sock, timeout)
        self._conns.append(c)
        return c

    def cli(self, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(S7RTD), "ctl", "--socket", str(self.sock), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


