#!/usr/bin/env bash
# The one command that builds the Debian package: target/debian/s7rt_<version>-1_<arch>.deb.
# Installs cargo-deb when missing, generates the man page from the CLI definition, then runs
# `cargo deb` (release build). Extra arguments go to cargo deb (e.g. --fast).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null 2>&1 && [[ ! -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deb ]]; then
    echo "package: installing cargo-deb"
    cargo install cargo-deb --locked
fi
mkdir -p target/man
cargo run --quiet --example s7rtd-man -- target/man/s7rtd.8
gzip -9 -n -f target/man/s7rtd.8
# The server crate (the workspace root package), not the bench tooling.
cargo deb -p s7rt "$@"
