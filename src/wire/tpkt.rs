//! TPKT (RFC 1006 §6): the 4-byte record marker that frames ISO transport over TCP.
//!
//! ```text
//!  0        1        2        3
//! +--------+--------+--------+--------+------------------
//! | vrsn=3 | rsvd=0 |  length (BE)    | COTP TPDU ...
//! +--------+--------+--------+--------+------------------
//! ```
//! `length` counts the whole record including these four bytes.

use super::{be16, put_be16, Error};

mod field {
    use core::ops::Range;
    pub(super) const VERSION: usize = 0;
    pub(super) const LENGTH: Range<usize> = 2..4;
}

/// Length of the TPKT header.
pub const HEADER_LEN: usize = 4;
/// Smallest legal TPKT: header plus the shortest COTP TPDU (a DT header, 3 bytes).
pub const MIN_LEN: usize = 7;
/// The only TPKT version.
pub const VERSION: u8 = 3;

/// What the first bytes of a stream say about the next TPKT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet to know (fewer than 4), or the record is incomplete.
    Incomplete,
    /// A complete record of this many bytes starts the buffer.
    Complete(usize),
}

/// Looks at the start of `buf` and says whether a whole TPKT is there.
///
/// Rejects a wrong version or a length outside `MIN_LEN..=max_len` as soon as the four
/// header bytes are present, so a broken stream is detected before waiting for its body.
pub fn frame(buf: &[u8], max_len: usize) -> Result<Frame, Error> {
    if buf.len() < HEADER_LEN {
        return Ok(Frame::Incomplete);
    }
    if buf[field::VERSION] != VERSION {
        return Err(Error::BadTpktVersion(buf[field::VERSION]));
    }
    let len = be16(buf, field::LENGTH.start);
    if (len as usize) < MIN_LEN || len as usize > max_len {
        return Err(Error::BadTpktLength(len));
    }
    if buf.len() < len as usize {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Complete(len as usize))
}

/// A checked view of one complete TPKT record.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking version and that `length` equals the buffer length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        match frame(b, u16::MAX as usize)? {
            Frame::Complete(n) if n == b.len() => Ok(Packet { buffer }),
            Frame::Complete(n) => Err(Error::LengthMismatch {
                declared: n as u16,
                actual: b.len().min(u16::MAX as usize) as u16,
            }),
            Frame::Incomplete => Err(Error::Truncated),
        }
    }

    /// TPKT length field (RFC 1006 §6). A checked record is never empty (length ≥ 7), so
    /// there is no `is_empty` to go with it.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The COTP TPDU carried by this record.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// Writes a TPKT header for a record of `total_len` bytes into `buf[..4]`.
pub fn emit_header(buf: &mut [u8], total_len: usize) -> Option<usize> {
    if buf.len() < HEADER_LEN || total_len > u16::MAX as usize {
        return None;
    }
    buf[0] = VERSION;
    buf[1] = 0;
    put_be16(buf, 2, total_len as u16);
    Some(HEADER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    //                 vr rs len-- LI F0 EOT
    const DT_EMPTY: [u8; 7] = [0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80];

    #[test]
    fn deconstructs_empty_dt_record() {
        let p = Packet::new_checked(&DT_EMPTY[..]).unwrap();
        assert_eq!(p.len(), 7);
        assert_eq!(p.payload(), &[0x02, 0xF0, 0x80]);
    }

    #[test]
    fn rejects_tpkt_version_2() {
        let mut b = DT_EMPTY;
        b[0] = 2;
        assert_eq!(frame(&b, 100), Err(Error::BadTpktVersion(2)));
    }

    #[test]
    fn rejects_length_below_seven() {
        let b = [0x03, 0x00, 0x00, 0x06, 0x02, 0xF0];
        assert_eq!(frame(&b, 100), Err(Error::BadTpktLength(6)));
    }

    #[test]
    fn rejects_length_above_configured_maximum() {
        let b = [0x03, 0x00, 0x10, 0x00];
        assert_eq!(frame(&b, 2048), Err(Error::BadTpktLength(4096)));
    }

    #[test]
    fn incomplete_until_whole_record_present() {
        for n in 0..DT_EMPTY.len() {
            assert_eq!(
                frame(&DT_EMPTY[..n], 100),
                Ok(Frame::Incomplete),
                "prefix {n}"
            );
        }
        assert_eq!(frame(&DT_EMPTY, 100), Ok(Frame::Complete(7)));
    }

    #[test]
    fn emits_header_into_prefilled_buffer() {
        let mut b = [0xa5u8; 4];
        assert_eq!(emit_header(&mut b, 22), Some(4));
        assert_eq!(b, [0x03, 0x00, 0x00, 0x16]);
    }
}
