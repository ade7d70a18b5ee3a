//! The RT thread's side of the host queues: takes host commands (at most a budget per loop
//! turn), applies each transaction between S7 jobs, answers reads, and publishes client
//! writes with their data. Never blocks, never allocates after [`Shared::new`] /
//! [`HostPort::new`], never locks: every queue is a pre-allocated `ArrayQueue`, every
//! counter an atomic.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use super::command::{parts, Command, Op, Reply, Slot, CHUNK};
use crate::events::WriteRef;
use crate::plc::{ItemError, Memory};
use crate::wire::var::Area;

/// Counters both sides update (all relaxed: they are statistics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) transactions: AtomicU64,
    pub(crate) writes_applied: AtomicU64,
    pub(crate) reads_answered: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) queue_full: AtomicU64,
    pub(crate) notified: AtomicU64,
    pub(crate) lagged: AtomicU64,
}

/// What the RT thread and every [`super::Host`] share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) commands: ArrayQueue<Command>,
    pub(crate) replies: ArrayQueue<Reply>,
    pub(crate) slots: ArrayQueue<Slot>,
    /// Client writes are published only while a [`super::Notifications`] exists.
    pub(crate) subscribed: AtomicBool,
    /// Sequence number the next published client write gets; stored after its slots are
    /// queued (Release), so a reader that loads it and then finds the queue empty knows
    /// every write below it was either read or dropped.
    pub(crate) next_seq: AtomicU64,
    /// False once the RT thread stopped serving: host calls fail instead of waiting.
    pub(crate) running: AtomicBool,
    pub(crate) counters: Counters,
    /// Largest transaction (commands) the RT thread can stage.
    pub(crate) max_batch: usize,
}

impl Shared {
    pub(crate) fn new(command_queue: usize, notify_queue: usize, max_batch: usize) -> Shared {
        let max_batch = max_batch.max(1);
        Shared {
            commands: ArrayQueue::new(command_queue.max(max_batch)),
            // One transaction's answers always fit.
            replies: ArrayQueue::new(max_batch),
            slots: ArrayQueue::new(notify_queue.max(1)),
            subscribed: AtomicBool::new(false),
            next_seq: AtomicU64::new(0),
            running: AtomicBool::new(true),
            counters: Counters::default(),
            max_batch,
        }
    }
}

/// The RT thread's end. Owned by the event loop.
#[derive(Debug)]
pub(crate) struct HostPort {
    shared: Arc<Shared>,
    staged: Box<[Command]>,
    staged_len: usize,
    /// The transaction being staged overflowed the staging area (a misbehaving producer):
    /// it is rejected when its last command arrives.
    overflow: bool,
    /// A complete transaction waits for room in the reply queue.
    waiting: bool,
    budget: usize,
    seq: u64,
}

impl HostPort {
    pub(crate) fn new(shared: Arc<Shared>, budget: usize) -> HostPort {
        let cap = shared.max_batch;
        HostPort {
            shared,
            staged: vec![Command::new(Op::Sync, Area::DataBlock, 0, 0); cap].into(),
            staged_len: 0,
            overflow: false,
            waiting: false,
            budget: budget.max(1),
            seq: 0,
        }
    }

    /// Tells waiting hosts that nothing will be answered any more.
    /// Nothing to serve: no transaction waiting for room in the reply queue and no command
    /// queued. Two loads, where an empty [`HostPort::serve`] pays a fenced `pop`; the loop
    /// checks this every turn (a command queued right after is served the next turn, as it
    /// would be after an empty `serve`).
    pub(crate) fn idle(&self) -> bool {
        !self.waiting && self.shared.commands.is_empty()
    }

    pub(crate) fn stopped(&self) {
        self.shared.running.store(false, Ordering::Release);
    }

    /// Takes at most `budget` commands and applies every transaction completed by them,
    /// calling `on_write` for each applied write (persistence). Returns the commands taken.
    ///
    /// Bound per call: `budget` pops plus the application of at most one staged transaction
    /// per completed one, each at most `max_batch` commands of [`CHUNK`] bytes.
    pub(crate) fn serve<M: Memory>(
        &mut self,
        mem: &mut M,
        on_write: &mut impl FnMut(&WriteRef<'_>),
    ) -> usize {
        if self.waiting && !self.execute(mem, on_write) {
            return 0;
        }
        let mut taken = 0;
        while taken < self.budget {
            let Some(cmd) = self.shared.commands.pop() else {
                break;
            };
            taken += 1;
            // A transaction's commands share one id; a different id means the previous
            // transaction was cut short (cannot happen with `Host`, which queues whole
            // transactions under its lock): drop the fragment.
            if self.staged_len > 0 && self.staged[0].id != cmd.id {
                self.reject_staged();
            }
            match self.staged.get_mut(self.staged_len) {
                Some(s) => {
                    *s = cmd;
                    self.staged_len += 1;
                }
                None => self.overflow = true,
            }
            if cmd.last && !self.execute(mem, on_write) {
                break; // its answers do not fit yet: the host drains them, retry next turn
            }
        }
        taken
    }

    fn reject_staged(&mut self) {
        let c = &self.shared.counters;
        c.rejected
            .fetch_add(self.staged_len as u64, Ordering::Relaxed);
        self.staged_len = 0;
        self.overflow = false;
    }

    /// Applies the staged transaction in order. False (nothing done) when its answers do
    /// not fit in the reply queue yet.
    fn execute<M: Memory>(
        &mut self,
        mem: &mut M,
        on_write: &mut impl FnMut(&WriteRef<'_>),
    ) -> bool {
        if self.overflow {
            self.reject_staged();
            self.waiting = false;
            return true;
        }
        let staged = self.staged.get(..self.staged_len).unwrap_or(&[]);
        let answers = staged
            .iter()
            .filter(|c| matches!(c.op, Op::Read | Op::Sync))
            .count();
        let replies = &self.shared.replies;
        if replies.capacity() - replies.len() < answers {
            self.waiting = true;
            return false;
        }
        self.waiting = false;
        let c = &self.shared.counters;
        for cmd in staged {
            match cmd.op {
                Op::Write | Op::WriteBit(_) => match apply(cmd, mem) {
                    Ok(w) => {
                        on_write(&w);
                        c.writes_applied.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        c.rejected.fetch_add(1, Ordering::Relaxed);
                    }
                },
                Op::Read | Op::Sync => {
                    let mut r = Reply {
                        id: cmd.id,
                        index: cmd.index,
                        result: Ok(()),
                        len: 0,
                        data: [0; CHUNK],
                    };
                    if cmd.op == Op::Read {
                        r.result = read(cmd, mem, &mut r.data);
                        r.len = cmd.len;
                        c.reads_answered.fetch_add(1, Ordering::Relaxed);
                    }
                    // Room was checked above and only this thread pushes.
                    let _ = replies.push(r);
                }
            }
        }
        self.staged_len = 0;
        c.transactions.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Publishes one client write to the subscribed host, whole or not at all: when its
    /// slots do not all fit, it is counted as lagged instead.
    pub(crate) fn publish(&mut self, w: &WriteRef<'_>) {
        let s = &self.shared;
        if !s.subscribed.load(Ordering::Relaxed) {
            return;
        }
        let seq = self.seq;
        self.seq += 1;
        let n = parts(w.data.len());
        // Only this thread pushes, so the free room can only grow while we push.
        if s.slots.capacity() - s.slots.len() < n {
            s.counters.lagged.fetch_add(1, Ordering::Relaxed);
        } else {
            let mut chunks = w.data.chunks(CHUNK);
            for part in 0..n {
                let chunk = chunks.next().unwrap_or(&[]);
                let mut slot = Slot {
                    seq,
                    part: part as u16,
                    conn: w.slot,
                    area: w.area,
                    // A DB number sent with a non-DB area means nothing there.
                    db: match w.area {
                        Area::DataBlock | Area::InstanceDataBlock => w.db,
                        _ => 0,
                    },
                    offset: w.offset as u32,
                    bit: w.bit,
                    total: w.data.len() as u16,
                    len: chunk.len() as u8,
                    data: [0; CHUNK],
                };
                if let Some(d) = slot.data.get_mut(..chunk.len()) {
                    d.copy_from_slice(chunk);
                }
                let _ = s.slots.push(slot);
            }
            s.counters.notified.fetch_add(1, Ordering::Relaxed);
        }
        s.next_seq.store(self.seq, Ordering::Release);
    }
}

fn apply<'a, M: Memory>(cmd: &'a Command, mem: &mut M) -> Result<WriteRef<'a>, ItemError> {
    let area = mem.owner_area_mut(cmd.area, cmd.db)?;
    let off = cmd.offset as usize;
    let n = usize::from(cmd.len);
    let data = cmd.data.get(..n).ok_or(ItemError::SizeMismatch)?;
    let bit = match cmd.op {
        Op::WriteBit(b) => {
            let byte = area.get_mut(off).ok_or(ItemError::OutOfRange)?;
            let mask = 1u8 << (b & 7);
            *byte = match data.first().is_some_and(|v| v & 1 != 0) {
                true => *byte | mask,
                false => *byte & !mask,
            };
            Some(b & 7)
        }
        _ => {
            area.get_mut(off..off + n)
                .ok_or(ItemError::OutOfRange)?
                .copy_from_slice(data);
            None
        }
    };
    Ok(WriteRef {
        slot: u16::MAX,
        area: cmd.area,
        db: cmd.db,
        offset: off,
        bit,
        data,
    })
}

fn read<M: Memory>(cmd: &Command, mem: &M, out: &mut [u8; CHUNK]) -> Result<(), ItemError> {
    let area = mem.area(cmd.area, cmd.db)?;
    let off = cmd.offset as usize;
    let n = usize::from(cmd.len);
    let src = area.get(off..off + n).ok_or(ItemError::OutOfRange)?;
    out.get_mut(..n)
        .ok_or(ItemError::SizeMismatch)?
        .copy_from_slice(src);
    Ok(())
}
