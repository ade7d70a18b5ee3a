//! S7 header / parameter error codes (class << 8 | code), as the S7 header of an Ack or
//! Ack_Data carries them and as the 2-byte error field of a userdata response parameter.

/// A header error: error class (high byte) and code (low byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderError(pub u16);

impl HeaderError {
    /// No error.
    pub const NONE: HeaderError = HeaderError(0x0000);
    /// Error while transferring a block: a download whose parts did not arrive whole.
    pub const TRANSFER_FAILED: HeaderError = HeaderError(0x8003);
    /// Service not implemented, or error in the frame (unknown function, userdata group or
    /// subfunction, malformed job, an upload id that is not running).
    pub const NOT_IMPLEMENTED: HeaderError = HeaderError(0x8104);
    /// Insufficient memory: a download larger than the staging area.
    pub const NO_MEMORY: HeaderError = HeaderError(0x8301);
    /// No further parallel upload or download possible.
    pub const BUSY: HeaderError = HeaderError(0x8304);
    /// Function cannot be performed (s7rt: PLC stop in STOP, start in RUN; the code a real
    /// CPU sends with them is not known).
    pub const CANNOT_PERFORM: HeaderError = HeaderError(0x8404);
    /// Wrong frame / PDU size: the request or its reply exceeds the negotiated PDU.
    pub const PDU_SIZE: HeaderError = HeaderError(0x8500);
    /// Object addressing error.
    pub const ADDRESSING: HeaderError = HeaderError(0x8701);
    /// Access to the object refused (download of a read-only DB).
    pub const ACCESS_REFUSED: HeaderError = HeaderError(0x8703);
    /// Function not permitted at the current protection level (the clock's code).
    pub const CLOCK_PROTECTED: HeaderError = HeaderError(0xD0A1);
    /// Invalid block parameter.
    pub const BAD_BLOCK_PARAM: HeaderError = HeaderError(0xD202);
    /// Invalid block type.
    pub const BAD_BLOCK_TYPE: HeaderError = HeaderError(0xD203);
    /// Block not found (Snap7's client: "item not available").
    pub const BLOCK_NOT_FOUND: HeaderError = HeaderError(0xD209);
    /// No (further) block available.
    pub const NO_FURTHER_BLOCK: HeaderError = HeaderError(0xD20E);
    /// Function not permitted at the current protection level (Snap7: "need password").
    pub const PROTECTED: HeaderError = HeaderError(0xD241);
    /// SZL: information function unavailable (unknown id).
    pub const SZL_UNKNOWN_ID: HeaderError = HeaderError(0xD401);
    /// SZL: known id, unknown index (also a follow-up for no fragmented answer).
    pub const SZL_UNKNOWN_INDEX: HeaderError = HeaderError(0xD402);
    /// Incorrect password.
    pub const WRONG_PASSWORD: HeaderError = HeaderError(0xD602);
    /// The connection is not legitimated: no password to clear.
    pub const NOT_LEGITIMATED: HeaderError = HeaderError(0xD604);
    /// Legitimation not possible: no password configured.
    pub const NO_PASSWORD: HeaderError = HeaderError(0xD605);
    /// Date and/or time invalid.
    pub const INVALID_TIME: HeaderError = HeaderError(0xDC01);

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
