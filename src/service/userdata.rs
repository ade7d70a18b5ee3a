//! The userdata dispatcher (ROSCTR 7): routes a request by function group and subfunction
//! to its service, and gives every request it does not serve a well-formed error answer
//! (docs/protocol.md §7.2) instead of silence.
//!
//! Groups served: 3 block functions, 4 CPU functions (subfunction 1 read SZL), 5 security,
//! 7 time. Answered with error `0x8104` (service not implemented): group 1 programmer
//! commands, group 2 cyclic data, group 4 message/alarm services, group 6 and any unknown
//! group or subfunction. The type nibble of a request is ignored (real CPUs accept pyS7's
//! `0x04` "push" type for a read SZL request).

use crate::events::EventSink;
use crate::plc::Memory;
use crate::service::ctx::{Ctx, UdAnswer};
use crate::service::{blocks, clock, security, szl};
use crate::wire::szl::{self as wszl, Window};
use crate::wire::userdata::{Function, Params};
use crate::wire::HeaderError;

/// Routes one request. `out` is the data area of the answer (after the 12-byte parameter
/// head), already bounded by the negotiated PDU.
pub(crate) fn dispatch<M: Memory, E: EventSink>(
    p: &Params,
    data: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> UdAnswer {
    match p.function() {
        Function::ReadSzl => read_szl(p, data, ctx, out),
        Function::ReadClock => clock::read(p, ctx, out),
        Function::SetClock => clock::set(p, data, ctx),
        Function::ListAllBlocks => blocks::list_all(p, ctx, out),
        Function::ListBlocksOfType => blocks::list_of_type(p, data, ctx, out),
        Function::BlockInfo => blocks::info(p, data, ctx, out),
        Function::EnterPassword => security::enter(p, data, ctx),
        Function::ClearPassword => security::clear(p, ctx),
        Function::Unknown { .. } => UdAnswer::err(p.seq, HeaderError::NOT_IMPLEMENTED),
    }
}

fn live<'c, M, E>(ctx: &'c Ctx<'_, M, E>) -> szl::Live<'c> {
    szl::Live {
        cpu: ctx.cpu,
        pdu_len: ctx.pdu_len(),
        legitimated: ctx.conn.legitimated,
    }
}

/// Read SZL, first request or follow-up (docs/protocol.md §7.3).
fn read_szl<M, E>(p: &Params, data: &[u8], ctx: &mut Ctx<'_, M, E>, out: &mut [u8]) -> UdAnswer {
    // `out` ends where the negotiated PDU does.
    let room = out.len();
    if p.follow_up && wszl::Request::parse(data).is_none() {
        let Some(cur) = ctx.conn.szl.filter(|c| c.seq == p.seq) else {
            return UdAnswer::err(p.seq, HeaderError::SZL_UNKNOWN_INDEX);
        };
        let win = room.saturating_sub(wszl::NEXT_HEAD_LEN);
        let (head, body) = out.split_at_mut(wszl::NEXT_HEAD_LEN.min(out.len()));
        let mut w = Window::new(body.get_mut(..win).unwrap_or_default(), cur.sent);
        if let Err(e) = szl::stream(cur.id, cur.index, &live(ctx), &mut w) {
            ctx.conn.szl = None;
            return UdAnswer::err(p.seq, e);
        }
        let (n, total) = (w.written(), w.total());
        let more = cur.sent + n < total;
        ctx.conn.szl = more.then_some(crate::service::conn::SzlCursor {
            sent: cur.sent + n,
            ..cur
        });
        let _ = wszl::emit_data_head(head, n);
        return UdAnswer {
            seq: cur.seq,
            dur: cur.dur,
            more,
            error: HeaderError::NONE,
            data_len: wszl::NEXT_HEAD_LEN + n,
        };
    }
    let Some(req) = wszl::Request::parse(data) else {
        return UdAnswer::err(p.seq, HeaderError::SZL_UNKNOWN_ID);
    };
    let win = room.saturating_sub(wszl::FIRST_HEAD_LEN);
    if out.len() < wszl::FIRST_HEAD_LEN {
        return UdAnswer::err(p.seq, HeaderError::PDU_SIZE);
    }
    let (head, body) = out.split_at_mut(wszl::FIRST_HEAD_LEN);
    let mut w = Window::new(body.get_mut(..win).unwrap_or_default(), 0);
    if let Err(e) = szl::stream(req.id, req.index, &live(ctx), &mut w) {
        return UdAnswer::err(p.seq, e);
    }
    let (n, total) = (w.written(), w.total());
    let _ = wszl::emit_data_head(head, 4 + n);
    head[4..6].copy_from_slice(&req.id.to_be_bytes());
    head[6..8].copy_from_slice(&req.index.to_be_bytes());
    if n >= total {
        ctx.conn.szl = None;
        return UdAnswer::ok(p.seq, wszl::FIRST_HEAD_LEN + n);
    }
    let (seq, dur) = (ctx.conn.next_id(), ctx.conn.next_id());
    ctx.conn.szl = Some(crate::service::conn::SzlCursor {
        seq,
        dur,
        id: req.id,
        index: req.index,
        sent: n,
    });
    UdAnswer {
        seq,
        dur,
        more: true,
        error: HeaderError::NONE,
        data_len: wszl::FIRST_HEAD_LEN + n,
    }
}
