//! Block download and delete (PROTOCOL.md §10, §9), when the configuration allows them.
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
use crate::service::blocks::{self, type_ascii};
use crate::service::conn::{Download, DownloadStep};
use crate::service::ctx::Ctx;
use crate::service::{Answer, JobError};
use crate::wire::s7::{self, Rosctr};
use crate::wire::HeaderError;

/// Job function request download (client → CPU).
pub(crate) const REQUEST: u8 = 0x1A;
/// Job function download block (CPU → client).
pub(crate) const BLOCK: u8 = 0x1B;
/// Job function download ended (CPU → client).
pub(crate) const ENDED: u8 = 0x1C;
/// Length of the `1B` / `1C` job parameter the CPU sends.
pub(crate) const JOB_PARAM_LEN: usize = 18;
/// Another connection's download holds the staging area (no further parallel transfer).
pub(crate) const BUSY: HeaderError = HeaderError(0x8304);
/// The DB is not configured, or the block's MC7 length is not the DB's size.
pub(crate) const NO_ROOM: HeaderError = HeaderError(0x8301);
/// The DB is read-only (access to object refused).
pub(crate) const READ_ONLY: HeaderError = HeaderError(0x8703);
/// Syntax error in a function parameter.
pub(crate) const BAD_PARAM: HeaderError = HeaderError(0xD202);
/// Syntax error: block type (s7rt downloads and deletes DBs only).
pub(crate) const BAD_TYPE: HeaderError = HeaderError(0xD203);
/// Error while transferring the block (sent in the `1C` job).
pub(crate) const TRANSFER_FAILED: HeaderError = HeaderError(0x8003);
/// Sub-block type of a DB.
const DB: u8 = 0x0A;

/// A parsed request-download parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// Sub-block type (from the file name).
    pub(crate) sub_type: u8,
    /// Block number.
    pub(crate) number: u16,
    /// Load-memory length (the bytes the client will send).
    pub(crate) load_len: usize,
    /// MC7 length (for a DB: its size).
    pub(crate) mc7_len: usize,
}

fn ascii_decimal(b: &[u8]) -> Option<usize> {
    b.iter().try_fold(0usize, |n, &c| {
        Some(n * 10 + (c as char).to_digit(10)? as usize)
    })
}

/// Parses `1A <status> <2 unknown> <4 unknown> 09 _<type (2)><5 digits><fs> 0D <unknown>
/// <load length (6 ASCII)> <MC7 length (6 ASCII)>` (Snap7 `TReqStartDownloadParams`,
/// dissector `s7comm_decode_plc_controls_updownload`).
pub(crate) fn parse_request(params: &[u8]) -> Option<Request> {
    let name = params.get(9..18).filter(|_| params.get(8) == Some(&9))?;
    let (sub_type, number) = name
        .split_first()
        .filter(|(u, _)| **u == b'_')
        .and_then(|(_, a)| blocks::parse_address(a))?;
    let part2 = params.get(19..32).filter(|_| params.get(18) == Some(&13))?;
    Some(Request {
        sub_type,
        number,
        load_len: ascii_decimal(&part2[1..7])?,
        mc7_len: ascii_decimal(&part2[7..13])?,
    })
}

fn item_error(e: ItemError) -> HeaderError {
    match e {
        ItemError::AccessDenied => READ_ONLY,
        _ => NO_ROOM,
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
    let r = parse_request(params).ok_or(JobError::from(BAD_PARAM))?;
    if r.sub_type != DB {
        return Err(BAD_TYPE.into());
    }
    let size = ctx.mem.db_capacity(r.number).map_err(item_error)?;
    if r.mc7_len != size {
        return Err(NO_ROOM.into());
    }
    if r.load_len < blocks::HEADER_LEN + r.mc7_len + blocks::FOOTER_LEN {
        return Err(BAD_PARAM.into());
    }
    let b = out
        .first_mut()
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    ctx.cpu
        .staging
        .begin(ctx.slot, r.sub_type, r.number, r.load_len, r.mc7_len)
        .map_err(|e| match e {
            Busy::OtherDownload => BUSY,
            Busy::TooLarge => NO_ROOM,
        })?;
    *b = REQUEST;
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
    let hl = s7::header_len(0x01);
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

/// Writes the parameter of download job `d` into `out`; returns its length
/// ([`JOB_PARAM_LEN`]).
fn job_params<M, E>(d: &Download, ctx: &Ctx<'_, M, E>, out: &mut [u8]) -> Option<usize> {
    let p = out.get_mut(..JOB_PARAM_LEN)?;
    let (sub, number) = ctx.cpu.staging.block();
    p.fill(0);
    match d.step {
        DownloadStep::Block => p[0] = BLOCK,
        DownloadStep::Ended => {
            p[0] = ENDED;
            p[2..4].copy_from_slice(&d.error.0.to_be_bytes());
        }
    }
    p[8] = 9;
    p[9] = b'_';
    p[10..12].copy_from_slice(&type_ascii(sub));
    let mut n = number;
    for c in p[12..17].iter_mut().rev() {
        *c = b'0' + (n % 10) as u8;
        n /= 10;
    }
    p[17] = b'P';
    Some(JOB_PARAM_LEN)
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
            let part = match (error, params, data) {
                (HeaderError::NONE, [BLOCK, status, ..], [h, l, 0x00, 0xFB, rest @ ..])
                    if usize::from(u16::from_be_bytes([*h, *l])) == rest.len() =>
                {
                    Some((status & 0x01 != 0, rest))
                }
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
                        Err(_) => TRANSFER_FAILED,
                    },
                    ..d
                },
                Err(_) => {
                    staging.release(slot);
                    Download {
                        step: DownloadStep::Ended,
                        sent: false,
                        error: TRANSFER_FAILED,
                        ..d
                    }
                }
            }
        }
    };
    ctx.conn.download = Some(next);
}

/// The block addresses of a PI `_INSE` / `_DELE` parameter block: count, `00`, then per
/// block `<type (2 ASCII)><5 digits><fs>` (8 bytes each, e.g. `0A00002P`).
fn addresses(block: &[u8]) -> Option<impl Iterator<Item = Option<(u8, u16)>> + '_> {
    let (count, list) = match block {
        [count, 0, list @ ..] if *count > 0 && list.len() == 8 * usize::from(*count) => {
            (usize::from(*count), list)
        }
        _ => return None,
    };
    Some(list.chunks_exact(8).take(count).map(blocks::parse_address))
}

/// PI `_INSE`: activates the block this connection downloaded; the DB's content is replaced
/// in one copy.
pub(crate) fn insert<M: Memory, E: EventSink>(
    block: &[u8],
    ctx: &mut Ctx<'_, M, E>,
) -> Result<(), JobError> {
    if !ctx.cpu.download_allowed() || ctx.level() >= 2 || !ctx.conn.grant.may_download() {
        return Err(HeaderError::PROTECTED.into());
    }
    let mut it = addresses(block).ok_or(JobError::from(BAD_PARAM))?;
    let (sub, number) = match (it.next(), it.next()) {
        (Some(Some(a)), None) => a,
        _ => return Err(BAD_PARAM.into()),
    };
    let data = ctx
        .cpu
        .staging
        .complete(ctx.slot, sub, number)
        .ok_or(JobError::from(blocks::NOT_FOUND))?;
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
    block: &[u8],
    ctx: &mut Ctx<'_, M, E>,
) -> Result<(), JobError> {
    if !ctx.cpu.delete_allowed() || ctx.level() >= 2 || !ctx.conn.grant.may_download() {
        return Err(HeaderError::PROTECTED.into());
    }
    let check = |a: Option<(u8, u16)>, mem: &M| -> Result<u16, HeaderError> {
        let (sub, number) = a.ok_or(BAD_PARAM)?;
        if sub != DB {
            return Err(BAD_TYPE);
        }
        mem.db_capacity(number).map_err(|e| match e {
            ItemError::AccessDenied => READ_ONLY,
            _ => blocks::NOT_FOUND,
        })?;
        mem.area(crate::wire::var::Area::DataBlock, number)
            .map_err(|_| blocks::NOT_FOUND)?;
        Ok(number)
    };
    for a in addresses(block).ok_or(JobError::from(BAD_PARAM))? {
        check(a, ctx.mem)?;
    }
    for a in addresses(block).ok_or(JobError::from(BAD_PARAM))? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snap7s_request_download_for_db2() {
        // 1A st unk-- unk-------- 09 _ 0 A 0 0 0 0 2 P  0D '1' 002140      002048
        let p = b"\x1a\x00\x01\x00\x00\x00\x00\x00\x09_0A00002P\x0d1002140002048";
        assert_eq!(
            parse_request(p),
            Some(Request {
                sub_type: 0x0A,
                number: 2,
                load_len: 2140,
                mc7_len: 2048,
            })
        );
        assert_eq!(parse_request(&p[..31]), None);
        assert_eq!(
            parse_request(b"\x1a\x00\x01\x00\x00\x00\x00\x00\x09X0A00002P\x0d1002140002048"),
            None
        );
    }

    #[test]
    fn pi_block_list_holds_count_then_8_byte_addresses() {
        let one: Vec<_> = addresses(b"\x01\x000A00002P").unwrap().collect();
        assert_eq!(one, [Some((0x0A, 2))]);
        let two: Vec<_> = addresses(b"\x02\x000A00002P0800001P").unwrap().collect();
        assert_eq!(two, [Some((0x0A, 2)), Some((0x08, 1))]);
        assert!(addresses(b"\x02\x000A00002P").is_none());
        assert!(addresses(b"\x00\x00").is_none());
    }
}
