"""`s7rtd ctl` against a running server: output, errors on stderr, exit codes."""

import json
import signal
import subprocess
import time

from ctlhelp import S7RTD


def test_read_write_status_and_tags(plc, s7):
    r = plc.cli("read", "Line4.Speed")
    assert (r.returncode, r.stdout, r.stderr) == (0, "12.5\n", "")
    r = plc.cli("write", "Line4.Speed", "-3.75")
    assert (r.returncode, r.stdout) == (0, "Line4.Speed = -3.75\n")
    assert s7.db_read(1, 4, 4) == bytearray(b"\xc0\x70\x00\x00")
    r = plc.cli("write", "Line4.Recipe", "Mix B")
    assert r.stdout == "Line4.Recipe = Mix B\n"
    assert plc.cli("read", "Line4.Recipe").stdout == "Mix B\n"
    r = plc.cli("write", "DB1.DBD40", "-5", "--type", "DINT")
    assert (r.returncode, r.stdout) == (0, "DB1.DBD40 = -5\n")
    assert plc.cli("read", "DB1.DBD40", "--type", "DINT").stdout == "-5\n"
    assert plc.cli("read", "E0.0").stdout == "false\n"
    r = plc.cli("--json", "read", "Line4.Run")
    assert json.loads(r.stdout) == {
        "ok": True, "name": "Line4.Run", "address": "DB1.DBX0.3", "type": "BOOL", "value": True,
    }
    r = plc.cli("status")
    assert r.returncode == 0
    st = json.loads(r.stdout)
    assert st["rt"]["running"] is True and st["control"]["clients"] == 1
    r = plc.cli("tags")
    assert r.returncode == 0
    line = next(l for l in r.stdout.splitlines() if l.startswith("Line4.Speed"))
    assert line.split() == ["Line4.Speed", "DB1.DBD4", "REAL"]


def test_refusals_go_to_stderr_with_exit_code_1(plc):
    r = plc.cli("read", "Line9.Speed")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "s7rtd ctl: unknown_tag: unknown tag `Line9.Speed` (and not an address)\n"
    r = plc.cli("write", "Line4.Mode", "300")
    assert r.returncode == 1
    assert r.stderr == "s7rtd ctl: out_of_range: Line4.Mode (BYTE): 300 is outside BYTE's range 0..255\n"
    r = plc.cli("write", "Line4.Speed", "fast")
    assert (r.returncode, r.stderr) == (1, "s7rtd ctl: bad_value: Line4.Speed (REAL): `fast` is not a REAL\n")


def test_unreachable_socket_is_exit_code_3_with_a_hint(tmp_path):
    r = subprocess.run(
        [str(S7RTD), "ctl", "--socket", str(tmp_path / "none.sock"), "status"],
        capture_output=True, text=True, timeout=10,
    )
    assert r.returncode == 3
    assert r.stderr.startswith(f"s7rtd ctl: cannot connect to {tmp_path / 'none.sock'}: ")
    assert "is s7rtd running?" in r.stderr


def test_bad_command_line_is_exit_code_2(plc):
    r = plc.cli("frobnicate")
    assert r.returncode == 2 and "unrecognized subcommand" in r.stderr
    r = plc.cli("write", "Line4.Speed")
    assert r.returncode == 2


def test_watch_prints_each_write_until_interrupted(plc, s7):
    p = subprocess.Popen(
        [str(S7RTD), "ctl", "--socket", str(plc.sock), "watch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The watch is registered once the server counts a watcher.
        c = plc.ctl()
        deadline = time.monotonic() + 10
        while c.ok(op="status")["status"]["control"]["watchers"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        s7.db_write(1, 4, bytearray(b"\x41\x50\x00\x00"))
        line = p.stdout.readline()
        assert line.startswith("client ")
        assert line.rstrip().endswith(": DB1.DBB4 len 4 [41500000] Line4.Speed = 13.0"), line
        c.ok(op="write", tag="Line4.Run", value=False)
        line = p.stdout.readline()
        assert line.rstrip().endswith(": DB1.DBX0.3 [00] Line4.Run = false"), line
        assert line.startswith("host ")
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(10)
