"""BIT reads and writes (transport size BIT): one bit changes, its neighbours do not."""

import pytest
from snap7.error import S7ProtocolError
from snap7.type import Area, WordLen

BACKGROUND = 0b1010_0101


def write_bit(c, area, db, byte, bit, value):
    c.write_area(area, db, byte * 8 + bit, bytearray([1 if value else 0]), WordLen.Bit)


def read_bit(c, area, db, byte, bit):
    data = c.read_area(area, db, byte * 8 + bit, 1, WordLen.Bit)
    assert len(data) == 1
    return data[0]


@pytest.mark.parametrize("area,db", [(Area.DB, 1), (Area.MK, 0), (Area.PA, 0), (Area.PE, 0)], ids=["DB", "MK", "PA", "PE"])
@pytest.mark.parametrize("bit", range(8))
def test_bit_write_flips_only_that_bit(client, area, db, bit):
    client.write_area(area, db, 20, bytearray([BACKGROUND] * 3))
    old = (BACKGROUND >> bit) & 1
    write_bit(client, area, db, 21, bit, not old)
    expected = BACKGROUND ^ (1 << bit)
    assert bytes(client.read_area(area, db, 20, 3)) == bytes([BACKGROUND, expected, BACKGROUND])
    assert read_bit(client, area, db, 21, bit) == 1 - old
    for other in range(8):
        if other != bit:
            assert read_bit(client, area, db, 21, other) == (BACKGROUND >> other) & 1


def test_setting_a_set_bit_and_clearing_a_clear_bit_change_nothing(client):
    client.db_write(1, 0, bytearray([0b0000_0001]))
    write_bit(client, Area.DB, 1, 0, 0, True)
    write_bit(client, Area.DB, 1, 0, 1, False)
    assert bytes(client.db_read(1, 0, 1)) == b"\x01"


def test_eight_bit_writes_build_a_byte(client):
    for bit in range(8):
        write_bit(client, Area.MK, 0, 7, bit, bit % 3 == 0)
    assert bytes(client.mb_read(7, 1)) == bytes([0b0100_1001])


def test_db_bool_helpers_agree_with_bit_access(client):
    client.db_write(2, 5, bytearray([0b0001_0000]))
    assert client.db_read_bool(2, 5, 4) is True
    client.db_write_bool(2, 5, 6, True)
    assert read_bit(client, Area.DB, 2, 5, 6) == 1
    assert bytes(client.db_read(2, 5, 1)) == bytes([0b0101_0000])


def test_bit_read_past_the_end_is_address_out_of_range(client):
    with pytest.raises(S7ProtocolError) as e:
        read_bit(client, Area.DB, 3, 256, 0)
    assert str(e.value) == "Read operation failed: Invalid address (0x05)"
