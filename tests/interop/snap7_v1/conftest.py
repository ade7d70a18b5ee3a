"""Fixtures for python-snap7 1.x (Snap7's native C++ client through ctypes)."""

import pytest
import snap7
from snap7.types import PDURequest, PingTimeout, RecvTimeout, SendTimeout

# Bounded waits: a server that never answers fails the test instead of blocking CI.
TIMEOUT_MS = 3000


@pytest.fixture(scope="session", autouse=True)
def _is_python_snap7_1():
    version = snap7.__version__ if hasattr(snap7, "__version__") else None
    from importlib.metadata import version as dist_version

    assert dist_version("python-snap7").startswith("1."), (version, dist_version("python-snap7"))


@pytest.fixture
def connect():
    """`connect(server, slot=1, pdu=None) -> snap7.client.Client`, disconnected at teardown."""
    clients = []

    def make(server, slot=1, pdu=None):
        c = snap7.client.Client()
        clients.append(c)
        for p in (PingTimeout, SendTimeout, RecvTimeout):
            c.set_param(p, TIMEOUT_MS)
        if pdu is not None:
            c.set_param(PDURequest, pdu)
        c.connect(server.host, 0, slot, server.port)
        return c

    yield make
    for c in clients:
        c.disconnect()
        c.destroy()


@pytest.fixture
def write_bit():
    """`write_bit(client, "MK"|"DB"|..., db, byte, bit, value)` through write_multi_vars."""
    from v1 import AREAS
    from v1 import write_bit as write

    return lambda c, area, db, byte, bit, value: write(c, AREAS[area], db, byte, bit, value)


class Api:
    """What differs in python-snap7 1.x for the shared tests (`shared_*.py`)."""

    from snap7.types import Areas as Area

    Error = RuntimeError
    # Snap7's own texts for the S7 item return codes, whatever the operation.
    MESSAGES = {
        "out_of_range": "b'CPU : Address out of range'",
        "missing": "b'CPU : Item not available'",
        "denied": "b'CLI : function refused by CPU (Unknown error)'",
    }

    @classmethod
    def message(cls, code, op):
        return cls.MESSAGES[code]

    @staticmethod
    def write_timers(c, start, data):
        # 1.3's write_area passes len(data) as the element count for TM, so Snap7 would send
        # twice the bytes given; tm_write counts elements.
        c.tm_write(start, len(data) // 2, data)


@pytest.fixture(scope="session")
def api():
    return Api
