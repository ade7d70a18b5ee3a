//! SIGTERM while the daemon's stderr is a pipe nobody reads (issue #13, defect 2): the stop
//! closes the listener and ends the process at once, and what is written at stop (the
//! histogram files, the final snapshot of retentive data) does not wait behind the blocked
//! log stream.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::Read;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::wire::var::Area;

mod support;
use support::daemon::{listening_addr, sigterm, spawn, wait_exit};

/// True when a thread of `pid` sleeps in a write to its stderr (fd 2): `syscall` shows the
/// system call number (1 = write on x86-64) and the descriptor; `wchan` the kernel function.
fn blocked_writing_stderr(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        let p = t.path();
        let wchan = std::fs::read_to_string(p.join("wchan")).unwrap_or_default();
        let syscall = std::fs::read_to_string(p.join("syscall")).unwrap_or_default();
        let mut f = syscall.split_whitespace();
        let write_to_fd2 =
            cfg!(target_arch = "x86_64") && f.next() == Some("1") && f.next() == Some("0x2");
        wchan.contains("pipe_write") || write_to_fd2
    })
}

#[test]
fn sigterm_stops_at_once_and_writes_histograms_and_snapshot_while_stderr_is_a_pipe_nobody_reads() {
    let dir = std::env::temp_dir().join(format!("s7rt-blocked-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("s7rtd.toml");
    let hgrm = dir.join("histograms");
    let state = dir.join("state");
    // Snapshots only at stop (the interval is far longer than the test): what the restarted
    // server finds retained was written by the stop, with the log stream blocked.
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\n[telemetry]\nhistogram_dir = \"{}\"\n\
             [persist]\ndir = \"{}\"\ninterval_ms = 3600000\n\
             [[db]]\nnumber = 1\nsize = 64\nretain = true\n[host]\nsocket = \"\"\n",
            hgrm.display(),
            state.display()
        ),
    )
    .unwrap();

    // stderr: a pipe whose read end this test holds and does not read until the end.
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let mut daemon = spawn(&cfg, Stdio::from(write_end));
    let child = &mut daemon.0;
    let pid = child.id();
    let addr = listening_addr(child);

    // Connections log two lines each: churn until the pipe (64 KiB) is full and a thread of
    // the daemon sleeps writing to it.
    let t0 = Instant::now();
    let mut connections = 0;
    while !blocked_writing_stderr(pid) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "stderr never blocked after {connections} connections"
        );
        for _ in 0..50 {
            drop(TcpStream::connect(addr).unwrap());
            connections += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Still serving, with the log stream blocked: a retentive write is acknowledged.
    let mut client = Client::connect(addr, 0, 1, 240).unwrap();
    client
        .write(Area::DataBlock, 1, 0, b"kept across the stop")
        .unwrap();
    drop(client);

    sigterm(child);
    let stop = Instant::now();
    // The listener closes at once...
    while TcpStream::connect(addr).is_ok() {
        assert!(
            stop.elapsed() < Duration::from_secs(5),
            "still accepting connections {:?} after SIGTERM",
            stop.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // ... and the process ends, waiting at most a second for the stalled log stream.
    let status = wait_exit(child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");

    // The histograms were written at stop although nothing could be logged.
    let counters = std::fs::read_to_string(hgrm.join("counters.txt")).unwrap();
    let count = |name: &str| -> u64 {
        counters
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap()
            .parse()
            .unwrap()
    };
    // Every connection made was counted (a burst may find all slots busy: refused).
    assert!(
        count("accepted") + count("refused") > connections,
        "{connections} connections made:\n{counters}"
    );

    // The final snapshot was written at stop: a new server (stderr read) restores the write.
    let mut again = spawn(&cfg, Stdio::null());
    let addr2 = listening_addr(&mut again.0);
    let mut buf = [0u8; 20];
    Client::connect(addr2, 0, 1, 240)
        .unwrap()
        .read(Area::DataBlock, 1, 0, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"kept across the stop", "final snapshot missing");
    drop(again);

    // What did reach the pipe is whole lines from the start of the run.
    let mut text = Vec::new();
    File::from(read_end).read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("listening on"),
        "{}",
        &text[..text.len().min(500)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
