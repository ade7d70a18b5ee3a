//! Instructions per request under callgrind, s7rtd and Snap7's server alike: the slope between
//! two runs of different lengths, whole process, so start-up and idle costs cancel.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;
use s7rt::client::Client;
use s7rt::wire::var::Area;
use s7rt_bench::report;

use crate::phases::{start_snap7, stop_child};
use crate::servers;

fn requests(addr: SocketAddr, n: u64) -> anyhow::Result<()> {
    let mut c = Client::connect(addr, 0, 1, 480)?;
    let mut buf = [0u8; 4];
    for _ in 0..n {
        c.read(Area::DataBlock, 1, 0, &mut buf)?;
    }
    Ok(())
}

/// Instructions of one callgrind run of s7rtd serving `n` requests.
pub(crate) fn callgrind_s7rtd(dir: &Path, n: u64) -> anyhow::Result<u64> {
    let out = dir.join(format!("callgrind.s7rtd.{n}.out"));
    let cfg = dir.join("callgrind-s7rtd.toml");
    // A 100 ms cycle: idle cycle ticks would otherwise add instructions that depend on how
    // long valgrind takes, not on the number of requests.
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\ncycle_us = 100000\n",
    )?;
    let mut child = Command::new("valgrind")
        .args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(env!("CARGO_BIN_EXE_s7rtd"))
        .arg("--config")
        .arg(&cfg)
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null()) // valgrind warns on every epoll_pwait2 (unknown to it)
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("s7rtd: listening on ")
        .with_context(|| format!("unexpected s7rtd output {line:?}"))?
        .parse()?;
    let r = requests(addr, n);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait()?;
    r?;
    process_total(&out)
}

/// Instructions of the whole process (every thread) in a callgrind output file.
fn process_total(out: &Path) -> anyhow::Result<u64> {
    let total = report::callgrind_total(&std::fs::read_to_string(out)?);
    let _ = std::fs::remove_file(out);
    total.context("no totals in callgrind output")
}

pub(crate) fn callgrind_snap7(dir: &Path, so: &str, n: u64) -> anyhow::Result<u64> {
    let out = dir.join(format!("callgrind.snap7.{n}.out"));
    let port = servers::free_port()?;
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["--serve-snap7", so, &port.to_string()])
        .stderr(Stdio::null());
    let child = start_snap7(cmd)?;
    let r = requests(SocketAddr::from(([127, 0, 0, 1], port)), n);
    stop_child(child)?;
    r?;
    process_total(&out)
}
