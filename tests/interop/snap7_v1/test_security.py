"""A hostile plant network, seen through python-snap7 1.3 (Snap7's native client): `[[access]]`
rules that limit to reading or switch PUT/GET off (silent sockets on every slot are in
shared_connect.py).
(Addresses refused at accept are tested in tests/hostile.rs: closing a connection whose
request is already on its way ends in a TCP reset, which the capture suite would flag.)

Snap7 maps what the server answers to its own texts. Item code 0x03 becomes "function refused
by CPU". The bare Ack with header error 0x8104 that an S7-1200/1500 sends while "Permit access
with PUT/GET communication" is off becomes "function refused by CPU" for a read and "Function
not available" for a write: the texts Snap7 users report from such CPUs
(mathiask88/node-snap7#44, gijzelaerr/python-snap7#361 and #235).
"""

import pytest
from s7image import TEST_CONFIG

REFUSED = "b'CLI : function refused by CPU (Unknown error)'"
NOT_AVAILABLE = "b'CPU : Function not available'"


def test_a_read_only_rule_refuses_writes_and_plc_control(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + """
[[access]]
networks = ["127.0.0.0/8"]
read_only = true
control = false
""")
    c = connect(srv)
    with pytest.raises(RuntimeError) as e:
        c.db_write(1, 0, bytearray(b"\x01"))
    assert str(e.value) == REFUSED
    assert len(c.db_read(1, 0, 4)) == 4
    assert c.plc_stop() != 0
    assert c.get_cpu_state() == "S7CpuStatusRun"


def test_put_get_off_gives_what_snap7_reports_from_such_a_cpu(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + """
[[access]]
networks = ["127.0.0.1", "::1"]
put_get = false
""")
    c = connect(srv)
    with pytest.raises(RuntimeError) as e:
        c.db_read(1, 0, 4)
    assert str(e.value) == REFUSED
    with pytest.raises(RuntimeError) as e:
        c.db_write(1, 0, bytearray(2))
    assert str(e.value) == NOT_AVAILABLE
    # Identification (SZL) still answers, as on the CPU.
    assert c.get_cpu_info().ModuleName == b"CPU 315-2 PN/DP"
