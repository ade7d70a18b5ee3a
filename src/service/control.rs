//! PLC control (docs/protocol.md §8): PLC stop (job 0x29) and PI services (job 0x28): hot start
//! `P_PROGRAM`, cold start `P_PROGRAM "C "`, compress `_GARB`, copy RAM to ROM `_MODU`.
//! Block insert/delete (`_INSE`, `_DELE`) are served by [`download`] when the configuration
//! allows them, and otherwise refused like a protected CPU refuses them (`0xD241`); any other
//! service name is unknown.
//!
//! Refusals with a reason Snap7's client decodes carry the function byte and a status byte
//! in a 2-byte parameter (`29 07` already in STOP, `28 03` already in RUN). Which header
//! error a real CPU sends with them is not known (docs/protocol.md §8): s7rt uses `0x8404`.

use crate::events::{Event, EventSink};
use crate::plc::cpu::Mode;
use crate::plc::diag::event_id;
use crate::plc::personality::OutputsInStop;
use crate::plc::Memory;
use crate::service::ctx::Ctx;
use crate::service::download;
use crate::service::{function_only, Answer, JobError};
use crate::wire::pi::{self, Service};
use crate::wire::s7::Function;
use crate::wire::var::Area;
use crate::wire::HeaderError;

fn refuse(function: Function, status: u8, out: &mut [u8]) -> JobError {
    match out.get_mut(..2) {
        Some(b) => {
            b.copy_from_slice(&[function.into(), status]);
            JobError {
                error: HeaderError::CANNOT_PERFORM,
                param_len: 2,
            }
        }
        None => JobError::from(HeaderError::CANNOT_PERFORM),
    }
}

/// PLC stop.
pub(crate) fn stop<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    if params.len() < 7 {
        return Err(HeaderError::NOT_IMPLEMENTED.into());
    }
    if ctx.level() >= 2 || !ctx.conn.grant.may_control() {
        return Err(HeaderError::PROTECTED.into());
    }
    if ctx.cpu.mode() == Mode::Stop {
        return Err(refuse(Function::PlcStop, 0x07, out));
    }
    ctx.cpu
        .set_mode(Mode::Stop, event_id::STOP_BY_PG, ctx.slot, ctx.wall_ms);
    if ctx.cpu.personality.outputs_in_stop == OutputsInStop::Zero {
        if let Ok(q) = ctx.mem.area_mut(Area::Outputs, 0) {
            q.fill(0);
        }
    }
    ctx.events.event(Event::ModeChanged {
        slot: ctx.slot,
        mode: Mode::Stop,
        cold: false,
    });
    function_only(Function::PlcStop, out)
}

/// PI service.
pub(crate) fn pi_service<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    let req = pi::Request::parse(params).ok_or(JobError::from(HeaderError::NOT_IMPLEMENTED))?;
    let service = req.service;
    if service == Service::Unknown {
        return Err(HeaderError::NOT_IMPLEMENTED.into());
    }
    if ctx.level() >= 2 {
        return Err(HeaderError::PROTECTED.into());
    }
    match service {
        Service::Insert => download::insert(&req, ctx)?,
        Service::Delete => download::delete(&req, ctx)?,
        Service::HotStart | Service::ColdStart => {
            if !ctx.conn.grant.may_control() {
                return Err(HeaderError::PROTECTED.into());
            }
            if ctx.cpu.mode() == Mode::Run {
                return Err(refuse(Function::PiService, 0x03, out));
            }
            let cold = service == Service::ColdStart;
            let id = if cold {
                event_id::COLD_RESTART
            } else {
                event_id::WARM_RESTART
            };
            ctx.cpu.log(id, 0, u32::from(ctx.slot), ctx.wall_ms);
            ctx.cpu
                .set_mode(Mode::Run, event_id::RUN, ctx.slot, ctx.wall_ms);
            ctx.events.event(Event::ModeChanged {
                slot: ctx.slot,
                mode: Mode::Run,
                cold,
            });
        }
        _ => {
            ctx.cpu.log(
                event_id::MEMORY_SERVICE,
                0,
                u32::from(ctx.slot),
                ctx.wall_ms,
            );
        }
    }
    function_only(Function::PiService, out)
}
