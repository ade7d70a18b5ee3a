"""Fixtures for the control-socket suite: an s7rtd with tags and a control socket in the test's
temporary directory (`plc`, `ctl_factory`), and a python-snap7 3.x client of it (`s7`).

Runs in the snap7-3 venv (python-snap7 3.3.0, the pure-Python client): the S7 side of these
tests is a real third-party client.
"""

from __future__ import annotations

import pytest
from snap7 import Client

from ctlhelp import CtlServer, config


@pytest.fixture
def ctl_factory(s7rtd_factory, tmp_path):
    """`start(extra_host_keys="") -> CtlServer`: s7rtd with TAGS and a socket under tmp_path."""
    made: list[CtlServer] = []

    def start(extra: str = "") -> CtlServer:
        sock = tmp_path / f"run{len(made)}" / "s7rtd.sock"
        srv = CtlServer(s7rtd_factory(config=config(sock, extra)), sock)
        made.append(srv)
        return srv

    yield start
    for s in made:
        for c in s._conns:
            c.close()


@pytest.fixture
def plc(ctl_factory):
    return ctl_factory()


@pytest.fixture
def s7(plc):
    """A python-snap7 3.x client connected to `plc`."""
    c = Client()
    c.connect(plc.host, 0, 1, plc.port)
    yield c
    c.disconnect()
