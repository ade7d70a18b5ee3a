//! Under systemd (`JOURNAL_STREAM` naming stderr) s7rtd writes journal-ready lines: a syslog
//! priority prefix, no timestamp of its own, and one start-up line naming every real-time
//! measure. Elsewhere it keeps the human format.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::daemon::{first_line, sigterm, wait_exit, BIN};

/// Runs s7rtd until it listens, stops it with SIGTERM and returns what it wrote to stderr.
/// `journal`: set JOURNAL_STREAM to the stderr file's device and inode (what systemd does).
fn run(journal: bool) -> String {
    let path = std::env::temp_dir().join(format!("s7rt-journald-{}-{journal}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["--no-rt", "--listen", "127.0.0.1:0", "--metrics-listen", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file))
        .env_remove("JOURNAL_STREAM");
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    let mut child = cmd.spawn().unwrap();
    let line = first_line(&mut child);
    assert!(line.starts_with("s7rtd: listening on"), "{line:?}");
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(10));
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    text
}

#[test]
fn journal_lines_carry_priorities_and_no_timestamp() {
    let text = run(true);
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let prio = l.strip_prefix('<').and_then(|r| r.split_once('>'));
        let Some((p, msg)) = prio else {
            panic!("line without a priority prefix: {l:?}\n{text}")
        };
        assert!(matches!(p, "3" | "4" | "6" | "7"), "{l:?}");
        assert!(!msg.starts_with('['), "a second timestamp in {l:?}");
    }
    let startup: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("real-time measures:"))
        .collect();
    assert_eq!(startup.len(), 1, "{text}");
    assert_eq!(
        *startup[0],
        "<6>real-time measures: applied: none; missing: none; not requested: mlockall, \
         pinned to CPU 1, SCHED_FIFO 99, /dev/cpu_dma_latency held at 0"
            .replace("CPU 1", &format!("CPU {}", default_cpu()))
    );
    assert!(lines.contains(&"<6>stopping"), "{text}");
}

#[test]
fn without_the_journal_lines_keep_their_timestamp() {
    let text = run(false);
    assert!(
        text.lines().all(|l| l.starts_with("[20")),
        "expected timestamped lines:\n{text}"
    );
}

/// The default RT CPU: 1, or 0 on a single-CPU machine (see `RtConfig::default`).
fn default_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2) - 1)
}
