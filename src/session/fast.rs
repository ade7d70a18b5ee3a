//! The common request's own path: a Read Var job in one DT TPDU, recognised by a few checks
//! on the raw bytes and answered straight into the send buffer, instead of going through
//! TPKT, COTP, reassembly, the S7 header, the job router and the request parser, each
//! checking its own bounds (docs/realtime.md "Where a request's cost goes").
//!
//! It is a shortcut, not a second implementation: it answers only what the general path
//! would answer the same way, with the same item code (`service::read_var::answer_item`,
//! item errors included), header and framing, and declines everything else (an item without
//! the variable specification `12 0A`, an answer that does not fit the PDU, anything it does
//! not recognise); the session then takes the general path. The session calls it only where
//! the general path would serve Read Var without access rules, protection or download in the
//! way (see `Session::fast_ready`). A differential test (`tests.rs`) checks byte-identical
//! answers against the general path.

use super::pdu::frame;
use super::MAX_TPKT_LEN;
use crate::plc::Memory;
use crate::service::read_var;
use crate::settings::FRAME_OVERHEAD;
use crate::wire::cotp;
use crate::wire::var::ITEM_LEN;

/// Bytes of a Read Var job before its first item: TPKT (4), DT (3), the job's S7 header
/// (10) and the parameter's `04 N`.
const ITEMS_AT: usize = FRAME_OVERHEAD + 10 + 2;
/// Bytes of an Ack_Data answer to Read Var before its first data item: header (12) and the
/// parameter's `04 N`.
const ANSWER_ITEMS_AT: usize = 12 + 2;

/// Answers the TPKT at the start of `rx` into `tx` if it is a Read Var job in one DT TPDU
/// (EOT) whose items all have the variable specification `12 0A` (an item with another
/// syntax id gets its item error, as on the general path) and whose answer fits `pdu_len`. Returns the bytes consumed
/// and the framed reply length; `None`: not that case, nothing consumed (`tx` may hold
/// scratch bytes, which the general path overwrites).
#[inline(always)]
pub(super) fn read_var<M: Memory>(
    rx: &[u8],
    pdu_len: u16,
    tpdu_len: usize,
    mem: &M,
    tx: &mut [u8],
) -> Option<(usize, usize)> {
    // TPKT v3, DT with LI 2, S7 protocol id, Job, no data part, Read Var: the checks of
    // `tpkt::frame`, `CotpPacket::new_checked`, `S7Header::new_checked` and
    // `var::Request::parse` for this one shape.
    let [3, 0, l0, l1, 2, 0xF0, dt, 0x32, 1, _, _, r0, r1, p0, p1, 0, 0, 0x04, n, ..] = *rx else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let param_len = usize::from(u16::from_be_bytes([p0, p1]));
    let count = usize::from(n);
    if dt & cotp::EOT == 0
        || count == 0
        || param_len != 2 + count * ITEM_LEN
        || len != ITEMS_AT - 2 + param_len
        || len > MAX_TPKT_LEN
        || 10 + param_len > usize::from(pdu_len)
    {
        return None;
    }
    let items = rx.get(ITEMS_AT..len)?;
    // The answer's bound, as the general path computes it: the negotiated PDU.
    let end = (FRAME_OVERHEAD + usize::from(pdu_len)).min(tx.len());
    let out = tx.get_mut(FRAME_OVERHEAD..end)?;
    if out.len() < ANSWER_ITEMS_AT {
        return None;
    }
    let (head, body) = out.split_at_mut(ANSWER_ITEMS_AT);
    let at = if count == 1 {
        // One item (the common case): answered in place, no call.
        read_var::item(items, mem, body, true).ok()?
    } else {
        let mut at = 0;
        for (i, raw) in items.chunks_exact(ITEM_LEN).enumerate() {
            let rest = body.get_mut(at..).unwrap_or_default();
            at += read_var::answer_item(raw, mem, rest, i + 1 == count).ok()?;
        }
        at
    };
    let [d0, d1] = u16::try_from(at).ok()?.to_be_bytes();
    head.copy_from_slice(&[0x32, 0x03, 0, 0, r0, r1, 0, 2, d0, d1, 0, 0, 0x04, n]);
    let pdu = ANSWER_ITEMS_AT + at;
    if pdu + cotp::DT_HEADER_LEN > tpdu_len {
        return Some((len, frame(tx, tpdu_len, pdu))); // fragmented
    }
    // One TPDU: `frame`'s headers, written here.
    let [t0, t1] = ((FRAME_OVERHEAD + pdu) as u16).to_be_bytes();
    tx[..FRAME_OVERHEAD].copy_from_slice(&[3, 0, t0, t1, 2, 0xF0, cotp::EOT]);
    Some((len, FRAME_OVERHEAD + pdu))
}

#[cfg(test)]
mod tests;
