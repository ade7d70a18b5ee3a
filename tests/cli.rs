//! The `s7rtd` binary: help, readable configuration errors, clean stop on SIGTERM, and the
//! fallback (or refusal under --strict-rt) when real-time privileges are missing.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod support;
use support::daemon::{exit_and_stderr, first_line, sigterm, BIN};

/// Starts s7rtd with `args`, waits for its listening line, returns it and the child.
fn start(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    assert!(
        line.starts_with("s7rtd: listening on 127.0.0.1:"),
        "got {line:?}"
    );
    (child, line)
}

fn stop(mut child: Child) -> String {
    sigterm(&child);
    let (st, err) = exit_and_stderr(&mut child, Duration::from_secs(10));
    assert!(st.success(), "exit {st:?}; stderr:\n{err}");
    err
}

#[test]
fn help_lists_every_option() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--listen",
        "--cpu",
        "--priority",
        "--max-connections",
        "--max-pdu",
        "--no-rt",
        "--strict-rt",
        "--check-config",
        "--log-level",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn config_errors_name_the_key_and_exit_nonzero() {
    let dir = std::env::temp_dir().join(format!("s7rt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[rt]\npriority = 120\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&f)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("config key `rt.priority`: 120 is outside 1..=99"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/s7rtd.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("cannot read config file /nonexistent/s7rtd.toml"));
}

#[test]
fn sigterm_stops_the_server_cleanly_with_a_summary() {
    let (child, _) = start(Command::new(BIN).args(["--no-rt", "--listen", "127.0.0.1:0"]));
    let err = stop(child);
    assert!(
        err.contains("stopping") && err.contains("served 0 replies"),
        "{err}"
    );
}

/// Why the privilege tests are ignored by a plain `cargo test`; `scripts/test.sh` runs them
/// with `--ignored` when it is root, where they must pass (never skip).
const NEEDS_ROOT: &str = "needs root and setpriv; scripts/test.sh runs it as root";

#[test]
fn the_cycle_timer_in_use_is_logged_with_the_reason_for_this_machine() {
    use s7rt::rt::cycle::{CycleTimer, Platform};
    let platform = Platform::detect();
    let expected = CycleTimer::Auto.choose(&platform).to_string();
    let (child, _) = start(Command::new(BIN).args(["--no-rt", "--listen", "127.0.0.1:0"]));
    let err = stop(child);
    let line = err
        .lines()
        .find(|l| l.contains("cycle timer: "))
        .unwrap_or_else(|| panic!("no cycle timer line in:\n{err}"));
    assert!(line.ends_with(&expected), "{line:?} vs {expected:?}");
    let mechanism = if platform.preempt_rt {
        "epoll"
    } else {
        "timerfd"
    };
    assert!(
        line.contains(&format!("cycle timer: {mechanism} (auto: ")),
        "{line}"
    );
    // A configured mechanism is used as configured.
    let dir = std::env::temp_dir().join(format!("s7rt-cli-cycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("epoll.toml");
    std::fs::write(&cfg, "[rt]\ncycle_timer = \"epoll\"\n").unwrap();
    let (child, _) = start(
        Command::new(BIN)
            .args(["--no-rt", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(&cfg),
    );
    let err = stop(child);
    assert!(err.contains("cycle timer: epoll (configured: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs s7rtd as `nobody` with no capabilities, so mlockall, SCHED_FIFO and
/// /dev/cpu_dma_latency are all refused by the kernel. Needs root to drop privileges: run
/// without them the test fails instead of passing without having run.
fn unprivileged() -> Command {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{NEEDS_ROOT}: run as root (cargo test --test cli -- --ignored)"
    );
    assert!(
        Command::new("setpriv").arg("--version").output().is_ok(),
        "{NEEDS_ROOT}: setpriv (util-linux) is not installed"
    );
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]);
    c.env("HOME", "/");
    c
}

#[test]
#[ignore = "needs root and setpriv; scripts/test.sh runs it as root"]
fn without_privileges_it_says_what_is_missing_and_runs_anyway() {
    let mut cmd = unprivileged();
    cmd.args([BIN, "--listen", "127.0.0.1:0", "--cpu", "0"]);
    let (child, _) = start(&mut cmd);
    let err = stop(child);
    assert!(err.contains("SCHED_FIFO for the RT thread failed"), "{err}");
    assert!(err.contains("CAP_SYS_NICE"), "{err}");
    assert!(err.contains("open /dev/cpu_dma_latency failed"), "{err}");
}

#[test]
#[ignore = "needs root and setpriv; scripts/test.sh runs it as root"]
fn strict_rt_refuses_to_start_without_privileges() {
    let mut cmd = unprivileged();
    let mut child = cmd
        .args([BIN, "--listen", "127.0.0.1:0", "--cpu", "0", "--strict-rt"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (st, err) = exit_and_stderr(&mut child, Duration::from_secs(10));
    assert!(!st.success());
    assert!(
        err.contains("--strict-rt:") && err.contains("to grant it"),
        "{err}"
    );
}
