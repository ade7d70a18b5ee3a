"""The CPU personality through python-snap7 3.3.0's pure-Python client: identification, SZL,
protection, blocks, upload, clock, PLC control and session passwords.

3.3.0 speaks Snap7's wire format for SZL, clock, blocks, upload and password (its upload and
password scrambling were reworked after 3.1, which docs/protocol.md §7.6/§9 warn about), but three
of its helpers cannot work against a real CPU, so these tests assert what a real CPU answers
instead of bending the server:

- `get_cpu_state()` sends a Read Var job whose parameter is the function byte alone (no item
  count) and, whatever the answer, returns "S7CpuStatusRun" (snap7/s7protocol.py
  `build_cpu_state_request` / `extract_cpu_state`). The malformed job is refused with header
  error 0x8104; the operating mode is read from SZL 0x0424 instead, as Snap7's GetPlcStatus does.
- `get_cp_info()` reads SZL 0x0131 index 0 and `get_protection()` SZL 0x0232 index 0: neither
  index is documented for an S7 CPU (0x0131 has indexes 1..9, 0x0232 only index 4). s7rtd
  answers index 0 with the record that holds the answer (0x0131 index 1, 0x0232 index 4, in
  the standard SZL layout), so both calls succeed; but 3.3.0's parsers take the SZL header
  (LENTHDR, N_DR) and the record index as their first fields, so the values sit four fields
  later than its structs say. The tests check the records byte for byte.
"""

import datetime
import struct

import pytest
from s7image import TEST_CONFIG, pattern
from snap7.error import S7ProtocolError
from snap7.type import Block

PROTECTED = TEST_CONFIG + '\n[cpu]\npassword = "secret"\nprotection_level = 2\n'

# 3.x asks for a PDU of 480 and the server grants it.
PDU = 480

SERVED_IDS = [
    0x0000, 0x0F00, 0x0011, 0x0111, 0x0F11, 0x001C, 0x011C, 0x0F1C, 0x0131, 0x0132, 0x0232,
    0x0024, 0x0424, 0x0019, 0x0074, 0x0037, 0x00A0, 0x01A0,
]
IDENT_INDEXES = [1, 6, 7]
COMPONENT_INDEXES = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]

SZL_UNAVAILABLE_ID = "USERDATA request failed: Information function unavailable (0xd401)"
SZL_UNAVAILABLE_INDEX = "USERDATA request failed: Information function unavailable (0xd402)"
FRAME_ERROR = (
    "S7 protocol error (class=0x81, code=0x04): "
    "This service is not implemented on the module or a frame error was reported"
)
CANNOT_PERFORM = "S7 protocol error (class=0x84, code=0x04): S7 protocol: The function cannot be performed"
NEEDS_PASSWORD = (
    "S7 protocol error (class=0xd2, code=0x41): The function is not permitted in the current protection level"
)
WRONG_PASSWORD = "USERDATA request failed: Incorrect password entered (0xd602)"
ALREADY_ENABLED = "USERDATA request failed: The connection has already been enabled (0xd604)"
NO_PASSWORD = "USERDATA request failed: Legitimization not possible because password does not exist (0xd605)"
WRITE_DENIED = "Write operation failed: Accessing the object not allowed (0x03)"
BLOCK_NOT_FOUND = "USERDATA request failed: (At least) one of the given blocks not found on the module (0xd209)"
NO_BLOCK = "USERDATA request failed: No (further) block available (0xd20e)"


def szl(client, szl_id, index):
    """`(lenthdr, n_dr, records)` of one SZL read; 3.x's `Data` starts with LENTHDR and N_DR."""
    s = client.read_szl(szl_id, index)
    raw = bytes(b & 0xFF for b in s.Data[: s.Header.LengthDR])
    lenthdr, ndr = struct.unpack(">HH", raw[:4])
    return lenthdr, ndr, raw[4:]


def mode_byte(client):
    """The `bzu` byte of SZL 0x0424: 0x08 RUN, 0x04 STOP."""
    _, _, rec = szl(client, 0x0424, 0)
    return rec[3]


def text(raw: bytes) -> bytes:
    return raw.rstrip(b"\x00")


def test_cpu_info_and_order_code_come_from_the_s7_300_personality(client):
    info = client.get_cpu_info()
    assert info.ModuleTypeName == b"CPU 315-2 PN/DP"
    assert info.ModuleName == b"CPU 315-2 PN/DP"
    assert info.SerialNumber == b"S C-C2UR28922012"
    assert info.Copyright == b"Original Siemens Equipment"
    assert info.ASName == b"S7-300 station"
    order = client.get_order_code()
    assert order.OrderCode == b"6ES7 315-2EH14-0AB0"
    assert (order.V1, order.V2, order.V3) == (3, 2, 6)


def test_s7_1500_personality_with_an_identity_override(s7rtd_factory, connect):
    srv = s7rtd_factory(TEST_CONFIG + '\n[cpu]\npersonality = "s7-1500"\n[cpu.identity]\nas_name = "LINE 4"\n')
    c = connect(srv)
    info = c.get_cpu_info()
    assert info.ModuleTypeName == b"CPU 1516-3 PN/DP"
    assert info.ModuleName == b"CPU 1516-3 PN/DP"
    assert info.SerialNumber == b"S V-L7A12345 2020"
    assert info.ASName == b"LINE 4"
    order = c.get_order_code()
    assert order.OrderCode == b"6ES7 516-3AN01-0AB0"
    assert (order.V1, order.V2, order.V3) == (2, 8, 3)


def test_get_cp_info_asks_for_index_0_and_gets_the_index_1_record_with_the_live_limits(client):
    cp = client.get_cp_info()
    # 3.3.0 decodes LENTHDR, N_DR and the record index as its first three fields.
    assert (cp.MaxPduLength, cp.MaxConnections, cp.MaxMpiRate, cp.MaxBusRate) == (40, 1, 1, PDU)
    assert szl(client, 0x0131, 0) == szl(client, 0x0131, 1)
    lenthdr, ndr, rec = szl(client, 0x0131, 0)
    assert (lenthdr, ndr, len(rec)) == (40, 1, 40)
    index, pdu, conns, mpi, bus = struct.unpack(">HHHII", rec[:14])
    # Negotiated PDU, configured max_connections (32), the S7-300's MPI and bus rates.
    assert (index, pdu, conns, mpi, bus) == (1, PDU, 32, 187500, 1500000)


def test_szl_list_names_every_served_id_in_order(client):
    raw = client.read_szl_list()
    lenthdr, ndr = struct.unpack(">HH", raw[:4])
    assert (lenthdr, ndr) == (2, len(SERVED_IDS))
    assert list(struct.unpack(f">{ndr}H", raw[4:])) == SERVED_IDS


def test_every_served_szl_id_and_index_reads_with_a_consistent_header(client):
    # (id, index) -> (record length, record count); 0x0Fxx ids answer the header only.
    expected = {(0x0000, 0): (2, 18), (0x0F00, 0): (2, 18), (0x0011, 0): (28, 3),
                (0x0F11, 0): (28, 3), (0x001C, 0): (34, 10), (0x0F1C, 0): (34, 10),
                (0x0132, 4): (40, 1), (0x0232, 4): (40, 1), (0x0024, 0): (20, 1),
                (0x0424, 0): (20, 1), (0x0019, 0): (4, 5), (0x0074, 0): (4, 5),
                (0x0037, 0): (48, 1), (0x01A0, 1): (20, 1)}
    expected.update({(0x0111, i): (28, 1) for i in IDENT_INDEXES})
    expected.update({(0x011C, i): (34, 1) for i in COMPONENT_INDEXES})
    expected.update({(0x0131, i): (40, 1) for i in range(1, 10)})
    assert {i for i, _ in expected} | {0x00A0} == set(SERVED_IDS)
    for (szl_id, index), (want_len, want_n) in expected.items():
        lenthdr, ndr, rec = szl(client, szl_id, index)
        where = f"SZL {szl_id:#06x}/{index}"
        assert (lenthdr, ndr) == (want_len, want_n), where
        assert len(rec) == (0 if szl_id & 0x0F00 == 0x0F00 else lenthdr * ndr), where
        if szl_id in (0x0111, 0x011C, 0x0131, 0x0132, 0x0232):
            assert struct.unpack(">H", rec[:2])[0] == index, where
    # The whole diagnostic buffer: at least the start-up entry, 20 bytes each, newest first.
    lenthdr, ndr, rec = szl(client, 0x00A0, 0)
    assert lenthdr == 20 and ndr >= 1 and len(rec) == 20 * ndr
    assert rec[:20] == szl(client, 0x01A0, 1)[2]


def test_unknown_szl_ids_and_indexes_are_information_function_unavailable(client):
    with pytest.raises(S7ProtocolError) as e:
        client.read_szl(0x0F99, 0)
    assert str(e.value) == SZL_UNAVAILABLE_ID
    with pytest.raises(S7ProtocolError) as e:
        client.read_szl(0x011C, 6)
    assert str(e.value) == SZL_UNAVAILABLE_INDEX
    assert szl(client, 0x0424, 0)[:2] == (20, 1)  # the connection lives on


def test_identification_records_hold_the_personality_values(client):
    _, _, rec = szl(client, 0x0011, 0)
    records = [rec[i : i + 28] for i in range(0, 84, 28)]
    assert records[0] == b"\x00\x01" + b"6ES7 315-2EH14-0AB0 " + b"\x00\xc0\x00\x04\x00\x01"
    assert records[1] == b"\x00\x06" + b"6ES7 315-2EH14-0AB0 " + b"\x00\xc0\x00\x04\x00\x01"
    assert records[2] == b"\x00\x07" + b" " * 20 + b"\x00\xc0V\x03\x02\x06"
    names = {i: szl(client, 0x011C, i)[2] for i in COMPONENT_INDEXES}
    assert text(names[1][2:]) == b"S7-300 station"
    assert text(names[2][2:]) == b"CPU 315-2 PN/DP"
    assert names[3][2:] == bytes(32)  # empty plant id
    assert text(names[4][2:]) == b"Original Siemens Equipment"
    assert text(names[5][2:]) == b"S C-C2UR28922012"
    assert text(names[7][2:]) == b"CPU 315-2 PN/DP"
    assert text(names[8][2:]) == b"MMC 267FF11F"
    assert names[9][2:8] == b"\x00\x2a\xf6\x00\x00\x01"  # Siemens, profile F600, type 1
    _, _, net = szl(client, 0x0037, 0)
    assert net[:20] == bytes([0x07, 0xFE, 192, 168, 0, 1, 255, 255, 255, 0, 192, 168, 0, 1,
                              0x00, 0x1B, 0x1B, 0x12, 0x34, 0x56])


def test_get_protection_asks_for_index_0_and_gets_the_index_4_record_with_the_levels(s7rtd_factory, connect):
    c = connect(s7rtd_factory(PROTECTED))
    p = c.get_protection()
    # 3.3.0 decodes LENTHDR, N_DR, the record index, then key switch and password levels.
    assert (p.sch_schal, p.sch_par, p.sch_rel, p.bart_sch, p.anl_sch) == (40, 1, 4, 1, 2)
    # index, key switch level, password level, level in force, mode switch (RUN-P), startup
    assert struct.unpack(">6H", szl(c, 0x0232, 0)[2][:12]) == (4, 1, 2, 2, 2, 0)
    assert szl(c, 0x0232, 0) == szl(c, 0x0232, 4)
    c.set_session_password("secret")
    assert struct.unpack(">6H", szl(c, 0x0232, 0)[2][:12]) == (4, 1, 2, 1, 2, 0)


def test_blocks_list_and_block_info_of_a_db(client):
    blocks = client.list_blocks()
    assert (blocks.DBCount, blocks.OBCount, blocks.FBCount, blocks.FCCount) == (4, 0, 0, 0)
    assert (blocks.SFBCount, blocks.SFCCount, blocks.SDBCount) == (0, 0, 0)
    assert client.list_blocks_of_type(Block.DB, 100) == [1, 2, 3, 10]
    assert client.list_blocks_of_type(Block.DB, 2) == [1, 2]
    with pytest.raises(S7ProtocolError) as e:
        client.list_blocks_of_type(Block.OB, 100)
    assert str(e.value) == NO_BLOCK
    info = client.get_block_info(Block.DB, 2)
    assert (info.BlkType, info.BlkNumber, info.BlkLang) == (0x41, 2, 5)
    assert (info.MC7Size, info.LoadSize, info.SBBLength) == (2048, 2048 + 92, 20)
    assert (info.Author, info.Version) == (b"s7rt", 1)
    with pytest.raises(S7ProtocolError) as e:
        client.get_block_info(Block.DB, 99)
    assert str(e.value) == BLOCK_NOT_FOUND


def test_full_upload_and_upload_carry_the_db_contents(client):
    """`full_upload` returns the whole load-memory block (36-byte header, MC7, 20-byte
    interface, 36-byte footer). 3.x's `upload` returns everything after the header (MC7,
    interface and footer), where Snap7's Upload cuts at the MC7 length."""
    client.db_write(1, 0, bytearray(pattern(5, 1024)))
    data, size = client.full_upload(Block.DB, 1)
    assert size == len(data) == 1024 + 92
    assert data[:2] == b"pp" and data[5] == 0x0A and data[6:8] == b"\x00\x01"
    assert struct.unpack(">I", data[8:12])[0] == 1116  # load-memory length = bytes sent
    assert struct.unpack(">H", data[34:36])[0] == 1024  # MC7 length
    assert bytes(data[36:1060]) == pattern(5, 1024)
    assert bytes(data[1080:1088]).rstrip(b"\x00") == b"s7rt"  # footer: author
    mc7 = client.upload(1)
    assert len(mc7) == 1024 + 56
    assert bytes(mc7[:1024]) == pattern(5, 1024)
    assert bytes(mc7) == bytes(data[36:])


def test_upload_of_a_missing_block_is_refused_and_the_connection_lives_on(client):
    with pytest.raises(S7ProtocolError) as e:
        client.full_upload(Block.DB, 99)
    assert "(class=0xd2, code=0x09)" in str(e.value)
    assert client.list_blocks_of_type(Block.DB, 100) == [1, 2, 3, 10]


def test_set_clock_reads_back(client):
    t = datetime.datetime(2031, 7, 14, 9, 30, 15, 250000)
    assert client.set_plc_datetime(t) == 0
    got = client.get_plc_datetime()
    # The clock runs on from the set value; milliseconds travel on the wire.
    assert t <= got < t + datetime.timedelta(seconds=2), got


def test_get_cpu_state_is_refused_and_szl_0424_follows_stop_hot_and_cold_start(client):
    with pytest.raises(S7ProtocolError) as e:
        client.get_cpu_state()
    assert str(e.value) == FRAME_ERROR
    assert mode_byte(client) == 0x08
    assert client.plc_stop() == 0
    assert mode_byte(client) == 0x04
    assert szl(client, 0x0019, 0)[2] == bytes.fromhex("0001 0000 000b 0000 0004 0000 0005 0100 0006 0000")
    with pytest.raises(S7ProtocolError) as e:
        client.plc_stop()  # already in STOP
    assert str(e.value) == CANNOT_PERFORM
    assert mode_byte(client) == 0x04
    assert client.plc_hot_start() == 0
    assert mode_byte(client) == 0x08
    assert szl(client, 0x0019, 0)[2] == bytes.fromhex("0001 0000 000b 0000 0004 0100 0005 0000 0006 0000")
    with pytest.raises(S7ProtocolError) as e:
        client.plc_hot_start()  # already in RUN
    assert str(e.value) == CANNOT_PERFORM
    assert client.plc_stop() == 0
    assert client.plc_cold_start() == 0
    assert mode_byte(client) == 0x08


def test_session_password_right_and_wrong(s7rtd_factory, connect):
    c = connect(s7rtd_factory(PROTECTED))
    with pytest.raises(S7ProtocolError) as e:
        c.db_write(2, 0, bytearray(b"\x01"))
    assert str(e.value) == WRITE_DENIED
    with pytest.raises(S7ProtocolError) as e:
        c.plc_stop()
    assert str(e.value) == NEEDS_PASSWORD
    assert mode_byte(c) == 0x08
    with pytest.raises(S7ProtocolError) as e:
        c.set_session_password("wrong")
    assert str(e.value) == WRONG_PASSWORD
    assert c.set_session_password("secret") == 0
    c.db_write(2, 0, bytearray(b"\x01"))
    assert bytes(c.db_read(2, 0, 1)) == b"\x01"
    assert c.plc_stop() == 0 and mode_byte(c) == 0x04
    assert c.clear_session_password() == 0
    with pytest.raises(S7ProtocolError) as e:
        c.db_write(2, 0, bytearray(b"\x02"))
    assert str(e.value) == WRITE_DENIED
    with pytest.raises(S7ProtocolError) as e:
        c.clear_session_password()  # nothing left to clear
    assert str(e.value) == ALREADY_ENABLED


def test_password_on_a_cpu_without_one_is_legitimation_not_possible(client):
    with pytest.raises(S7ProtocolError) as e:
        client.set_session_password("secret")
    assert str(e.value) == NO_PASSWORD
    client.db_write(1, 0, bytearray(b"\x07"))
    assert bytes(client.db_read(1, 0, 1)) == b"\x07"
