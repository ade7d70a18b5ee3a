//! Block upload (jobs 0x1D start upload, 0x1E upload, 0x1F end upload; docs/protocol.md §9):
//! a client gets a block in load-memory format (header 36, MC7 = a DB's current bytes,
//! interface, footer 36), one PDU at a time, generated on the fly from the image. Download
//! (0x1A–0x1C) is in [`crate::service::download`].
//!
//! The block is generated again for every part: a client write between two parts shows up
//! in the later part (a real CPU copies from load memory, which clients cannot write).

use crate::events::{Event, EventSink};
use crate::plc::diag::event_id;
use crate::plc::Memory;
use crate::service::blocks::{self, footer, Block};
use crate::service::conn::Upload;
use crate::service::ctx::Ctx;
use crate::service::{function_only, Answer, JobError};
use crate::wire::block::sub_type;
use crate::wire::s7::Function;
use crate::wire::szl::Window;
use crate::wire::transfer;
use crate::wire::var::Area;
use crate::wire::HeaderError;

/// Start upload: parameter `1D 00 .. <len 09> _<type><5 digits><fs>`.
pub(crate) fn start<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    if ctx.level() >= 3 {
        return Err(HeaderError::PROTECTED.into());
    }
    let block = transfer::parse_start_upload(params)
        .and_then(|(sub, n)| blocks::find(ctx.mem, ctx.cpu, sub, n))
        .ok_or(JobError::from(HeaderError::BLOCK_NOT_FOUND))?;
    // Uploading a DB reads all of it: only for connections whose rule reaches that DB.
    if block.sub == sub_type::DB
        && !ctx
            .conn
            .grant
            .reaches(Area::DataBlock, block.number, &ctx.cpu.access)
    {
        return Err(HeaderError::PROTECTED.into());
    }
    let id = ctx.conn.next_id();
    ctx.conn.upload = Some(Upload {
        id,
        db: block.number,
        sent: 0,
    });
    transfer::emit_start_upload_answer(out, id, block.load_len())
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    Ok(Answer {
        param_len: transfer::START_UPLOAD_ANSWER_LEN,
        data_len: 0,
    })
}

fn current<M: Memory, E>(params: &[u8], ctx: &Ctx<'_, M, E>) -> Result<Upload, JobError> {
    let id = transfer::parse_upload_id(params);
    ctx.conn
        .upload
        .filter(|u| Some(u.id) == id)
        .ok_or(JobError::from(HeaderError::NOT_IMPLEMENTED))
}

/// Upload: parameter `1E 00 00 00 <upload id (4)>`; answer `1E <more>` + data
/// `<n (2)> 00 FB <n block bytes>`.
pub(crate) fn upload<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    let up = current(params, ctx)?;
    let data = ctx
        .mem
        .area(Area::DataBlock, up.db)
        .map_err(|_| JobError::from(HeaderError::BLOCK_NOT_FOUND))?;
    let block = Block {
        sub: sub_type::DB,
        number: up.db,
        mc7_len: data.len(),
    };
    // `out` (parameter and data) ends where the negotiated PDU does: after the parameter
    // `1E <status>` and the data head `<n> 00 FB` the rest is block bytes.
    let (head, body) = out.split_at_mut(transfer::UPLOAD_HEAD_LEN.min(out.len()));
    let mut w = Window::new(body, up.sent);
    w.put(&block.header(ctx.cpu));
    w.put(data);
    w.zeros(block.sbb_len());
    w.put(&footer());
    let (n, total) = (w.written(), w.total());
    let more = up.sent + n < total;
    transfer::emit_upload_head(head, more, n).ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    ctx.conn.upload = Some(Upload {
        sent: up.sent + n,
        ..up
    });
    if !more {
        ctx.cpu
            .log(event_id::UPLOAD, up.db, u32::from(ctx.slot), ctx.wall_ms);
        ctx.events.event(Event::Upload {
            slot: ctx.slot,
            db: up.db,
            len: total as u32,
        });
    }
    Ok(Answer {
        param_len: 2,
        data_len: 4 + n,
    })
}

/// End upload: parameter `1F 00 <error (2)> <upload id (4)>`; answer `1F`.
pub(crate) fn end<M: Memory, E>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    current(params, ctx)?;
    ctx.conn.upload = None;
    function_only(Function::EndUpload, out)
}
