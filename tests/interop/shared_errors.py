"""Refused requests are answered promptly with the right code, and the connection lives on.

Shared by the python-snap7 1.x and 3.x suites (their `test_errors.py` imports it). Each
version reports an S7 item return code in its own words (`api.message`): 0x05 address out of
range, 0x0A object does not exist, 0x03 access denied.
"""

import pytest
from s7image import DB_SIZES, MISSING_DB, READ_ONLY_DB


def assert_still_serving(client):
    client.db_write(1, 0, bytearray(b"alive"))
    assert bytes(client.db_read(1, 0, 5)) == b"alive"


@pytest.mark.parametrize("db", [1, 2, 3, READ_ONLY_DB])
def test_read_past_the_end_of_a_db_is_address_out_of_range(client, api, db):
    with pytest.raises(api.Error) as e:
        client.db_read(db, DB_SIZES[db] - 4, 5)
    assert str(e.value) == api.message("out_of_range", "read")
    assert_still_serving(client)


def test_read_starting_beyond_a_db_is_address_out_of_range(client, api):
    with pytest.raises(api.Error) as e:
        client.db_read(3, 1000, 1)
    assert str(e.value) == api.message("out_of_range", "read")
    assert_still_serving(client)


def test_write_past_the_end_of_a_db_is_refused_and_changes_nothing(client, api):
    with pytest.raises(api.Error) as e:
        client.db_write(3, DB_SIZES[3] - 2, bytearray(b"abc"))
    assert str(e.value) == api.message("out_of_range", "write")
    assert bytes(client.db_read(3, DB_SIZES[3] - 2, 2)) == b"\x00\x00"


def test_read_of_a_missing_db_is_object_does_not_exist(client, api):
    with pytest.raises(api.Error) as e:
        client.db_read(MISSING_DB, 0, 4)
    assert str(e.value) == api.message("missing", "read")
    assert_still_serving(client)


def test_write_to_a_missing_db_is_object_does_not_exist(client, api):
    with pytest.raises(api.Error) as e:
        client.db_write(MISSING_DB, 0, bytearray(4))
    assert str(e.value) == api.message("missing", "write")
    assert_still_serving(client)


def test_write_to_a_read_only_db_is_access_denied_and_changes_nothing(client, api):
    with pytest.raises(api.Error) as e:
        client.db_write(READ_ONLY_DB, 8, bytearray(b"\xff\xff"))
    assert str(e.value) == api.message("denied", "write")
    assert bytes(client.db_read(READ_ONLY_DB, 8, 2)) == b"\x00\x00"
    assert_still_serving(client)


def test_large_read_that_runs_past_the_end_fails_instead_of_returning_a_short_buffer(client, api):
    with pytest.raises(api.Error) as e:
        client.db_read(2, 0, DB_SIZES[2] + 1)
    assert str(e.value) == api.message("out_of_range", "read")
    assert_still_serving(client)


def test_many_errors_in_a_row_do_not_wear_the_connection_down(client, api):
    for i in range(50):
        with pytest.raises(api.Error) as e:
            client.db_read(MISSING_DB + i, 0, 1)
        assert str(e.value) == api.message("missing", "read")
    assert_still_serving(client)
