//! PLC control (PROTOCOL.md §9): PLC stop (job 0x29) and PI services (job 0x28): hot start
//! `P_PROGRAM`, cold start `P_PROGRAM "C "`, compress `_GARB`, copy RAM to ROM `_MODU`.
//! Block insert/delete (`_INSE`, `_DELE`) are served by [`download`] when the configuration
//! allows them, and otherwise refused like a protected CPU refuses them (`0xD241`); any other
//! service name is unknown.
//!
//! Refusals with a reason Snap7's client decodes carry the function byte and a status byte
//! in a 2-byte parameter (`29 07` already in STOP, `28 03` already in RUN). Which header
//! error a real CPU sends with them is not known (PROTOCOL.md §9): s7rt uses `0x8404`.

use crate::events::{Event, EventSink};
use crate::plc::cpu::Mode;
use crate::plc::diag::event_id;
use crate::plc::personality::OutputsInStop;
use crate::plc::Memory;
use crate::service::ctx::Ctx;
use crate::service::download;
use crate::service::{Answer, JobError};
use crate::wire::var::Area;
use crate::wire::HeaderError;

/// Job function PLC stop.
pub(crate) const STOP: u8 = 0x29;
/// Job function PI service.
pub(crate) const PI_SERVICE: u8 = 0x28;
/// Header error sent with "already in STOP/RUN" (the real CPU's code is not verified).
pub(crate) const ALREADY: HeaderError = HeaderError(0x8404);

/// What a PI service request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PiService {
    /// Warm (hot) start.
    HotStart,
    /// Cold start.
    ColdStart,
    /// Compress memory.
    Compress,
    /// Copy RAM to ROM.
    CopyRamToRom,
    /// Insert (activate) a downloaded block.
    Insert,
    /// Delete a block.
    Delete,
    /// Anything else.
    Unknown,
}

/// Parses a PI service parameter: `28`, 7 unknown bytes, parameter block length (2),
/// parameter block, name length (1), name. Returns the service and the parameter block (for
/// `_INSE`/`_DELE`: the block list).
pub(crate) fn parse_pi_block(params: &[u8]) -> Option<(PiService, &[u8])> {
    let plen = usize::from(u16::from_be_bytes([*params.get(8)?, *params.get(9)?]));
    let block = params.get(10..10 + plen)?;
    let nlen = usize::from(*params.get(10 + plen)?);
    let name = params.get(11 + plen..11 + plen + nlen)?;
    let service = match name {
        b"P_PROGRAM" if block.first() == Some(&b'C') => PiService::ColdStart,
        b"P_PROGRAM" => PiService::HotStart,
        b"_GARB" => PiService::Compress,
        b"_MODU" => PiService::CopyRamToRom,
        b"_INSE" => PiService::Insert,
        b"_DELE" => PiService::Delete,
        _ => PiService::Unknown,
    };
    Some((service, block))
}

fn ok(function: u8, out: &mut [u8]) -> Result<Answer, JobError> {
    let b = out
        .first_mut()
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    *b = function;
    Ok(Answer {
        param_len: 1,
        data_len: 0,
    })
}

fn refuse(function: u8, status: u8, out: &mut [u8]) -> JobError {
    match out.get_mut(..2) {
        Some(b) => {
            b.copy_from_slice(&[function, status]);
            JobError {
                error: ALREADY,
                param_len: 2,
            }
        }
        None => JobError::from(ALREADY),
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
        return Err(refuse(STOP, 0x07, out));
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
    ok(STOP, out)
}

/// PI service.
pub(crate) fn pi_service<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    let (service, block) =
        parse_pi_block(params).ok_or(JobError::from(HeaderError::NOT_IMPLEMENTED))?;
    if service == PiService::Unknown {
        return Err(HeaderError::NOT_IMPLEMENTED.into());
    }
    if ctx.level() >= 2 {
        return Err(HeaderError::PROTECTED.into());
    }
    match service {
        PiService::Insert => download::insert(block, ctx)?,
        PiService::Delete => download::delete(block, ctx)?,
        PiService::HotStart | PiService::ColdStart => {
            if !ctx.conn.grant.may_control() {
                return Err(HeaderError::PROTECTED.into());
            }
            if ctx.cpu.mode() == Mode::Run {
                return Err(refuse(PI_SERVICE, 0x03, out));
            }
            let cold = service == PiService::ColdStart;
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
    ok(PI_SERVICE, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_pi_services_of_golden_frames_74_and_80() {
        let parse_pi = |p: &[u8]| parse_pi_block(p).map(|(s, _)| s);
        let hot = b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x09P_PROGRAM";
        let cold = b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x02C \x09P_PROGRAM";
        assert_eq!(parse_pi(hot), Some(PiService::HotStart));
        assert_eq!(parse_pi(cold), Some(PiService::ColdStart));
        assert_eq!(
            parse_pi(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x05_GARB"),
            Some(PiService::Compress)
        );
        assert_eq!(
            parse_pi(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x05_XXXX"),
            Some(PiService::Unknown)
        );
        assert_eq!(parse_pi(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x09"), None);
    }
}
