//! Time functions (userdata group 7, docs/protocol.md §7.4): read the PLC clock (subfunctions 1
//! and 3) and set it (2, and PLC4X's 4). Setting keeps an offset in the CPU: the host clock
//! is never touched, and every later read, SZL 0x0424 timestamp and diagnostic entry
//! follows it.

use crate::events::{Event, EventSink};
use crate::plc::clock::{century_byte, decode_date_and_time, encode_date_and_time};
use crate::plc::diag::event_id;
use crate::service::ctx::{Ctx, UdAnswer};
use crate::wire::szl::emit_data_head;
use crate::wire::userdata::Params;
use crate::wire::HeaderError;

/// Read clock: `FF 09 00 0A` + reserved `00`, century, 8-byte DATE_AND_TIME.
pub(crate) fn read<M, E>(p: &Params, ctx: &mut Ctx<'_, M, E>, out: &mut [u8]) -> UdAnswer {
    let Some(b) = out.get_mut(..14) else {
        return UdAnswer::err(p.seq, HeaderError::PDU_SIZE);
    };
    let dt = encode_date_and_time(ctx.cpu.plc_time_ms(ctx.wall_ms));
    let _ = emit_data_head(b, 10);
    b[4] = 0x00;
    b[5] = century_byte(&dt);
    b[6..14].copy_from_slice(&dt);
    UdAnswer::ok(p.seq, 14)
}

/// Set clock: data `FF 09 00 0A` + reserved, century (ignored), DATE_AND_TIME.
pub(crate) fn set<M, E: EventSink>(p: &Params, data: &[u8], ctx: &mut Ctx<'_, M, E>) -> UdAnswer {
    if ctx.level() >= 2 || !ctx.conn.grant.may_set_clock() {
        return UdAnswer::err(p.seq, HeaderError::CLOCK_PROTECTED);
    }
    let Some(plc_ms) = data.get(6..14).and_then(decode_date_and_time) else {
        return UdAnswer::err(p.seq, HeaderError::INVALID_TIME);
    };
    ctx.cpu.set_clock(plc_ms, ctx.wall_ms);
    ctx.cpu
        .log(event_id::CLOCK_SET, 0, u32::from(ctx.slot), ctx.wall_ms);
    ctx.events.event(Event::ClockSet {
        slot: ctx.slot,
        plc_ms,
    });
    UdAnswer::err(p.seq, HeaderError::NONE)
}
