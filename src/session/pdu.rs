//! From DT TPDUs to answers: reassembly of a PDU sent in several TPDUs, the answer to a
//! complete PDU (through `service::dispatch`, with the CPU's own job behind it during a
//! download), and the framing of an answer into TPKT/DT records of the confirmed size.

use crate::events::EventSink;
use crate::plc::Memory;
use crate::service::ctx::Ctx;
use crate::service::dispatch::{self, Answered, Reply};
use crate::settings::FRAME_OVERHEAD;
use crate::wire::{cotp, tpkt, CotpPacket};

/// DT TPDUs of a PDU not yet complete (the last one carries EOT).
#[derive(Debug)]
pub(super) struct Reassembly {
    pub(super) buf: Box<[u8]>,
    pub(super) len: usize,
    /// The PDU outgrew `buf`: its first bytes (they hold the PDU reference) are kept and it
    /// is answered with 0x8500.
    pub(super) overflow: bool,
}

impl Reassembly {
    /// Handles a DT TPDU: reassembles until EOT, then answers the complete PDU. Returns the
    /// framed length of the answer and what it answered.
    pub(super) fn data<M: Memory, E: EventSink>(
        &mut self,
        dt: &CotpPacket<&[u8]>,
        tpdu_len: usize,
        ctx: &mut Ctx<'_, M, E>,
        tx: &mut [u8],
    ) -> (usize, Option<Answered>) {
        let part = dt.payload();
        if !dt.eot() || self.len > 0 || self.overflow {
            match self.buf.get_mut(self.len..self.len + part.len()) {
                Some(dst) => {
                    dst.copy_from_slice(part);
                    self.len += part.len();
                }
                None => self.overflow = true,
            }
            if !dt.eot() {
                return (0, None);
            }
            let pdu = &self.buf[..self.len];
            let reply = match self.overflow {
                true => match tx.get_mut(FRAME_OVERHEAD..) {
                    Some(out) => {
                        let r = dispatch::too_long(pdu, ctx, out);
                        (frame(tx, tpdu_len, r.len), Some(r.answered))
                    }
                    None => (0, None),
                },
                false => answer(pdu, tpdu_len, ctx, tx),
            };
            self.len = 0;
            self.overflow = false;
            return reply;
        }
        if part.is_empty() {
            return (0, None); // an empty DT is a legal no-op (Snap7 treats it as an empty ack)
        }
        answer(part, tpdu_len, ctx, tx)
    }
}

/// Answers one complete S7 PDU and appends the job the CPU sends next during a download
/// (after the answer to request download, or in place of an answer to the client's
/// Ack_Data); returns the framed length of both and what the PDU asked.
fn answer<M: Memory, E: EventSink>(
    pdu: &[u8],
    tpdu_len: usize,
    ctx: &mut Ctx<'_, M, E>,
    tx: &mut [u8],
) -> (usize, Option<Answered>) {
    let Some(out) = tx.get_mut(FRAME_OVERHEAD..) else {
        return (0, None);
    };
    let Reply { len, answered } = dispatch::answer(pdu, ctx, out);
    let reply = frame(tx, tpdu_len, len);
    if !dispatch::job_due(ctx) {
        return (reply, Some(answered)); // the common case: no download under way
    }
    let rest = tx.get_mut(reply..).unwrap_or_default();
    let job = rest
        .get_mut(FRAME_OVERHEAD..)
        .map_or(0, |out| dispatch::next_job(ctx, out));
    (reply + frame(rest, tpdu_len, job), Some(answered))
}

/// Wraps the S7 PDU at `tx[7..7 + pdu_len]` into TPKT/DT records of at most the confirmed
/// TPDU size, in place. Returns the total length (0 if nothing to send).
#[inline]
pub(super) fn frame(tx: &mut [u8], tpdu_len: usize, pdu_len: usize) -> usize {
    if pdu_len == 0 {
        return 0;
    }
    let chunk = tpdu_len - cotp::DT_HEADER_LEN;
    if pdu_len <= chunk && FRAME_OVERHEAD + pdu_len <= tx.len() {
        // One TPDU (every answer that fits the confirmed TPDU size): the PDU is already in
        // place, only its headers are written.
        let _ = tpkt::emit_header(tx, FRAME_OVERHEAD + pdu_len);
        let _ = cotp::emit_dt_header(&mut tx[tpkt::HEADER_LEN..], true);
        return FRAME_OVERHEAD + pdu_len;
    }
    fragment(tx, chunk, pdu_len)
}

/// [`frame`] of a PDU longer than one TPDU: `k` TPKT/DT records of `chunk` bytes each.
#[cold]
fn fragment(tx: &mut [u8], chunk: usize, pdu_len: usize) -> usize {
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
