//! The download staging area: where the bytes of a block a client downloads (docs/protocol.md
//! §9) collect until the client activates it with PI `_INSE`.
//!
//! One area per server, allocated at start-up with room for the MC7 part of the largest
//! configured DB; only one download is in progress at a time, server-wide, owned by the
//! connection slot that requested it. The block arrives in load-memory format (36-byte
//! header, MC7, interface, footer): the header is kept in a fixed array and checked when the
//! last byte is in, the MC7 part (a DB's data) goes into the buffer, interface and footer are
//! counted and dropped (s7rt regenerates them on upload).
//!
//! Nothing here allocates after [`Staging::new`].

/// Length of the load-memory block header.
pub(crate) const HEADER_LEN: usize = 36;
/// Length of the load-memory block footer.
pub(crate) const FOOTER_LEN: usize = 36;
/// Magic at header offset 0 (`"pp"`).
const MAGIC: [u8; 2] = [0x70, 0x70];

/// Why a download cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Another connection's download holds the area.
    OtherDownload,
    /// The announced MC7 length does not fit the area.
    TooLarge,
}

/// Why a received block is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFault {
    /// More bytes arrived than the announced load-memory length.
    Overrun,
    /// The client said "last part" before the announced length arrived.
    Short,
    /// The 36-byte header disagrees with the request (magic, type, number or lengths).
    BadHeader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Receiving,
    Complete,
}

/// The staging area and the download it holds.
#[derive(Debug)]
pub struct Staging {
    buf: Box<[u8]>,
    header: [u8; HEADER_LEN],
    state: State,
    owner: u16,
    sub_type: u8,
    number: u16,
    load_len: usize,
    mc7_len: usize,
    received: usize,
}

impl Staging {
    /// Allocates an area for MC7 parts of up to `capacity` bytes (0: downloads impossible).
    pub fn new(capacity: usize) -> Staging {
        Staging {
            buf: vec![0; capacity].into(),
            header: [0; HEADER_LEN],
            state: State::Idle,
            owner: 0,
            sub_type: 0,
            number: 0,
            load_len: 0,
            mc7_len: 0,
            received: 0,
        }
    }

    /// Largest MC7 part the area holds.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Writes to every page of the area (start-up prefault).
    pub fn prefault(&mut self) {
        for i in (0..self.buf.len()).step_by(4096) {
            self.buf[i] = std::hint::black_box(0);
        }
    }

    /// Starts receiving block (`sub_type`, `number`) for connection `slot`, replacing any
    /// earlier download of the same slot.
    pub fn begin(
        &mut self,
        slot: u16,
        sub_type: u8,
        number: u16,
        load_len: usize,
        mc7_len: usize,
    ) -> Result<(), Busy> {
        if self.state != State::Idle && self.owner != slot {
            return Err(Busy::OtherDownload);
        }
        if mc7_len > self.buf.len() {
            return Err(Busy::TooLarge);
        }
        self.header = [0; HEADER_LEN];
        self.state = State::Receiving;
        self.owner = slot;
        self.sub_type = sub_type;
        self.number = number;
        self.load_len = load_len;
        self.mc7_len = mc7_len;
        self.received = 0;
        Ok(())
    }

    /// Bytes of the block received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Every announced byte has arrived.
    pub fn all_received(&self) -> bool {
        self.received >= self.load_len
    }

    /// True while `slot` is receiving a block.
    pub fn receiving(&self, slot: u16) -> bool {
        self.state == State::Receiving && self.owner == slot
    }

    /// The block being received or held: (sub-block type, number).
    pub fn block(&self) -> (u8, u16) {
        (self.sub_type, self.number)
    }

    /// Takes the next part of the block (in order). On a fault the download is dropped.
    pub fn accept(&mut self, slot: u16, part: &[u8]) -> Result<(), BlockFault> {
        if !self.receiving(slot) {
            return Err(BlockFault::Overrun);
        }
        let start = self.received;
        let end = start + part.len();
        if end > self.load_len {
            self.state = State::Idle;
            return Err(BlockFault::Overrun);
        }
        // Split `part` over header [0, 36), MC7 [36, 36 + mc7) and the rest (dropped).
        let mc7_end = HEADER_LEN + self.mc7_len;
        for (lo, hi) in [(0, HEADER_LEN), (HEADER_LEN, mc7_end)] {
            let (a, b) = (start.max(lo), end.min(hi));
            if a >= b {
                continue;
            }
            let src = &part[a - start..b - start];
            let dst = if lo == 0 {
                self.header.get_mut(a..b)
            } else {
                self.buf.get_mut(a - HEADER_LEN..b - HEADER_LEN)
            };
            match dst {
                Some(d) => d.copy_from_slice(src),
                None => {
                    self.state = State::Idle;
                    return Err(BlockFault::Overrun);
                }
            }
        }
        self.received = end;
        Ok(())
    }

    /// Ends the transfer: the block is complete when every announced byte arrived and the
    /// header agrees with the request (magic `pp`, sub-block type, number, load-memory
    /// length, MC7 length, and header + MC7 + footer fitting in the load length).
    pub fn finish(&mut self, slot: u16) -> Result<(), BlockFault> {
        if !self.receiving(slot) {
            return Err(BlockFault::Short);
        }
        if self.received != self.load_len {
            self.state = State::Idle;
            return Err(BlockFault::Short);
        }
        let h = &self.header;
        let be16 = |o: usize| usize::from(u16::from_be_bytes([h[o], h[o + 1]]));
        let load = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let ok = h[0..2] == MAGIC
            && h[5] == self.sub_type
            && be16(6) == usize::from(self.number)
            && load == self.load_len
            && be16(34) == self.mc7_len
            && HEADER_LEN + self.mc7_len + FOOTER_LEN <= self.load_len;
        if !ok {
            self.state = State::Idle;
            return Err(BlockFault::BadHeader);
        }
        self.state = State::Complete;
        Ok(())
    }

    /// The MC7 part of the complete block (`sub_type`, `number`) that `slot` downloaded.
    pub fn complete(&self, slot: u16, sub_type: u8, number: u16) -> Option<&[u8]> {
        (self.state == State::Complete
            && self.owner == slot
            && self.sub_type == sub_type
            && self.number == number)
            .then(|| self.buf.get(..self.mc7_len))
            .flatten()
    }

    /// Frees the area if `slot` holds it (after `_INSE`, or when the connection closes).
    pub fn release(&mut self, slot: u16) {
        if self.state != State::Idle && self.owner == slot {
            self.state = State::Idle;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u16, mc7: &[u8], sbb: usize) -> Vec<u8> {
        let load = HEADER_LEN + mc7.len() + sbb + FOOTER_LEN;
        let mut b = vec![0u8; load];
        b[0..2].copy_from_slice(b"pp");
        b[5] = 0x0A;
        b[6..8].copy_from_slice(&number.to_be_bytes());
        b[8..12].copy_from_slice(&(load as u32).to_be_bytes());
        b[34..36].copy_from_slice(&(mc7.len() as u16).to_be_bytes());
        b[HEADER_LEN..HEADER_LEN + mc7.len()].copy_from_slice(mc7);
        b
    }

    #[test]
    fn collects_the_mc7_part_from_parts_split_anywhere() {
        let mc7: Vec<u8> = (0..100u8).collect();
        let b = block(2, &mc7, 20);
        for split in [1, 7, 36, 37, 50, 136, 150] {
            let mut s = Staging::new(128);
            s.begin(3, 0x0A, 2, b.len(), 100).unwrap();
            s.accept(3, &b[..split]).unwrap();
            s.accept(3, &b[split..]).unwrap();
            s.finish(3).unwrap();
            assert_eq!(s.complete(3, 0x0A, 2), Some(&mc7[..]), "split {split}");
            assert_eq!(s.complete(4, 0x0A, 2), None);
            assert_eq!(s.complete(3, 0x0A, 1), None);
        }
    }

    #[test]
    fn one_download_at_a_time_and_release_frees_the_area() {
        let mut s = Staging::new(16);
        s.begin(1, 0x0A, 1, 100, 16).unwrap();
        assert_eq!(s.begin(2, 0x0A, 1, 100, 16), Err(Busy::OtherDownload));
        assert_eq!(s.begin(1, 0x0A, 1, 100, 17), Err(Busy::TooLarge));
        s.release(2);
        assert_eq!(s.begin(2, 0x0A, 1, 100, 16), Err(Busy::OtherDownload));
        s.release(1);
        assert_eq!(s.begin(2, 0x0A, 1, 100, 16), Ok(()));
    }

    #[test]
    fn rejects_overrun_short_and_inconsistent_headers() {
        let b = block(2, &[1, 2, 3, 4], 0);
        let mut s = Staging::new(4);
        s.begin(0, 0x0A, 2, b.len() - 1, 4).unwrap();
        assert_eq!(s.accept(0, &b), Err(BlockFault::Overrun));
        s.begin(0, 0x0A, 2, b.len(), 4).unwrap();
        s.accept(0, &b[..10]).unwrap();
        assert_eq!(s.finish(0), Err(BlockFault::Short));
        s.begin(0, 0x0A, 3, b.len(), 4).unwrap(); // header says DB2
        s.accept(0, &b).unwrap();
        assert_eq!(s.finish(0), Err(BlockFault::BadHeader));
        assert_eq!(s.complete(0, 0x0A, 3), None);
    }
}
