"""db_read / db_write: small, larger than the PDU (the client splits), the whole DB.

Shared by the python-snap7 1.x and 3.x suites (their `test_db.py` imports it), whose APIs agree here.
"""

import pytest
from s7image import DB_SIZES, pattern, with_max_pdu


def test_small_write_changes_exactly_the_written_bytes(client):
    client.db_write(1, 10, bytearray(b"\x01\x02\x03\x04\x05"))
    assert bytes(client.db_read(1, 8, 9)) == b"\x00\x00\x01\x02\x03\x04\x05\x00\x00"


def test_single_byte_at_the_last_offset_of_each_db_round_trips(client):
    for db, size in DB_SIZES.items():
        if db == 10:
            continue  # read-only
        client.db_write(db, size - 1, bytearray([db + 0x40]))
        assert bytes(client.db_read(db, size - 1, 1)) == bytes([db + 0x40])


@pytest.mark.parametrize("max_pdu", [240, 480, 960])
def test_whole_db_larger_than_the_pdu_round_trips_in_split_requests(s7rtd_factory, connect, max_pdu):
    c = connect(s7rtd_factory(with_max_pdu(max_pdu)), pdu=960)
    assert c.get_pdu_length() == max_pdu
    data = pattern(max_pdu, DB_SIZES[2])
    c.db_write(2, 0, bytearray(data))
    assert bytes(c.db_read(2, 0, DB_SIZES[2])) == data


def test_unaligned_read_larger_than_the_pdu_returns_the_right_window(s7rtd_factory, connect):
    c = connect(s7rtd_factory(with_max_pdu(240)))
    data = pattern(7, DB_SIZES[1])
    c.db_write(1, 0, bytearray(data))
    assert bytes(c.db_read(1, 333, 555)) == data[333:888]


def test_read_only_db_reads_as_zeros(client):
    assert bytes(client.db_read(10, 0, DB_SIZES[10])) == bytes(DB_SIZES[10])


def test_dbs_are_independent(client):
    for db in (1, 2, 3):
        client.db_write(db, 0, bytearray(pattern(db, 200)))
    for db in (1, 2, 3):
        assert bytes(client.db_read(db, 0, 200)) == pattern(db, 200)
