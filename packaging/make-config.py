#!/usr/bin/env python3
"""Writes packaging/s7rtd.toml, the package's /etc/s7rtd/s7rtd.toml, from s7rtd.example.toml:
the same keys and comments, but only defaults in force. The example's illustrations that are
not defaults (the read-only DB10, [[tag]] entries, [[access]] rules) are commented out, and
so is [host] socket (unset means the same path, and a path in use costs only the socket).
src/config.rs tests that the result parses to the default configuration and documents every
key of the example: rerun this script when that test fails."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = """# /etc/s7rtd/s7rtd.toml: the configuration s7rtd.service starts the daemon with.
# Every key is optional; the values shown are the defaults. Edit, then
# `s7rtd --config /etc/s7rtd/s7rtd.toml --check-config` and `systemctl restart s7rtd`.
# Listening on 0.0.0.0:102 serves every interface: restrict it to the plant network's address."""
EXAMPLES = ("[[tag]]", "[[access]]")

text = (ROOT / "s7rtd.example.toml").read_text()
lines = text.split("\n")
# The example's two-line header becomes the package's.
assert lines[0].startswith("# s7rtd example configuration"), lines[0]
lines = HEADER.split("\n") + lines[2:]
out, commenting, after_not_default = [], False, False
for line in lines:
    stripped = line.strip()
    if stripped.startswith("["):
        commenting = stripped in EXAMPLES or after_not_default
        after_not_default = False
    if stripped.startswith("# Not a default: a read-only DB"):
        after_not_default = True  # the [[db]] block that follows
    if line.startswith("socket = "):
        # Unset is the same path, but a path taken by another daemon then costs only the socket.
        out.append("# " + line)
        continue
    if line.startswith('personality = "s7-300"'):
        out.append(line)
        out.append("                           # (copies to adapt: /usr/share/s7rt/personalities/)")
        continue
    out.append("# " + line if commenting and stripped and not stripped.startswith("#") else line)
(ROOT / "packaging" / "s7rtd.toml").write_text("\n".join(out))
