//! The server under soak: its start-up with a config of the soak's own, and what is read
//! back from it (RSS, descriptors, the counters it writes at stop).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::{Args, REGION};

/// RSS (KiB) and open descriptors of `pid`.
pub(crate) fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

pub(crate) fn start_server(a: &Args) -> (Child, SocketAddr, PathBuf) {
    std::fs::create_dir_all(&a.dir).unwrap();
    let hgrm = a.dir.join("histograms");
    let _ = std::fs::remove_dir_all(&hgrm);
    let cfg = a.dir.join("s7rtd.toml");
    let body = format!(
        "event_queue = 65536\n\
         [telemetry]\ninterval_ms = 10000\nhistogram_dir = \"{}\"\n\
         [[db]]\nnumber = 1\nsize = {}\n[host]\nsocket = \"\"\n",
        std::fs::canonicalize(&a.dir)
            .unwrap()
            .join("histograms")
            .display(),
        a.clients.max(1) * REGION
    );
    // Every client comes from 127.0.0.1: the per-address limit must not refuse them.
    let head = "listen = \"127.0.0.1:0\"\nmax_connections = 64\nmax_connections_per_ip = 64\n";
    std::fs::write(&cfg, format!("{head}{body}")).unwrap();
    let log = std::fs::File::create(a.dir.join("s7rtd.log")).unwrap();
    let mut child = Command::new(&a.server)
        .args(["--no-rt", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", a.server.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("s7rtd: listening on ")
        .unwrap_or_else(|| panic!("s7rtd said {line:?}"))
        .parse()
        .unwrap();
    (child, addr, hgrm)
}

pub(crate) fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in counters.txt"))
}
