//! The `s7rtd` binary in a test: start it, read the address of its listening line, stop it
//! with SIGTERM, wait (bounded) for its exit and what it logged. [`Daemon`] kills it if the
//! test fails before it stopped it.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The daemon cargo built for this test.
pub const BIN: &str = env!("CARGO_BIN_EXE_s7rtd");

/// A running daemon, killed on drop if it still runs.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `s7rtd --no-rt --config <cfg>` with stdout piped (for [`listening_addr`]) and stderr as
/// given.
pub fn spawn(cfg: &Path, stderr: impl Into<Stdio>) -> Daemon {
    Daemon(
        Command::new(BIN)
            .args(["--no-rt", "--config"])
            .arg(cfg)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    )
}

/// The first line the daemon writes to stdout (once it listens).
pub fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// The address of the daemon's `s7rtd: listening on ADDR` line.
pub fn listening_addr(child: &mut Child) -> SocketAddr {
    let line = first_line(child);
    line.trim()
        .strip_prefix("s7rtd: listening on ")
        .unwrap_or_else(|| panic!("s7rtd said {line:?}"))
        .parse()
        .unwrap()
}

/// Asks the daemon to stop.
pub fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

/// Waits at most `limit` for the daemon to exit; kills it and fails the test after that.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("s7rtd did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_exit`], and everything the daemon wrote to its (piped) stderr.
pub fn exit_and_stderr(child: &mut Child, limit: Duration) -> (ExitStatus, String) {
    let st = wait_exit(child, limit);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (st, err)
}
