//! Write Var (0x05): applies each item completely or not at all and answers one return code
//! per item.

use super::address::{check_bounds, resolve, Target};
use super::Answer;
use crate::plc::{ItemError, Memory};
use crate::wire::s7::Function;
use crate::wire::var::{
    DataItem, DataItems, DataTransport, Item, Request, ReturnCode, TransportSize,
};
use crate::wire::HeaderError;

/// One applied write, reported to the caller for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied<'a> {
    /// The item written.
    pub(crate) item: Item,
    /// Where it landed.
    pub(crate) target: Target,
    /// The bytes written (for a bit write: one byte, bit 0 the value).
    pub(crate) data: &'a [u8],
}

/// Validates the whole data part first (a malformed one changes nothing and is answered
/// with 0x8104), then applies the items and writes `05 N` + N return codes into `out`.
pub(crate) fn write_var<M: Memory>(
    req: &Request<'_>,
    data: &[u8],
    mem: &mut M,
    out: &mut [u8],
    mut on_write: impl FnMut(Applied<'_>),
) -> Result<Answer, HeaderError> {
    let n = req.count();
    let mut data_items = 0;
    for d in DataItems::new(data) {
        d.map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        data_items += 1;
    }
    if data_items != n {
        return Err(HeaderError::NOT_IMPLEMENTED);
    }
    if out.len() < 2 + n {
        return Err(HeaderError::PDU_SIZE);
    }
    out[0] = Function::WriteVar.into();
    out[1] = n as u8;
    for (i, (item, d)) in req.items().zip(DataItems::new(data)).enumerate() {
        let item = item.map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let d = d.map_err(|_| HeaderError::NOT_IMPLEMENTED)?;
        let code = match write_item(&item, &d, mem) {
            Ok(target) => {
                on_write(Applied {
                    item,
                    target,
                    data: d.data,
                });
                ReturnCode::Success
            }
            Err(e) => e.into(),
        };
        out[2 + i] = code.into();
    }
    Ok(Answer {
        param_len: 2,
        data_len: n,
    })
}

fn write_item<M: Memory>(item: &Item, d: &DataItem<'_>, mem: &mut M) -> Result<Target, ItemError> {
    let t = resolve(item)?;
    if matches!(d.transport, DataTransport::Null | DataTransport::Unknown(_)) {
        return Err(ItemError::BadTransport);
    }
    if d.data.len() != t.len {
        return Err(ItemError::SizeMismatch);
    }
    if item.transport == TransportSize::Bit
        && d.transport == DataTransport::Bit
        && d.length_field != 1
    {
        return Err(ItemError::SizeMismatch);
    }
    let area = mem.area_mut(item.area, item.db)?;
    check_bounds(&t, area.len())?;
    match t.bit {
        // Only bit `b` changes; the RT thread owns the image, so the read-modify-write
        // cannot interleave with any other writer.
        Some(b) => {
            let mask = 1u8 << b;
            let byte = &mut area[t.offset];
            *byte = if d.data[0] & 1 != 0 {
                *byte | mask
            } else {
                *byte & !mask
            };
        }
        None => area[t.offset..t.offset + t.len].copy_from_slice(d.data),
    }
    Ok(t)
}
