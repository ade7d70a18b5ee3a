"""Typed reads and writes through the control socket, checked byte for byte with
python-snap7's own encoders (snap7.util) over S7: the socket and a real S7 client agree on
every type's layout."""

import datetime
import struct

from snap7 import util


def db1(s7, n=80) -> bytearray:
    return s7.db_read(1, 0, n)


def test_initial_values_are_in_the_image_before_any_client_writes(plc, s7):
    b = db1(s7)
    assert util.get_real(b, 4) == 12.5
    assert util.get_bool(b, 0, 3) is True
    assert util.get_word(b, 2) == 0xBEEF
    assert util.get_dint(b, 8) == -100000
    assert util.get_char(b, 28) == "A"
    assert b[30] == 20, "STRING[20] header carries its capacity"
    assert util.get_string(b, 30) == "Mix A"
    assert util.get_dint(b, 52) == 90_000, "T#1m30s"
    # A DATE_AND_TIME without an initial value starts at the S7 default, not at zero bytes.
    assert bytes(b[56:64]) == bytes([0x90, 0x01, 0x01, 0, 0, 0, 0, 0x02])
    c = plc.ctl()
    assert c.ok(op="read", tag="Line4.Started")["value"] == "1990-01-01T00:00:00.000"


def test_socket_writes_land_where_snap7_expects_every_type(plc, s7):
    c = plc.ctl()
    for tag, value in [
        ("Line4.Speed", 13.25),
        ("Line4.Jog", True),
        ("Line4.Mode", 200),
        ("Line4.Status", "W#16#1234"),
        ("Line4.Pieces", -7),
        ("Line4.Mask", 4294967295),
        ("Line4.Offset", -32768),
        ("Line4.Precise", -1.0e-300),
        ("Line4.Grade", "é"),
        ("Line4.Recipe", "Hefeteig 3"),
        ("Line4.Cycle", "T#-2s500ms"),
        ("Line4.Started", "DT#2024-02-29-13:37:42.123"),
    ]:
        c.ok(op="write", tag=tag, value=value)
    b = db1(s7)
    assert util.get_real(b, 4) == 13.25
    assert util.get_bool(b, 0, 4) is True and util.get_bool(b, 0, 3) is True
    assert util.get_byte(b, 1) == 200
    assert util.get_word(b, 2) == 0x1234
    assert util.get_dint(b, 8) == -7
    assert util.get_dword(b, 12) == 0xFFFFFFFF
    assert util.get_int(b, 16) == -32768
    assert util.get_lreal(b, 20) == -1.0e-300
    assert bytes(b[28:29]) == "é".encode("latin-1")
    assert util.get_string(b, 30) == "Hefeteig 3" and b[30] == 20 and b[31] == 10
    assert util.get_dint(b, 52) == -2500
    # python-snap7 reads the BCD DATE_AND_TIME; 2024-02-29 was a Thursday (weekday 5).
    assert util.get_dt(b, 56) == "2024-02-29T13:37:42.123000"
    assert b[63] == 0x35


def test_snap7_writes_read_back_typed_through_the_socket(plc, s7):
    b = db1(s7)
    util.set_real(b, 4, -0.5)
    util.set_int(b, 16, 1234)
    util.set_string(b, 30, "über", 20)
    util.set_dt(b, 56, datetime.datetime(2031, 12, 31, 23, 59, 58, 7000))
    b[52:56] = struct.pack(">i", 3_723_004)
    s7.db_write(1, 0, b)
    s7.db_write_bool(1, 0, 4, True)
    c = plc.ctl()
    got = c.ok(op="read", items=[{"tag": t} for t in [
        "Line4.Speed", "Line4.Offset", "Line4.Recipe", "Line4.Started", "Line4.Cycle",
        "Line4.Jog", "Line4.Run",
    ]])
    assert [i["value"] for i in got["items"]] == [
        -0.5, 1234, "über", "2031-12-31T23:59:58.007", 3_723_004, True, True,
    ]
    assert got["items"][0] == {
        "name": "Line4.Speed", "address": "DB1.DBD4", "type": "REAL", "value": -0.5,
    }


def test_bare_addresses_in_both_mnemonic_sets(plc, s7):
    c = plc.ctl()
    c.ok(op="write", address="MW20", type="INT", value=-2)
    assert bytes(s7.mb_read(20, 2)) == b"\xff\xfe"
    assert c.ok(op="read", tag="MB21")["value"] == 0xFE
    s7.eb_write(4, 2, bytearray(b"\x12\x34"))
    assert c.ok(op="read", tag="Inputs.Sensor")["value"] == 0x1234
    assert c.ok(op="read", tag="EW4")["value"] == 0x1234
    assert c.ok(op="read", address="IW4")["value"] == 0x1234
    c.ok(op="write", tag="Outputs.Valve", value=True)
    assert bytes(s7.ab_read(1, 1)) == b"\x04"
    assert c.ok(op="read", tag="Q1.2")["value"] is True
    c.ok(op="write", tag="A1.2", value=False)
    assert bytes(s7.ab_read(1, 1)) == b"\x00"
    s7.ct_write(3, 1, bytearray(b"\x00\x2a"))
    assert c.ok(op="read", tag="Z3")["value"] == 42
    assert c.ok(op="read", tag="C3", type="INT")["value"] == 42
    v = c.ok(op="read", address="db1.dbx0.3")
    assert (v["name"], v["type"], v["value"]) == ("DB1.DBX0.3", "BOOL", True)


def test_a_batch_is_applied_whole(plc, s7):
    c = plc.ctl()
    v = c.ok(op="write", items=[
        {"tag": "Line4.Speed", "value": 1.5},
        {"tag": "Flags.Count", "value": 77},
        {"address": "DB2.DBD0", "type": "DINT", "value": 5},
    ])
    assert [i["value"] for i in v["items"]] == [1.5, 77, 5]
    assert util.get_real(db1(s7), 4) == 1.5
    assert util.get_int(s7.mb_read(10, 2), 0) == 77
    # One bad item: nothing of the batch is written.
    v = c.call(op="write", items=[
        {"tag": "Line4.Speed", "value": 9.5},
        {"tag": "Flags.Count", "value": 99999},
    ])
    assert v["ok"] is False and v["error"]["code"] == "out_of_range"
    assert v["error"]["message"].startswith("items[1]: Flags.Count (INT): 99999 is outside")
    assert util.get_real(db1(s7), 4) == 1.5
