//! The S7 job router: answers one complete S7 PDU (reassembled by the
//! [`crate::session`]) by its ROSCTR and function, with the connection's services.
//!
//! Input: the PDU, the [`Ctx`] and `out`, the place of the answer's PDU in the send buffer
//! (the session frames it into TPKT/DT records afterwards). Output: the answer's PDU length
//! (0 = no answer). Every job is answered once, with the client's PDU reference echoed; what
//! is not served gets an S7 error, never silence.

use crate::access::Guarded;
use crate::events::{Event, EventSink, WriteRef};
use crate::plc::Memory;
use crate::service::ctx::{Ctx, UdAnswer};
use crate::service::{
    control, download, read_var, upload, userdata as ud_service, write_var, Answer, JobError,
};
use crate::wire::s7::{self, Rosctr};
use crate::wire::{setup, userdata, var, HeaderError, S7Header};

/// The smallest PDU real clients tolerate (Snap7 `MinPduSize`).
pub(crate) const MIN_PDU_LEN: u16 = 240;

/// Answers one complete S7 PDU into `out`; returns the answer's PDU length.
pub(crate) fn answer<M: Memory, E: EventSink>(
    pdu: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> usize {
    let pdu_ref = s7::peek_pdu_ref(pdu).unwrap_or(0);
    let rosctr = pdu.get(1).copied().unwrap_or(0);
    let header = match S7Header::new_checked(pdu) {
        Ok(h) => h,
        Err(_) => return error_ack(out, pdu_ref, rosctr, HeaderError::NOT_IMPLEMENTED, ctx),
    };
    let established = ctx.pdu_len() != 0;
    if established && pdu.len() > ctx.pdu_len() as usize {
        return error_ack(out, pdu_ref, rosctr, HeaderError::PDU_SIZE, ctx);
    }
    let function = header.params().first().copied().unwrap_or(0);
    let level = ctx.level();
    let result: Result<Answer, JobError> = match (header.rosctr(), function) {
        (Rosctr::Job, setup::FUNCTION) => setup(&header, ctx, out).map_err(JobError::from),
        // Nothing but Setup Communication before a PDU size exists: every other request
        // "exceeds" the (not yet negotiated) PDU.
        (_, _) if !established => Err(HeaderError::PDU_SIZE.into()),
        // A connection an `[[access]]` rule limits takes its own path; for everybody else
        // access control costs this one comparison.
        (Rosctr::Job, var::READ | var::WRITE) if !ctx.conn.grant.is_open() => {
            limited_var(&header, function, level, ctx, out)
        }
        // Protection level 3 (read/write protection) refuses reads, level 2 writes:
        // every item answers 0x03 "access denied", which clients report per item.
        (Rosctr::Job, var::READ) if level >= 3 => refuse_items(&header, ctx, out, 4),
        (Rosctr::Job, var::WRITE) if level >= 2 => refuse_items(&header, ctx, out, 1),
        (Rosctr::Job, var::READ) => {
            read(&header, &*ctx.mem, ctx.pdu_len(), out).map_err(JobError::from)
        }
        (Rosctr::Job, var::WRITE) => write(&header, ctx, out).map_err(JobError::from),
        (Rosctr::Job, f) => {
            let p = header.params();
            let body = body(ctx.pdu_len(), out);
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
                    Err(HeaderError::PROTECTED.into())
                }
                _ => Err(HeaderError::NOT_IMPLEMENTED.into()),
            }
        }
        // The client's answer to the CPU's own download job: consumed, no reply (the
        // next job, if any, follows it: see `next_job`).
        (Rosctr::AckData, _)
            if ctx
                .conn
                .download
                .is_some_and(|d| d.sent && d.pdu_ref == header.pdu_ref()) =>
        {
            download::answer(header.error(), header.params(), header.data(), ctx);
            return 0;
        }
        (Rosctr::Userdata, _) => return userdata(&header, ctx, out),
        _ => Err(HeaderError::NOT_IMPLEMENTED.into()),
    };
    let (a, error) = match result {
        Ok(a) => (a, HeaderError::NONE),
        Err(JobError { error, param_len }) if param_len > 0 => {
            ctx.events.event(Event::RequestRejected {
                slot: ctx.slot,
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
        Err(e) => return error_ack(out, pdu_ref, function, e.error, ctx),
    };
    s7::emit_header(
        out,
        Rosctr::AckData,
        pdu_ref,
        a.param_len,
        a.data_len,
        error,
    )
    .map(|hl| hl + a.param_len + a.data_len)
    .unwrap_or(0)
}

/// Answers a PDU longer than the reassembly buffer (`prefix` is what was kept of it) with
/// 0x8500; returns the answer's PDU length.
pub(crate) fn too_long<M, E: EventSink>(
    prefix: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> usize {
    let pdu_ref = s7::peek_pdu_ref(prefix).unwrap_or(0);
    error_ack(out, pdu_ref, 0, HeaderError::PDU_SIZE, ctx)
}

/// Writes the job the CPU sends next during a download (`1B` or `1C`, PROTOCOL.md §10) into
/// `out` when one is due; returns its PDU length (0 = none due).
pub(crate) fn next_job<M, E>(ctx: &mut Ctx<'_, M, E>, out: &mut [u8]) -> usize {
    match ctx.conn.download.is_some_and(|d| !d.sent) {
        true => download::emit_job(ctx, out).unwrap_or(0),
        false => 0,
    }
}

/// The slice of `out` where the parameter part of an Ack_Data answer goes, bounded by the
/// negotiated PDU so no service can write a reply larger than it.
fn body(pdu_len: u16, out: &mut [u8]) -> &mut [u8] {
    let start = s7::header_len(0x03);
    let end = (pdu_len as usize).min(out.len());
    out.get_mut(start..end).unwrap_or_default()
}

/// Answers a Read/Write Var whose items are all refused with 0x03 (access denied);
/// `item_len` is 4 for read items (`03 00 00 00`) and 1 for write items.
fn refuse_items<M, E>(
    h: &S7Header<&[u8]>,
    ctx: &Ctx<'_, M, E>,
    out: &mut [u8],
    item_len: usize,
) -> Result<Answer, JobError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    let n = req.count();
    let function = h.params().first().copied().unwrap_or(0);
    let body = body(ctx.pdu_len(), out);
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

fn setup<M, E: EventSink>(
    h: &S7Header<&[u8]>,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let req = setup::Repr::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    let limits = ctx.limits;
    let granted = setup::Repr {
        amq_calling: req.amq_calling.min(limits.max_amq),
        amq_called: req.amq_called.min(limits.max_amq),
        pdu_len: req
            .pdu_len
            .clamp(MIN_PDU_LEN, limits.max_pdu.max(MIN_PDU_LEN)),
    };
    ctx.conn.pdu_len = granted.pdu_len;
    ctx.events.event(Event::Negotiated {
        slot: ctx.slot,
        pdu_len: granted.pdu_len,
    });
    let len = granted
        .emit(body(granted.pdu_len, out))
        .ok_or(HeaderError::PDU_SIZE)?;
    Ok(Answer {
        param_len: len,
        data_len: 0,
    })
}

/// Read/Write Var of a connection an `[[access]]` rule limits. PUT/GET off: a bare Ack with
/// 0x8104, as an S7-1500 answers. Read-only (or protection level 2/3): every item answers
/// 0x03. Limited areas or DBs: the image is seen through [`Guarded`], where items outside
/// answer 0x03.
fn limited_var<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    function: u8,
    level: u8,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    let grant = ctx.conn.grant;
    if !grant.may_put_get() {
        return Err(HeaderError::NOT_IMPLEMENTED.into());
    }
    let is_write = function == var::WRITE;
    if level >= 3 || (is_write && (level >= 2 || !grant.may_write())) {
        return refuse_items(h, ctx, out, if is_write { 1 } else { 4 });
    }
    let result = match (grant.reaches_everything(), is_write) {
        (true, true) => write(h, ctx, out),
        (true, false) => read(h, &*ctx.mem, ctx.pdu_len(), out),
        (false, _) => {
            let pdu_len = ctx.pdu_len();
            let mut mem = Guarded {
                mem: &mut *ctx.mem,
                grant,
                access: &ctx.cpu.access,
            };
            match is_write {
                true => write_to(h, &mut mem, &mut *ctx.events, ctx.slot, pdu_len, out),
                false => read(h, &mem, pdu_len, out),
            }
        }
    };
    result.map_err(JobError::from)
}

fn read<M: Memory>(
    h: &S7Header<&[u8]>,
    mem: &M,
    pdu_len: u16,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    if !h.data().is_empty() {
        return Err(HeaderError::NOT_IMPLEMENTED);
    }
    read_var::read_var(&req, mem, body(pdu_len, out))
}

fn write<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let pdu_len = ctx.pdu_len();
    write_to(h, &mut *ctx.mem, &mut *ctx.events, ctx.slot, pdu_len, out)
}

fn write_to<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    mem: &mut M,
    events: &mut E,
    slot: u16,
    pdu_len: u16,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    let body = body(pdu_len, out);
    write_var::write_var(&req, h.data(), mem, body, |w| {
        events.client_write(&WriteRef {
            slot,
            area: w.item.area,
            db: w.item.db,
            offset: w.target.offset,
            bit: w.target.bit,
            data: w.data,
        })
    })
}

/// Userdata: routed by [`ud_service::dispatch`]; every request gets an answer, an
/// error answer (PROTOCOL.md §8.2) for what is not served.
fn userdata<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> usize {
    let Ok(p) = userdata::Params::parse(h.params()) else {
        return error_ack(out, h.pdu_ref(), 0x07, HeaderError::NOT_IMPLEMENTED, ctx);
    };
    let plen = userdata::RESPONSE_PARAM_LEN;
    // The userdata header is 10 bytes: parameter and data follow it directly.
    let start = s7::header_len(0x07);
    let end = (ctx.pdu_len() as usize).min(out.len());
    let Some(area) = out.get_mut(start..end).filter(|a| a.len() >= plen + 4) else {
        return 0;
    };
    let (head, data) = area.split_at_mut(plen);
    let mut a = ud_service::dispatch(&p, h.data(), ctx, data);
    if a.error != HeaderError::NONE || a.data_len == 0 {
        if a.error != HeaderError::NONE {
            ctx.events.event(Event::RequestRejected {
                slot: ctx.slot,
                function: 0x07,
                error: a.error,
            });
        }
        data[..4].copy_from_slice(&userdata::EMPTY_DATA);
        a = UdAnswer { data_len: 4, ..a };
    }
    let _ =
        userdata::emit_response_params(head, p.group, p.subfunction, a.seq, a.dur, a.more, a.error);
    let hl = s7::emit_header(
        out,
        Rosctr::Userdata,
        h.pdu_ref(),
        plen,
        a.data_len,
        HeaderError::NONE,
    )
    .unwrap_or(0);
    hl + plen + a.data_len
}

/// Answers with a bare Ack (ROSCTR 2) carrying the header error `e`.
fn error_ack<M, E: EventSink>(
    out: &mut [u8],
    pdu_ref: u16,
    function: u8,
    e: HeaderError,
    ctx: &mut Ctx<'_, M, E>,
) -> usize {
    ctx.events.event(Event::RequestRejected {
        slot: ctx.slot,
        function,
        error: e,
    });
    s7::emit_error_ack(out, pdu_ref, e).unwrap_or(0)
}
