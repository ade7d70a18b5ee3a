"""A hostile plant network, seen through python-snap7 3.3.0 (pure Python): `[[access]]`
rules that limit to reading or switch PUT/GET off (silent sockets on every slot are in
shared_connect.py).
"""

import pytest
from s7image import TEST_CONFIG
from snap7.error import S7ProtocolError

WRITE_DENIED = "Write operation failed: Accessing the object not allowed (0x03)"
FUNCTION_REFUSED = (
    "S7 protocol error (class=0x81, code=0x04): "
    "This service is not implemented on the module or a frame error was reported"
)


def test_a_read_only_rule_answers_writes_with_item_code_3(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + '\n[[access]]\nnetworks = ["127.0.0.0/8"]\nread_only = true\n')
    c = connect(srv)
    with pytest.raises(S7ProtocolError) as e:
        c.db_write(1, 0, bytearray(b"\x01"))
    assert str(e.value) == WRITE_DENIED
    assert len(c.db_read(1, 0, 4)) == 4


def test_put_get_off_refuses_read_and_write_with_8104(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + '\n[[access]]\nnetworks = ["0.0.0.0/0"]\nput_get = false\n')
    c = connect(srv)
    for call in (lambda: c.db_read(1, 0, 4), lambda: c.db_write(1, 0, bytearray(2))):
        with pytest.raises(S7ProtocolError) as e:
            call()
        assert str(e.value) == FUNCTION_REFUSED
    assert c.get_cpu_info().ModuleName == b"CPU 315-2 PN/DP"
