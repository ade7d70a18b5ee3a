"""Block download and delete through Snap7's native client (python-snap7 1.3): `download()`
runs request download, answers the CPU's download-block jobs, download ended and PI _INSE;
`delete()` sends PI _DELE (docs/protocol.md §9)."""

import pytest
from snap7.common import error_text

from s7image import TEST_CONFIG, pattern

ALLOWED = TEST_CONFIG + "\n[cpu]\nallow_download = true\nallow_delete = true\n"
HEADER, FOOTER = 36, 36


def with_mc7(block: bytearray, mc7: bytes) -> bytearray:
    """The uploaded block with its MC7 part (the DB's data) replaced."""
    out = bytearray(block)
    out[HEADER : HEADER + len(mc7)] = mc7
    return out


@pytest.mark.parametrize("pdu", [240, 480, 960])
def test_full_upload_modify_download_replaces_the_db(s7rtd_factory, connect, pdu):
    srv = s7rtd_factory(ALLOWED)
    c = connect(srv, pdu=pdu)
    c.db_write(2, 0, pattern(1, 2048))
    block, size = c.full_upload("DB", 2)
    assert size == 2048 + 92
    new = pattern(2, 2048)
    c.download(with_mc7(block[:size], new), 2)
    assert bytes(c.db_read(2, 0, 2048)) == new, srv.stderr_text()
    # Another client sees the whole new DB too (the replacement is one copy on the RT thread).
    other = connect(srv)
    assert bytes(other.db_read(2, 0, 2048)) == new
    assert srv.wait_for_log("downloaded DB2"), srv.stderr_text()


def test_download_of_another_size_is_refused_and_the_db_is_kept(s7rtd_factory, connect):
    srv = s7rtd_factory(ALLOWED)
    c = connect(srv)
    c.db_write(3, 0, pattern(3, 256))
    block, size = c.full_upload("DB", 1)  # 1024-byte block
    # DB3 is 256 bytes: request download answered 8301, which Snap7 reports as a failed sequence.
    with pytest.raises(RuntimeError, match="CPU : Download sequence failed"):
        c.download(block[:size], 3)
    assert bytes(c.db_read(3, 0, 256)) == pattern(3, 256)


def test_default_config_refuses_download_and_delete_like_a_protected_cpu(s7rtd, connect):
    c = connect(s7rtd)
    c.db_write(2, 0, pattern(4, 2048))
    block, size = c.full_upload("DB", 2)
    with pytest.raises(RuntimeError, match="CPU : Function not authorized for current protection level"):
        c.download(with_mc7(block[:size], pattern(5, 2048)), 2)
    code = c.delete("DB", 2)
    assert error_text(code, "client") == b"CPU : Function not authorized for current protection level"
    assert bytes(c.db_read(2, 0, 2048)) == pattern(4, 2048)


def test_delete_hides_the_db_until_a_download_reinserts_it(s7rtd_factory, connect):
    srv = s7rtd_factory(ALLOWED)
    c = connect(srv)
    block, size = c.full_upload("DB", 3)
    assert c.list_blocks().DBCount == 4
    assert c.delete("DB", 3) == 0
    with pytest.raises(RuntimeError, match="Item not available"):
        c.db_read(3, 0, 4)
    assert c.list_blocks().DBCount == 3
    assert 3 not in list(c.list_blocks_of_type("DB", 100))
    # Already gone (D209) and read-only (8703): Snap7 reports both as a refused delete.
    for db in (3, 10):
        assert error_text(c.delete("DB", db), "client") == b"CPU : block delete refused"
    c.download(with_mc7(block[:size], pattern(6, 256)), 3)
    assert bytes(c.db_read(3, 0, 256)) == pattern(6, 256)
    assert c.list_blocks().DBCount == 4
