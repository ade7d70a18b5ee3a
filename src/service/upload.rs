//! Block upload (jobs 0x1D start upload, 0x1E upload, 0x1F end upload; PROTOCOL.md §10):
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
use crate::service::{Answer, JobError};
use crate::wire::szl::Window;
use crate::wire::var::Area;
use crate::wire::HeaderError;

/// Job function start upload.
pub(crate) const START: u8 = 0x1D;
/// Job function upload.
pub(crate) const UPLOAD: u8 = 0x1E;
/// Job function end upload.
pub(crate) const END: u8 = 0x1F;
/// Upload-id mismatch or no upload in progress.
pub(crate) const NO_UPLOAD: HeaderError = HeaderError(0x8104);

/// Start upload: parameter `1D 00 .. <len 09> _<type><5 digits><fs>`.
pub(crate) fn start<M: Memory, E: EventSink>(
    params: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> Result<Answer, JobError> {
    if ctx.level() >= 3 {
        return Err(HeaderError::PROTECTED.into());
    }
    let name = params.get(9..).filter(|n| n.first() == Some(&b'_'));
    let block = name
        .and_then(|n| blocks::parse_address(n.get(1..)?))
        .and_then(|(sub, n)| blocks::find(ctx.mem, ctx.cpu, sub, n))
        .ok_or(JobError::from(blocks::NOT_FOUND))?;
    // Uploading a DB reads all of it: only for connections whose rule reaches that DB.
    if block.sub == 0x0A
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
    let p = out
        .get_mut(..16)
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    p.copy_from_slice(&[START, 0, 0, 0, 0, 0, 0, id, 7, 0, 0, 0, 0, 0, 0, 0]);
    let mut len = block.load_len();
    for d in p[9..16].iter_mut().rev() {
        *d = b'0' + (len % 10) as u8;
        len /= 10;
    }
    Ok(Answer {
        param_len: 16,
        data_len: 0,
    })
}

fn current<M: Memory, E>(params: &[u8], ctx: &Ctx<'_, M, E>) -> Result<Upload, JobError> {
    let id = params.get(7).copied();
    ctx.conn
        .upload
        .filter(|u| Some(u.id) == id)
        .ok_or(JobError::from(NO_UPLOAD))
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
        .map_err(|_| JobError::from(blocks::NOT_FOUND))?;
    let block = Block {
        sub: 0x0A,
        number: up.db,
        mc7_len: data.len(),
    };
    // 12 header + 2 parameter + 4 data head + n ≤ PDU.
    let room = (ctx.pdu_len() as usize)
        .saturating_sub(12 + 2 + 4)
        .min(out.len().saturating_sub(6));
    let (head, body) = out.split_at_mut(6.min(out.len()));
    let mut w = Window::new(body.get_mut(..room).unwrap_or_default(), up.sent);
    w.put(&block.header(ctx.cpu));
    w.put(data);
    w.zeros(block.sbb_len());
    w.put(&footer());
    let (n, total) = (w.written(), w.total());
    let more = up.sent + n < total;
    if head.len() < 6 {
        return Err(HeaderError::PDU_SIZE.into());
    }
    head[0] = UPLOAD;
    head[1] = u8::from(more);
    head[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    head[4..6].copy_from_slice(&[0x00, 0xFB]);
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
    let b = out
        .first_mut()
        .ok_or(JobError::from(HeaderError::PDU_SIZE))?;
    *b = END;
    Ok(Answer {
        param_len: 1,
        data_len: 0,
    })
}
