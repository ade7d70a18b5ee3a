"""read_area / write_area on every area: I (PE), Q (PA), M (MK), DB, timers (TM), counters (CT).

Shared by the python-snap7 1.x and 3.x suites (their `test_areas.py` imports it); the `api`
fixture of each suite's conftest names that version's area enum, error type and texts, and
how it writes timers.
"""

import pytest
from s7image import AREA_BYTES, COUNTERS, TIMERS, pattern

BYTE_AREAS = {"PE": AREA_BYTES["inputs"], "PA": AREA_BYTES["outputs"], "MK": AREA_BYTES["flags"]}


@pytest.mark.parametrize("name", list(BYTE_AREAS))
def test_byte_area_round_trips_its_whole_size(client, api, name):
    area, size = getattr(api.Area, name), BYTE_AREAS[name]
    data = pattern(area.value, size)
    client.write_area(area, 0, 0, bytearray(data))
    assert bytes(client.read_area(area, 0, 0, size)) == data


def test_db_area_round_trips_through_read_area(client, api):
    client.write_area(api.Area.DB, 3, 16, bytearray(b"area-db"))
    assert bytes(client.read_area(api.Area.DB, 3, 14, 11)) == b"\x00\x00area-db\x00\x00"


def test_byte_areas_and_a_db_are_separate_memories(client, api):
    for i, area in enumerate([api.Area.PE, api.Area.PA, api.Area.MK]):
        client.write_area(area, 0, 40, bytearray([0xA0 + i] * 4))
    client.write_area(api.Area.DB, 1, 40, bytearray([0xAF] * 4))
    assert bytes(client.eb_read(40, 4)) == b"\xa0" * 4
    assert bytes(client.ab_read(40, 4)) == b"\xa1" * 4
    assert bytes(client.mb_read(40, 4)) == b"\xa2" * 4
    assert bytes(client.db_read(1, 40, 4)) == b"\xaf" * 4


def test_timer_n_is_written_and_read_as_two_bytes_at_element_n(client, api):
    api.write_timers(client, 3, bytearray(b"\x12\x34\x56\x78"))
    assert bytes(client.read_area(api.Area.TM, 0, 0, 6)) == b"\x00" * 6 + b"\x12\x34\x56\x78" + b"\x00" * 2
    assert bytes(client.tm_read(4, 1)) == b"\x56\x78"


def test_counter_n_is_written_and_read_as_two_bytes_at_element_n(client, api):
    client.ct_write(COUNTERS - 1, 1, bytearray(b"\x09\x99"))
    assert bytes(client.read_area(api.Area.CT, 0, COUNTERS - 2, 2)) == b"\x00\x00\x09\x99"
    assert bytes(client.ct_read(COUNTERS - 1, 1)) == b"\x09\x99"


def test_all_timers_and_counters_round_trip(client):
    t = pattern(1, 2 * TIMERS)
    k = pattern(2, 2 * COUNTERS)
    client.tm_write(0, TIMERS, bytearray(t))
    client.ct_write(0, COUNTERS, bytearray(k))
    assert bytes(client.tm_read(0, TIMERS)) == t
    assert bytes(client.ct_read(0, COUNTERS)) == k


@pytest.mark.parametrize("name", list(BYTE_AREAS))
def test_byte_area_read_past_its_end_is_address_out_of_range(client, api, name):
    area, size = getattr(api.Area, name), BYTE_AREAS[name]
    with pytest.raises(api.Error) as e:
        client.read_area(area, 0, size - 1, 2)
    assert str(e.value) == api.message("out_of_range", "read")
    assert bytes(client.read_area(area, 0, size - 1, 1)) == b"\x00"


def test_timer_past_the_last_is_address_out_of_range(client, api):
    with pytest.raises(api.Error) as e:
        client.read_area(api.Area.TM, 0, TIMERS, 1)
    assert str(e.value) == api.message("out_of_range", "read")


def test_counter_past_the_last_is_address_out_of_range(client, api):
    with pytest.raises(api.Error) as e:
        client.read_area(api.Area.CT, 0, COUNTERS - 1, 2)
    assert str(e.value) == api.message("out_of_range", "read")
