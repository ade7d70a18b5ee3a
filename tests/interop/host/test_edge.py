"""python-snap7 1.3 (Snap7's native client) against the `edge` example: it sees what the host
application publishes through `s7rt::host`, and the host sees what it writes, with the data."""

import ctypes
import struct
import time

from snap7.types import S7AreaDB, S7DataItem, S7WLBit, S7WLByte


def test_the_hmi_sees_the_sensor_the_host_publishes_every_10_ms(client):
    first = client.db_read(1, 0, 12)
    time.sleep(0.2)
    second = client.db_read(1, 0, 12)
    temp, n1, check1 = struct.unpack(">fii", first)
    _, n2, _ = struct.unpack(">fii", second)
    assert 15.0 <= temp <= 25.0, temp
    assert n1 == check1
    # About 20 samples in 200 ms; a loaded machine publishes fewer, never none.
    assert 5 <= n2 - n1 <= 40, (n1, n2)


def test_no_read_sees_half_of_a_host_batch(client):
    # Count, temperature and check word are written as one batch: the count and its check
    # word are always equal, in every read, although the host rewrites them every 10 ms.
    seen = set()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        _, n, check = struct.unpack(">fii", client.db_read(1, 0, 12))
        assert n == check, (n, check)
        seen.add(n)
    assert len(seen) > 20, len(seen)


def test_the_host_prints_every_setpoint_the_hmi_writes(edge, client):
    for v in (42.5, -3.25, 1000.0):
        client.db_write(1, 100, bytearray(struct.pack(">f", v)))
        assert edge.expect("setpoint DB1.DBD100").endswith(f"= {v:g}")


def test_bit_and_multi_item_writes_reach_the_host_with_their_data(edge, client):
    # DB1.DBX104.0 := 1 as a BIT write (Snap7 sends one item with transport size BIT).
    items = (S7DataItem * 1)()
    buf = (ctypes.c_uint8 * 1)(1)
    items[0].Area, items[0].WordLen, items[0].DBNumber = S7AreaDB, S7WLBit, 1
    items[0].Start, items[0].Amount = 104 * 8, 1
    items[0].pData = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
    assert client.write_multi_vars(items) == 0
    assert edge.expect("DB1.DBX104.0").endswith("= true")
    # Two items in one job: a setpoint and an unrelated byte range; both are reported.
    items = (S7DataItem * 2)()
    bufs = [(ctypes.c_uint8 * 4)(*struct.pack(">f", 7.5)), (ctypes.c_uint8 * 3)(1, 2, 3)]
    for it, b, start in zip(items, bufs, (100, 200)):
        it.Area, it.WordLen, it.DBNumber = S7AreaDB, S7WLByte, 1
        it.Start, it.Amount = start, len(b)
        it.pData = ctypes.cast(b, ctypes.POINTER(ctypes.c_uint8))
    assert client.write_multi_vars(items) == 0
    assert edge.expect("setpoint DB1.DBD100").endswith("= 7.5")
    assert edge.expect("write DB1 offset 200").endswith("[01, 02, 03]")
