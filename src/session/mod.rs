//! One connection's COTP transport, sans I/O: connect (CR/CC, or a DR naming the cause),
//! reassembly of DT TPDUs into S7 PDUs, fragmentation of answers into TPDUs of the confirmed
//! size, and disconnect (DR/DC). Each complete PDU goes to `service::dispatch`, the
//! S7 job router.
//!
//! Input: bytes received (`rx`), the current time and the image. Output: bytes to send,
//! written into `tx`, and whether to close. No sockets, no clock reads, no logging, no
//! allocation after [`Session::new`]: the event loop owns all of that.
//!
//! This module holds the connection's phases and COTP handling; `pdu` (beside it) the
//! reassembly of DT TPDUs, the answer to a complete PDU and its framing.
//!
//! Phases: waiting for the COTP connection request → COTP connected (only Setup
//! Communication is served until it negotiated a PDU length) → established.
//!
//! During a block download the roles reverse (docs/protocol.md §9): after answering the client's
//! request download, the session itself sends jobs (`1B`, `1C`, with its own PDU references)
//! behind its answer, and takes the client's Ack_Data answers to them as input.

mod fast;
mod pdu;

use pdu::{frame, Reassembly};

use crate::events::{CloseReason, Event, EventSink};
use crate::plc::diag::event_id;
use crate::plc::{Cpu, Memory, Mono, Now, Refusal};
use crate::service::conn::ConnState;
use crate::service::ctx::Ctx;
use crate::service::dispatch;
use crate::settings::FRAME_OVERHEAD;
use crate::wire::cotp::{self, ConnectConfirm, TpduCode};
use crate::wire::{tpkt, CotpPacket, Error as WireError};

pub use crate::service::dispatch::Answered;
pub use crate::settings::Limits;

/// Largest TPDU we confirm: fits a 960-byte PDU plus the DT header in one TPDU, and is what
/// real CPUs confirm to Snap7-family clients.
pub const MAX_TPDU_LEN: usize = 1024;
/// Largest TPKT we accept from a client (a TPDU of `MAX_TPDU_LEN` plus the TPKT header).
pub const MAX_TPKT_LEN: usize = MAX_TPDU_LEN + tpkt::HEADER_LEN;

/// Outcome of one [`Session::handle_rx`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Bytes of `rx` consumed (0 = need more bytes).
    pub consumed: usize,
    /// Bytes written to `tx`.
    pub reply_len: usize,
    /// Close the connection after sending the reply.
    pub close: Option<CloseReason>,
    /// The S7 request a complete PDU carried, and the error its answer sent (`None` for
    /// COTP connection handling and for a DT that only buffered a fragment).
    pub answered: Option<Answered>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitConnect,
    Connected,
}

/// A connection's protocol state.
#[derive(Debug)]
pub struct Session {
    limits: Limits,
    slot: u16,
    phase: Phase,
    client_ref: u16,
    tpdu_len: usize,
    reasm: Reassembly,
    /// Bytes of an oversized TPKT still to skip (see [`Session::oversized`]).
    drain: usize,
    /// The TPKT being skipped ends its PDU: answer 0x8500 once it is skipped.
    drain_eot: bool,
    /// When bytes last arrived; the idle deadline is derived from it only when checked, so
    /// a request costs no time arithmetic for it.
    last_activity: Mono,
    conn: ConnState,
}

impl Session {
    /// Allocates the session (including its reassembly buffer) for slot `slot`.
    pub fn new(limits: Limits, slot: u16, now: Mono) -> Session {
        Session {
            limits,
            slot,
            phase: Phase::AwaitConnect,
            client_ref: 0,
            tpdu_len: 128,
            reasm: Reassembly {
                buf: vec![0; limits.reassembly_len()].into(),
                len: 0,
                overflow: false,
            },
            drain: 0,
            drain_eot: false,
            last_activity: now,
            conn: ConnState::default(),
        }
    }

    /// Returns the session to its initial state for a new connection, keeping its buffers.
    pub fn reset(&mut self, now: Mono) {
        self.phase = Phase::AwaitConnect;
        self.client_ref = 0;
        self.tpdu_len = 128;
        self.reasm.len = 0;
        self.reasm.overflow = false;
        self.drain = 0;
        self.drain_eot = false;
        self.last_activity = now;
        self.conn = ConnState::default();
    }

    /// Sets what this connection may do (after [`Session::reset`], at accept).
    pub fn set_grant(&mut self, grant: crate::access::Grant) {
        self.conn.grant = grant;
    }

    /// COTP connect and Setup Communication are done (a PDU length is negotiated).
    pub fn is_established(&self) -> bool {
        self.conn.pdu_len != 0
    }

    /// Gives the connection's place in its type's quota back to the CPU. The event loop
    /// calls this when the connection closes, whoever closed it.
    pub fn release(&mut self, cpu: &mut Cpu) {
        if let Some(t) = self.conn.conn_type.take() {
            cpu.release(t);
        }
        // A download not yet activated with `_INSE` dies with its connection.
        cpu.staging.release(self.slot);
        self.conn.download = None;
    }

    /// Writes to every page of the reassembly buffer (start-up prefault).
    pub fn prefault(&mut self) {
        for i in (0..self.reasm.buf.len()).step_by(4096) {
            self.reasm.buf[i] = std::hint::black_box(0);
        }
    }

    /// Closes the connection if its idle deadline has passed.
    pub fn handle_timeout(&mut self, now: Mono) -> Option<CloseReason> {
        (now >= self.last_activity + self.limits.idle_timeout).then_some(CloseReason::IdleTimeout)
    }

    /// Consumes at most one TPKT from the start of `rx` and may write one reply into `tx`.
    ///
    /// `tx` must have at least [`Limits::max_reply_len`] bytes. `consumed == 0` without
    /// `close` means "need more bytes".
    pub fn handle_rx<M: Memory, E: EventSink>(
        &mut self,
        now: Now,
        rx: &[u8],
        mem: &mut M,
        cpu: &mut Cpu,
        tx: &mut [u8],
        events: &mut E,
    ) -> Step {
        if let Some((consumed, reply_len)) = self.fast_read(now, rx, &*mem, cpu, tx) {
            return Step {
                consumed,
                reply_len,
                close: None,
                answered: Some(READ_VAR_OK),
            };
        }
        self.general(now, rx, mem, cpu, tx, events)
    }

    /// The first half of [`Session::handle_rx`]: answers the TPKT at the start of `rx` if
    /// the fast path may and can ([`fast::read_var`]); returns the bytes consumed and the
    /// reply length, which answered [`READ_VAR_OK`]. `None`: nothing consumed, call
    /// [`Session::general`]. The event loop calls the two halves itself, so it counts a
    /// fast answer without classifying a [`Step`].
    #[inline(always)]
    pub(crate) fn fast_read<M: Memory>(
        &mut self,
        now: Now,
        rx: &[u8],
        mem: &M,
        cpu: &Cpu,
        tx: &mut [u8],
    ) -> Option<(usize, usize)> {
        if !self.fast_ready(cpu) {
            return None;
        }
        let answered = fast::read_var(rx, self.conn.pdu_len, self.tpdu_len, mem, tx)?;
        self.last_activity = now.mono;
        Some(answered)
    }

    /// Where a Read Var job in one DT TPDU would be served by `dispatch` as a plain read:
    /// established, no PDU being reassembled or skipped, no access rule, no read protection,
    /// no download whose jobs follow answers. Only then may [`fast::read_var`] answer it.
    #[inline(always)]
    fn fast_ready(&self, cpu: &Cpu) -> bool {
        self.conn.pdu_len != 0
            && self.phase == Phase::Connected
            && self.drain == 0
            && self.reasm.len == 0
            && !self.reasm.overflow
            && self.conn.grant.is_open()
            && self.conn.download.is_none()
            && cpu.level_for(self.conn.legitimated) < 3
    }

    /// [`Session::handle_rx`] without the fast path: TPKT, COTP, reassembly, dispatch.
    /// Never inlined into the loop: the loop's own code then holds only the fast path, so
    /// nothing of this (the wall-clock division, the dispatch's registers) is hoisted into
    /// or spilled around every read.
    #[inline(never)]
    pub(crate) fn general<M: Memory, E: EventSink>(
        &mut self,
        now: Now,
        rx: &[u8],
        mem: &mut M,
        cpu: &mut Cpu,
        tx: &mut [u8],
        events: &mut E,
    ) -> Step {
        if self.drain > 0 {
            return self.drain_step(now, rx, mem, cpu, tx, events);
        }
        let n = match tpkt::frame(rx, MAX_TPKT_LEN) {
            Ok(tpkt::Frame::Incomplete) => return NEED_MORE,
            Ok(tpkt::Frame::Complete(n)) => n,
            // Version 3 and a length up to 65535: the stream is in sync, only too long.
            Err(WireError::BadTpktLength(len)) if usize::from(len) > MAX_TPKT_LEN => {
                return self.oversized(now, rx, usize::from(len), mem, cpu, tx, events)
            }
            Err(e) => return close(0, CloseReason::Framing(e)),
        };
        self.last_activity = now.mono;
        let cotp = match CotpPacket::new_checked(&rx[tpkt::HEADER_LEN..n]) {
            Ok(p) => p,
            Err(e) => return close(n, CloseReason::Framing(e)),
        };
        match (cotp.code(), self.phase) {
            (TpduCode::ConnectRequest, Phase::AwaitConnect) => {
                self.connect(n, &cotp, cpu, now.wall_ms(), tx, events)
            }
            (TpduCode::ConnectRequest, _) => close(n, CloseReason::UnexpectedConnectRequest),
            (TpduCode::Data, Phase::AwaitConnect) => close(n, CloseReason::DataBeforeConnect),
            (TpduCode::Data, _) => {
                let mut ctx = Ctx {
                    mem,
                    cpu,
                    conn: &mut self.conn,
                    events,
                    wall_ms: now.wall_ms(),
                    limits: &self.limits,
                    slot: self.slot,
                };
                let (reply_len, answered) = self.reasm.data(&cotp, self.tpdu_len, &mut ctx, tx);
                Step {
                    consumed: n,
                    reply_len,
                    close: None,
                    answered,
                }
            }
            (TpduCode::DisconnectRequest, _) => {
                let len =
                    cotp::emit_dc(&mut tx[tpkt::HEADER_LEN..], cotp.src_ref(), cotp.dst_ref())
                        .and_then(|l| tpkt::emit_header(tx, l + tpkt::HEADER_LEN).map(|h| h + l))
                        .unwrap_or(0);
                Step {
                    consumed: n,
                    reply_len: len,
                    close: Some(CloseReason::PeerDisconnect),
                    answered: None,
                }
            }
            _ => close(n, CloseReason::Framing(WireError::Malformed)),
        }
    }

    /// A well-formed TPKT longer than any we accept (`len` > [`MAX_TPKT_LEN`]): the stream
    /// is still in sync, so instead of closing (as a strict receiver would) it is skipped
    /// as it arrives, and the PDU it belongs to is answered with 0x8500 (PDU too large),
    /// as Snap7's server does. Only a data TPDU of a connected session qualifies: anything
    /// else that large cannot be a request we could serve and closes the connection.
    #[allow(clippy::too_many_arguments)] // handle_rx's inputs, passed through
    fn oversized<M: Memory, E: EventSink>(
        &mut self,
        now: Now,
        rx: &[u8],
        len: usize,
        mem: &mut M,
        cpu: &mut Cpu,
        tx: &mut [u8],
        events: &mut E,
    ) -> Step {
        // TPKT header, DT header, and the S7 header up to its PDU reference.
        const PEEK: usize = tpkt::HEADER_LEN + cotp::DT_HEADER_LEN + 6;
        let Some(head) = rx.get(..PEEK) else {
            return NEED_MORE;
        };
        let dt = &head[tpkt::HEADER_LEN..tpkt::HEADER_LEN + cotp::DT_HEADER_LEN];
        let is_dt =
            dt[0] as usize == cotp::DT_HEADER_LEN - 1 && TpduCode::from(dt[1]) == TpduCode::Data;
        if !is_dt || self.phase == Phase::AwaitConnect {
            return close(
                0,
                CloseReason::Framing(WireError::BadTpktLength(len as u16)),
            );
        }
        self.last_activity = now.mono;
        let r = &mut self.reasm;
        if r.len == 0 && !r.overflow {
            // The PDU starts here: keep its first bytes for the PDU reference of the answer.
            let first = &head[tpkt::HEADER_LEN + cotp::DT_HEADER_LEN..];
            if let Some(dst) = r.buf.get_mut(..first.len()) {
                dst.copy_from_slice(first);
                r.len = first.len();
            }
        }
        r.overflow = true;
        self.drain = len;
        self.drain_eot = dt[2] & cotp::EOT != 0;
        self.drain_step(now, rx, mem, cpu, tx, events)
    }

    /// Skips what `rx` holds of the oversized TPKT; once all of it is skipped and it ended
    /// its PDU, answers 0x8500 with the PDU's reference.
    fn drain_step<M: Memory, E: EventSink>(
        &mut self,
        now: Now,
        rx: &[u8],
        mem: &mut M,
        cpu: &mut Cpu,
        tx: &mut [u8],
        events: &mut E,
    ) -> Step {
        let n = rx.len().min(self.drain);
        self.drain -= n;
        let mut reply_len = 0;
        let mut answered = None;
        if self.drain == 0 && self.drain_eot {
            let mut ctx = Ctx {
                mem,
                cpu,
                conn: &mut self.conn,
                events,
                wall_ms: now.wall_ms(),
                limits: &self.limits,
                slot: self.slot,
            };
            let prefix = self.reasm.buf.get(..self.reasm.len).unwrap_or_default();
            if let Some(out) = tx.get_mut(FRAME_OVERHEAD..) {
                let r = dispatch::too_long(prefix, &mut ctx, out);
                reply_len = frame(tx, self.tpdu_len, r.len);
                answered = Some(r.answered);
            }
            self.reasm.len = 0;
            self.reasm.overflow = false;
        }
        Step {
            consumed: n,
            reply_len,
            close: None,
            answered,
        }
    }

    fn connect<E: EventSink>(
        &mut self,
        n: usize,
        cr: &CotpPacket<&[u8]>,
        cpu: &mut Cpu,
        wall_ms: i64,
        tx: &mut [u8],
        events: &mut E,
    ) -> Step {
        let (mut offered, mut calling, mut called): (usize, &[u8], &[u8]) = (128, &[], &[]);
        for p in cr.params() {
            match p {
                Ok((cotp::PARAM_TPDU_SIZE, [code])) => match cotp::tpdu_size_bytes(*code) {
                    Some(b) => offered = b,
                    None => return close(n, CloseReason::ConnectRefused),
                },
                Ok((cotp::PARAM_CALLING_TSAP, v)) => calling = v,
                Ok((cotp::PARAM_CALLED_TSAP, v)) => called = v,
                Ok(_) => {} // other ISO 8073 options are ignored on input
                Err(_) => return close(n, CloseReason::ConnectRefused),
            }
        }
        match cpu.admit(called) {
            Ok(t) => self.conn.conn_type = Some(t),
            Err(reason) => {
                let tsap = match called {
                    [a, b, ..] => u16::from_be_bytes([*a, *b]),
                    _ => 0,
                };
                cpu.log(
                    event_id::CONNECTION_REFUSED,
                    tsap,
                    u32::from(self.slot),
                    wall_ms,
                );
                events.event(Event::ConnectionRefused {
                    slot: self.slot,
                    tsap,
                    reason,
                });
                // A DR names the cause: unknown address for a wrong rack/slot or type,
                // congestion at the TSAP for an exhausted quota.
                let cause = match reason {
                    Refusal::QuotaExhausted => cotp::reason::CONGESTION_AT_TSAP,
                    _ => cotp::reason::ADDRESS_UNKNOWN,
                };
                let len = cotp::emit_dr(&mut tx[tpkt::HEADER_LEN..], cr.src_ref(), 0, cause)
                    .and_then(|l| tpkt::emit_header(tx, l + tpkt::HEADER_LEN).map(|h| h + l))
                    .unwrap_or(0);
                return Step {
                    consumed: n,
                    reply_len: len,
                    close: Some(CloseReason::ConnectRefused),
                    answered: None,
                };
            }
        }
        self.tpdu_len = offered.min(MAX_TPDU_LEN);
        self.client_ref = cr.src_ref();
        let cc = ConnectConfirm {
            dst_ref: self.client_ref,
            src_ref: self.slot.wrapping_add(1).max(1),
            tpdu_size: cotp::tpdu_size_code(self.tpdu_len),
            calling_tsap: calling,
            called_tsap: called,
        };
        let len = cc
            .emit(&mut tx[tpkt::HEADER_LEN..])
            .and_then(|l| tpkt::emit_header(tx, l + tpkt::HEADER_LEN).map(|h| h + l));
        match len {
            Some(len) => {
                self.phase = Phase::Connected;
                Step {
                    consumed: n,
                    reply_len: len,
                    close: None,
                    answered: None,
                }
            }
            None => close(n, CloseReason::ConnectRefused),
        }
    }
}

/// What a Read Var answered by the fast path answered (a success in the header; item
/// errors are in the items).
pub(crate) const READ_VAR_OK: Answered = Answered {
    rosctr: crate::wire::s7::Rosctr::Job,
    function: crate::wire::s7::Function::ReadVar,
    error: crate::wire::HeaderError::NONE,
};

/// "Need more bytes".
const NEED_MORE: Step = Step {
    consumed: 0,
    reply_len: 0,
    close: None,
    answered: None,
};

fn close(consumed: usize, reason: CloseReason) -> Step {
    Step {
        consumed,
        reply_len: 0,
        close: Some(reason),
        answered: None,
    }
}
