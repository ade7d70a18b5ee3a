//! The S7 job router: answers one complete S7 PDU (reassembled by the
//! [`crate::session`]) by its ROSCTR and function, with the connection's services.
//!
//! Input: the PDU, the [`Ctx`] and `out`, the place of the answer's PDU in the send buffer
//! (the session frames it into TPKT/DT records afterwards). Output: a [`Reply`], the answer's
//! PDU length (0 = no answer) and what it answered. Every job is answered once, with the
//! client's PDU reference echoed; what is not served gets an S7 error, never silence.

use crate::events::{Event, EventSink, WriteRef};
use crate::plc::{Guarded, Memory};
use crate::service::ctx::{Ctx, UdAnswer};
use crate::service::{
    control, download, read_var, upload, userdata as ud_service, write_var, Answer, JobError,
};
use crate::wire::s7::{self, Function, Rosctr};
use crate::wire::{setup, userdata, var, HeaderError, S7Header};

/// The smallest PDU real clients tolerate (Snap7 `MinPduSize`).
pub(crate) const MIN_PDU_LEN: u16 = 240;

/// What an answer answered: the request's PDU type and function, and the error the answer
/// carried (in the S7 header, or in the userdata parameter). The event loop counts these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The request's PDU type.
    pub rosctr: Rosctr,
    /// The request's function ([`Function::CpuServices`] for userdata).
    pub function: Function,
    /// The error sent back ([`HeaderError::NONE`] for a success).
    pub error: HeaderError,
}

/// An answer written into `out`: its PDU length (0 = no answer) and what it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) len: usize,
    pub(crate) answered: Answered,
}

/// Answers one complete S7 PDU into `out`.
pub(crate) fn answer<M: Memory, E: EventSink>(
    pdu: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Reply {
    let pdu_ref = s7::peek_pdu_ref(pdu).unwrap_or(0);
    let header = match S7Header::new_checked(pdu) {
        Ok(h) => h,
        Err(_) => {
            // Not even a header to read a function from: the event names the PDU type.
            let rosctr = Rosctr::from(pdu.get(1).copied().unwrap_or(0));
            let asked = Answered {
                rosctr,
                function: Function::Unknown(u8::from(rosctr)),
                error: HeaderError::NOT_IMPLEMENTED,
            };
            return error_ack(out, pdu_ref, asked, ctx);
        }
    };
    let mut asked = Answered {
        rosctr: header.rosctr(),
        function: header.function(),
        error: HeaderError::NONE,
    };
    let established = ctx.pdu_len() != 0;
    if established && pdu.len() > ctx.pdu_len() as usize {
        asked.error = HeaderError::PDU_SIZE;
        return error_ack(out, pdu_ref, asked, ctx);
    }
    // The one bound of every answer: the negotiated PDU (before Setup Communication only
    // its 20-byte answer or an error can be sent, well inside the smallest PDU).
    let pdu_len = if established {
        ctx.pdu_len()
    } else {
        MIN_PDU_LEN
    };
    let end = usize::from(pdu_len).min(out.len());
    let out = &mut out[..end];
    if asked.rosctr == Rosctr::Userdata && established {
        return userdata(&header, ctx, out, asked);
    }
    let level = ctx.level();
    let result: Result<Answer, JobError> = match (asked.rosctr, asked.function) {
        (Rosctr::Job, Function::Setup) => setup(&header, ctx, out).map_err(JobError::from),
        // Nothing but Setup Communication before a PDU size exists: every other request
        // "exceeds" the (not yet negotiated) PDU.
        (_, _) if !established => Err(HeaderError::PDU_SIZE.into()),
        // A connection an `[[access]]` rule limits takes its own path; for everybody else
        // access control costs this one comparison.
        (Rosctr::Job, Function::ReadVar | Function::WriteVar) if !ctx.conn.grant.is_open() => {
            limited_var(&header, asked.function, level, ctx, out)
        }
        // Protection level 3 (read/write protection) refuses reads, level 2 writes:
        // every item answers 0x03 "access denied", which clients report per item.
        (Rosctr::Job, Function::ReadVar) if level >= 3 => refuse_items(&header, out, 4),
        (Rosctr::Job, Function::WriteVar) if level >= 2 => refuse_items(&header, out, 1),
        (Rosctr::Job, Function::ReadVar) => read(&header, &*ctx.mem, out).map_err(JobError::from),
        (Rosctr::Job, Function::WriteVar) => write(&header, ctx, out).map_err(JobError::from),
        (Rosctr::Job, f) => {
            let p = header.params();
            let body = params_area(out);
            match f {
                Function::PlcStop => control::stop(p, ctx, body),
                Function::PiService => control::pi_service(p, ctx, body),
                Function::StartUpload => upload::start(p, ctx, body),
                Function::Upload => upload::upload(p, ctx, body),
                Function::EndUpload => upload::end(p, ctx, body),
                Function::RequestDownload => download::request(p, ctx, body),
                // Download block and download ended are jobs the CPU sends, never
                // serves; without download they are refused like request download.
                Function::DownloadBlock | Function::DownloadEnded
                    if !ctx.cpu.download_allowed() =>
                {
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
            return Reply {
                len: 0,
                answered: asked,
            };
        }
        _ => Err(HeaderError::NOT_IMPLEMENTED.into()),
    };
    let a = match result {
        Ok(a) => a,
        Err(JobError { error, param_len }) if param_len > 0 => {
            asked.error = error;
            ctx.events.event(Event::RequestRejected {
                slot: ctx.slot,
                function: asked.function.into(),
                error,
            });
            Answer {
                param_len,
                data_len: 0,
            }
        }
        Err(e) => {
            asked.error = e.error;
            return error_ack(out, pdu_ref, asked, ctx);
        }
    };
    let len = s7::emit_header(
        out,
        Rosctr::AckData,
        pdu_ref,
        a.param_len,
        a.data_len,
        asked.error,
    )
    .map_or(0, |hl| hl + a.param_len + a.data_len);
    Reply {
        len,
        answered: asked,
    }
}

/// Answers a PDU longer than the reassembly buffer (`prefix` is what was kept of it) with
/// 0x8500.
pub(crate) fn too_long<M, E: EventSink>(
    prefix: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Reply {
    let pdu_ref = s7::peek_pdu_ref(prefix).unwrap_or(0);
    let asked = Answered {
        rosctr: Rosctr::from(prefix.get(1).copied().unwrap_or(0)),
        function: Function::Unknown(0),
        error: HeaderError::PDU_SIZE,
    };
    error_ack(out, pdu_ref, asked, ctx)
}

/// Writes the job the CPU sends next during a download (`1B` or `1C`, docs/protocol.md §9) into
/// `out` when one is due; returns its PDU length (0 = none due).
pub(crate) fn next_job<M, E>(ctx: &mut Ctx<'_, M, E>, out: &mut [u8]) -> usize {
    match job_due(ctx) {
        true => download::emit_job(ctx, out).unwrap_or(0),
        false => 0,
    }
}

/// A job of the CPU's is due (during a download only): [`next_job`] has something to write.
#[inline]
pub(crate) fn job_due<M, E>(ctx: &Ctx<'_, M, E>) -> bool {
    ctx.conn.download.is_some_and(|d| !d.sent)
}

/// Where the parameter part of an Ack_Data answer goes: after its 12-byte header, inside the
/// PDU-sized `out`.
fn params_area(out: &mut [u8]) -> &mut [u8] {
    out.get_mut(s7::header_len(Rosctr::AckData)..)
        .unwrap_or_default()
}

/// Answers a Read/Write Var whose items are all refused with 0x03 (access denied);
/// `item_len` is 4 for read items (`03 00 00 00`) and 1 for write items.
fn refuse_items(h: &S7Header<&[u8]>, out: &mut [u8], item_len: usize) -> Result<Answer, JobError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    let n = req.count();
    let function = h.function();
    let out = params_area(out)
        .get_mut(..2 + n * item_len)
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    out.fill(0);
    out[0] = function.into();
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
    let limits = *ctx.limits;
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
        .emit(params_area(out))
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
    function: Function,
    level: u8,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    let grant = ctx.conn.grant;
    if !grant.may_put_get() {
        return Err(HeaderError::NOT_IMPLEMENTED.into());
    }
    let is_write = function == Function::WriteVar;
    if level >= 3 || (is_write && (level >= 2 || !grant.may_write())) {
        return refuse_items(h, out, if is_write { 1 } else { 4 });
    }
    let result = match (grant.reaches_everything(), is_write) {
        (true, true) => write(h, ctx, out),
        (true, false) => read(h, &*ctx.mem, out),
        (false, _) => {
            let mut mem = Guarded {
                mem: &mut *ctx.mem,
                grant,
                access: &ctx.cpu.access,
            };
            match is_write {
                true => write_to(h, &mut mem, &mut *ctx.events, ctx.slot, out),
                false => read(h, &mem, out),
            }
        }
    };
    result.map_err(JobError::from)
}

#[inline(always)]
fn read<M: Memory>(h: &S7Header<&[u8]>, mem: &M, out: &mut [u8]) -> Result<Answer, HeaderError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    if !h.data().is_empty() {
        return Err(HeaderError::NOT_IMPLEMENTED);
    }
    read_var::read_var(&req, mem, params_area(out))
}

fn write<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    write_to(h, &mut *ctx.mem, &mut *ctx.events, ctx.slot, out)
}

fn write_to<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    mem: &mut M,
    events: &mut E,
    slot: u16,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let req = var::Request::parse(h.params()).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
    let body = params_area(out);
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
/// error answer (docs/protocol.md §7.2) for what is not served.
fn userdata<M: Memory, E: EventSink>(
    h: &S7Header<&[u8]>,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
    mut asked: Answered,
) -> Reply {
    let Ok(p) = userdata::Params::parse(h.params()) else {
        asked.error = HeaderError::NOT_IMPLEMENTED;
        // Userdata has no job function: its rejections name the PDU type, as below.
        ctx.events.event(Event::RequestRejected {
            slot: ctx.slot,
            function: u8::from(Rosctr::Userdata),
            error: asked.error,
        });
        return Reply {
            len: s7::emit_error_ack(out, h.pdu_ref(), asked.error).unwrap_or(0),
            answered: asked,
        };
    };
    let plen = userdata::RESPONSE_PARAM_LEN;
    // The userdata header is 10 bytes: parameter and data follow it directly.
    let start = s7::header_len(Rosctr::Userdata);
    let Some(area) = out.get_mut(start..).filter(|a| a.len() >= plen + 4) else {
        return Reply {
            len: 0,
            answered: asked,
        };
    };
    let (head, data) = area.split_at_mut(plen);
    let mut a = ud_service::dispatch(&p, h.data(), ctx, data);
    if a.error != HeaderError::NONE || a.data_len == 0 {
        if a.error != HeaderError::NONE {
            ctx.events.event(Event::RequestRejected {
                slot: ctx.slot,
                function: u8::from(Rosctr::Userdata),
                error: a.error,
            });
        }
        data[..4].copy_from_slice(&userdata::EMPTY_DATA);
        a = UdAnswer { data_len: 4, ..a };
    }
    asked.error = a.error;
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
    Reply {
        len: hl + plen + a.data_len,
        answered: asked,
    }
}

/// Answers with a bare Ack (ROSCTR 2) carrying `asked.error`.
fn error_ack<M, E: EventSink>(
    out: &mut [u8],
    pdu_ref: u16,
    asked: Answered,
    ctx: &mut Ctx<'_, M, E>,
) -> Reply {
    ctx.events.event(Event::RequestRejected {
        slot: ctx.slot,
        function: asked.function.into(),
        error: asked.error,
    });
    Reply {
        len: s7::emit_error_ack(out, pdu_ref, asked.error).unwrap_or(0),
        answered: asked,
    }
}
