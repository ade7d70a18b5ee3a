"""Runs the shared error tests with python-snap7 3.x (see `api` in conftest.py), and the one
only its client can show: it sends a large write in chunks and stops at the first refused one."""

import pytest
from s7image import DB_SIZES
from shared_errors import *  # noqa: F401,F403


def test_large_write_that_runs_past_the_end_keeps_only_the_chunks_that_fit(client, api):
    # At PDU 480 the client splits into 445-byte chunks: 0..445 and 445..890 fit in DB1's
    # 1024 bytes, 890..1100 does not and is refused whole.
    assert client.get_pdu_length() == 480
    with pytest.raises(api.Error) as e:
        client.db_write(1, 0, bytearray(b"\x11" * 1100))
    assert str(e.value) == api.message("out_of_range", "write")
    assert bytes(client.db_read(1, 0, DB_SIZES[1])) == b"\x11" * 890 + bytes(DB_SIZES[1] - 890)
