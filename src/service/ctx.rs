//! What every service is handed: [`Ctx`], the request's view of the image, the CPU and the
//! connection's state, and [`UdAnswer`], what a userdata service answered.

use crate::plc::Cpu;
use crate::service::conn::ConnState;
use crate::settings::Limits;
use crate::wire::HeaderError;

/// Everything a service may touch while answering one request.
pub(crate) struct Ctx<'a, M, E> {
    /// The process image.
    pub(crate) mem: &'a mut M,
    /// CPU state.
    pub(crate) cpu: &'a mut Cpu,
    /// This connection's service state.
    pub(crate) conn: &'a mut ConnState,
    /// Event sink (lock-free queue to housekeeping).
    pub(crate) events: &'a mut E,
    /// Wall time of the request (Unix ms).
    pub(crate) wall_ms: i64,
    /// The connection's limits (Setup Communication grants within them); borrowed, so a
    /// request does not copy them.
    pub(crate) limits: &'a Limits,
    /// Connection slot (for events).
    pub(crate) slot: u16,
}

impl<M, E> Ctx<'_, M, E> {
    /// The protection level in force for this connection.
    pub(crate) fn level(&self) -> u8 {
        self.cpu.level_for(self.conn.legitimated)
    }

    /// The negotiated PDU length (0 before Setup Communication).
    pub(crate) fn pdu_len(&self) -> u16 {
        self.conn.pdu_len
    }
}

/// What a userdata service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdAnswer {
    /// Sequence number for the response head.
    pub(crate) seq: u8,
    /// Data unit reference (0 for single answers).
    pub(crate) dur: u8,
    /// More data units follow.
    pub(crate) more: bool,
    /// Error code for the response head (`0x0000` = OK).
    pub(crate) error: HeaderError,
    /// Data part length written (0 with an error: the caller writes `0A 00 00 00`).
    pub(crate) data_len: usize,
}

impl UdAnswer {
    /// A single-part success of `data_len` bytes.
    pub(crate) fn ok(seq: u8, data_len: usize) -> UdAnswer {
        UdAnswer {
            seq,
            dur: 0,
            more: false,
            error: HeaderError::NONE,
            data_len,
        }
    }

    /// An error answer (empty data part).
    pub(crate) fn err(seq: u8, error: HeaderError) -> UdAnswer {
        UdAnswer {
            seq,
            dur: 0,
            more: false,
            error,
            data_len: 0,
        }
    }
}
