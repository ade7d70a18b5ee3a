//! The snapshot writer: a thread of its own at ordinary priority. It takes full shadows
//! from the RT thread, writes each as the next generation (temp file, fsync, rename,
//! directory fsync) and gives the buffer back. It never logs (a stalled stderr must not
//! stall snapshots or the stop): it leaves messages in [`Status`] for housekeeping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::file;
use super::snapshot::{Exchange, Shadow, Snapshotter};
use super::{copy_all, Settings, Status};
use crate::plc::Memory;

/// How often the writer looks for a full shadow.
const POLL: Duration = Duration::from_millis(2);
/// At most one "slow disk" warning this often.
const SLOW_WARNING_EVERY: Duration = Duration::from_secs(60);

/// The non-RT side of persistence, owned by the server.
#[derive(Debug)]
pub(crate) struct Persistence {
    settings: Arc<Settings>,
    status: Arc<Status>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Persistence {
    /// Allocates the two shadows, starts the writer thread and returns the RT side.
    /// `newest_seen` is the highest generation any file in the directory names.
    pub(crate) fn start(
        settings: Settings,
        newest_seen: u64,
    ) -> std::io::Result<(Persistence, Snapshotter)> {
        let total = settings.regions.iter().map(|r| r.len).sum();
        let exchange = Arc::new(Exchange::new(total));
        let status = Arc::new(Status::default());
        status.generation.store(newest_seen, Ordering::Relaxed);
        let settings = Arc::new(settings);
        let stop = Arc::new(AtomicBool::new(false));
        let snapshotter = Snapshotter::new(
            settings.regions.clone(),
            settings.copy_per_cycle,
            settings.interval / 2,
            newest_seen,
            exchange.clone(),
        );
        let thread = {
            let (settings, status, stop) = (settings.clone(), status.clone(), stop.clone());
            std::thread::Builder::new()
                .name("s7rt-persist".into())
                .spawn(move || run(&settings, &exchange, &status, &stop))?
        };
        Ok((
            Persistence {
                settings,
                status,
                stop,
                thread: Some(thread),
            },
            snapshotter,
        ))
    }

    /// Messages and counters for housekeeping.
    pub(crate) fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// After the RT thread ended: lets the writer finish what the loop handed over, then
    /// writes the final snapshot of `mem` on this thread. Returns its path.
    pub(crate) fn finish<M: Memory>(&mut self, mem: &M) -> Result<PathBuf, String> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = &self.settings;
        let prev = self.status.generation.load(Ordering::Relaxed);
        let g = prev + 1;
        let bytes = file::encode(
            g,
            crate::plc::Now::read().wall_ms(),
            &s.regions,
            &copy_all(&s.regions, mem),
        );
        match file::write_generation(&s.dir, g, &bytes, prev) {
            Ok(p) => {
                self.status.generation.store(g, Ordering::Relaxed);
                self.status.written.fetch_add(1, Ordering::Relaxed);
                Ok(p)
            }
            Err(e) => {
                self.status.failed.fetch_add(1, Ordering::Relaxed);
                Err(format!("final snapshot to {} failed: {e}", s.dir.display()))
            }
        }
    }
}

impl Drop for Persistence {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(s: &Settings, x: &Exchange, status: &Status, stop: &AtomicBool) {
    let mut failing = false;
    let mut slow_warned: Option<Instant> = None;
    loop {
        // Checked before looking for work, so a shadow handed over before the stop is
        // still written.
        let stopping = stop.load(Ordering::Acquire);
        // The newest full shadow; older ones are stale (the disk was slow): skip them.
        let mut newest: Option<Box<Shadow>> = None;
        while let Some(s) = x.full.pop() {
            if let Some(old) = newest.take_if(|n| n.generation < s.generation) {
                let _ = x.empty.push(old);
            }
            match newest {
                Some(_) => {
                    let _ = x.empty.push(s);
                }
                None => newest = Some(s),
            }
        }
        let Some(shadow) = newest else {
            if stopping {
                return;
            }
            std::thread::sleep(POLL);
            continue;
        };
        let started = Instant::now();
        match write(s, &shadow, status) {
            Ok(()) => {
                if failing {
                    status.say(
                        log::Level::Info,
                        format!("snapshots are written to {} again", s.dir.display()),
                    );
                    failing = false;
                }
                let took = started.elapsed();
                if took > s.interval / 4
                    && slow_warned.is_none_or(|t| t.elapsed() > SLOW_WARNING_EVERY)
                {
                    status.say(
                        log::Level::Warn,
                        format!(
                            "writing a snapshot to {} took {} ms, more than a quarter of [persist] interval_ms = {}: writes may reach the disk later than one interval after their acknowledgement (slow disk or fsync contention)",
                            s.dir.display(),
                            took.as_millis(),
                            s.interval.as_millis()
                        ),
                    );
                    slow_warned = Some(Instant::now());
                }
            }
            Err(e) => {
                status.failed.fetch_add(1, Ordering::Relaxed);
                x.retry.store(true, Ordering::Relaxed);
                if !failing {
                    status.say(
                        log::Level::Error,
                        format!(
                            "snapshot generation {} to {} failed: {e} (retrying every snapshot period)",
                            shadow.generation,
                            s.dir.display()
                        ),
                    );
                    failing = true;
                }
            }
        }
        // As many places as buffers: this cannot fail.
        let _ = x.empty.push(shadow);
    }
}

fn write(s: &Settings, shadow: &Shadow, status: &Status) -> std::io::Result<()> {
    let prev = status.generation.load(Ordering::Relaxed);
    // A failed write's generation number is reused by the next one.
    let g = shadow.generation.max(prev + 1);
    let bytes = file::encode(g, shadow.wall_ms, &s.regions, &shadow.data);
    file::write_generation(&s.dir, g, &bytes, prev)?;
    status.generation.store(g, Ordering::Relaxed);
    status.written.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
