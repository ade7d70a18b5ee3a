//! Transactions: writes and reads applied together, between two S7 jobs.

use super::command::{Command, Op, CHUNK};
use super::{Host, HostError};
use crate::wire::var::Area;

/// Writes and reads applied together, between two S7 jobs, in the order given. Built on
/// the host side; [`Batch::commit`] queues it whole or not at all.
#[derive(Debug)]
pub struct Batch<'h> {
    pub(super) host: &'h Host,
    pub(super) cmds: Vec<Command>,
    /// Per read: (index of its first command, length).
    pub(super) reads: Vec<(usize, usize)>,
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
