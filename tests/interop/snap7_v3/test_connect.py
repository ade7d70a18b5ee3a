"""Runs the shared connection tests with the pure-Python client, and what only its API shows:
the TSAP it asked for, reconnecting, the --max-pdu flag."""

import pytest
from shared_connect import *  # noqa: F401,F403


@pytest.mark.parametrize("slot", [1, 2])
def test_remote_tsap_names_rack_0_and_the_slot(s7rtd, connect, slot):
    c = connect(s7rtd, slot=slot)
    assert c.remote_tsap == 0x0100 | slot


def test_disconnect_then_reconnect_to_the_same_server_works(s7rtd, connect):
    c = connect(s7rtd)
    c.db_write(1, 0, bytearray(b"kept"))
    c.disconnect()
    assert c.get_connected() is False
    c.connect(s7rtd.host, 0, 1, s7rtd.port)
    assert bytes(c.db_read(1, 0, 4)) == b"kept"


def test_max_pdu_flag_overrides_the_configuration(s7rtd_factory, connect):
    c = connect(s7rtd_factory(args=["--max-pdu", "240"]), pdu=960)
    assert c.get_pdu_length() == 240
