//! Security (userdata group 5, docs/protocol.md §7.6): enter and clear the session password.
//! The password is checked for real; a right one gives this connection protection level 1
//! until it clears it or disconnects.

use crate::events::{Event, EventSink};
use crate::plc::diag::event_id;
use crate::service::ctx::{Ctx, UdAnswer};
use crate::wire::userdata::Params;
use crate::wire::HeaderError;

/// Enter password: data `FF 09 00 08` + 8 scrambled bytes.
pub(crate) fn enter<M, E: EventSink>(p: &Params, data: &[u8], ctx: &mut Ctx<'_, M, E>) -> UdAnswer {
    if !ctx.cpu.has_password() {
        return UdAnswer::err(p.seq, HeaderError::NO_PASSWORD);
    }
    let accepted = data
        .get(4..12)
        .is_some_and(|pw| ctx.cpu.password_matches(pw));
    let id = if accepted {
        event_id::PASSWORD_OK
    } else {
        event_id::PASSWORD_WRONG
    };
    ctx.cpu.log(id, 0, u32::from(ctx.slot), ctx.wall_ms);
    ctx.events.event(Event::Password {
        slot: ctx.slot,
        accepted,
    });
    if accepted {
        ctx.conn.legitimated = true;
        UdAnswer::err(p.seq, HeaderError::NONE)
    } else {
        UdAnswer::err(p.seq, HeaderError::WRONG_PASSWORD)
    }
}

/// Clear password: data `0A 00 00 00`.
pub(crate) fn clear<M, E: EventSink>(p: &Params, ctx: &mut Ctx<'_, M, E>) -> UdAnswer {
    if !ctx.cpu.has_password() {
        return UdAnswer::err(p.seq, HeaderError::NO_PASSWORD);
    }
    if !ctx.conn.legitimated {
        return UdAnswer::err(p.seq, HeaderError::NOT_LEGITIMATED);
    }
    ctx.conn.legitimated = false;
    ctx.events.event(Event::PasswordCleared { slot: ctx.slot });
    UdAnswer::err(p.seq, HeaderError::NONE)
}
