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
