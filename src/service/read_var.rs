//! Read Var (0x04): answers every item, each with its own return code.
//!
//! All items are read in one call on the RT thread, which owns the image, so a multi-item
//! read is consistent: every item comes from the same instant.

use super::address::{check_bounds, resolve_raw, TRANSPORTS};
use super::Answer;
use crate::plc::Memory;
use crate::wire::s7::Function;
use crate::wire::var::{emit_data_header, Area, DataTransport, Request, ReturnCode, VAR_SPEC};
use crate::wire::HeaderError;

/// Writes the answer's parameter (`04 N`) and data items into `out`, whose length is the
/// room the negotiated PDU leaves after the 12-byte header. An answer that does not fit
/// is refused as a whole with 0x8500, never truncated.
#[inline(always)]
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
        let rest = body.get_mut(at..).unwrap_or_default();
        at += answer_item(raw, mem, rest, i + 1 == n)?;
    }
    Ok(Answer {
        param_len: 2,
        data_len: at,
    })
}

/// Parses one request item (from its raw bytes) and writes its data item. Not inlined into
/// the loop on purpose: inlined, the compiler hoists the address of every area of the image
/// out of the loop, which costs a one-item read (the common case) more than this call.
#[inline(never)]
pub(crate) fn answer_item<M: Memory>(
    raw: &[u8],
    mem: &M,
    out: &mut [u8],
    last: bool,
) -> Result<usize, HeaderError> {
    item(raw, mem, out, last)
}

/// [`answer_item`], inlined: the session's fast path (`session::fast`) answers a one-item
/// read with it in place, where the call costs more than the hoisting.
#[inline(always)]
pub(crate) fn item<M: Memory>(
    raw: &[u8],
    mem: &M,
    out: &mut [u8],
    last: bool,
) -> Result<usize, HeaderError> {
    // The checks of `Item::parse`, on the bytes (`raw` is one whole 12-byte item).
    let [VAR_SPEC, 0x0A, syntax_id, code, c0, c1, d0, d1, area, a0, a1, a2] = *raw else {
        return Err(HeaderError::NOT_IMPLEMENTED);
    };
    let transport = &TRANSPORTS[usize::from(code)];
    let target = resolve_raw(
        syntax_id,
        transport,
        u16::from_be_bytes([c0, c1]),
        area,
        u32::from_be_bytes([0, a0, a1, a2]),
    );
    // Matches, not `and_then` with a closure: the compiler keeps a closure out of line.
    let found = match target {
        Ok(t) => match mem.area(Area::from(area), u16::from_be_bytes([d0, d1])) {
            Ok(area) => match check_bounds(&t, area.len()) {
                Ok(()) => Ok((&area[t.offset..t.offset + t.len], t.bit)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match found {
        Ok((data, bit)) => {
            let n = data.len();
            let fill = usize::from(n % 2 == 1 && !last);
            let length = if transport.length_in_bits { n * 8 } else { n };
            let Some(item) = out.get_mut(..4 + n + fill) else {
                return Err(HeaderError::PDU_SIZE);
            };
            let Ok(length) = u16::try_from(length) else {
                return Err(HeaderError::PDU_SIZE);
            };
            let (head, body) = item.split_at_mut(4);
            head[0] = ReturnCode::Success.into();
            head[1] = transport.data;
            head[2..4].copy_from_slice(&length.to_be_bytes());
            match bit {
                Some(b) => body[0] = (data[0] >> b) & 1,
                None => copy_item(&mut body[..n], data),
            }
            if fill == 1 {
                body[n] = 0;
            }
            Ok(4 + n + fill)
        }
        // An error item is never followed by a fill byte (docs/protocol.md §6.3).
        Err(e) => {
            emit_data_header(out, e.into(), DataTransport::Null, 0).ok_or(HeaderError::PDU_SIZE)
        }
    }
}

/// Copies an item's bytes (`dst` and `src` of the same length): the sizes of BYTE, WORD,
/// DWORD and 8-byte items as fixed-size moves, anything else through `copy_from_slice`
/// (a call to memcpy, which costs a 4-byte read more than the copy itself).
#[inline(always)]
fn copy_item(dst: &mut [u8], src: &[u8]) {
    match (dst, src) {
        ([d], [s]) => *d = *s,
        (d @ [_, _], s @ [_, _]) => d.copy_from_slice(s),
        (d @ [_, _, _, _], s @ [_, _, _, _]) => d.copy_from_slice(s),
        (d @ [_, _, _, _, _, _, _, _], s @ [_, _, _, _, _, _, _, _]) => d.copy_from_slice(s),
        (d, s) => d.copy_from_slice(s),
    }
}
