"""Refused requests are answered promptly with the S7 item return code, and the connection lives on.

python-snap7 3.x reports the item return code itself in its error text: 0x05 invalid address,
0x0A object does not exist, 0x03 access denied.
"""

import pytest
from s7image import DB_SIZES, MISSING_DB, READ_ONLY_DB
from snap7.error import S7ProtocolError

READ_OUT_OF_RANGE = "Read operation failed: Invalid address (0x05)"
WRITE_OUT_OF_RANGE = "Write operation failed: Invalid address (0x05)"
READ_MISSING = "Read operation failed: Object does not exist (0x0a)"
WRITE_MISSING = "Write operation failed: Object does not exist (0x0a)"
WRITE_DENIED = "Write operation failed: Accessing the object not allowed (0x03)"


def _assert_still_serving(client):
    client.db_write(1, 0, bytearray(b"alive"))
    assert bytes(client.db_read(1, 0, 5)) == b"alive"


@pytest.mark.parametrize("db", [1, 2, 3, READ_ONLY_DB])
def test_read_past_the_end_of_a_db_is_invalid_address(client, db):
    with pytest.raises(S7ProtocolError) as e:
        client.db_read(db, DB_SIZES[db] - 4, 5)
    assert str(e.value) == READ_OUT_OF_RANGE
    _assert_still_serving(client)


def test_read_starting_beyond_a_db_is_invalid_address(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_read(3, 1000, 1)
    assert str(e.value) == READ_OUT_OF_RANGE
    _assert_still_serving(client)


def test_write_past_the_end_of_a_db_is_refused_and_changes_nothing(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_write(3, DB_SIZES[3] - 2, bytearray(b"abc"))
    assert str(e.value) == WRITE_OUT_OF_RANGE
    assert bytes(client.db_read(3, DB_SIZES[3] - 2, 2)) == b"\x00\x00"


def test_read_of_a_missing_db_is_object_does_not_exist(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_read(MISSING_DB, 0, 4)
    assert str(e.value) == READ_MISSING
    _assert_still_serving(client)


def test_write_to_a_missing_db_is_object_does_not_exist(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_write(MISSING_DB, 0, bytearray(4))
    assert str(e.value) == WRITE_MISSING
    _assert_still_serving(client)


def test_write_to_a_read_only_db_is_access_denied_and_changes_nothing(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_write(READ_ONLY_DB, 8, bytearray(b"\xff\xff"))
    assert str(e.value) == WRITE_DENIED
    assert bytes(client.db_read(READ_ONLY_DB, 8, 2)) == b"\x00\x00"
    _assert_still_serving(client)


def test_large_read_that_runs_past_the_end_fails_in_its_last_chunk(client):
    with pytest.raises(S7ProtocolError) as e:
        client.db_read(2, 0, DB_SIZES[2] + 1)
    assert str(e.value) == READ_OUT_OF_RANGE
    _assert_still_serving(client)


def test_large_write_that_runs_past_the_end_keeps_only_the_chunks_that_fit(client):
    # At PDU 480 the client splits into 445-byte chunks: 0..445 and 445..890 fit in DB1's
    # 1024 bytes, 890..1100 does not and is refused whole.
    assert client.get_pdu_length() == 480
    with pytest.raises(S7ProtocolError) as e:
        client.db_write(1, 0, bytearray(b"\x11" * 1100))
    assert str(e.value) == WRITE_OUT_OF_RANGE
    assert bytes(client.db_read(1, 0, DB_SIZES[1])) == b"\x11" * 890 + bytes(DB_SIZES[1] - 890)


def test_many_errors_in_a_row_do_not_wear_the_connection_down(client):
    for i in range(50):
        with pytest.raises(S7ProtocolError) as e:
            client.db_read(MISSING_DB + i, 0, 1)
        assert str(e.value) == READ_MISSING
    _assert_still_serving(client)
