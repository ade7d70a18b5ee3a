//! Bytes ↔ meaning for TPKT, COTP and S7comm, and nothing else.
//!
//! Contract (the smoltcp `wire` pattern): received bytes go through a checked constructor
//! (`Packet::new_checked`), which validates every length field against the buffer; after it
//! succeeds the accessors index without further checks and cannot panic. Replies are written
//! by `emit_*` functions into a caller-provided `&mut [u8]`; they return the number of bytes
//! written, or `None` when the buffer is too small. Nothing here allocates, performs I/O or
//! knows about sessions.

/// A `Copy` enum of a one-byte protocol code with an `Unknown(u8)` variant, and its
/// `From<u8>`/`Into<u8>` conversions (the smoltcp `enum_with_unknown!` pattern): unknown values
/// parse fine and are refused by whoever acts on them, so they can still be reported.
macro_rules! enum_with_unknown {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $( $(#[$vattr:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vattr])* $variant, )+
            /// Any other value.
            Unknown(u8),
        }

        impl $name {
            /// The value of every byte, computed at compile time by the same match: a
            /// conversion is one load, where the match costs a compare chain or a jump.
            const FROM_U8: [$name; 256] = {
                let mut table = [$name::Unknown(0); 256];
                let mut b = 0;
                while b < 256 {
                    table[b] = match b as u8 {
                        $( $value => $name::$variant, )+
                        other => $name::Unknown(other),
                    };
                    b += 1;
                }
                table
            };
        }

        impl From<u8> for $name {
            #[inline]
            fn from(b: u8) -> Self {
                Self::FROM_U8[usize::from(b)]
            }
        }

        impl From<$name> for u8 {
            #[inline]
            fn from(v: $name) -> u8 {
                match v {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

pub mod block;
pub mod cotp;
pub mod error;
pub mod pi;
pub mod s7;
pub mod setup;
pub mod szl;
pub mod tpkt;
pub mod transfer;
pub mod userdata;
pub mod var;

pub use cotp::Packet as CotpPacket;
pub use error::HeaderError;
pub use s7::Header as S7Header;
pub use tpkt::Packet as TpktPacket;

use core::fmt;

/// Why bytes could not be understood. Carries the offending value so an operator sees *why*.
///
/// Consequence depends on the layer: a TPKT/COTP error closes the connection (a byte stream
/// cannot resynchronise); an S7 error on a well-framed PDU is answered with an S7 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// TPKT version byte is not 3.
    BadTpktVersion(u8),
    /// TPKT length field below 7 or above the accepted maximum.
    BadTpktLength(u16),
    /// COTP length indicator does not fit inside the TPKT.
    BadCotpLi(u8),
    /// S7 protocol id is not 0x32.
    BadProtocolId(u8),
    /// S7 header + parameter + data lengths disagree with the PDU length.
    LengthMismatch {
        /// Length the header declares.
        declared: u16,
        /// Length actually present.
        actual: u16,
    },
    /// A structure inside the parameter or data part is malformed.
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated => write!(f, "truncated"),
            Error::BadTpktVersion(v) => write!(f, "TPKT version {v} (expected 3)"),
            Error::BadTpktLength(l) => write!(f, "TPKT length {l} out of range"),
            Error::BadCotpLi(li) => write!(f, "COTP length indicator {li} outside the TPKT"),
            Error::BadProtocolId(p) => write!(f, "S7 protocol id {p:#04x} (expected 0x32)"),
            Error::LengthMismatch { declared, actual } => {
                write!(f, "S7 lengths declare {declared} bytes, PDU has {actual}")
            }
            Error::Malformed => write!(f, "malformed S7 parameter or data"),
        }
    }
}

impl std::error::Error for Error {}

/// Reads a big-endian `u16` at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Writes a big-endian `u16` at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn put_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::s7::{Function, Rosctr};
    use super::var::{Area, DataTransport, ReturnCode, TransportSize};

    /// The conversion tables hold every byte: a known code converts to its variant and
    /// back, an unknown one to `Unknown` of itself.
    #[test]
    fn every_byte_converts_to_its_code_and_back() {
        for b in 0..=255u8 {
            assert_eq!(u8::from(Area::from(b)), b);
            assert_eq!(u8::from(TransportSize::from(b)), b);
            assert_eq!(u8::from(ReturnCode::from(b)), b);
            assert_eq!(u8::from(DataTransport::from(b)), b);
            assert_eq!(u8::from(Rosctr::from(b)), b);
            assert_eq!(u8::from(Function::from(b)), b);
        }
        assert_eq!(Function::from(0x04), Function::ReadVar);
        assert_eq!(Function::from(0xF0), Function::Setup);
        assert_eq!(Function::from(0x06), Function::Unknown(0x06));
        assert_eq!(Area::from(0x84), Area::DataBlock);
        assert_eq!(Rosctr::from(0x07), Rosctr::Userdata);
    }
}
