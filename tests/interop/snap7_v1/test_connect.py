"""Runs the shared connection tests with Snap7's native client, and the daemon's built-in
default configuration through it."""

from shared_connect import *  # noqa: F401,F403


def test_built_in_default_configuration_serves_db1_to_db3(s7rtd_factory, connect):
    c = connect(s7rtd_factory(config=None))
    for db, size in ((1, 1024), (2, 2048), (3, 256)):
        c.db_write(db, size - 2, bytearray(b"\xbe\xef"))
        assert bytes(c.db_read(db, size - 2, 2)) == b"\xbe\xef"
