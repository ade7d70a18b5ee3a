"""read_multi_vars with 20 items in one request, and write_multi_vars.

python-snap7 3.x builds multi-item requests itself (its "optimizer" merges items closer than
`multi_read_max_gap` bytes and packs the rest into PDU-sized requests, always with transport
size BYTE). Items here are spaced so nothing merges: 20 items, one request at PDU 480.
Its write_multi_vars sends one Write Var per item.
"""

import pytest
from s7image import MISSING_DB, fill_patterns, pattern
from snap7.error import S7ProtocolError
from snap7.type import Area


SOURCES = {
    (Area.DB, 1): pattern(1, 256),
    (Area.DB, 2): pattern(2, 256),
    (Area.DB, 3): pattern(3, 256),
    (Area.PE, 0): pattern(11, 64),
    (Area.PA, 0): pattern(12, 64),
    (Area.MK, 0): pattern(13, 64),
}
# (area, db, start, size): every pair in the same memory is more than 5 bytes apart.
TWENTY = [
    (Area.DB, 1, 0, 4), (Area.DB, 1, 17, 3), (Area.DB, 1, 64, 2), (Area.DB, 1, 200, 7),
    (Area.DB, 2, 1, 1), (Area.DB, 2, 100, 10), (Area.DB, 2, 250, 6),
    (Area.DB, 3, 30, 12), (Area.DB, 3, 255, 1),
    (Area.PE, 0, 5, 2), (Area.PE, 0, 20, 1), (Area.PE, 0, 60, 4),
    (Area.PA, 0, 0, 1), (Area.PA, 0, 9, 5), (Area.PA, 0, 40, 3),
    (Area.MK, 0, 0, 8), (Area.MK, 0, 20, 2), (Area.MK, 0, 33, 9), (Area.MK, 0, 50, 1), (Area.MK, 0, 63, 1),
]


def _dicts(specs):
    return [{"area": a, "db_number": db, "start": s, "size": n} for a, db, s, n in specs]


def test_twenty_items_across_areas_come_back_exactly_from_one_request(client):
    fill_patterns(client)
    code, data = client.read_multi_vars(_dicts(TWENTY))
    assert code == 0
    assert [bytes(d) for d in data] == [SOURCES[(a, db)][s : s + n] for a, db, s, n in TWENTY]
    packets = client._opt_plan.packets
    assert [len(p.blocks) for p in packets] == [20]


def test_items_read_one_by_one_include_timers_and_counters(client):
    fill_patterns(client)
    client.use_optimizer = False
    items = _dicts(TWENTY[:18]) + [
        {"area": Area.TM, "start": 2, "size": 2},
        {"area": Area.CT, "start": 7, "size": 1},
    ]
    code, data = client.read_multi_vars(items)
    assert code == 0
    want = [SOURCES[(a, db)][s : s + n] for a, db, s, n in TWENTY[:18]]
    want += [pattern(14, 16)[4:8], pattern(15, 16)[14:16]]
    assert [bytes(d) for d in data] == want


def test_a_missing_db_in_a_multi_read_is_reported_as_object_does_not_exist(client):
    # Sorted by (area, db, offset) the request is DB1, DB3, DB99: the failing item is index 2.
    with pytest.raises(S7ProtocolError) as e:
        client.read_multi_vars(_dicts([(Area.DB, 1, 0, 2), (Area.DB, MISSING_DB, 0, 2), (Area.DB, 3, 0, 2)]))
    assert str(e.value) == "Multi-read item 2 failed: Object does not exist (0x0a)"
    assert bytes(client.db_read(1, 0, 2)) == b"\x00\x00"


def test_an_out_of_range_item_in_a_multi_read_is_reported_as_invalid_address(client):
    with pytest.raises(S7ProtocolError) as e:
        client.read_multi_vars(_dicts([(Area.DB, 3, 250, 8), (Area.MK, 0, 0, 2)]))
    assert str(e.value) == "Multi-read item 1 failed: Invalid address (0x05)"


def test_write_multi_vars_writes_twenty_items(client):
    items = [{"area": Area.DB, "db_number": 1 + i % 3, "start": 100 + 8 * i, "data": bytearray(pattern(i, 4))} for i in range(18)]
    items.append({"area": Area.MK, "start": 10, "data": bytearray(b"\x0a\x0b\x0c")})
    items.append({"area": Area.PA, "start": 3, "data": bytearray(b"\x55\xaa")})
    assert client.write_multi_vars(items) == 0
    for i in range(18):
        assert bytes(client.db_read(1 + i % 3, 100 + 8 * i, 4)) == pattern(i, 4)
    assert bytes(client.mb_read(9, 5)) == b"\x00\x0a\x0b\x0c\x00"
    assert bytes(client.ab_read(2, 4)) == b"\x00\x55\xaa\x00"


def test_write_multi_vars_stops_at_a_read_only_db_with_access_denied(client):
    items = [
        {"area": Area.DB, "db_number": 1, "start": 0, "data": bytearray(b"ok")},
        {"area": Area.DB, "db_number": 10, "start": 0, "data": bytearray(b"ro")},
    ]
    with pytest.raises(S7ProtocolError) as e:
        client.write_multi_vars(items)
    assert str(e.value) == "Write operation failed: Accessing the object not allowed (0x03)"
    assert bytes(client.db_read(1, 0, 2)) == b"ok"
    assert bytes(client.db_read(10, 0, 2)) == b"\x00\x00"


def test_a_multi_read_too_big_for_one_pdu_is_sent_as_pipelined_requests(s7rtd, connect):
    # At PDU 960 the client sends up to 8 requests back to back before reading any answer,
    # matching answers by PDU reference: the server must answer each one, in order.
    c = connect(s7rtd, pdu=960)
    assert c.get_pdu_length() == 960
    assert c.max_parallel == 8
    data = pattern(21, 2048)
    c.db_write(2, 0, bytearray(data))
    specs = [(Area.DB, 2, 102 * i, 96) for i in range(20)]
    code, got = c.read_multi_vars(_dicts(specs))
    assert code == 0
    assert [bytes(g) for g in got] == [data[s : s + n] for _, _, s, n in specs]
    assert len(c._opt_plan.packets) == 3
