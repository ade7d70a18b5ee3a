//! Setup Communication (job function 0xF0): negotiates AmQ and the PDU size.
//!
//! ```text
//!  0    1      2..4             4..6            6..8
//! +----+----+----------------+---------------+-------------+
//! | F0 | 00 | max AmQ calling| max AmQ called| PDU length  |
//! +----+----+----------------+---------------+-------------+
//! ```

use super::s7::Function;
use super::{be16, put_be16, Error};

/// Parameter length of request and answer.
pub const PARAM_LEN: usize = 8;

/// Setup Communication parameters (request or negotiated answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Parallel jobs the calling side will have outstanding.
    pub amq_calling: u16,
    /// Parallel jobs the called side may have outstanding.
    pub amq_called: u16,
    /// PDU length.
    pub pdu_len: u16,
}

impl Repr {
    /// Parses the 8-byte parameter part.
    pub fn parse(params: &[u8]) -> Result<Repr, Error> {
        if params.len() != PARAM_LEN || Function::from(params[0]) != Function::Setup {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            amq_calling: be16(params, 2),
            amq_called: be16(params, 4),
            pdu_len: be16(params, 6),
        })
    }

    /// Writes the 8-byte parameter part.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < PARAM_LEN {
            return None;
        }
        buf[0] = Function::Setup.into();
        buf[1] = 0;
        put_be16(buf, 2, self.amq_calling);
        put_be16(buf, 4, self.amq_called);
        put_be16(buf, 6, self.pdu_len);
        Some(PARAM_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_emit_roundtrip_of_pdu_480_request() {
        let p = [0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xE0];
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                amq_calling: 1,
                amq_called: 1,
                pdu_len: 480
            }
        );
        let mut b = [0xa5; 8];
        assert_eq!(r.emit(&mut b), Some(8));
        assert_eq!(b, p);
    }

    #[test]
    fn rejects_short_parameter() {
        assert_eq!(Repr::parse(&[0xF0, 0, 0, 1]), Err(Error::Malformed));
    }
}
