"""The Python client in docs/control-socket.md, taken from the page as a user would copy it,
against a running s7rtd; an S7 client's write reaches its `watch`."""

import re
import threading
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "control-socket.md"


def docs_client_class():
    text = DOC.read_text()
    section = text.split("## A Python client to copy", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    # The class, without the usage lines that follow it (they talk to the default path).
    cls = code.split("\nplc = S7rtd()", 1)[0]
    assert len(code.splitlines()) <= 30, "the copyable client stays short"
    scope = {}
    exec(compile(cls, str(DOC), "exec"), scope)
    return scope["S7rtd"]


def test_the_documented_client_reads_writes_and_watches(plc, s7):
    S7rtd = docs_client_class()
    client = S7rtd(str(plc.sock))
    assert client.read("Line4.Speed") == 12.5
    client.write("Line4.Speed", 13.5)
    assert client.read("Line4.Speed") == 13.5
    assert s7.db_read(1, 4, 4) == bytearray(b"\x41\x58\x00\x00")
    with pytest.raises(RuntimeError, match="unknown_tag: unknown tag `Nope`"):
        client.read("Nope")

    watcher = S7rtd(str(plc.sock))
    events = watcher.watch()
    first = []
    t = threading.Thread(target=lambda: first.append(next(events)))
    t.start()
    # The generator sends `watch` when first advanced; wait until the server counts it.
    import time

    deadline = time.monotonic() + 10
    while client.call(op="status")["status"]["control"]["watchers"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    s7.db_write(1, 1, bytearray([7]))
    t.join(10)
    assert first and first[0]["tags"] == [
        {"name": "Line4.Mode", "address": "DB1.DBB1", "type": "BYTE", "value": 7},
    ]


README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_socket_example_runs_as_printed(plc, capsys):
    section = README.read_text().split("## The control socket and `s7rtd ctl`", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code.replace("/run/s7rtd/s7rtd.sock", str(plc.sock)), str(README), "exec"), {})
    printed = capsys.readouterr().out
    want = re.search(r"# (\{.*\})", code).group(1)
    assert printed.strip() == want
