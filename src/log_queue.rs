//! The log stream's writer: formatted lines go into a bounded queue that one dedicated thread
//! writes out, so no other thread ever waits for the log stream.
//!
//! A log stream can block for good: a pipe nobody reads (`s7rtd 2>&1 | sleep 60`), a stalled
//! journald. Writing to it directly, the thread that logs blocks in `write(2)` while holding
//! the stream's lock, and every other thread that logs waits for that lock; a stop request
//! that logs before it acts then never acts. Here [`LogQueue`] (the logger's target) only
//! pushes a line, or drops and counts it when the queue is full; the writer thread alone
//! may block. When it can write again it first says how many lines were lost. The stream's
//! file description is left as it is (no `O_NONBLOCK`: it is shared with other processes).

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines the queue holds by default.
pub const DEFAULT_LINES: usize = 4096;

#[derive(Debug, Default)]
struct Counts {
    /// Lines accepted into the queue.
    queued: AtomicU64,
    /// Lines the writer finished with (written, or failed to write).
    done: AtomicU64,
    /// Lines dropped: the queue was full, or writing failed.
    dropped: AtomicU64,
}

/// The logging side: a `Write` whose every `write` call is one record, queued whole or
/// dropped, never waited for. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogQueue {
    tx: SyncSender<Vec<u8>>,
    counts: Arc<Counts>,
}

/// Reads the writer's counters and waits for it at exit.
#[derive(Debug, Clone)]
pub struct LogStats {
    counts: Arc<Counts>,
}

/// Starts the writer thread over `out`; the queue holds `lines` lines.
pub fn spawn<W: Write + Send + 'static>(out: W, lines: usize) -> io::Result<(LogQueue, LogStats)> {
    let (tx, rx) = mpsc::sync_channel(lines.max(1));
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    std::thread::Builder::new()
        .name("s7rt-log".into())
        .spawn(move || write_lines(out, rx, &c))?;
    Ok((
        LogQueue {
            tx,
            counts: counts.clone(),
        },
        LogStats { counts },
    ))
}

fn write_lines<W: Write>(mut out: W, rx: Receiver<Vec<u8>>, counts: &Counts) {
    let mut reported = 0;
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let dropped = counts.dropped.load(Ordering::Relaxed);
        if dropped != reported {
            let note = format!(
                "s7rtd: {} log line(s) dropped: the log stream was not taking them\n",
                dropped - reported
            );
            if out
                .write_all(note.as_bytes())
                .and_then(|()| out.flush())
                .is_ok()
            {
                reported = dropped;
            }
        }
        if let Some(line) = line {
            if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
            counts.done.fetch_add(1, Ordering::Release);
        }
    }
}

impl Write for LogQueue {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tx.try_send(buf.to_vec()) {
            Ok(()) => {
                self.counts.queued.fetch_add(1, Ordering::Release);
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogStats {
    /// Lines lost so far (queue full or stream failing).
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Lines queued and not yet written.
    pub fn pending(&self) -> u64 {
        let queued = self.counts.queued.load(Ordering::Acquire);
        queued.saturating_sub(self.counts.done.load(Ordering::Acquire))
    }

    /// Waits until every queued line is written, or until the writer has made no progress for
    /// `stall` (the stream is blocked: what is left is lost). Returns the lines left unwritten.
    pub fn drain(&self, stall: Duration) -> u64 {
        let mut done = self.counts.done.load(Ordering::Acquire);
        let mut progress = Instant::now();
        loop {
            let pending = self.pending();
            if pending == 0 || progress.elapsed() >= stall {
                return pending;
            }
            std::thread::sleep(Duration::from_millis(2));
            let now_done = self.counts.done.load(Ordering::Acquire);
            if now_done != done {
                done = now_done;
                progress = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Read;

    use super::*;

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (File::from(r), File::from(w))
    }

    #[test]
    fn lines_reach_the_stream_in_order() {
        let (r, w) = pipe();
        let (mut q, stats) = spawn(w, 16).unwrap();
        for i in 0..10 {
            q.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        assert_eq!(stats.drain(Duration::from_secs(5)), 0);
        drop(q);
        let mut text = String::new();
        let mut r = r;
        let mut buf = [0u8; 4096];
        while !text.ends_with("line 9\n") {
            let n = r.read(&mut buf).unwrap();
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        let want: String = (0..10).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, want);
        assert_eq!(stats.dropped(), 0);
    }

    #[test]
    fn a_blocked_pipe_drops_and_counts_without_blocking_the_logger_then_says_so() {
        let (mut r, w) = pipe();
        let (mut q, stats) = spawn(w, 8).unwrap();
        // Far more than the pipe (64 KiB) and the queue (8 lines) hold together; nobody reads.
        let mut line = [b'x'; 1024];
        line[1023] = b'\n';
        let mut slowest = Duration::ZERO;
        for _ in 0..300 {
            // Paced, so the writer takes lines until the pipe is full and it blocks.
            std::thread::sleep(Duration::from_micros(200));
            let t0 = Instant::now();
            q.write_all(&line).unwrap();
            slowest = slowest.max(t0.elapsed());
        }
        // 300 KiB into a 64 KiB pipe plus an 8-line queue: the logger never waited (a blocking
        // write would not have returned at all), the excess was dropped and counted.
        assert!(slowest < Duration::from_secs(1), "{slowest:?}");
        assert!(
            stats.dropped() >= 300 - 64 - 8 - 1,
            "dropped {}",
            stats.dropped()
        );
        // The writer is stuck in write(2): draining gives up after the stall time.
        assert!(stats.drain(Duration::from_millis(200)) > 0);
        // A reader appears: the backlog flows and the loss is reported in the stream.
        let dropped = stats.dropped();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = r.read(&mut buf).unwrap();
                all.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&all).contains("log line(s) dropped") {
                    return String::from_utf8_lossy(&all).into_owned();
                }
            }
        });
        q.write_all(b"after\n").unwrap();
        let text = reader.join().unwrap();
        let note = text
            .split_once("s7rtd: ")
            .and_then(|(_, l)| l.split_once(" log line(s) dropped"))
            .map(|(n, _)| n.parse::<u64>().unwrap());
        // The note counts at least the drops seen before the reader came.
        assert!(note.is_some_and(|n| n >= dropped), "{note:?} < {dropped}");
    }
}
