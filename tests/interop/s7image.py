"""The process image the interop suites run against, and the facts tests derive from it.

Importable from any suite's test modules (`from s7image import DB_SIZES`): pytest puts this
folder on sys.path because it holds the root conftest.py.
"""

from pathlib import Path

# The image every suite relies on (shared with the node suite). Sizes are part of the
# tests' expectations.
TEST_CONFIG = (Path(__file__).parent / "test-image.toml").read_text()

DB_SIZES = {1: 1024, 2: 2048, 3: 256, 10: 512}
READ_ONLY_DB = 10
MISSING_DB = 99
AREA_BYTES = {"inputs": 256, "outputs": 256, "flags": 256}
TIMERS = 64
COUNTERS = 64


def with_max_pdu(max_pdu: int) -> str:
    """TEST_CONFIG with another `max_pdu`."""
    out = TEST_CONFIG.replace("max_pdu = 960", f"max_pdu = {max_pdu}")
    assert f"max_pdu = {max_pdu}" in out
    return out


def pattern(seed: int, n: int) -> bytes:
    """`n` bytes that differ from any other seed's at almost every offset, never all zero."""
    return bytes(((seed * 37 + i * 11 + (i >> 8) * 5) % 251) + 1 for i in range(n))


def fill_patterns(client) -> None:
    """Writes pattern(db) into the first 256 bytes of DB1..DB3, pattern(11..15) into the first
    64 bytes of inputs, outputs and flags and the first 8 timers and counters: the sources the
    multi-variable tests read back (the calls are alike in python-snap7 1.x and 3.x)."""
    for db in (1, 2, 3):
        client.db_write(db, 0, bytearray(pattern(db, 256)))
    client.eb_write(0, 64, bytearray(pattern(11, 64)))
    client.ab_write(0, bytearray(pattern(12, 64)))
    client.mb_write(0, 64, bytearray(pattern(13, 64)))
    client.tm_write(0, 8, bytearray(pattern(14, 16)))
    client.ct_write(0, 8, bytearray(pattern(15, 16)))
