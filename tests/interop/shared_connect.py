"""Connection set-up: rack 0 slot 1/2, PDU negotiation.

Shared by the python-snap7 1.x and 3.x suites (their `test_connect.py` imports it and adds
what only that version's API can check).
"""

import socket
import time

import pytest
from s7image import TEST_CONFIG, pattern, with_max_pdu


@pytest.mark.parametrize("slot", [1, 2])
def test_client_connects_on_rack_0_and_reads_back_what_it_wrote(s7rtd, connect, slot):
    c = connect(s7rtd, slot=slot)
    assert c.get_connected() is True
    data = pattern(slot, 16)
    c.db_write(1, 100, bytearray(data))
    assert bytes(c.db_read(1, 100, 16)) == data


def test_clients_on_slot_1_and_slot_2_share_one_image(s7rtd, connect):
    a = connect(s7rtd, slot=1)
    b = connect(s7rtd, slot=2)
    a.db_write(3, 0, bytearray(b"slot1"))
    assert bytes(b.db_read(3, 0, 5)) == b"slot1"


@pytest.mark.parametrize("server_max", [240, 480, 960])
@pytest.mark.parametrize("requested", [240, 480, 960])
def test_negotiated_pdu_is_the_smaller_of_requested_and_server_maximum(
    s7rtd_factory, connect, server_max, requested
):
    srv = s7rtd_factory(with_max_pdu(server_max))
    c = connect(srv, pdu=requested)
    assert c.get_pdu_length() == min(requested, server_max)


def test_default_request_of_480_against_a_960_server_negotiates_480(s7rtd, connect):
    c = connect(s7rtd)
    assert c.get_pdu_length() == 480


def test_silent_sockets_on_every_slot_do_not_keep_a_client_out(s7rtd_factory, connect):
    config = TEST_CONFIG.replace("max_connections = 32", "max_connections = 4\nhandshake_timeout_ms = 5000")
    assert config != TEST_CONFIG
    srv = s7rtd_factory(config)
    silent = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(4)]
    try:
        time.sleep(0.2)
        t0 = time.monotonic()
        c = connect(srv)
        c.db_write(1, 0, bytearray(b"ok"))
        assert bytes(c.db_read(1, 0, 2)) == b"ok"
        # Well inside the 5 s handshake deadline: the oldest silent socket made room at once.
        assert time.monotonic() - t0 < 2.0
        assert srv.wait_for_log("evicted while still in its handshake")
    finally:
        for s in silent:
            s.close()
