//! Read Var (0x04): answers every item, each with its own return code.
//!
//! All items are read in one call on the RT thread, which owns the image, so a multi-item
//! read is consistent: every item comes from the same instant.

use super::address::{check_bounds, resolve};
use super::Answer;
use crate::plc::{ItemError, Memory};
use crate::wire::s7::Function;
use crate::wire::var::{emit_data_header, DataTransport, Item, Request, ReturnCode};
use crate::wire::HeaderError;

/// Writes the answer's parameter (`04 N`) and data items into `out`, whose length is the
/// room the negotiated PDU leaves after the 12-byte header. An answer that does not fit
/// is refused as a whole with 0x8500, never truncated.
pub(crate) fn read_var<M: Memory>(
    req: &Request<'_>,
    mem: &M,
    out: &mut [u8],
) -> Result<Answer, HeaderError> {
    let n = req.count();
    let [function, count, body @ ..] = out else {
        return Err(HeaderError::PDU_SIZE);
    };
    *function = Function::ReadVar.into();
    *count = n as u8;
    let mut at = 0;
    for (i, raw) in req.raw_items().enumerate() {
        let item = Item::parse(raw).map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let rest = body.get_mut(at..).unwrap_or_default();
        at += emit_item(&item, mem, rest, i + 1 == n).ok_or(HeaderError::PDU_SIZE)?;
    }
    Ok(Answer {
        param_len: 2,
        data_len: at,
    })
}

#[inline]
fn emit_item<M: Memory>(item: &Item, mem: &M, out: &mut [u8], last: bool) -> Option<usize> {
    match read_item(item, mem) {
        Ok((data, bit)) => {
            let transport = item.transport.data_transport();
            let n = data.len();
            let fill = usize::from(n % 2 == 1 && !last);
            if out.len() < 4 + n + fill {
                return None;
            }
            emit_data_header(
                out,
                ReturnCode::Success,
                transport,
                transport.length_field(n),
            )?;
            match bit {
                Some(b) => out[4] = (data[0] >> b) & 1,
                None => out[4..4 + n].copy_from_slice(data),
            }
            if fill == 1 {
                out[4 + n] = 0;
            }
            Some(4 + n + fill)
        }
        // An error item is never followed by a fill byte (docs/protocol.md §6.3).
        Err(e) => emit_data_header(out, e.into(), DataTransport::Null, 0),
    }
}

#[inline]
fn read_item<'m, M: Memory>(item: &Item, mem: &'m M) -> Result<(&'m [u8], Option<u8>), ItemError> {
    let t = resolve(item)?;
    let area = mem.area(item.area, item.db)?;
    check_bounds(&t, area.len())?;
    Ok((&area[t.offset..t.offset + t.len], t.bit))
}
