"""Shared fixtures for the interop suites: start a real `s7rtd`, hand out its address.

Every suite under tests/interop/<suite>/ is run by its own interpreter (see scripts/test.sh), so
this file imports nothing but the standard library, pytest and s7image.py (the test image).

Interface (see README.md in this folder):

    def test_x(s7rtd):                 # default test image (TEST_CONFIG below)
        host, port = s7rtd.host, s7rtd.port

    def test_y(s7rtd_factory):         # own configuration, several servers if needed
        srv = s7rtd_factory(config=TEST_CONFIG.replace(...), args=["--max-pdu", "240"])
        srv.host, srv.port, srv.stderr_text(), srv.proc

Every server started here is stopped at teardown with SIGTERM; the test then fails unless the
daemon exited with code 0 and its stderr shows no panic.
"""

from __future__ import annotations

import os
import select
import signal
import time
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
S7RTD = Path(os.environ.get("S7RTD", REPO / "target" / "debug" / "s7rtd"))
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
LISTEN_PREFIX = "s7rtd: listening on "
# When set, every server's port is appended to this file, one per line.
PORT_LOG = os.environ.get("S7RT_PORT_LOG")

from s7image import TEST_CONFIG


class Server:
    """One running s7rtd process."""

    def __init__(self, config: str | None, args: list[str], tmp: Path):
        cmd = [str(S7RTD), "--no-rt", "--listen", "127.0.0.1:0"]
        if config is not None:
            path = tmp / f"s7rtd-{id(self)}.toml"
            path.write_text(config)
            cmd += ["--config", str(path)]
        cmd += list(args)
        self.cmd = cmd
        self._stderr = tempfile.TemporaryFile(dir=tmp)
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1
        )
        self.host, self.port = self._await_listening()
        if PORT_LOG:  # the capture check decodes exactly these ports (tests/interop/capture)
            with open(PORT_LOG, "a") as f:
                f.write(f"{self.port}\n")

    def _await_listening(self) -> tuple[str, int]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith(LISTEN_PREFIX):
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
            pytest.fail(
                f"s7rtd did not report its address within {START_TIMEOUT_S}s "
                f"(stdout line {line!r}, exit {self.proc.returncode}); cmd {self.cmd}\n"
                f"stderr:\n{self.stderr_text()}"
            )
        host, _, port = line[len(LISTEN_PREFIX):].strip().rpartition(":")
        return host, int(port)

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def wait_for_log(self, text: str, timeout_s: float = 5.0) -> bool:
        """True once `text` appears in the log. Events reach the log asynchronously (the RT
        thread queues them, housekeeping writes them), so a test polls instead of reading once."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.stderr_text():
                return True
            time.sleep(0.02)
        return text in self.stderr_text()

    def stop(self) -> None:
        """SIGTERM, bounded wait, then assert a clean exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
                pytest.fail(
                    f"s7rtd ignored SIGTERM for {STOP_TIMEOUT_S}s\nstderr:\n{self.stderr_text()}"
                )
        err = self.stderr_text()
        assert "panicked" not in err, f"s7rtd panicked:\n{err}"
        assert self.proc.returncode == 0, (
            f"s7rtd exited with {self.proc.returncode}\nstderr:\n{err}"
        )


@pytest.fixture
def s7rtd_factory(tmp_path):
    """Returns `start(config: str | None = TEST_CONFIG, args=()) -> Server`.

    `config=None` runs the daemon's built-in default configuration.
    """
    servers: list[Server] = []

    def start(config: str | None = TEST_CONFIG, args=()) -> Server:
        srv = Server(config, list(args), tmp_path)
        servers.append(srv)
        return srv

    yield start
    failures = []
    for srv in servers:
        try:
            srv.stop()
        except BaseException as e:  # report every server, not only the first
            failures.append(e)
    if failures:
        raise failures[0]


@pytest.fixture
def s7rtd(s7rtd_factory):
    """A fresh server on TEST_CONFIG for one test."""
    return s7rtd_factory()


@pytest.fixture
def client(s7rtd, connect):
    """A client on rack 0 slot 1 of a fresh server running the test image, through the
    suite's own `connect` fixture (python-snap7 1.x or 3.x)."""
    return connect(s7rtd)
