#!/usr/bin/env bash
# The whole s7rt test suite: build, Rust tests, then interop suites against real third-party
# S7 clients. Installs what it needs (Python venvs under target/venv/) on first use and reuses
# them afterwards. Exits non-zero if anything failed; every suite runs even after a failure.
#
# Needs: cargo (Rust), python3 (3.11+) with the venv module; network access to PyPI on the
# first run. Environment knobs:
#   S7RT_SUITES="snap7_v1 snap7_v3"   run only these interop suites (default: all)
#   S7RT_SUITE_TIMEOUT=600            seconds one suite may take before it is killed
#   S7RT_FUZZ_SECONDS=60              fuzzing time per target (scripts/fuzz.sh)
#   S7RT_SOAK_SECONDS=30              soak duration (scripts/soak.sh)
#   S7RT_SKIP_RUST=1                  skip `cargo test`, the package and the systemd checks (used by the
#                                     capture suite, which reruns interop suites under tshark)
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
VENVS=$REPO/target/venv
SUITE_TIMEOUT=${S7RT_SUITE_TIMEOUT:-600}
FAILED=()
PASSED=()
NOT_RUN=()
START=$SECONDS

section() { printf '\n==== %s ====\n' "$*"; }

# Runs one named step; records the outcome instead of stopping the script.
step() {
    local name=$1
    shift
    section "$name"
    local t0=$SECONDS
    if "$@"; then
        PASSED+=("$name ($((SECONDS - t0)) s)")
    else
        echo "---- FAILED: $name (exit $?)"
        FAILED+=("$name")
    fi
}

# ensure_venv DIR REQUIREMENT...: a venv at DIR holding exactly these requirements. Created
# when missing or when the requirement list changed; reused otherwise.
ensure_venv() {
    local dir=$1
    shift
    local want="$*"
    if [[ -x $dir/bin/python && -f $dir/.requirements && "$(cat "$dir/.requirements")" == "$want" ]]; then
        echo "reusing $dir ($want)"
        return 0
    fi
    echo "creating $dir ($want)"
    # Called from `step` (an `if` context) where `set -e` does not apply: check every command.
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")" || return 1
    if ! python3 -m venv "$dir"; then
        # Debian ships ensurepip separately; install it when we may, else say how.
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "python3 -m venv failed: installing python3-venv with apt-get"
            rm -rf "$dir"
            apt-get install -y -q python3-venv || { apt-get update -q && apt-get install -y -q python3-venv; } || return 1
            python3 -m venv "$dir" || return 1
        else
            echo "python3 -m venv failed: install it with: sudo apt-get install -y python3-venv" >&2
            return 1
        fi
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || return 1
    echo "$want" >"$dir/.requirements"
}

# pytest_suite SUITE VENV REQUIREMENT...: runs tests/interop/SUITE with that venv's python.
pytest_suite() {
    local suite=$1 venv=$VENVS/$2
    shift 2
    ensure_venv "$venv" "$@" &&
        timeout --kill-after=10 "$SUITE_TIMEOUT" \
            "$venv/bin/python" -m pytest "tests/interop/$suite" -q
}

# Interop suites: one line each. A suite is a folder tests/interop/<suite>; it may be a pytest
# suite (pytest_suite <suite> <venv name> <pip requirements...>) or any command, e.g.
#   suite nodes7 bash tests/interop/nodes7/run.sh
SUITES=()
suite() { SUITES+=("$*"); }

suite snap7_v1 pytest_suite snap7_v1 snap7-1 python-snap7==1.3 pytest
suite snap7_v3 pytest_suite snap7_v3 snap7-3 python-snap7==3.3.0 pytest
suite nodes7 bash tests/interop/nodes7/run.sh
# The host API through the `edge` example, and 30 SIGKILLs of a writing server (about 1 min).
suite host pytest_suite host snap7-1 python-snap7==1.3 pytest
suite persist pytest_suite persist snap7-1 python-snap7==1.3 pytest
# The control socket and `s7rtd ctl` from Python, with python-snap7 3.3.0 as the S7 side.
suite ctl pytest_suite ctl snap7-3 python-snap7==3.3.0 pytest
# The metrics endpoint under promtool and a real Prometheus server (unpacked from Debian's
# package into target/prometheus by scripts/ensure-prometheus.sh).
suite prometheus pytest_suite prometheus snap7-3 python-snap7==3.3.0 pytest
# Last: reruns the suites above while tshark captures lo, checks every server frame.
suite capture bash tests/interop/capture/run.sh

section "build"
cargo build --workspace --bins --examples
export S7RTD=$REPO/target/debug/s7rtd
export S7RT_EDGE=$REPO/target/debug/examples/edge

[[ -n ${S7RT_SKIP_RUST:-} ]] || step "cargo test --workspace --all-targets" cargo test --workspace --all-targets
# The public API's docs build without a warning (a broken link fails), and their examples
# run (`--all-targets` leaves doc tests out).
rust_docs() {
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps && cargo test --workspace --doc
}
[[ -n ${S7RT_SKIP_RUST:-} ]] || step "docs (cargo doc -D warnings, cargo test --doc)" rust_docs
# Release is what ships: the RT thread's 0 allocations and 0 page faults are proven in the
# optimised build too (code layout, inlining and dropped stores differ from debug).
[[ -n ${S7RT_SKIP_RUST:-} ]] || step "no allocation, no page fault (release)" cargo test --release --test no_alloc
# Tests marked #[ignore = "needs root ..."] drop privileges with setpriv; as root they run
# here (and fail rather than skip if they cannot), otherwise the summary says they did not.
if [[ -z ${S7RT_SKIP_RUST:-} ]]; then
    if [[ $(id -u) == 0 ]]; then
        step "privileged tests (cargo test --test cli -- --ignored)" cargo test --test cli -- --ignored
    else
        NOT_RUN+=("privileged tests in tests/cli.rs (need root: sudo scripts/test.sh)")
    fi
fi

for entry in "${SUITES[@]}"; do
    read -r -a argv <<<"$entry"
    name=${argv[0]}
    if [[ -n ${S7RT_SUITES:-} && " $S7RT_SUITES " != *" $name "* ]]; then
        continue
    fi
    step "interop: $name" "${argv[@]:1}"
done

if [[ -z ${S7RT_SKIP_RUST:-} ]]; then
    # Fuzzing that runs on stable (fuzz/README.md) and a soak under mixed, churning and
    # malformed traffic (scripts/soak.sh); both bounded in time.
    step "fuzz (scripts/fuzz.sh ${S7RT_FUZZ_SECONDS:-60} s per target)" scripts/fuzz.sh "${S7RT_FUZZ_SECONDS:-60}"
    step "soak (scripts/soak.sh ${S7RT_SOAK_SECONDS:-30})" scripts/soak.sh "${S7RT_SOAK_SECONDS:-30}"
    # The jitter bench's smoke run (a few seconds, no targets asserted) keeps the bench from
    # rotting; its report goes to target/bench-smoke/.
    step "bench smoke (cargo bench --bench jitter -- --smoke)" cargo bench --profile dev --bench jitter -- --smoke
    step "bench smoke (cargo bench --bench host -- --smoke)" cargo bench --profile dev --bench host -- --smoke
    # The control-socket latency script on a few samples (the ctl suite's venv).
    ctl_latency_smoke() {
        ensure_venv "$VENVS/snap7-3" python-snap7==3.3.0 pytest &&
            "$VENVS/snap7-3/bin/python" scripts/ctl-latency.py --samples 50 --out target/bench-smoke
    }
    step "bench smoke (scripts/ctl-latency.py --samples 50)" ctl_latency_smoke
    step "systemd unit (systemd-analyze verify)" bash scripts/check-systemd.sh "$S7RTD"
    # The Debian package (release build), then package and unit together under a real systemd
    # in namespaces of their own (skipped, saying why, when not root).
    step "Debian package (scripts/package.sh)" bash scripts/package.sh
    step "package and unit under systemd (scripts/test-systemd.sh)" bash scripts/test-systemd.sh
    # s7rtd on a real PREEMPT_RT kernel in an emulated guest (1-2 minutes on an idle machine).
    if [[ $(id -u) == 0 ]]; then
        step "PREEMPT_RT guest (scripts/test-rt-kernel.sh)" \
            timeout --kill-after=10 1200 bash scripts/test-rt-kernel.sh
    else
        section "PREEMPT_RT guest: skipped, not root (it installs qemu-system-x86 and busybox-static with apt and downloads linux-image-rt-amd64; run scripts/test-rt-kernel.sh as root)"
    fi
fi

section "summary ($((SECONDS - START)) s)"
for p in "${PASSED[@]}"; do echo "passed: $p"; done
for f in "${FAILED[@]}"; do echo "FAILED: $f"; done
for n in "${NOT_RUN[@]}"; do echo "NOT RUN: $n"; done
# One closing line over all steps (each step's own runner printed its test counts above).
echo "steps: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
((${#FAILED[@]} == 0))
