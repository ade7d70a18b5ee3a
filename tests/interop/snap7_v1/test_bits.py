"""BIT reads and writes: one bit changes, its neighbours do not."""

import pytest
from snap7.types import Areas
from v1 import AREAS, read_bit, write_bit

BACKGROUND = 0b1010_0101


@pytest.mark.parametrize("area,db", [("DB", 1), ("MK", 0), ("PA", 0), ("PE", 0)])
@pytest.mark.parametrize("bit", range(8))
def test_bit_write_flips_only_that_bit(client, area, db, bit):
    code = AREAS[area]
    client.write_area(Areas[area], db, 20, bytearray([BACKGROUND, BACKGROUND, BACKGROUND]))
    old = (BACKGROUND >> bit) & 1
    write_bit(client, code, db, 21, bit, not old)
    expected = BACKGROUND ^ (1 << bit)
    assert bytes(client.read_area(Areas[area], db, 20, 3)) == bytes([BACKGROUND, expected, BACKGROUND])
    assert read_bit(client, code, db, 21, bit) == 1 - old
    for other in range(8):
        if other != bit:
            assert read_bit(client, code, db, 21, other) == (BACKGROUND >> other) & 1


def test_setting_a_set_bit_and_clearing_a_clear_bit_change_nothing(client):
    client.db_write(1, 0, bytearray([0b0000_0001]))
    write_bit(client, AREAS["DB"], 1, 0, 0, True)
    write_bit(client, AREAS["DB"], 1, 0, 1, False)
    assert bytes(client.db_read(1, 0, 1)) == b"\x01"


def test_eight_bit_writes_build_a_byte(client):
    for bit in range(8):
        write_bit(client, AREAS["MK"], 0, 7, bit, bit % 3 == 0)
    assert bytes(client.mb_read(7, 1)) == bytes([0b0100_1001])

