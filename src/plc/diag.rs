//! The diagnostic buffer: a fixed ring of the CPU's most recent events (SZL 0x00A0 /
//! 0x01A0), newest first, sized by the personality at start-up and never grown.
//!
//! Entry layout (20 bytes, the layout of an S7 diagnostic event):
//! ```text
//!  0..2 event id | 2 priority class | 3 OB number | 4..6 reserved | 6..8 info 1
//!  8..12 info 2 | 12..20 timestamp (S7 DATE_AND_TIME, BCD)
//! ```

use super::clock::encode_date_and_time;

/// Length of one entry on the wire.
pub(crate) const ENTRY_LEN: usize = 20;

/// Event ids written by the server. The first three are the standard S7 ids for these
/// transitions; the `0xA0xx` ids are s7rt's own (user-class ids) for events no S7 id names.
pub(crate) mod event_id {
    /// Manual warm (hot) restart request (S7 0x1381).
    pub(crate) const WARM_RESTART: u16 = 0x1381;
    /// Manual cold restart request (S7 0x1382 in s7rt; the real id was not verified).
    pub(crate) const COLD_RESTART: u16 = 0x1382;
    /// STOP caused by a PG stop operation (S7 0x4304).
    pub(crate) const STOP_BY_PG: u16 = 0x4304;
    /// Mode transition from STARTUP to RUN (S7 0x4302).
    pub(crate) const RUN: u16 = 0x4302;
    /// The PLC clock was set by a client (s7rt).
    pub(crate) const CLOCK_SET: u16 = 0xA001;
    /// A client entered the right session password (s7rt).
    pub(crate) const PASSWORD_OK: u16 = 0xA002;
    /// A client entered a wrong session password (s7rt).
    pub(crate) const PASSWORD_WRONG: u16 = 0xA003;
    /// A client uploaded a block (s7rt; info 1 = block number).
    pub(crate) const UPLOAD: u16 = 0xA004;
    /// A connection request was refused (s7rt; info 1 = called TSAP).
    pub(crate) const CONNECTION_REFUSED: u16 = 0xA005;
    /// Memory compressed / RAM copied to ROM (s7rt).
    pub(crate) const MEMORY_SERVICE: u16 = 0xA006;
    /// A downloaded block was activated (s7rt; info 1 = block number).
    pub(crate) const DOWNLOAD: u16 = 0xA007;
    /// A block was deleted (s7rt; info 1 = block number).
    pub(crate) const DELETE: u16 = 0xA008;
    /// s7rt started (S7 0x4302 is logged after it).
    pub(crate) const POWER_ON: u16 = 0xA000;
}

/// One diagnostic event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiagEntry {
    /// Event id.
    pub event_id: u16,
    /// Additional information 1 (e.g. a block number or TSAP).
    pub info1: u16,
    /// Additional information 2 (e.g. the connection slot).
    pub info2: u32,
    /// PLC-clock time of the event, Unix milliseconds.
    pub time_ms: i64,
}

impl DiagEntry {
    /// The 20-byte wire record.
    pub fn to_bytes(self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..2].copy_from_slice(&self.event_id.to_be_bytes());
        b[2] = 0xFF; // priority class: none (system event)
        b[3] = 0xFF; // OB number: none
        b[6..8].copy_from_slice(&self.info1.to_be_bytes());
        b[8..12].copy_from_slice(&self.info2.to_be_bytes());
        b[12..20].copy_from_slice(&encode_date_and_time(self.time_ms));
        b
    }
}

/// A fixed-capacity ring of entries.
#[derive(Debug, Clone)]
pub struct DiagBuffer {
    ring: Box<[DiagEntry]>,
    next: usize,
    len: usize,
}

impl DiagBuffer {
    /// Allocates room for `capacity` entries (at least one).
    pub fn new(capacity: usize) -> DiagBuffer {
        DiagBuffer {
            ring: vec![DiagEntry::default(); capacity.max(1)].into(),
            next: 0,
            len: 0,
        }
    }

    /// Adds an entry, overwriting the oldest when full.
    pub fn push(&mut self, e: DiagEntry) {
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = e;
        }
        self.next = (self.next + 1) % self.ring.len();
        self.len = (self.len + 1).min(self.ring.len());
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// Entries newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &DiagEntry> + '_ {
        let cap = self.ring.len();
        (0..self.len).filter_map(move |i| self.ring.get((self.next + cap - 1 - i) % cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u16) -> DiagEntry {
        DiagEntry {
            event_id: id,
            ..DiagEntry::default()
        }
    }

    #[test]
    fn ring_keeps_the_newest_entries_newest_first() {
        let mut d = DiagBuffer::new(3);
        for id in 1..=5 {
            d.push(e(id));
        }
        let ids: Vec<u16> = d.newest_first().map(|x| x.event_id).collect();
        assert_eq!(ids, [5, 4, 3]);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn entry_bytes_follow_the_s7_event_layout() {
        let b = DiagEntry {
            event_id: 0x4304,
            info1: 7,
            info2: 0x0102_0304,
            time_ms: 0,
        }
        .to_bytes();
        assert_eq!(&b[..12], &[0x43, 0x04, 0xFF, 0xFF, 0, 0, 0, 7, 1, 2, 3, 4]);
    }
}
