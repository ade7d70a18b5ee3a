#!/usr/bin/env python3
"""(Re)builds the seed part of fuzz/corpus/<target>/ from the golden vectors in tests/vectors.

wire_parse:     every recorded TPKT record (client and server) on its own.
session_stream: per TCP stream, a chunk-size byte then the client's frames after COTP connect
                and Setup Communication (the target performs those itself).
session_full:   per TCP stream, a chunking byte (0: all at once) then every client frame.
Files are named by the SHA-1 of their content, as libFuzzer names its corpus; existing files
(regression inputs added by hand) are kept.
"""
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def records(path):
    head = None
    for line in path.read_text().splitlines():
        m = re.match(r"# frame (\d+) t(\d+) (client|server)", line)
        if m:
            head = (int(m[2]), m[3] == "client")
        elif line.startswith("#") or not line.strip():
            continue
        elif head:
            yield head[0], head[1], bytes.fromhex(line.strip())
            head = None


def tpkts(b):
    while len(b) >= 4:
        n = int.from_bytes(b[2:4], "big")
        if n < 4:
            return
        yield b[:n]
        b = b[n:]


def save(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


for vec in sorted((ROOT / "tests" / "vectors").glob("*.hex")):
    streams = {}
    for stream, from_client, data in records(vec):
        save("wire_parse", data)
        if from_client:
            streams.setdefault(stream, []).extend(tpkts(data))
    for frames in streams.values():
        whole = b"".join(frames)
        save("session_full", b"\x00" + whole)
        save("session_full", b"\x07" + whole)
        save("session_stream", b"\x00" + b"".join(frames[2:]))
for target in ("wire_parse", "session_stream", "session_full"):
    print(target, len(list((CORPUS / target).iterdir())), "inputs")
