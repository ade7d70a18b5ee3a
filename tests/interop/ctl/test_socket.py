"""The control socket as a client program sees it: bad input, several clients, watching
(with a real S7 client's writes), slow watchers, status, the socket file itself."""

import json
import os
import stat
import threading
import time

import pytest
from snap7 import Client
from snap7.type import Area, WordLen


def code(v):
    assert v["ok"] is False, v
    return v["error"]["code"]


@pytest.mark.parametrize(
    "raw, want, message",
    [
        (b'{"op":"read",', "malformed_json", "not JSON: "),
        (b"\xff\xfe garbage", "malformed_json", "not JSON: "),
        (b"[1, 2]", "bad_request", "a request is a JSON object"),
        (b'{"op":"fly"}', "bad_request", "unknown op `fly`"),
        (b'{"op":"read","tga":"x"}', "bad_request", "unknown key `tga` for op `read`"),
        (b'{"op":"write","tag":"Line4.Speed"}', "bad_request", "missing `value`"),
        (b'{"op":"read","tag":"Line9.Speed"}', "unknown_tag", "unknown tag `Line9.Speed`"),
        (b'{"op":"read","tag":"MW10.1"}', "bad_address", "`MW10.1` is not an address"),
        (b'{"op":"read","address":"DB1.DBD0","type":"FLOAT"}', "bad_type", "type `FLOAT`"),
        (b'{"op":"read","address":"MW10","type":"REAL"}', "type_mismatch", "REAL at MW10"),
        (b'{"op":"write","tag":"Line4.Speed","value":true}', "type_mismatch",
         "Line4.Speed (REAL): REAL cannot be given as a JSON boolean"),
        (b'{"op":"write","tag":"Line4.Offset","value":1.5}', "type_mismatch",
         "INT needs an integer"),
        (b'{"op":"write","tag":"Line4.Recipe","value":5}', "type_mismatch",
         "STRING[20] cannot be given as a JSON number"),
        (b'{"op":"write","tag":"Line4.Mode","value":256}', "out_of_range",
         "256 is outside BYTE's range 0..255"),
        (b'{"op":"write","tag":"Line4.Recipe","value":"123456789012345678901"}', "out_of_range",
         "21 characters do not fit STRING[20]"),
        (b'{"op":"write","tag":"Line4.Started","value":"DT#1989-01-01-00:00:00"}',
         "out_of_range", "outside 1990-01-01..2089-12-31"),
        (b'{"op":"write","tag":"Line4.Speed","value":"fast"}', "bad_value",
         "`fast` is not a REAL"),
        (b'{"op":"read","address":"DB99.DBW0"}', "no_such_area", "DB99"),
        (b'{"op":"read","address":"DB3.DBD254"}', "image_range", "DB3"),
        (b'{"op":"write","address":"MW255","value":1}', "image_range", "flags"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_connection_stays_usable(plc, raw, want, message):
    c = plc.ctl()
    c.send_raw(raw + b"\n")
    v = c.answer()
    assert code(v) == want, v
    assert message in v["error"]["message"], v
    # The same connection keeps working.
    assert c.ok(op="read", tag="Line4.Speed", id=7) == {
        "ok": True, "id": 7, "name": "Line4.Speed", "address": "DB1.DBD4", "type": "REAL",
        "value": 12.5,
    }


def test_an_oversized_line_is_refused_and_skipped(plc):
    c = plc.ctl()
    big = b'{"op":"write","tag":"Line4.Recipe","value":"' + b"x" * 200_000 + b'"}\n'
    c.send_raw(big)
    v = c.answer()
    assert code(v) == "line_too_long"
    assert "65536" in v["error"]["message"]
    assert c.ok(op="read", tag="Line4.Recipe")["value"] == "Mix A", "nothing of it was applied"


def test_the_socket_is_mode_0660_and_removed_at_stop(ctl_factory):
    plc = ctl_factory()
    st = os.stat(plc.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    plc.server.stop()
    assert not plc.sock.exists()


def test_several_clients_at_once(plc, s7):
    errors = []

    def worker(i):
        try:
            c = plc.ctl()
            for n in range(150):
                c.ok(op="write", address=f"DB2.DBW{2 * i}", type="INT", value=n * (i + 1) - 500)
                assert c.ok(op="read", address=f"DB2.DBW{2 * i}", type="INT")["value"] == n * (i + 1) - 500
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    data = s7.db_read(2, 0, 16)
    assert [int.from_bytes(data[2 * i:2 * i + 2], "big", signed=True) for i in range(8)] == [
        149 * (i + 1) - 500 for i in range(8)
    ]


def test_clients_beyond_the_limit_get_busy_and_others_are_served(ctl_factory):
    plc = ctl_factory('socket_clients = 2')
    a, b = plc.ctl(), plc.ctl()
    a.ok(op="status")
    b.ok(op="status")
    c = plc.ctl()
    v = c.line()
    assert code(v) == "busy"
    assert a.ok(op="read", tag="Line4.Speed")["value"] == 12.5
    st = a.ok(op="status")["status"]["control"]
    assert (st["clients"], st["max_clients"], st["refused_busy"]) == (2, 2, 1)


def test_watch_shows_a_snap7_write_with_tag_names_and_values(plc, s7):
    w = plc.ctl()
    assert w.ok(op="watch") == {"ok": True, "watching": True}
    data = bytearray(8)
    data[0:4] = bytes([0x41, 0x50, 0, 0])            # 13.0
    data[4:8] = (-42).to_bytes(4, "big", signed=True)
    s7.db_write(1, 4, data)                            # Line4.Speed and Line4.Pieces
    ev = w.line()
    assert {k: ev[k] for k in ("event", "source", "area", "db", "offset", "len", "bit", "data")} == {
        "event": "write", "source": "client", "area": "DB", "db": 1, "offset": 4, "len": 8,
        "bit": None, "data": "41500000ffffffd6",
    }
    assert ev["tags"] == [
        {"name": "Line4.Speed", "address": "DB1.DBD4", "type": "REAL", "value": 13.0},
        {"name": "Line4.Pieces", "address": "DB1.DBD8", "type": "DINT", "value": -42},
    ]
    assert isinstance(ev["seq"], int) and isinstance(ev["conn"], int)
    # A BIT write (transport size BIT, as HMIs send for a BOOL) names only the BOOL at
    # that bit.
    s7.write_area(Area.DB, 1, 0 * 8 + 4, bytearray([1]), WordLen.Bit)
    ev = w.line()
    assert (ev["bit"], ev["data"], ev["tags"]) == (4, "01", [
        {"name": "Line4.Jog", "address": "DB1.DBX0.4", "type": "BOOL", "value": True},
    ])
    # A write through the socket is a host event.
    other = plc.ctl()
    other.ok(op="write", tag="Flags.Count", value=5)
    ev = w.line()
    assert (ev["source"], ev["area"], ev["offset"], ev["data"]) == ("host", "M", 10, "0005")
    assert ev["tags"][0]["value"] == 5
    # Requests still work on a watching connection; answers come between events.
    assert w.ok(op="read", tag="Flags.Count")["value"] == 5
    assert w.ok(op="unwatch") == {"ok": True, "watching": False}
    s7.db_write(1, 1, bytearray([9]))
    assert w.ok(op="read", tag="Line4.Mode")["value"] == 9
    w.sock.settimeout(0.5)
    with pytest.raises(OSError):
        w.line()  # no event after unwatch


def test_a_slow_watcher_lags_and_blocks_nobody(plc, s7):
    slow = plc.ctl(timeout=10)
    slow.ok(op="watch")
    fast = plc.ctl(timeout=10)
    fast.ok(op="watch")
    writer = plc.ctl()
    # 24 batches of 250 host writes = 6000 events: far beyond the slow watcher's queue
    # (1024 lines) and its socket buffer. The slow one reads nothing meanwhile.
    total = 24 * 250
    counted = {"events": 0, "missed": 0}

    def drain_fast():
        while counted["events"] + counted["missed"] < total:
            ev = fast.line()
            if ev.get("event") == "write":
                counted["events"] += 1
            elif ev.get("event") == "lagged":
                counted["missed"] += ev["missed"]

    t = threading.Thread(target=drain_fast)
    t.start()
    worst = 0.0
    for batch in range(24):
        items = [{"address": f"DB2.DBB{i}", "value": (batch + i) % 256} for i in range(250)]
        t0 = time.monotonic()
        writer.ok(op="write", items=items)
        # An S7 client is served as usual meanwhile.
        assert s7.db_read(2, 0, 1)[0] == batch % 256
        worst = max(worst, time.monotonic() - t0)
    t.join(30)
    assert not t.is_alive()
    assert worst < 2.0, f"a write waited {worst:.3f} s"
    # Now the slow watcher reads: what fit, then how many it missed; together all of them.
    events = missed = 0
    while events + missed < total:
        ev = slow.line()
        if ev["event"] == "write":
            events += 1
        else:
            assert ev == {"event": "lagged", "missed": ev["missed"], "scope": "connection"}
            missed += ev["missed"]
    assert missed > 0 and events + missed == total, (events, missed)
    st = writer.ok(op="status")["status"]["control"]
    assert st["events_lagged"] >= missed
    assert st["dropped_slow"] == 0


def test_a_watcher_that_never_reads_is_disconnected(plc):
    stuck = plc.ctl()
    stuck.ok(op="watch")
    writer = plc.ctl()
    deadline = time.monotonic() + 20
    # Keep events coming until the server gives up on the stuck client (5 s write timeout).
    while True:
        writer.ok(op="write", items=[{"address": f"DB2.DBB{i}", "value": 1} for i in range(200)])
        st = writer.ok(op="status")["status"]["control"]
        if st["dropped_slow"] == 1:
            break
        assert time.monotonic() < deadline, st
        time.sleep(0.05)
    assert st["watchers"] == 0
    # The stuck client finds its connection closed once it reads what was buffered.
    stuck.sock.settimeout(5)
    with pytest.raises((AssertionError, OSError, json.JSONDecodeError)):
        while True:
            stuck.line()


def test_status_reports_rt_host_and_control_state(plc, s7):
    c = plc.ctl()
    c.ok(op="write", tag="Line4.Speed", value=1)
    st = c.ok(op="status")["status"]
    assert st["rt"]["running"] is True
    assert st["rt"]["real_time"] is False, "--no-rt"
    assert st["host"]["writes_applied"] >= 1
    assert st["control"]["clients"] == 1
    assert st["control"]["socket"] == str(plc.sock)
    assert st["s7"]["connections"] >= 1


def test_tags_lists_the_configuration(plc):
    tags = plc.ctl().ok(op="tags")["tags"]
    names = [t["name"] for t in tags]
    assert "Line4.Speed" in names and len(names) == 16
    assert {"name": "Outputs.Valve", "address": "Q1.2", "type": "BOOL", "retain": False} in tags
