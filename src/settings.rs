//! The settings the running parts take, derived from the [`crate::config`] at start-up: the
//! event loop's [`LoopConfig`] (with its [`CycleTimer`]) and each connection's [`Limits`].
//!
//! They sit apart from the configuration file's schema so that the loop and the session
//! depend on these few plain values and not on the TOML schema, and the configuration does
//! not depend on the event loop.

use std::time::Duration;

use crate::wire::{cotp, tpkt};

/// Room a TPKT + DT header takes in front of each fragment of a PDU.
pub(crate) const FRAME_OVERHEAD: usize = tpkt::HEADER_LEN + cotp::DT_HEADER_LEN;
/// Smallest TPDU (ISO 8073 default, 128 bytes) and therefore the smallest DT payload.
pub(crate) const MIN_DT_PAYLOAD: usize = 128 - cotp::DT_HEADER_LEN;

/// Per-connection limits from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest PDU to negotiate (240, 480 or 960).
    pub max_pdu: u16,
    /// Largest AmQ to grant.
    pub max_amq: u16,
    /// Close a connection silent for this long.
    pub idle_timeout: Duration,
}

impl Limits {
    /// Bytes `tx` must have free for the longest single reply (a max PDU fragmented into
    /// the smallest TPDUs a client may choose).
    pub fn max_reply_len(&self) -> usize {
        let pdu = self.max_pdu as usize;
        pdu + FRAME_OVERHEAD * pdu.div_ceil(MIN_DT_PAYLOAD)
    }

    /// Bytes the reassembly buffer holds: one PDU larger than allowed is still read whole so
    /// it can be answered with 0x8500 instead of closing the connection.
    pub(crate) fn reassembly_len(&self) -> usize {
        2 * self.max_pdu as usize
    }
}

/// Loop settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopConfig {
    /// Connection slots.
    pub(crate) max_connections: usize,
    /// Per-connection protocol limits.
    pub(crate) limits: Limits,
    /// Cycle period (wake-up latency is measured against it; idle timeouts checked on it).
    pub(crate) cycle: Duration,
    /// Poll with a zero timeout instead of sleeping (pegs a core; isolated CPUs only).
    pub(crate) busy_poll: bool,
    /// What wakes the loop at its cycle deadline.
    pub(crate) cycle_timer: CycleTimer,
    /// Read with kernel receive timestamps and record `rx_service_ns`.
    pub(crate) rx_timestamps: bool,
    /// Time a connection has for COTP connect and Setup Communication.
    pub(crate) handshake_timeout: Duration,
    /// Slots one client address may hold.
    pub(crate) max_connections_per_ip: usize,
}

pub use crate::rt::cycle::CycleTimer;
