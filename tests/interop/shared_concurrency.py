"""8 clients at once, each writing distinct data; nothing is lost or mixed up.

Shared by the python-snap7 1.x and 3.x suites; each suite's conftest provides `write_bit`.
"""

import threading

from s7image import DB_SIZES, pattern

CLIENTS = 8
JOIN_TIMEOUT_S = 120


def _run_all(work):
    barrier = threading.Barrier(CLIENTS, timeout=30)
    errors = []

    def run(i):
        try:
            work(i, barrier)
        except BaseException as e:  # reported below, with the client number
            errors.append((i, repr(e)))
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert errors == []


def test_eight_clients_write_distinct_regions_and_interleaved_bytes_without_loss(s7rtd, connect):
    clients = [connect(s7rtd, slot=1 + i % 2) for i in range(CLIENTS)]
    region = DB_SIZES[2] // CLIENTS  # 256 bytes each in DB2

    def work(i, barrier):
        c = clients[i]
        barrier.wait()  # all 8 connected before anyone writes
        for rnd in range(3):
            c.db_write(2, i * region, bytearray(pattern(i * 10 + rnd, region)))
            # DB1: client i owns every byte at offset % 8 == i, written one by one.
            for k in range(rnd * 16, rnd * 16 + 16):
                c.db_write(1, k * CLIENTS + i, bytearray([(i * 16 + k) % 256]))
            c.mb_write(i * 8, 8, bytearray(pattern(100 + i, 8)))
        barrier.wait()
        assert bytes(c.db_read(2, i * region, region)) == pattern(i * 10 + 2, region)

    _run_all(work)
    check = connect(s7rtd)
    db2 = bytes(check.db_read(2, 0, DB_SIZES[2]))
    for i in range(CLIENTS):
        assert db2[i * region : (i + 1) * region] == pattern(i * 10 + 2, region), f"client {i}"
    db1 = bytes(check.db_read(1, 0, 48 * CLIENTS))
    assert db1 == bytes((i * 16 + k) % 256 for k in range(48) for i in range(CLIENTS))
    assert bytes(check.mb_read(0, 64)) == b"".join(pattern(100 + i, 8) for i in range(CLIENTS))


def test_eight_clients_setting_their_own_bit_of_shared_bytes_lose_none(s7rtd, connect, write_bit):
    clients = [connect(s7rtd) for _ in range(CLIENTS)]

    def work(i, barrier):
        barrier.wait()
        for byte in range(16):
            write_bit(clients[i], "MK", 0, 100 + byte, i, True)
            write_bit(clients[i], "DB", 3, byte, i, (byte + i) % 2 == 0)

    _run_all(work)
    check = connect(s7rtd)
    assert bytes(check.mb_read(100, 16)) == b"\xff" * 16
    want = bytes(sum(1 << i for i in range(CLIENTS) if (byte + i) % 2 == 0) for byte in range(16))
    assert bytes(check.db_read(3, 0, 16)) == want
