"""read_multi_vars with 20 items (Snap7's maximum, one request) and write_multi_vars."""

import ctypes

from s7image import MISSING_DB, READ_ONLY_DB, fill_patterns, pattern
from snap7.types import S7WLBit, S7WLByte, S7WLCounter, S7WLTimer
from v1 import (
    AREAS,
    ERR_SIZE_OVER_PDU,
    ERR_ADDRESS_OUT_OF_RANGE,
    ERR_DATA_SIZE_MISMATCH,
    ERR_FUNCTION_REFUSED,
    ERR_ITEM_NOT_AVAILABLE,
    Items,
    read_items,
    write_items,
)

DB, MK, PA, PE, TM, CT = (AREAS[k] for k in ("DB", "MK", "PA", "PE", "TM", "CT"))


# (area, db, start, amount, wordlen) -> expected bytes, from fill_patterns.
TWENTY = [
    ((DB, 1, 0, 4, S7WLByte), pattern(1, 256)[0:4]),
    ((DB, 1, 17, 3, S7WLByte), pattern(1, 256)[17:20]),  # odd length: fill byte follows
    ((DB, 2, 100, 10, S7WLByte), pattern(2, 256)[100:110]),
    ((DB, 3, 255, 1, S7WLByte), pattern(3, 256)[255:256]),
    ((PE, 0, 5, 2, S7WLByte), pattern(11, 64)[5:7]),
    ((PA, 0, 9, 5, S7WLByte), pattern(12, 64)[9:14]),
    ((MK, 0, 0, 8, S7WLByte), pattern(13, 64)[0:8]),
    ((TM, 0, 2, 2, S7WLTimer), pattern(14, 16)[4:8]),
    ((CT, 0, 7, 1, S7WLCounter), pattern(15, 16)[14:16]),
    ((DB, 2, 1, 1, S7WLByte), pattern(2, 256)[1:2]),
    ((DB, 1, 200, 7, S7WLByte), pattern(1, 256)[200:207]),
    ((MK, 0, 63, 1, S7WLByte), pattern(13, 64)[63:64]),
    ((PE, 0, 60, 4, S7WLByte), pattern(11, 64)[60:64]),
    ((PA, 0, 0, 1, S7WLByte), pattern(12, 64)[0:1]),
    ((DB, 3, 30, 12, S7WLByte), pattern(3, 256)[30:42]),
    ((DB, 2, 250, 6, S7WLByte), pattern(2, 256)[250:256]),
    ((DB, 1, 64, 2, S7WLByte), pattern(1, 256)[64:66]),
    ((TM, 0, 0, 1, S7WLTimer), pattern(14, 16)[0:2]),
    ((CT, 0, 0, 3, S7WLCounter), pattern(15, 16)[0:6]),
    ((MK, 0, 33, 9, S7WLByte), pattern(13, 64)[33:42]),
]


def test_twenty_items_across_every_area_come_back_exactly(client):
    fill_patterns(client)
    results, data = read_items(client, [spec for spec, _ in TWENTY])
    assert results == [0] * 20
    assert data == [want for _, want in TWENTY]


def test_twenty_bit_items_read_each_bit(client):
    client.mb_write(0, 3, bytearray([0b1100_1010, 0b0000_0001, 0b1000_0000]))
    specs = [(MK, 0, b, 1, S7WLBit) for b in range(20)]
    results, data = read_items(client, specs)
    bits = int.from_bytes(bytes([0b1100_1010, 0b0000_0001, 0b1000_0000]), "little")
    assert results == [0] * 20
    assert data == [bytes([(bits >> b) & 1]) for b in range(20)]


def test_failing_items_get_their_own_codes_and_the_others_their_data(client):
    fill_patterns(client)
    specs = [
        (DB, 1, 0, 4, S7WLByte),
        (DB, MISSING_DB, 0, 4, S7WLByte),  # 0x0A
        (DB, 3, 250, 8, S7WLByte),  # 0x05
        (MK, 0, 3, 2, S7WLBit),  # 0x07: BIT with count 2
        (MK, 0, 0, 2, S7WLByte),
    ]
    results, data = read_items(client, specs)
    assert results == [0, ERR_ITEM_NOT_AVAILABLE, ERR_ADDRESS_OUT_OF_RANGE, ERR_DATA_SIZE_MISMATCH, 0]
    assert data[0] == pattern(1, 256)[0:4]
    assert data[4] == pattern(13, 64)[0:2]


def test_write_multi_vars_writes_twenty_items_in_one_job(client):
    specs = [(DB, 1 + i % 3, 100 + 8 * i, 4, S7WLByte, pattern(i, 4)) for i in range(18)]
    specs += [(MK, 0, 10, 3, S7WLByte, b"\x0a\x0b\x0c"), (TM, 0, 5, 1, S7WLTimer, b"\x55\xaa")]
    code, results = write_items(client, specs)
    assert (code, results) == (0, [0] * 20)
    for i in range(18):
        assert bytes(client.db_read(1 + i % 3, 100 + 8 * i, 4)) == pattern(i, 4)
    assert bytes(client.mb_read(9, 5)) == b"\x00\x0a\x0b\x0c\x00"
    assert bytes(client.tm_read(5, 1)) == b"\x55\xaa"


def test_write_multi_vars_reports_each_refused_item_and_applies_the_rest(client):
    specs = [
        (DB, 1, 0, 2, S7WLByte, b"ok"),
        (DB, READ_ONLY_DB, 0, 2, S7WLByte, b"ro"),  # 0x03
        (DB, MISSING_DB, 0, 2, S7WLByte, b"no"),  # 0x0A
        (DB, 3, 255, 2, S7WLByte, b"oo"),  # 0x05
        (DB, 2, 0, 2, S7WLByte, b"OK"),
    ]
    code, results = write_items(client, specs)
    assert code == 0
    assert results == [0, ERR_FUNCTION_REFUSED, ERR_ITEM_NOT_AVAILABLE, ERR_ADDRESS_OUT_OF_RANGE, 0]
    assert bytes(client.db_read(1, 0, 2)) == b"ok"
    assert bytes(client.db_read(2, 0, 2)) == b"OK"
    assert bytes(client.db_read(READ_ONLY_DB, 0, 2)) == b"\x00\x00"
    assert bytes(client.db_read(3, 254, 2)) == b"\x00\x00"


def test_public_write_multi_vars_api_writes_all_items(client):
    items = Items([(DB, 3, 10 * i, 2, S7WLByte, pattern(40 + i, 2)) for i in range(20)])
    assert client.write_multi_vars(list(items.array)) == 0
    for i in range(20):
        assert bytes(client.db_read(3, 10 * i, 2)) == pattern(40 + i, 2)


def test_a_reply_of_exactly_the_pdu_is_served_and_one_byte_more_is_refused_with_0x8500(client):
    client.db_write(2, 0, bytearray(pattern(9, 2048)))
    assert client.get_pdu_length() == 480
    # Reply: 12 header + 2 params + 19 * (4 + 20) + (4 + last) = 470 + 4 + last.
    for last, fits in ((6, True), (7, False)):
        specs = [(DB, 2, 100 * i, 20, S7WLByte) for i in range(19)] + [(DB, 2, 1990, last, S7WLByte)]
        items = Items(specs)
        code = client._library.Cli_ReadMultiVars(client._pointer, ctypes.byref(items.array), ctypes.c_int32(20))
        if fits:
            assert (code, items.results()) == (0, [0] * 20)
            assert items.data(19) == pattern(9, 2048)[1990 : 1990 + last]
        else:
            assert code == ERR_SIZE_OVER_PDU
            assert client.error_text(code) == "CPU : total data exceeds the PDU size"
    assert bytes(client.db_read(2, 0, 4)) == pattern(9, 2048)[:4]
