//! The fixed-size records that cross between the host application and the RT thread.
//!
//! Every record is `Copy` and of one size, so the queues holding them are allocated once and
//! moving a record through them never allocates. Data larger than [`CHUNK`] bytes is split
//! into several records of one transaction (host → RT) or one notification (RT → host).

use crate::plc::ItemError;
use crate::wire::var::Area;

/// Data bytes one record carries.
pub const CHUNK: usize = 64;

/// What a host command asks of the RT thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Copy `data[..len]` to the address.
    Write,
    /// Set (data[0] & 1 == 1) or clear bit `n` of the addressed byte.
    WriteBit(u8),
    /// Answer with `len` bytes from the address.
    Read,
    /// Answer once everything queued before it has been applied.
    Sync,
}

/// One host → RT command. The commands of one transaction are queued back to back; the RT
/// thread stages them and applies them together when it takes the one marked `last`, so
/// no S7 job runs between them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Command {
    pub(crate) op: Op,
    pub(crate) area: Area,
    pub(crate) db: u16,
    pub(crate) offset: u32,
    pub(crate) len: u8,
    /// Closes its transaction.
    pub(crate) last: bool,
    /// Transaction id (replies carry it).
    pub(crate) id: u32,
    /// Position of a read within its transaction (replies carry it).
    pub(crate) index: u16,
    pub(crate) data: [u8; CHUNK],
}

impl Command {
    pub(crate) fn new(op: Op, area: Area, db: u16, offset: u32) -> Command {
        Command {
            op,
            area,
            db,
            offset,
            len: 0,
            last: false,
            id: 0,
            index: 0,
            data: [0; CHUNK],
        }
    }
}

/// One RT → host answer to a read or a sync.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) id: u32,
    pub(crate) index: u16,
    pub(crate) result: Result<(), ItemError>,
    pub(crate) len: u8,
    pub(crate) data: [u8; CHUNK],
}

/// One RT → host slot of a client-write notification. A write of more than [`CHUNK`]
/// bytes fills several consecutive slots with the same `seq`; `part` counts them from 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) seq: u64,
    pub(crate) part: u16,
    pub(crate) conn: u16,
    pub(crate) area: Area,
    pub(crate) db: u16,
    pub(crate) offset: u32,
    pub(crate) bit: Option<u8>,
    /// Bytes of the whole write.
    pub(crate) total: u16,
    pub(crate) len: u8,
    pub(crate) data: [u8; CHUNK],
}

/// Slots a write of `len` bytes takes (at least one).
pub(crate) fn parts(len: usize) -> usize {
    len.div_ceil(CHUNK).max(1)
}
