//! The host's end of the client-write notifications: reassembles the fixed-size slots the
//! RT thread queued into whole writes, looks up the tags they touch, and reports writes it
//! missed because it read too slowly ("lagged N").

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::Slot;
use super::port::Shared;
use super::TagNames;
use crate::tags::TagTable;
use crate::wire::var::Area;

/// One write an S7 client made, with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientWrite {
    /// Sequence number: consecutive while nothing is lost.
    pub seq: u64,
    /// Connection slot of the client.
    pub conn: u16,
    /// Area written (DI for an instance-DB address, which reaches the same DBs).
    pub area: Area,
    /// DB number (DB/DI only; 0 otherwise).
    pub db: u16,
    /// First byte written.
    pub offset: usize,
    /// Bit number for a bit write (then `data` is one byte, bit 0 the value).
    pub bit: Option<u8>,
    /// The bytes the client wrote.
    pub data: Vec<u8>,
    /// Names of the configured tags the write touches (empty without tags).
    pub tags: Vec<String>,
}

/// What [`Notifications`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A client write.
    Write(ClientWrite),
    /// This many client writes were not delivered: the queue was full because the host
    /// read too slowly. Later writes follow normally.
    Lagged(u64),
}

/// The receiving end of client-write notifications (one at a time per server; dropping it
/// stops the RT thread from publishing).
pub struct Notifications {
    shared: Arc<Shared>,
    expected: u64,
    /// A slot taken while reporting a gap, handed out next.
    held: Option<Slot>,
    building: Option<ClientWrite>,
    names: Option<TagNames>,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Notifications {
    pub(crate) fn subscribe(shared: Arc<Shared>, names: Option<TagNames>) -> Option<Self> {
        if shared
            .subscribed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        // Slots left from an earlier subscriber are older than this sequence number and
        // skipped when met.
        let expected = shared.next_seq.load(Ordering::Acquire);
        Some(Notifications {
            shared,
            expected,
            held: None,
            building: None,
            names,
        })
    }

    /// The next notification, if one is ready.
    pub fn try_recv(&mut self) -> Option<Notification> {
        // Loaded before looking at the queue: every write below it was queued before.
        let published = self.shared.next_seq.load(Ordering::Acquire);
        loop {
            let Some(slot) = self.held.take().or_else(|| self.shared.slots.pop()) else {
                if self.building.is_none() && published > self.expected {
                    let lost = published - self.expected;
                    self.expected = published;
                    return Some(Notification::Lagged(lost));
                }
                return None; // (the rest of a write being built is still being queued)
            };
            if slot.seq < self.expected {
                continue; // left over from an earlier subscriber
            }
            if slot.part == 0 {
                if slot.seq > self.expected {
                    let lost = slot.seq - self.expected;
                    self.expected = slot.seq;
                    self.building = None;
                    self.held = Some(slot);
                    return Some(Notification::Lagged(lost));
                }
                self.building = Some(ClientWrite {
                    seq: slot.seq,
                    conn: slot.conn,
                    area: slot.area,
                    db: slot.db,
                    offset: slot.offset as usize,
                    bit: slot.bit,
                    data: Vec::with_capacity(usize::from(slot.total)),
                    tags: Vec::new(),
                });
            }
            let Some(w) = self.building.as_mut().filter(|w| w.seq == slot.seq) else {
                continue; // a continuation without its start (cannot happen: whole or none)
            };
            w.data
                .extend_from_slice(slot.data.get(..usize::from(slot.len)).unwrap_or(&[]));
            if w.data.len() >= usize::from(slot.total) {
                let mut w = self.building.take()?;
                self.expected = w.seq + 1;
                if let Some(names) = &self.names {
                    let len = if w.bit.is_some() { 1 } else { w.data.len() };
                    w.tags = names(w.area, w.db, w.offset, len, w.bit);
                }
                return Some(Notification::Write(w));
            }
        }
    }

    /// Waits up to `timeout` for the next notification (polling every 50 µs).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Notification> {
        let deadline = Instant::now() + timeout;
        let mut spins = 0u32;
        loop {
            if let Some(n) = self.try_recv() {
                return Some(n);
            }
            if Instant::now() >= deadline {
                return None;
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Waits for the next notification; `None` once the server has stopped and everything
    /// queued was read.
    pub fn recv(&mut self) -> Option<Notification> {
        loop {
            if let Some(n) = self.recv_timeout(Duration::from_millis(100)) {
                return Some(n);
            }
            if !self.shared.running.load(Ordering::Acquire) {
                return self.try_recv();
            }
        }
    }
}

impl Iterator for Notifications {
    type Item = Notification;
    fn next(&mut self) -> Option<Notification> {
        self.recv()
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.shared.subscribed.store(false, Ordering::Release);
    }
}

/// The host API's lookup of the tags a client write touches (`None` without tags, so
/// notifications carry no names and cost no lookup).
pub(crate) fn tag_names(tags: &Arc<TagTable>) -> Option<TagNames> {
    if tags.is_empty() {
        return None;
    }
    let tags = tags.clone();
    Some(Arc::new(move |area, db, offset, len, bit| {
        u32::try_from(offset)
            .map(|o| {
                tags.covering(area, db, o, len, bit)
                    .map(|t| t.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }))
}
