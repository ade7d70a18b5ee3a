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

/// Ends the line that reports lost lines (after "s7rtd: N").
const NOTE_TAIL: &str = " log line(s) dropped: the log stream was not taking them";

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
            let note = format!("s7rtd: {}{NOTE_TAIL}\n", dropped - reported);
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
    use std::sync::{Condvar, Mutex};

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

    /// What a [`Gate`] holds: whether it is open, and what was written through it.
    type GateState = (Mutex<(bool, Vec<u8>)>, Condvar);

    /// A stream that blocks every write until the test opens it: a pipe nobody reads, without
    /// depending on when the writer thread gets to run (it may not run at all for a while on a
    /// loaded machine, and then a real pipe never fills).
    #[derive(Clone, Default)]
    struct Gate {
        state: Arc<GateState>,
    }

    impl Gate {
        fn open(&self) {
            self.state.0.lock().unwrap().0 = true;
            self.state.1.notify_all();
        }

        /// Waits until what was written satisfies `done`; fails after 10 s.
        fn wait_until(&self, done: impl Fn(&str) -> bool) {
            let (m, cv) = &*self.state;
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut g = m.lock().unwrap();
            loop {
                let text = String::from_utf8_lossy(&g.1).into_owned();
                if done(&text) {
                    return;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "gave up waiting; written: {text:?}");
                g = cv.wait_timeout(g, left).unwrap().0;
            }
        }
    }

    /// The lines the notes in `text` say were dropped, all notes together.
    fn noted(text: &str) -> u64 {
        text.lines()
            .filter_map(|l| l.strip_prefix("s7rtd: ")?.strip_suffix(NOTE_TAIL))
            .map(|n| n.parse::<u64>().unwrap())
            .sum()
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (m, cv) = &*self.state;
            let mut g = m.lock().unwrap();
            while !g.0 {
                g = cv.wait(g).unwrap();
            }
            g.1.extend_from_slice(buf);
            cv.notify_all();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_stream_drops_and_counts_without_blocking_the_logger_then_says_so() {
        let gate = Gate::default();
        let (mut q, stats) = spawn(gate.clone(), 8).unwrap();
        let mut slowest = Duration::ZERO;
        for i in 0..300 {
            let t0 = Instant::now();
            q.write_all(format!("line {i}\n").as_bytes()).unwrap();
            slowest = slowest.max(t0.elapsed());
        }
        // The stream takes nothing: at most the 8 queued lines and the one the writer holds
        // were accepted, the rest dropped and counted, and the logger never waited (a blocking
        // write would not have returned at all).
        assert!(slowest < Duration::from_secs(1), "{slowest:?}");
        assert!(
            stats.dropped() >= 300 - 8 - 1,
            "dropped {}",
            stats.dropped()
        );
        // The writer is stuck in its write: draining gives up after the stall time.
        assert!(stats.drain(Duration::from_millis(200)) > 0);
        // The stream takes lines again: the backlog flows and the loss is reported in it.
        let dropped = stats.dropped();
        gate.open();
        q.write_all(b"after\n").unwrap();
        // The writer may have written a note before the last drops (it took its first line
        // while the 300 were being sent), so the notes together carry the count.
        gate.wait_until(|t| noted(t) >= dropped);
    }
}
