//! Block download and delete (docs/protocol.md §9, §8), when the configuration allows them.
//!
//! Download, as Snap7's client (`opDownload`) and a real CPU run it:
//! 1. client job `1A` request download: file name `_0A<5 digits>P`, load-memory and MC7
//!    lengths (6 ASCII digits each); the CPU answers `1A` (Ack_Data, parameter length 1);
//! 2. the **CPU** sends job `1B` download block (own PDU reference, parameter `1B 00 00 00
//!    00 00 00 00 09 <file name>`); the client answers Ack_Data `1B <more>` + data
//!    `<n (2)> 00 FB <n block bytes>`; repeated while the client says more follow;
//! 3. the CPU sends job `1C` download ended (`1C 00 <error (2)> 00 00 00 00 09 <file name>`);
//!    the client answers `1C`;
//! 4. the client sends PI `_INSE` for the block; only then does the DB change: its content
//!    is replaced in one copy on the RT thread, so no client ever sees half of it.
//!
//! s7rt can only replace a configured, writable DB by a block of the same MC7 length (the
//! image is allocated at start-up and never grows). Refusals (header errors of the `1A`
//! answer): download not allowed or protection level ≥ 2 `D241`; not a DB `D203`; DB not
//! configured or MC7 length ≠ its size `8301`; read-only DB `8703`; another connection's
//! download in progress `8304`; malformed parameter `D202`. A block that arrives broken (wrong
//! length, header disagreeing with the request) ends with `1C` carrying error `8003`, and the
//! following `_INSE` is refused with `D209` (no such downloaded block).
//!
//! Delete (`_DELE`): a DB is marked deleted (reads answer 0x0A, lists omit it) until a
//! download re-inserts it. Errors: `D241` not allowed, `D203` not a DB, `D209` no such DB,
//! `8703` read-only.

use crate::events::{Event, EventSink};
use crate::plc::diag::event_id;
use crate::plc::staging::{BlockFault, Busy};
use crate::plc::{ItemError, Memory};
use crate::service::blocks;
use crate::service::conn::{Download, DownloadStep};
use crate::service::ctx::Ctx;
use crate::service::{Answer, JobError};
use crate::wire::block::sub_type;
use crate::wire::pi;
use crate::wire::s7::{self, Function, Rosctr};
use crate::wire::transfer::{self, RequestDownload};
use crate::wire::HeaderError;

/// Sub-block type of a DB.
const DB: u8 = sub_type::DB;

fn item_error(e: ItemError) -> HeaderError {
    match e {
        ItemError::AccessDenied => HeaderError::ACCESS_REFUSED,
        _ => HeaderError::NO_MEMORY,
    }
}

/// Request download (job `1A`): checks the request, claims the staging area and schedules
/// the first `1B` job; answers `1A`.
pub(crate) fn request<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    if !ctx.cpu.download_allowed() || ctx.level() >= 2 || !ctx.conn.grant.may_download() {
        return Err(HeaderError::PROTECTED.into());
    }
    let r = RequestDownload::parse(params).ok_or(JobError::from(HeaderError::BAD_BLOCK_PARAM))?;
    if r.sub_type != DB {
        return Err(HeaderError::BAD_BLOCK_TYPE.into());
    }
    let size = ctx.mem.db_capacity(r.number).map_err(item_error)?;
    if r.mc7_len != size {
        return Err(HeaderError::NO_MEMORY.into());
    }
    if r.load_len < blocks::HEADER_LEN + r.mc7_len + blocks::FOOTER_LEN {
        return Err(HeaderError::BAD_BLOCK_PARAM.into());
    }
    let b = out
        .first_mut()
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    ctx.cpu
        .staging
        .begin(ctx.slot, r.sub_type, r.number, r.load_len, r.mc7_len)
        .map_err(|e| match e {
            Busy::OtherDownload => HeaderError::BUSY,
            Busy::TooLarge => HeaderError::NO_MEMORY,
        })?;
    *b = Function::RequestDownload.into();
    ctx.conn.download = Some(Download {
        step: DownloadStep::Block,
        pdu_ref: 0,
        sent: false,
        error: HeaderError::NONE,
    });
    Ok(Answer {
        param_len: 1,
        data_len: 0,
    })
}

/// Writes the job the CPU sends next (`1B` or `1C`, header and parameter, with a fresh PDU
/// reference) into `out` and marks it sent; returns the PDU length.
pub(crate) fn emit_job<M, E>(ctx: &mut Ctx<'_, M, E>, out: &mut [u8]) -> Option<usize> {
    let d = ctx.conn.download.filter(|d| !d.sent)?;
    let hl = s7::header_len(Rosctr::Job);
    let plen = job_params(&d, ctx, out.get_mut(hl..)?)?;
    let pdu_ref = ctx.conn.next_job_ref();
    s7::emit_header(out, Rosctr::Job, pdu_ref, plen, 0, HeaderError::NONE)?;
    ctx.conn.download = Some(Download {
        pdu_ref,
        sent: true,
        ..d
    });
    Some(hl + plen)
}

/// Writes the parameter of download job `d` into `out`; returns its length.
fn job_params<M, E>(d: &Download, ctx: &Ctx<'_, M, E>, out: &mut [u8]) -> Option<usize> {
    let (sub, number) = ctx.cpu.staging.block();
    let (function, error) = match d.step {
        DownloadStep::Block => (Function::DownloadBlock, HeaderError::NONE),
        DownloadStep::Ended => (Function::DownloadEnded, d.error),
    };
    transfer::emit_download_job(out, function, error.0, sub, number)
}

/// Handles the client's Ack_Data to the CPU's `1B` or `1C` job (`error`: its header error).
/// Schedules the next job in `ctx.conn.download`, or ends the exchange.
pub(crate) fn answer<M, E>(
    error: HeaderError,
    params: &[u8],
    data: &[u8],
    ctx: &mut Ctx<'_, M, E>,
) {
    let Some(d) = ctx.conn.download else {
        return;
    };
    let slot = ctx.slot;
    let staging = &mut ctx.cpu.staging;
    let next = match d.step {
        DownloadStep::Ended => {
            ctx.conn.download = None;
            return;
        }
        DownloadStep::Block => {
            let part = match error {
                HeaderError::NONE => transfer::parse_download_part(params, data),
                _ => None,
            };
            let result = match part {
                Some((more, bytes)) => staging.accept(slot, bytes).map(|_| more),
                None => Err(BlockFault::Short),
            };
            match result {
                Ok(true) if !staging.all_received() => Download { sent: false, ..d },
                Ok(_) => Download {
                    step: DownloadStep::Ended,
                    sent: false,
                    error: match staging.finish(slot) {
                        Ok(()) => HeaderError::NONE,
                        Err(_) => HeaderError::TRANSFER_FAILED,
                    },
                    ..d
                },
                Err(_) => {
                    staging.release(slot);
                    Download {
                        step: DownloadStep::Ended,
                        sent: false,
                        error: HeaderError::TRANSFER_FAILED,
                        ..d
                    }
                }
            }
        }
    };
    ctx.conn.download = Some(next);
}

/// PI `_INSE`: activates the block this connection downloaded; the DB's content is replaced
/// in one copy.
pub(crate) fn insert<M: Memory, E: EventSink>(
    req: &pi::Request<'_>,
    ctx: &mut Ctx<'_, M, E>,
) -> Result<(), JobError> {
    if !ctx.cpu.download_allowed() || ctx.level() >= 2 || !ctx.conn.grant.may_download() {
        return Err(HeaderError::PROTECTED.into());
    }
    let mut it = req
        .blocks()
        .ok_or(JobError::from(HeaderError::BAD_BLOCK_PARAM))?;
    let (sub, number) = match (it.next(), it.next()) {
        (Some(Some(a)), None) => a,
        _ => return Err(HeaderError::BAD_BLOCK_PARAM.into()),
    };
    let data = ctx
        .cpu
        .staging
        .complete(ctx.slot, sub, number)
        .ok_or(JobError::from(HeaderError::BLOCK_NOT_FOUND))?;
    ctx.mem.replace_db(number, data).map_err(item_error)?;
    let len = data.len() as u32;
    ctx.cpu.staging.release(ctx.slot);
    ctx.cpu
        .log(event_id::DOWNLOAD, number, u32::from(ctx.slot), ctx.wall_ms);
    ctx.events.event(Event::Download {
        slot: ctx.slot,
        db: number,
        len,
    });
    Ok(())
}

/// PI `_DELE`: marks every named DB deleted, or none if one of them cannot be deleted.
pub(crate) fn delete<M: Memory, E: EventSink>(
    req: &pi::Request<'_>,
    ctx: &mut Ctx<'_, M, E>,
) -> Result<(), JobError> {
    if !ctx.cpu.delete_allowed() || ctx.level() >= 2 || !ctx.conn.grant.may_download() {
        return Err(HeaderError::PROTECTED.into());
    }
    let check = |a: Option<(u8, u16)>, mem: &M| -> Result<u16, HeaderError> {
        let (sub, number) = a.ok_or(HeaderError::BAD_BLOCK_PARAM)?;
        if sub != DB {
            return Err(HeaderError::BAD_BLOCK_TYPE);
        }
        mem.db_capacity(number).map_err(|e| match e {
            ItemError::AccessDenied => HeaderError::ACCESS_REFUSED,
            _ => HeaderError::BLOCK_NOT_FOUND,
        })?;
        mem.area(crate::wire::var::Area::DataBlock, number)
            .map_err(|_| HeaderError::BLOCK_NOT_FOUND)?;
        Ok(number)
    };
    for a in req
        .blocks()
        .ok_or(JobError::from(HeaderError::BAD_BLOCK_PARAM))?
    {
        check(a, ctx.mem)?;
    }
    for a in req
        .blocks()
        .ok_or(JobError::from(HeaderError::BAD_BLOCK_PARAM))?
    {
        let number = check(a, ctx.mem)?;
        ctx.mem.delete_db(number).map_err(item_error)?;
        ctx.cpu
            .log(event_id::DELETE, number, u32::from(ctx.slot), ctx.wall_ms);
        ctx.events.event(Event::BlockDeleted {
            slot: ctx.slot,
            db: number,
        });
    }
    Ok(())
}
