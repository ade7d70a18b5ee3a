//! S7 header / parameter error codes (class << 8 | code), as the S7 header of an Ack or
//! Ack_Data carries them and as the 2-byte error field of a userdata response parameter.

/// A header error: error class (high byte) and code (low byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderError(pub u16);

impl HeaderError {
    /// No error.
    pub const NONE: HeaderError = HeaderError(0x0000);
    /// Service not implemented, or error in the frame (unknown function, malformed job).
    pub const NOT_IMPLEMENTED: HeaderError = HeaderError(0x8104);
    /// Wrong frame / PDU size: the request or its reply exceeds the negotiated PDU.
    pub const PDU_SIZE: HeaderError = HeaderError(0x8500);
    /// Object addressing error.
    pub const ADDRESSING: HeaderError = HeaderError(0x8701);
    /// Function not permitted at the current protection level (Snap7: "need password").
    pub const PROTECTED: HeaderError = HeaderError(0xD241);

    /// Error class byte.
    pub fn class(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Error code byte.
    pub fn code(self) -> u8 {
        self.0 as u8
    }
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}
