"""Fixtures for python-snap7 3.x (the pure-Python client)."""

from importlib.metadata import version

import pytest
from snap7 import Client
from snap7.type import Parameter

# 3.x waits at most `connection.timeout` (5 s by default) for any answer, so a server that never
# answers fails the test instead of blocking CI.
TIMEOUT_S = 5.0


@pytest.fixture(scope="session", autouse=True)
def _is_python_snap7_3():
    assert version("python-snap7").startswith("3."), version("python-snap7")


@pytest.fixture
def connect():
    """`connect(server, slot=1, pdu=None) -> snap7.Client`, disconnected at teardown."""
    clients = []

    def make(server, slot=1, pdu=None):
        c = Client()
        clients.append(c)
        if pdu is not None:
            c.set_param(Parameter.PDURequest, pdu)
        c.connect(server.host, 0, slot, server.port)
        assert c.connection.timeout == TIMEOUT_S
        return c

    yield make
    for c in clients:
        c.disconnect()


@pytest.fixture
def write_bit():
    """`write_bit(client, "MK"|"DB"|..., db, byte, bit, value)` as one BIT write_area."""
    from snap7.type import Area, WordLen

    def write(c, area, db, byte, bit, value):
        c.write_area(getattr(Area, area), db, byte * 8 + bit, bytearray([int(value)]), WordLen.Bit)

    return write


class Api:
    """What differs in python-snap7 3.x for the shared tests (`shared_*.py`)."""

    from snap7.error import S7ProtocolError as Error
    from snap7.type import Area

    # 3.x names the operation and the S7 item return code itself.
    CODES = {
        "out_of_range": "Invalid address (0x05)",
        "missing": "Object does not exist (0x0a)",
        "denied": "Accessing the object not allowed (0x03)",
    }

    @classmethod
    def message(cls, code, op):
        return f"{op.capitalize()} operation failed: {cls.CODES[code]}"

    @classmethod
    def write_timers(cls, c, start, data):
        c.write_area(cls.Area.TM, 0, start, data)


@pytest.fixture(scope="session")
def api():
    return Api
