"""The CPU personality through Snap7's native client (python-snap7 1.3): identification,
state, SZL, protection, blocks, upload, clock, PLC control and session passwords."""

import datetime

import pytest

from s7image import TEST_CONFIG, pattern

PROTECTED = TEST_CONFIG + '\n[cpu]\npassword = "secret"\nprotection_level = 2\n'


def test_cpu_info_order_code_and_cp_info_come_from_the_s7_300_personality(s7rtd, connect):
    c = connect(s7rtd, pdu=480)
    info = c.get_cpu_info()
    assert info.ModuleTypeName == b"CPU 315-2 PN/DP"
    assert info.ModuleName == b"CPU 315-2 PN/DP"
    assert info.SerialNumber == b"S C-C2UR28922012"
    assert info.Copyright == b"Original Siemens Equipment"
    assert info.ASName == b"S7-300 station"
    order = c.get_order_code()
    assert order.OrderCode.strip() == b"6ES7 315-2EH14-0AB0"
    assert (order.V1, order.V2, order.V3) == (3, 2, 6)
    cp = c.get_cp_info()
    assert cp.MaxPduLength == 480  # the negotiated PDU, live
    # python-snap7 1.3 declares S7CpInfo with 16-bit fields where Snap7 fills 32-bit ints,
    # so only the first field is usable, and the third one holds the connection count's low
    # half (the 32 max_connections of the test configuration).
    assert cp.MaxMpiRate == 32


def test_s7_1500_personality_and_identity_override(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + '\n[cpu]\npersonality = "s7-1500"\n[cpu.identity]\nas_name = "LINE 4"\n')
    c = connect(srv)
    info = c.get_cpu_info()
    assert info.ModuleTypeName == b"CPU 1516-3 PN/DP"
    assert info.ASName == b"LINE 4"
    assert c.get_order_code().OrderCode.strip() == b"6ES7 516-3AN01-0AB0"


def test_every_served_szl_reads_and_the_list_names_them(client):
    assert len(client.read_szl_list()) > 0
    listed = client.read_szl(0x0000, 0)
    data = [b & 0xFF for b in listed.Data]
    ids = [data[2 * i] << 8 | data[2 * i + 1] for i in range(listed.Header.NDR)]
    assert {0x0424, 0x001C, 0x00A0, 0x0232} <= set(ids)
    served = {
        0x0000: [0], 0x0F00: [0], 0x0011: [0], 0x0111: [1, 6, 7], 0x0F11: [0],
        0x001C: [0], 0x011C: [1, 2, 3, 4, 5, 7, 8, 9, 10, 11], 0x0F1C: [0],
        0x0131: list(range(0, 10)), 0x0132: [4], 0x0232: [0, 4], 0x0024: [0], 0x0424: [0],
        0x0019: [0], 0x0074: [0], 0x0037: [0], 0x00A0: [0], 0x01A0: [1],
    }
    for szl_id, indexes in served.items():
        for index in indexes:
            szl = client.read_szl(szl_id, index)
            assert szl.Header.LengthDR > 0, (hex(szl_id), index)
            if szl_id & 0x0F00 != 0x0F00:
                assert szl.Header.NDR >= 1 or szl_id in (0x00A0,), (hex(szl_id), index)
    with pytest.raises(RuntimeError):
        client.read_szl(0x0F99, 0)


def test_long_szl_is_fragmented_at_pdu_240_and_reassembled_by_the_client(s7rtd, connect):
    small = connect(s7rtd, pdu=240).read_szl(0x001C, 0)
    big = connect(s7rtd, pdu=960).read_szl(0x001C, 0)
    assert small.Header.NDR == big.Header.NDR == 10
    assert list(small.Data[: 34 * 10]) == list(big.Data[: 34 * 10])


def test_stop_hot_start_cold_start_show_in_cpu_state(client):
    # python-snap7 1.3 returns the Snap7 error code of plc_stop/plc_*_start instead of raising.
    assert client.get_cpu_state() == "S7CpuStatusRun"
    assert client.plc_stop() == 0
    assert client.get_cpu_state() == "S7CpuStatusStop"
    assert client.plc_stop() != 0  # already in STOP
    assert client.get_cpu_state() == "S7CpuStatusStop"
    assert client.plc_hot_start() == 0
    assert client.get_cpu_state() == "S7CpuStatusRun"
    assert client.plc_hot_start() != 0  # already in RUN
    assert client.plc_stop() == 0
    assert client.plc_cold_start() == 0
    assert client.get_cpu_state() == "S7CpuStatusRun"


def test_set_clock_reads_back(client):
    t = datetime.datetime(2031, 7, 14, 9, 30, 15)
    client.set_plc_datetime(t)
    got = client.get_plc_datetime()
    assert abs((got - t).total_seconds()) < 5, got


def test_blocks_list_info_and_full_upload_of_a_db(client):
    client.db_write(1, 0, pattern(5, 1024))
    counts = client.list_blocks()
    assert counts.DBCount == 4 and counts.OBCount == 0
    assert list(client.list_blocks_of_type("DB", 100))[:4] == [1, 2, 3, 10]
    info = client.get_block_info("DB", 1)
    assert info.MC7Size == 1024 and info.BlkNumber == 1
    data, size = client.full_upload("DB", 1)
    assert size == 1024 + 92
    assert bytes(data[36 : 36 + 1024]) == pattern(5, 1024)
    with pytest.raises(RuntimeError):
        client.get_block_info("DB", 99)


def test_protection_level_and_session_password(s7rtd_factory, connect):
    srv = s7rtd_factory(PROTECTED)
    c = connect(srv)
    prot = c.get_protection()
    assert (prot.sch_par, prot.sch_rel) == (2, 2)
    with pytest.raises(RuntimeError):
        c.db_write(2, 0, b"\x01")
    assert c.plc_stop() != 0
    assert c.get_cpu_state() == "S7CpuStatusRun"
    with pytest.raises(RuntimeError, match="(?i)password"):
        c.set_session_password("wrong")
    c.set_session_password("secret")
    assert c.get_protection().sch_rel == 1
    c.db_write(2, 0, b"\x01")
    assert bytes(c.db_read(2, 0, 1)) == b"\x01"
    c.clear_session_password()
    with pytest.raises(RuntimeError):
        c.db_write(2, 0, b"\x02")
