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

mod command;
mod notify;
pub(crate) mod port;
pub(crate) mod sink;
mod typed;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use command::CHUNK;
pub(crate) use notify::tag_names;
pub use notify::{ClientWrite, Notification, Notifications};

use command::{Command, Op, Reply};
use port::{HostPort, Shared};

use crate::plc::image::TIMER_COUNTER_LEN;
use crate::plc::{ImageSpec, ItemError};
use crate::wire::var::Area;

/// How long a read or [`Host::sync`] waits for the RT thread's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Finds the names of the tags a write touches: `(area, db, offset, len, bit)`.
pub type TagNames = Arc<dyn Fn(Area, u16, usize, usize, Option<u8>) -> Vec<String> + Send + Sync>;

/// `[host]` in the configuration: queue sizes and the RT thread's per-turn budget.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Host → RT commands the queue holds.
    pub command_queue: usize,
    /// RT → host notification slots the queue holds.
    pub notify_queue: usize,
    /// Commands the RT thread takes per loop turn.
    pub budget: usize,
    /// Commands one transaction may have (a batch, or one large write or read).
    pub max_batch: usize,
    /// Control socket path (see `crate::ctl`): unset, the default
    /// `/run/s7rtd/s7rtd.sock`; empty, no socket.
    pub socket: Option<std::path::PathBuf>,
    /// Control socket clients served at once.
    pub socket_clients: usize,
}

impl HostConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v, range) in [
            ("host.command_queue", self.command_queue, 1..=1_048_576),
            ("host.notify_queue", self.notify_queue, 1..=1_048_576),
            ("host.budget", self.budget, 1..=65_536),
            ("host.max_batch", self.max_batch, 1..=4096),
            ("host.socket_clients", self.socket_clients, 1..=1024),
        ] {
            if !range.contains(&v) {
                return Err(format!(
                    "config key `{key}`: {v} is outside {}..={}",
                    range.start(),
                    range.end()
                ));
            }
        }
        if self.max_batch > self.command_queue {
            return Err(format!(
                "config key `host.max_batch`: {} exceeds host.command_queue = {} (a batch must fit the queue)",
                self.max_batch, self.command_queue
            ));
        }
        Ok(())
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            command_queue: 1024,
            notify_queue: 1024,
            budget: 64,
            max_batch: 256,
            socket: None,
            socket_clients: 16,
        }
    }
}

/// Why a host call did not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// No such area, or no such DB.
    NoSuchObject {
        /// The area asked for.
        area: Area,
        /// The DB asked for (DB/DI).
        db: u16,
    },
    /// The range does not lie inside the area.
    OutOfRange {
        /// The area asked for.
        area: Area,
        /// The DB asked for (DB/DI).
        db: u16,
        /// First byte asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Size of the area.
        size: usize,
    },
    /// A bit number above 7.
    BadBit(u8),
    /// The command queue has no room for the transaction: nothing of it was queued.
    QueueFull {
        /// Commands the transaction needs.
        needed: usize,
        /// Free places in the queue.
        free: usize,
    },
    /// The transaction has more commands than `[host] max_batch`.
    BatchTooLarge {
        /// Commands the transaction needs.
        commands: usize,
        /// The limit.
        max: usize,
    },
    /// The RT thread refused the access (e.g. a client deleted the DB).
    Refused(ItemError),
    /// The RT thread did not answer within the timeout.
    Timeout,
    /// The server has stopped.
    Stopped,
    /// Another [`Notifications`] receiver exists.
    AlreadySubscribed,
    /// The tag name or address does not resolve (typed access).
    Tag(crate::tags::ResolveError),
    /// The value does not suit the tag's type, or the bytes read are no valid value.
    Value(crate::tags::ValueError),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NoSuchObject { area, db } => match area {
                Area::DataBlock | Area::InstanceDataBlock => write!(f, "DB{db} does not exist"),
                _ => write!(f, "area {area:?} does not exist"),
            },
            HostError::OutOfRange {
                area,
                db,
                offset,
                len,
                size,
            } => write!(
                f,
                "{len} bytes at offset {offset} do not fit {} ({size} bytes)",
                AreaName(*area, *db)
            ),
            HostError::BadBit(b) => write!(f, "bit {b} is not 0..=7"),
            HostError::QueueFull { needed, free } => write!(
                f,
                "host command queue full ({needed} commands needed, {free} free): retry later or raise [host] command_queue"
            ),
            HostError::BatchTooLarge { commands, max } => write!(
                f,
                "transaction of {commands} commands exceeds [host] max_batch = {max}"
            ),
            HostError::Refused(e) => write!(f, "refused by the server: {e:?}"),
            HostError::Timeout => write!(f, "the server did not answer in time"),
            HostError::Stopped => write!(f, "the server has stopped"),
            HostError::AlreadySubscribed => {
                write!(f, "another receiver of client-write notifications exists")
            }
            HostError::Tag(e) => write!(f, "{e}"),
            HostError::Value(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HostError {}

struct AreaName(Area, u16);

impl std::fmt::Display for AreaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Area::DataBlock | Area::InstanceDataBlock => write!(f, "DB{}", self.1),
            Area::Inputs => f.write_str("inputs"),
            Area::Outputs => f.write_str("outputs"),
            Area::Flags => f.write_str("flags"),
            Area::Timers => f.write_str("timers"),
            Area::Counters => f.write_str("counters"),
            a => write!(f, "{a:?}"),
        }
    }
}

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

/// Writes and reads applied together, between two S7 jobs, in the order given. Built on
/// the host side; [`Batch::commit`] queues it whole or not at all.
#[derive(Debug)]
pub struct Batch<'h> {
    host: &'h Host,
    cmds: Vec<Command>,
    /// Per read: (index of its first command, length).
    reads: Vec<(usize, usize)>,
}

impl Batch<'_> {
    /// Adds a write of `data` at `offset` (see [`Host::write`]).
    pub fn write(
        &mut self,
        area: Area,
        db: u16,
        offset: usize,
        data: &[u8],
    ) -> Result<&mut Self, HostError> {
        self.host.inner.layout.check(area, db, offset, data.len())?;
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            let mut c = Command::new(Op::Write, area, db, (offset + i * CHUNK) as u32);
            c.len = chunk.len() as u8;
            if let Some(d) = c.data.get_mut(..chunk.len()) {
                d.copy_from_slice(chunk);
            }
            self.cmds.push(c);
        }
        Ok(self)
    }

    /// Adds a bit write (see [`Host::write_bit`]).
    pub fn write_bit(
        &mut self,
        area: Area,
        db: u16,
        offset: usize,
        bit: u8,
        value: bool,
    ) -> Result<&mut Self, HostError> {
        if bit > 7 {
            return Err(HostError::BadBit(bit));
        }
        self.host.inner.layout.check(area, db, offset, 1)?;
        let mut c = Command::new(Op::WriteBit(bit), area, db, offset as u32);
        c.len = 1;
        c.data[0] = u8::from(value);
        self.cmds.push(c);
        Ok(self)
    }

    /// Adds a read of `len` bytes; [`Batch::commit`] returns the reads' data in the order
    /// they were added. A read sees the batch's earlier writes.
    pub fn read(
        &mut self,
        area: Area,
        db: u16,
        offset: usize,
        len: usize,
    ) -> Result<&mut Self, HostError> {
        self.host.inner.layout.check(area, db, offset, len)?;
        self.reads.push((self.cmds.len(), len));
        let mut at = 0;
        while at < len {
            let n = (len - at).min(CHUNK);
            let mut c = Command::new(Op::Read, area, db, (offset + at) as u32);
            c.len = n as u8;
            self.cmds.push(c);
            at += n;
        }
        Ok(self)
    }

    /// Commands the batch holds so far (its size against `[host] max_batch`).
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Queues the batch whole (or nothing of it, with the error) and, when it holds reads,
    /// waits for their data.
    pub fn commit(mut self) -> Result<Vec<Vec<u8>>, HostError> {
        let mut answers = 0;
        for (i, c) in self.cmds.iter_mut().enumerate() {
            if c.op == Op::Read {
                c.index = i as u16;
                answers += 1;
            }
        }
        let mut replies = self.host.submit(&mut self.cmds, answers)?;
        replies.sort_unstable_by_key(|r| r.index);
        let mut out = Vec::with_capacity(self.reads.len());
        let mut it = replies.iter().peekable();
        for &(first, len) in &self.reads {
            let mut v = Vec::with_capacity(len);
            while let Some(r) = it.next_if(|r| usize::from(r.index) >= first && v.len() < len) {
                r.result.map_err(HostError::Refused)?;
                v.extend_from_slice(r.data.get(..usize::from(r.len)).unwrap_or(&[]));
            }
            out.push(v);
        }
        Ok(out)
    }
}
