#!/usr/bin/env bash
# Fuzzing on the stable toolchain: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# 1. The fuzz crate's test: every committed corpus input (fuzz/corpus/<target>/) through every
#    target (the regression part).
# 2. s7fuzz: the corpus, then structure-aware mutants of it for SECONDS (default 60) per
#    target; prints executions and crashes, saves crashing inputs to target/fuzz-crashes/ and
#    fails if there is any (replay: target/fuzz/release/s7fuzz --replay FILE TARGET).
# 3. The libFuzzer targets (for nightly `cargo fuzz`) type-checked with --cfg fuzzing.
# Builds go to target/fuzz and target/fuzz-check (the fuzz crate is its own workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
manifest=fuzz/Cargo.toml

cargo test --quiet --release --manifest-path "$manifest" --no-default-features \
    --target-dir target/fuzz --lib
cargo build --quiet --release --manifest-path "$manifest" --no-default-features \
    --target-dir target/fuzz --bin s7fuzz
target/fuzz/release/s7fuzz --seconds "$seconds" --crashes target/fuzz-crashes "$@"
RUSTFLAGS="--cfg fuzzing" cargo check --quiet --manifest-path "$manifest" \
    --target-dir target/fuzz-check --bins
echo "fuzz: libFuzzer targets type-check with --cfg fuzzing"
