//! SZL (System-Zustandsliste, system status list) answers, and the windowed writer every
//! long userdata answer uses.
//!
//! An SZL answer's payload is one byte stream: `LENTHDR (2) | N_DR (2) | N_DR records`.
//! When it does not fit one PDU it is sent in fragments (docs/protocol.md §7.3). Rather than
//! building the stream in a buffer, the service writes it through a [`Window`] that keeps
//! only the bytes between `skip` and `skip + out.len()` and counts the rest: the first
//! fragment is the window at 0, a follow-up the window after the bytes already sent. Nothing
//! is allocated and no record is stored.
//!
//! ```text
//! first answer data  FF 09 <len (2)> <SZL id (2)> <index (2)> <stream window>
//! follow-up data     FF 09 <len (2)> <stream window>
//! ```

/// Bytes in front of the stream in a first answer: return code, transport, length, id, index.
pub const FIRST_HEAD_LEN: usize = 8;
/// Bytes in front of the stream in a follow-up answer: return code, transport, length.
pub const NEXT_HEAD_LEN: usize = 4;
/// Return code "success" of a userdata data part.
pub const RET_OK: u8 = 0xFF;
/// Transport size "octet string".
pub const TS_OCTET: u8 = 0x09;

/// Writes the part of a byte stream that falls inside a window, and counts the whole.
#[derive(Debug)]
pub struct Window<'a> {
    out: &'a mut [u8],
    skip: usize,
    pos: usize,
}

impl<'a> Window<'a> {
    /// A window over stream bytes `skip .. skip + out.len()`.
    pub fn new(out: &'a mut [u8], skip: usize) -> Window<'a> {
        Window { out, skip, pos: 0 }
    }

    /// Appends bytes to the stream.
    pub fn put(&mut self, bytes: &[u8]) {
        let start = self.pos;
        let end = start + bytes.len();
        self.pos = end;
        let lo = start.max(self.skip);
        let hi = end.min(self.skip + self.out.len());
        if lo < hi {
            if let (Some(dst), Some(src)) = (
                self.out.get_mut(lo - self.skip..hi - self.skip),
                bytes.get(lo - start..hi - start),
            ) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Appends a big-endian `u16`.
    pub fn put_u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        const Z: [u8; 64] = [0; 64];
        let mut left = n;
        while left > 0 {
            let k = left.min(Z.len());
            self.put(&Z[..k]);
            left -= k;
        }
    }

    /// Appends `s` cut or padded with `pad` to exactly `len` bytes.
    pub fn text(&mut self, s: &str, len: usize, pad: u8) {
        let b = s.as_bytes();
        let k = b.len().min(len);
        self.put(&b[..k]);
        for _ in k..len {
            self.put(&[pad]);
        }
    }

    /// Length of the whole stream written so far.
    pub fn total(&self) -> usize {
        self.pos
    }

    /// Bytes that landed inside the window.
    pub fn written(&self) -> usize {
        self.pos.saturating_sub(self.skip).min(self.out.len())
    }
}

/// Writes the data-part head `FF 09 <len>`; `None` if `buf` is shorter than 4 bytes.
pub fn emit_data_head(buf: &mut [u8], len: usize) -> Option<usize> {
    let h = buf.get_mut(..NEXT_HEAD_LEN)?;
    h[0] = RET_OK;
    h[1] = TS_OCTET;
    h[2..4].copy_from_slice(&(len.min(0xFFFF) as u16).to_be_bytes());
    Some(NEXT_HEAD_LEN)
}

/// A Read SZL request's data part: `FF 09 00 04 <id (2)> <index (2)>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// SZL id.
    pub id: u16,
    /// Index.
    pub index: u16,
}

impl Request {
    /// Parses the data part of a first Read SZL request (return code and transport size
    /// are not checked: clients differ).
    pub fn parse(data: &[u8]) -> Option<Request> {
        match data {
            [_, _, 0x00, 0x04, a, b, c, d, ..] => Some(Request {
                id: u16::from_be_bytes([*a, *b]),
                index: u16::from_be_bytes([*c, *d]),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_only_its_slice_and_counts_everything() {
        let mut out = [0u8; 4];
        let mut w = Window::new(&mut out, 3);
        w.put(&[1, 2]);
        w.put(&[3, 4, 5]);
        w.put_u16(0x0607);
        w.zeros(100);
        assert_eq!(w.total(), 107);
        assert_eq!(w.written(), 4);
        assert_eq!(out, [4, 5, 6, 7]);
    }

    #[test]
    fn window_at_the_end_writes_the_tail_only() {
        let mut out = [0xa5u8; 8];
        let mut w = Window::new(&mut out, 5);
        w.text("ABCDEFG", 7, b' ');
        assert_eq!(w.written(), 2);
        assert_eq!(&out[..3], b"FG\xa5");
    }

    #[test]
    fn parses_szl_request_of_golden_frame_50() {
        let r = Request::parse(&[0xFF, 0x09, 0x00, 0x04, 0x04, 0x24, 0x00, 0x00]).unwrap();
        assert_eq!((r.id, r.index), (0x0424, 0));
        assert_eq!(Request::parse(&[0x0A, 0, 0, 0]), None);
    }
}
