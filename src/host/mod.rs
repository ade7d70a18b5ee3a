//! The embedding API for the host application: a [`Host`] handle to write and read the
//! process image, and [`Notifications`] of the writes S7 clients make, with their data.
//!
//! ```no_run
//! use s7rt::config::Config;
//! use s7rt::server::Server;
//! use s7rt::wire::var::Area;
//!
//! let server = Server::start(&Config::default())?;
//! let host = server.host();                        // Clone + Send: give one to each thread
//! host.write(Area::DataBlock, 1, 0, &21.5f32.to_be_bytes())?;
//! let mut b = host.batch();                        // applied between two S7 jobs, whole
//! b.write(Area::DataBlock, 1, 4, &[1, 2])?.write_bit(Area::Flags, 0, 10, 3, true)?;
//! b.commit()?;
//! let setpoint = host.read(Area::DataBlock, 1, 8, 4)?;
//! let mut notes = host.notifications()?;
//! while let Some(n) = notes.recv() {
//!     println!("{n:?}");                           // Write(ClientWrite { data, tags, .. }) or Lagged(n)
//! }
//! # let _ = setpoint;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How it reaches the RT thread: every call becomes one transaction of fixed-size commands
//! ([`CHUNK`] data bytes each) on a bounded lock-free queue. The RT thread takes at most
//! `[host] budget` commands per loop turn and applies a transaction only when it has all of
//! it, between two S7 jobs, so no client sees half of it; reads are answered on a second
//! queue, between jobs, so no read sees half of a multi-item client write. A full queue is
//! [`HostError::QueueFull`] (and a counter), never a wait for the RT thread. Client writes
//! come back in fixed-size slots on a third queue; a host that reads them too slowly is told
//! how many it missed ([`Notification::Lagged`]).
//!
//! The RT thread never blocks, allocates or locks for any of this. On the host side the
//! calls allocate and one lock orders the transactions of all clones of a handle (a read
//! holds it until its answer arrives, at most about one loop cycle).

mod batch;
mod command;
mod config;
mod error;
mod notify;
pub(crate) mod port;
pub(crate) mod sink;
mod typed;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use batch::Batch;
pub use command::CHUNK;
pub use config::HostConfig;
pub use error::HostError;
pub(crate) use notify::tag_names;
pub use notify::{ClientWrite, Notification, Notifications};

use command::{Command, Op, Reply};
use port::{HostPort, Shared};

use crate::plc::image::TIMER_COUNTER_LEN;
use crate::plc::ImageSpec;
use crate::wire::var::Area;

/// How long a read or [`Host::sync`] waits for the RT thread's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Finds the names of the tags a write touches: `(area, db, offset, len, bit)`.
pub type TagNames = Arc<dyn Fn(Area, u16, usize, usize, Option<u8>) -> Vec<String> + Send + Sync>;

/// Counters of the host traffic since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Transactions the RT thread applied.
    pub transactions: u64,
    /// Write commands applied.
    pub writes_applied: u64,
    /// Read commands answered.
    pub reads_answered: u64,
    /// Commands the RT thread refused (e.g. a deleted DB).
    pub rejected: u64,
    /// Transactions refused because the command queue was full.
    pub queue_full: u64,
    /// Client writes published to the notification receiver.
    pub notified: u64,
    /// Client writes not published because the notification queue was full.
    pub lagged: u64,
}

/// Sizes of the areas, to check addresses before anything is queued.
#[derive(Debug)]
struct Layout {
    dbs: Vec<(u16, usize)>,
    inputs: usize,
    outputs: usize,
    flags: usize,
    timers: usize,
    counters: usize,
}

impl Layout {
    fn size(&self, area: Area, db: u16) -> Result<usize, HostError> {
        let missing = HostError::NoSuchObject { area, db };
        Ok(match area {
            Area::DataBlock | Area::InstanceDataBlock => {
                match self.dbs.binary_search_by_key(&db, |d| d.0) {
                    Ok(i) => self.dbs.get(i).map_or(0, |d| d.1),
                    Err(_) => return Err(missing),
                }
            }
            Area::Inputs => self.inputs,
            Area::Outputs => self.outputs,
            Area::Flags => self.flags,
            Area::Timers => self.timers,
            Area::Counters => self.counters,
            Area::Peripheral | Area::Unknown(_) => return Err(missing),
        })
    }

    fn check(&self, area: Area, db: u16, offset: usize, len: usize) -> Result<(), HostError> {
        let size = self.size(area, db)?;
        match offset.checked_add(len) {
            Some(end) if end <= size && len > 0 => Ok(()),
            _ => Err(HostError::OutOfRange {
                area,
                db,
                offset,
                len,
                size,
            }),
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    layout: Layout,
    /// Orders whole transactions of every clone (host side only; the RT thread never
    /// takes it). Holds the next transaction id.
    order: Mutex<u32>,
    names: Option<TagNames>,
    /// The configured tags, for typed access by name.
    tags: Arc<crate::tags::TagTable>,
}

/// A handle to the running server's process image. `Clone`, `Send` and `Sync`.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Creates both ends (at start-up, before the RT thread runs).
pub(crate) fn pair(
    spec: &ImageSpec,
    limits: &HostConfig,
    names: Option<TagNames>,
    tags: Arc<crate::tags::TagTable>,
) -> (Host, HostPort) {
    let shared = Arc::new(Shared::new(
        limits.command_queue,
        limits.notify_queue,
        limits.max_batch,
    ));
    let mut dbs: Vec<(u16, usize)> = spec.dbs.iter().map(|d| (d.number, d.size)).collect();
    dbs.sort_unstable();
    let host = Host {
        inner: Arc::new(Inner {
            shared: shared.clone(),
            layout: Layout {
                dbs,
                inputs: spec.inputs,
                outputs: spec.outputs,
                flags: spec.flags,
                timers: spec.timers * TIMER_COUNTER_LEN,
                counters: spec.counters * TIMER_COUNTER_LEN,
            },
            order: Mutex::new(0),
            names,
            tags,
        }),
    };
    (host, HostPort::new(shared, limits.budget))
}

impl Host {
    /// Writes `data` at `offset` of the area (of DB `db` for DB/DI). Read-only DBs are
    /// read-only for clients only: the host may write them. Returns once queued; the RT
    /// thread applies it within its next loop turns (see [`Host::sync`]).
    pub fn write(&self, area: Area, db: u16, offset: usize, data: &[u8]) -> Result<(), HostError> {
        let mut b = self.batch();
        b.write(area, db, offset, data)?;
        b.commit().map(|_| ())
    }

    /// Sets or clears bit `bit` (0..=7) of byte `offset`; the other bits keep what the RT
    /// thread has at that moment.
    pub fn write_bit(
        &self,
        area: Area,
        db: u16,
        offset: usize,
        bit: u8,
        value: bool,
    ) -> Result<(), HostError> {
        let mut b = self.batch();
        b.write_bit(area, db, offset, bit, value)?;
        b.commit().map(|_| ())
    }

    /// Reads `len` bytes at `offset`, consistently (between two S7 jobs).
    pub fn read(
        &self,
        area: Area,
        db: u16,
        offset: usize,
        len: usize,
    ) -> Result<Vec<u8>, HostError> {
        let mut b = self.batch();
        b.read(area, db, offset, len)?;
        Ok(b.commit()?.into_iter().next().unwrap_or_default())
    }

    /// Reads bit `bit` of byte `offset`.
    pub fn read_bit(&self, area: Area, db: u16, offset: usize, bit: u8) -> Result<bool, HostError> {
        if bit > 7 {
            return Err(HostError::BadBit(bit));
        }
        let v = self.read(area, db, offset, 1)?;
        Ok(v.first().is_some_and(|b| b & (1 << bit) != 0))
    }

    /// Starts a batch: writes and reads applied together between two S7 jobs, in order.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            host: self,
            cmds: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// Waits until the RT thread has applied everything this handle (and its clones)
    /// queued before the call. Reads and `sync` wait for room in a full queue (up to their
    /// timeout) instead of failing; writes fail at once with [`HostError::QueueFull`].
    pub fn sync(&self) -> Result<(), HostError> {
        let mut cmds = vec![Command::new(Op::Sync, Area::DataBlock, 0, 0)];
        self.submit(&mut cmds, 1).map(|_| ())
    }

    /// The receiver of client writes. One at a time: a second call while the first
    /// receiver lives is [`HostError::AlreadySubscribed`]. Writes are published only while
    /// it exists.
    pub fn notifications(&self) -> Result<Notifications, HostError> {
        Notifications::subscribe(self.inner.shared.clone(), self.inner.names.clone())
            .ok_or(HostError::AlreadySubscribed)
    }

    /// Counters of the host traffic.
    pub fn stats(&self) -> HostStats {
        let c = &self.inner.shared.counters;
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        HostStats {
            transactions: l(&c.transactions),
            writes_applied: l(&c.writes_applied),
            reads_answered: l(&c.reads_answered),
            rejected: l(&c.rejected),
            queue_full: l(&c.queue_full),
            notified: l(&c.notified),
            lagged: l(&c.lagged),
        }
    }

    /// Marks the server stopped (the RT thread ended, however it ended): waiting calls
    /// return [`HostError::Stopped`].
    pub(crate) fn mark_stopped(&self) {
        self.inner.shared.running.store(false, Ordering::Release);
    }

    /// True while the RT thread serves.
    pub fn is_running(&self) -> bool {
        self.inner.shared.running.load(Ordering::Acquire)
    }

    /// Queues `cmds` as one transaction and waits for `answers` replies (reads, sync).
    fn submit(&self, cmds: &mut [Command], answers: usize) -> Result<Vec<Reply>, HostError> {
        let s = &self.inner.shared;
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        if cmds.len() > s.max_batch {
            return Err(HostError::BatchTooLarge {
                commands: cmds.len(),
                max: s.max_batch,
            });
        }
        // A panic elsewhere while holding the lock leaves nothing half-done that matters.
        let mut next_id = self.inner.order.lock().unwrap_or_else(|e| e.into_inner());
        if !s.running.load(Ordering::Acquire) {
            return Err(HostError::Stopped);
        }
        let id = *next_id;
        *next_id = next_id.wrapping_add(1);
        // Answers of an earlier transaction that timed out.
        while s.replies.pop().is_some() {}
        // Only lock holders push and the RT thread only pops, so this much room stays.
        // Calls that wait for an answer anyway (reads, sync) also wait for room.
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let free = s.commands.capacity() - s.commands.len();
            if free >= cmds.len() {
                break;
            }
            if answers == 0 {
                s.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                return Err(HostError::QueueFull {
                    needed: cmds.len(),
                    free,
                });
            }
            if !s.running.load(Ordering::Acquire) {
                return Err(HostError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(HostError::Timeout);
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let n = cmds.len();
        for (i, c) in cmds.iter_mut().enumerate() {
            c.id = id;
            c.last = i + 1 == n;
            if s.commands.push(*c).is_err() {
                // Cannot happen (room checked under the lock); the RT thread drops the
                // fragment when the next transaction's id arrives.
                s.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                return Err(HostError::QueueFull { needed: n, free: 0 });
            }
        }
        if answers == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(answers);
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut spins = 0u32;
        loop {
            while let Some(r) = s.replies.pop() {
                if r.id == id {
                    out.push(r);
                }
            }
            if out.len() >= answers {
                return Ok(out);
            }
            if !s.running.load(Ordering::Acquire) {
                return Err(HostError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(HostError::Timeout);
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }
}
