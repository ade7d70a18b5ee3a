//! One connection's protocol state machine, sans I/O.
//!
//! Input: bytes received (`rx`), the current time and the image. Output: bytes to send,
//! written into `tx`, and whether to close. No sockets, no clock reads, no logging, no
//! allocation after [`Session::new`]: the event loop owns all of that.
//!
//! Phases: waiting for the COTP connection request → COTP connected (only Setup
//! Communication is served) → established (negotiated PDU; every job answered once, with the
//! client's PDU reference echoed).
//!
//! During a block download the roles reverse (PROTOCOL.md §10): after answering the client's
//! request download, the session itself sends jobs (`1B`, `1C`, with its own PDU references)
//! behind its answer, and takes the client's Ack_Data answers to them as input.

use std::time::Duration;

use crate::events::{CloseReason, Event, EventSink};
use crate::plc::diag::event_id;
use crate::plc::{Cpu, Memory, Mono, Now};
use crate::service::conn::ConnState;
use crate::service::userdata::{Ctx, UdAnswer};
use crate::service::{
    control, download, read_var, upload, userdata as ud_service, write_var, Answer, JobError,
};
use crate::wire::cotp::{self, ConnectConfirm, TpduCode};
use crate::wire::s7::{self, Rosctr};
use crate::wire::{
    setup, tpkt, userdata, var, CotpPacket, Error as WireError, HeaderError, S7Header,
};

/// Largest TPDU we confirm: fits a 960-byte PDU plus the DT header in one TPDU, and is what
/// real CPUs confirm to Snap7-family clients.
pub const MAX_TPDU_LEN: usize = 1024;
/// Largest TPKT we accept from a client (a TPDU of `MAX_TPDU_LEN` plus the TPKT header).
pub const MAX_TPKT_LEN: usize = MAX_TPDU_LEN + tpkt::HEADER_LEN;
/// The smallest PDU real clients tolerate (Snap7 `MinPduSize`).
pub const MIN_PDU_LEN: u16 = 240;
/// Smallest TPDU (ISO 8073 default, 128 bytes) and therefore the smallest DT payload.
const MIN_DT_PAYLOAD: usize = 128 - cotp::DT_HEADER_LEN;
/// Room a TPKT + DT header takes in front of each fragment.
const FRAME_OVERHEAD: usize = tpkt::HEADER_LEN + cotp::DT_HEADER_LEN;

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
    fn reassembly_len(&self) -> usize {
        2 * self.max_pdu as usize
    }
}

/// Outcome of one [`Session::handle_rx`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Bytes of `rx` consumed (0 = need more bytes).
    pub consumed: usize,
    /// Bytes written to `tx`.
    pub reply_len: usize,
    /// Close the connection after sending the reply.
    pub close: Option<CloseReason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitConnect,
    Connected,
    Established,
}

/// A connection's protocol state.
#[derive(Debug)]
pub struct Session {
    limits: Limits,
    slot: u16,
    phase: Phase,
    client_ref: u16,
    tpdu_len: usize,
    pdu_len: u16,
    reasm: Box<[u8]>,
    reasm_len: usize,
    reasm_overflow: bool,
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
            pdu_len: 0,
            reasm: vec![0; limits.reassembly_len()].into(),
            reasm_len: 0,
            reasm_overflow: false,
            last_activity: now,
            conn: ConnState::default(),
        }
    }

    /// Returns the session to its initial state for a new connection, keeping its buffers.
    pub fn reset(&mut self, now: Mono) {
        self.phase = Phase::AwaitConnect;
        self.client_ref = 0;
        self.tpdu_len = 128;
        self.pdu_len = 0;
        self.reasm_len = 0;
        self.reasm_overflow = false;
        self.last_activity = now;
        self.conn = ConnState::default();
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
        for i in (0..self.reasm.len()).step_by(4096) {
            self.reasm[i] = std::hint::black_box(0);
        }
    }

    /// The negotiated PDU length (0 before Setup Communication).
    pub fn pdu_len(&self) -> u16 {
        self.pdu_len
    }

    /// When the connection times out unless more bytes arrive.
    pub fn poll_timeout(&self) -> Mono {
        self.last_activity + self.limits.idle_timeout
    }

    /// Closes the connection if its idle deadline has passed.
    pub fn handle_timeout(&mut self, now: Mono) -> Option<CloseReason> {
        (now >= self.poll_timeout()).then_some(CloseReason::IdleTimeout)
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
        let n = match tpkt::frame(rx, MAX_TPKT_LEN) {
            Ok(tpkt::Frame::Incomplete) => {
                return Step {
                    consumed: 0,
                    reply_len: 0,
                    close: None,
                }
            }
            Ok(tpkt::Frame::Complete(n)) => n,
            Err(e) => return close(0, CloseReason::Framing(e)),
        };
        self.last_activity = now.mono;
        let cotp = match CotpPacket::new_checked(&rx[tpkt::HEADER_LEN..n]) {
            Ok(p) => p,
            Err(e) => return close(n, CloseReason::Framing(e)),
        };
        match (cotp.code(), self.phase) {
            (TpduCode::ConnectRequest, Phase::AwaitConnect) => {
                self.connect(n, &cotp, cpu, now.wall_ms, tx, events)
            }
            (TpduCode::ConnectRequest, _) => close(n, CloseReason::UnexpectedConnectRequest),
            (TpduCode::Data, Phase::AwaitConnect) => close(n, CloseReason::DataBeforeConnect),
            (TpduCode::Data, _) => {
                let mut conn = self.conn;
                let mut ctx = Ctx {
                    mem,
                    cpu,
                    conn: &mut conn,
                    events,
                    wall_ms: now.wall_ms,
                    pdu_len: self.pdu_len,
                    slot: self.slot,
                };
                let reply_len = self.data(&cotp, &mut ctx, tx);
                // Keep what the services changed (cursors, legitimation) but not the
                // connection type, which only `connect`/`release` manage.
                let conn_type = self.conn.conn_type;
                self.conn = conn;
                self.conn.conn_type = conn_type;
                Step {
                    consumed: n,
                    reply_len,
                    close: None,
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
                }
            }
            _ => close(n, CloseReason::Framing(WireError::Malformed)),
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
                // congestion at the TSAP for an exhausted quota (ISO 8073 reasons 3 and 1).
                let cause = match reason {
                    crate::plc::cpu::Refusal::QuotaExhausted => 0x01,
                    _ => 0x03,
                };
                let len = cotp::emit_dr(&mut tx[tpkt::HEADER_LEN..], cr.src_ref(), 0, cause)
                    .and_then(|l| tpkt::emit_header(tx, l + tpkt::HEADER_LEN).map(|h| h + l))
                    .unwrap_or(0);
                return Step {
                    consumed: n,
                    reply_len: len,
                    close: Some(CloseReason::ConnectRefused),
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
                }
            }
            None => close(n, CloseReason::ConnectRefused),
        }
    }

    /// Handles a DT TPDU: reassembles until EOT, then answers the complete PDU.
    fn data<M: Memory, E: EventSink>(
        &mut self,
        dt: &CotpPacket<&[u8]>,
        ctx: &mut Ctx<'_, M, E>,
        tx: &mut [u8],
    ) -> usize {
        let part = dt.payload();
        if !dt.eot() || self.reasm_len > 0 || self.reasm_overflow {
            match self
                .reasm
                .get_mut(self.reasm_len..self.reasm_len + part.len())
            {
                Some(dst) => {
                    dst.copy_from_slice(part);
                    self.reasm_len += part.len();
                }
                None => {
                    // Keep the first bytes (they hold the PDU reference) and answer 0x8500.
                    self.reasm_overflow = true;
                }
            }
            if !dt.eot() {
                return 0;
            }
            let reasm = std::mem::take(&mut self.reasm);
            let len = self.reasm_len;
            let reply = if self.reasm_overflow {
                let pdu_ref = s7::peek_pdu_ref(&reasm[..len]).unwrap_or(0);
                self.error_ack(tx, pdu_ref, 0, HeaderError::PDU_SIZE, ctx.events)
            } else {
                self.pdu(&reasm[..len], ctx, tx)
            };
            self.reasm = reasm;
            self.reasm_len = 0;
            self.reasm_overflow = false;
            return reply;
        }
        if part.is_empty() {
            return 0; // an empty DT is a legal no-op (Snap7 treats it as an empty ack)
        }
        self.pdu(part, ctx, tx)
    }

    /// Answers one complete S7 PDU and appends the job the CPU sends next during a download
    /// (after the answer to request download, or in place of an answer to the client's
    /// Ack_Data); returns the framed length of both.
    fn pdu<M: Memory, E: EventSink>(
        &mut self,
        pdu: &[u8],
        ctx: &mut Ctx<'_, M, E>,
        tx: &mut [u8],
    ) -> usize {
        let reply = self.answer_pdu(pdu, ctx, tx);
        match ctx.conn.download.is_some_and(|d| !d.sent) {
            true => reply + self.send_job(ctx, tx.get_mut(reply..).unwrap_or_default()),
            false => reply,
        }
    }

    /// Sends the next download job (`1B` or `1C`) into `tx`, framed.
    fn send_job<M, E>(&self, ctx: &mut Ctx<'_, M, E>, tx: &mut [u8]) -> usize {
        let len = tx
            .get_mut(FRAME_OVERHEAD..)
            .and_then(|b| download::emit_job(ctx, b))
            .unwrap_or(0);
        self.frame(tx, len)
    }

    /// Answers one complete S7 PDU; returns the framed reply length.
    fn answer_pdu<M: Memory, E: EventSink>(
        &mut self,
        pdu: &[u8],
        ctx: &mut Ctx<'_, M, E>,
        tx: &mut [u8],
    ) -> usize {
        let pdu_ref = s7::peek_pdu_ref(pdu).unwrap_or(0);
        let function = pdu.get(1).copied().unwrap_or(0);
        let header = match S7Header::new_checked(pdu) {
            Ok(h) => h,
            Err(_) => {
                return self.error_ack(
                    tx,
                    pdu_ref,
                    function,
                    HeaderError::NOT_IMPLEMENTED,
                    ctx.events,
                )
            }
        };
        if self.phase == Phase::Established && pdu.len() > self.pdu_len as usize {
            return self.error_ack(tx, pdu_ref, function, HeaderError::PDU_SIZE, ctx.events);
        }
        let function = header.params().first().copied().unwrap_or(0);
        let level = ctx.level();
        let result: Result<Answer, JobError> = match (header.rosctr(), function) {
            (Rosctr::Job, setup::FUNCTION) => {
                self.setup(&header, tx, ctx.events).map_err(JobError::from)
            }
            // Nothing but Setup Communication before a PDU size exists: every other request
            // "exceeds" the (not yet negotiated) PDU.
            (_, _) if self.phase != Phase::Established => Err(HeaderError::PDU_SIZE.into()),
            // Protection level 3 (read/write protection) refuses reads, level 2 writes:
            // every item answers 0x03 "access denied", which clients report per item.
            (Rosctr::Job, var::READ) if level >= 3 => self.refuse_items(&header, tx, 4),
            (Rosctr::Job, var::WRITE) if level >= 2 => self.refuse_items(&header, tx, 1),
            (Rosctr::Job, var::READ) => self.read(&header, ctx.mem, tx).map_err(JobError::from),
            (Rosctr::Job, var::WRITE) => self
                .write(&header, ctx.mem, tx, ctx.events)
                .map_err(JobError::from),
            (Rosctr::Job, f) => {
                let p = header.params();
                let body = self.body(tx);
                match f {
                    control::STOP => control::stop(p, ctx, body),
                    control::PI_SERVICE => control::pi_service(p, ctx, body),
                    upload::START => upload::start(p, ctx, body),
                    upload::UPLOAD => upload::upload(p, ctx, body),
                    upload::END => upload::end(p, ctx, body),
                    download::REQUEST => download::request(p, ctx, body),
                    // Download block and download ended are jobs the CPU sends, never
                    // serves; without download they are refused like request download.
                    download::BLOCK | download::ENDED if !ctx.cpu.download_allowed() => {
                        Err(control::PROTECTED.into())
                    }
                    _ => Err(HeaderError::NOT_IMPLEMENTED.into()),
                }
            }
            // The client's answer to the CPU's own download job: consumed, no reply (the
            // next job, if any, follows in `pdu`).
            (Rosctr::AckData, _)
                if ctx
                    .conn
                    .download
                    .is_some_and(|d| d.sent && d.pdu_ref == header.pdu_ref()) =>
            {
                download::answer(header.error(), header.params(), header.data(), ctx);
                return 0;
            }
            (Rosctr::Userdata, _) => return self.userdata(&header, ctx, tx),
            _ => Err(HeaderError::NOT_IMPLEMENTED.into()),
        };
        let (a, error) = match result {
            Ok(a) => (a, HeaderError::NONE),
            Err(JobError { error, param_len }) if param_len > 0 => {
                ctx.events.event(Event::RequestRejected {
                    slot: self.slot,
                    function,
                    error,
                });
                (
                    Answer {
                        param_len,
                        data_len: 0,
                    },
                    error,
                )
            }
            Err(e) => return self.error_ack(tx, pdu_ref, function, e.error, ctx.events),
        };
        let body = s7::emit_header(
            &mut tx[FRAME_OVERHEAD..],
            Rosctr::AckData,
            pdu_ref,
            a.param_len,
            a.data_len,
            error,
        )
        .map(|hl| hl + a.param_len + a.data_len)
        .unwrap_or(0);
        self.frame(tx, body)
    }

    /// The slice of `tx` where the parameter part of an Ack_Data answer goes, bounded by the
    /// negotiated PDU so no service can write a reply larger than it.
    fn body<'t>(&self, tx: &'t mut [u8]) -> &'t mut [u8] {
        let start = FRAME_OVERHEAD + s7::header_len(0x03);
        let end = (FRAME_OVERHEAD + self.pdu_len as usize).min(tx.len());
        tx.get_mut(start..end).unwrap_or_default()
    }

    /// Answers a Read/Write Var whose items are all refused with 0x03 (access denied);
    /// `item_len` is 4 for read items (`03 00 00 00`) and 1 for write items.
    fn refuse_items(
        &self,
        h: &S7Header<&[u8]>,
        tx: &mut [u8],
        item_len: usize,
    ) -> Result<Answer, JobError> {
        let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let n = req.count();
        let function = h.params().first().copied().unwrap_or(0);
        let body = self.body(tx);
        let out = body
            .get_mut(..2 + n * item_len)
            .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
        out.fill(0);
        out[0] = function;
        out[1] = n as u8;
        for i in 0..n {
            out[2 + i * item_len] = 0x03;
        }
        Ok(Answer {
            param_len: 2,
            data_len: n * item_len,
        })
    }

    fn setup<E: EventSink>(
        &mut self,
        h: &S7Header<&[u8]>,
        tx: &mut [u8],
        events: &mut E,
    ) -> Result<Answer, HeaderError> {
        let req = setup::Repr::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let granted = setup::Repr {
            amq_calling: req.amq_calling.min(self.limits.max_amq),
            amq_called: req.amq_called.min(self.limits.max_amq),
            pdu_len: req
                .pdu_len
                .clamp(MIN_PDU_LEN, self.limits.max_pdu.max(MIN_PDU_LEN)),
        };
        self.pdu_len = granted.pdu_len;
        self.phase = Phase::Established;
        events.event(Event::Negotiated {
            slot: self.slot,
            pdu_len: granted.pdu_len,
        });
        let len = granted.emit(self.body(tx)).ok_or(HeaderError::PDU_SIZE)?;
        Ok(Answer {
            param_len: len,
            data_len: 0,
        })
    }

    fn read<M: Memory>(
        &self,
        h: &S7Header<&[u8]>,
        mem: &M,
        tx: &mut [u8],
    ) -> Result<Answer, HeaderError> {
        let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        if !h.data().is_empty() {
            return Err(HeaderError::NOT_IMPLEMENTED);
        }
        read_var::read_var(&req, mem, self.body(tx))
    }

    fn write<M: Memory, E: EventSink>(
        &self,
        h: &S7Header<&[u8]>,
        mem: &mut M,
        tx: &mut [u8],
        events: &mut E,
    ) -> Result<Answer, HeaderError> {
        let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let slot = self.slot;
        write_var::write_var(&req, h.data(), mem, self.body(tx), |w| {
            events.event(Event::ClientWrite {
                slot,
                area: w.item.area,
                db: w.item.db,
                offset: w.target.offset as u32,
                len: w.target.len as u16,
                bit: w.target.bit,
            })
        })
    }

    /// Userdata: routed by [`ud_service::dispatch`]; every request gets an answer, an
    /// error answer (PROTOCOL.md §8.2) for what is not served.
    fn userdata<M: Memory, E: EventSink>(
        &mut self,
        h: &S7Header<&[u8]>,
        ctx: &mut Ctx<'_, M, E>,
        tx: &mut [u8],
    ) -> usize {
        let Ok(p) = userdata::Params::parse(h.params()) else {
            return self.error_ack(
                tx,
                h.pdu_ref(),
                0x07,
                HeaderError::NOT_IMPLEMENTED,
                ctx.events,
            );
        };
        let plen = userdata::RESPONSE_PARAM_LEN;
        // The userdata header is 10 bytes: parameter and data follow it directly.
        let start = FRAME_OVERHEAD + s7::header_len(0x07);
        let end = (FRAME_OVERHEAD + self.pdu_len as usize).min(tx.len());
        let Some(area) = tx.get_mut(start..end).filter(|a| a.len() >= plen + 4) else {
            return 0;
        };
        let (head, data) = area.split_at_mut(plen);
        let mut a = ud_service::dispatch(&p, h.data(), ctx, data);
        if a.error != HeaderError::NONE || a.data_len == 0 {
            if a.error != HeaderError::NONE {
                ctx.events.event(Event::RequestRejected {
                    slot: self.slot,
                    function: 0x07,
                    error: a.error,
                });
            }
            data[..4].copy_from_slice(&userdata::EMPTY_DATA);
            a = UdAnswer { data_len: 4, ..a };
        }
        let _ = userdata::emit_response_params(
            head,
            p.group,
            p.subfunction,
            a.seq,
            a.dur,
            a.more,
            a.error,
        );
        let hl = s7::emit_header(
            &mut tx[FRAME_OVERHEAD..],
            Rosctr::Userdata,
            h.pdu_ref(),
            plen,
            a.data_len,
            HeaderError::NONE,
        )
        .unwrap_or(0);
        self.frame(tx, hl + plen + a.data_len)
    }

    fn error_ack<E: EventSink>(
        &self,
        tx: &mut [u8],
        pdu_ref: u16,
        function: u8,
        e: HeaderError,
        events: &mut E,
    ) -> usize {
        events.event(Event::RequestRejected {
            slot: self.slot,
            function,
            error: e,
        });
        let len = s7::emit_error_ack(&mut tx[FRAME_OVERHEAD..], pdu_ref, e).unwrap_or(0);
        self.frame(tx, len)
    }

    /// Wraps the S7 PDU at `tx[7..7 + pdu_len]` into TPKT/DT records of at most the
    /// confirmed TPDU size, in place. Returns the total length (0 if nothing to send).
    fn frame(&self, tx: &mut [u8], pdu_len: usize) -> usize {
        if pdu_len == 0 {
            return 0;
        }
        let chunk = self.tpdu_len - cotp::DT_HEADER_LEN;
        if pdu_len <= chunk && FRAME_OVERHEAD + pdu_len <= tx.len() {
            // One TPDU (every answer that fits the confirmed TPDU size): the PDU is already
            // in place, only its headers are written.
            let _ = tpkt::emit_header(tx, FRAME_OVERHEAD + pdu_len);
            let _ = cotp::emit_dt_header(&mut tx[tpkt::HEADER_LEN..], true);
            return FRAME_OVERHEAD + pdu_len;
        }
        let k = pdu_len.div_ceil(chunk);
        if FRAME_OVERHEAD * k + pdu_len > tx.len() {
            return 0;
        }
        // Move fragments to their final places from the last to the first: each one moves
        // towards the end, so a fragment never overwrites one not yet moved.
        for i in (0..k).rev() {
            let start = FRAME_OVERHEAD + i * chunk;
            let end = (start + chunk).min(FRAME_OVERHEAD + pdu_len);
            let dst = FRAME_OVERHEAD * (i + 1) + i * chunk;
            tx.copy_within(start..end, dst);
            let hdr = dst - FRAME_OVERHEAD;
            let _ = tpkt::emit_header(&mut tx[hdr..], FRAME_OVERHEAD + end - start);
            let _ = cotp::emit_dt_header(&mut tx[hdr + tpkt::HEADER_LEN..], i + 1 == k);
        }
        FRAME_OVERHEAD * k + pdu_len
    }
}

fn close(consumed: usize, reason: CloseReason) -> Step {
    Step {
        consumed,
        reply_len: 0,
        close: Some(reason),
    }
}
