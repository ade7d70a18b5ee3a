//! Block functions (userdata group 3, docs/protocol.md §7.5) and the load-memory block format
//! that upload sends (§9): list all blocks (counts per type), list the blocks of one type
//! (continued over several answers when the PDU is too small), and block info.
//!
//! DBs come from the process image; OBs, FCs and FBs only exist when the configuration
//! declares them (they have no code: MC7 length 0).

use crate::plc::clock::block_timestamp;
use crate::plc::{BlockType, Cpu, Memory};
use crate::service::conn::BlockCursor;
use crate::service::ctx::{Ctx, UdAnswer};
use crate::wire::block::{parse_address, parse_type, sub_type, type_ascii};
use crate::wire::szl::{emit_data_head, Window};
use crate::wire::userdata::Params;
use crate::wire::var::Area;
use crate::wire::HeaderError;

/// Sub-block types in the order "list all blocks" reports them: OB, FB, FC, DB, SDB, SFC, SFB.
const LIST_ORDER: [u8; 7] = [
    sub_type::OB,
    sub_type::FB,
    sub_type::FC,
    sub_type::DB,
    sub_type::SDB,
    sub_type::SFC,
    sub_type::SFB,
];
/// Length of the load-memory block header and footer.
pub(crate) const HEADER_LEN: usize = 36;
/// Length of the footer.
pub(crate) const FOOTER_LEN: usize = 36;
/// Interface (SBB) length of a DB: what Snap7's `GetPgBlockInfo` assumes for a byte-array
/// DB. Its content is not specified anywhere we could check; s7rt sends zeros.
pub(crate) const DB_SBB_LEN: usize = 20;

/// A block the CPU holds: sub-block type, number, MC7 length (a DB's size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// Sub-block type.
    pub(crate) sub: u8,
    /// Number.
    pub(crate) number: u16,
    /// MC7 length (for a DB: its size).
    pub(crate) mc7_len: usize,
}

impl Block {
    /// Interface length.
    pub(crate) fn sbb_len(&self) -> usize {
        if self.sub == sub_type::DB {
            DB_SBB_LEN
        } else {
            0
        }
    }

    /// Length in load memory: header + MC7 + interface + footer.
    pub(crate) fn load_len(&self) -> usize {
        HEADER_LEN + self.mc7_len + self.sbb_len() + FOOTER_LEN
    }

    fn language(&self) -> u8 {
        if self.sub == sub_type::DB {
            0x05 // DB
        } else {
            0x01 // STL
        }
    }

    /// The 36-byte load-memory header (also bytes 6..42 of a block-info answer).
    pub(crate) fn header(&self, cpu: &Cpu) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(b"pp");
        h[2] = 0x01; // block format
        h[3] = 0x01; // flags: linked
        h[4] = self.language();
        h[5] = self.sub;
        h[6..8].copy_from_slice(&self.number.to_be_bytes());
        h[8..12].copy_from_slice(&(self.load_len() as u32).to_be_bytes());
        // 12..16 security: none
        let ts = block_timestamp(cpu.started_ms());
        h[16..22].copy_from_slice(&ts);
        h[22..28].copy_from_slice(&ts);
        h[28..30].copy_from_slice(&(self.sbb_len() as u16).to_be_bytes());
        // 30..32 ADD length, 32..34 local data: 0
        h[34..36].copy_from_slice(&(self.mc7_len.min(0xFFFF) as u16).to_be_bytes());
        h
    }
}

/// The 36-byte footer: author, family, name (8 each), version, unknown, checksum, reserved.
pub(crate) fn footer() -> [u8; FOOTER_LEN] {
    let mut f = [0u8; FOOTER_LEN];
    f[0..8].copy_from_slice(b"s7rt\0\0\0\0");
    f[24] = 0x01; // version 0.1
    f
}

/// Finds a block by sub-block type and number.
pub(crate) fn find<M: Memory>(mem: &M, cpu: &Cpu, sub: u8, number: u16) -> Option<Block> {
    if sub == sub_type::DB {
        let size = mem.area(Area::DataBlock, number).ok()?.len();
        return Some(Block {
            sub,
            number,
            mc7_len: size,
        });
    }
    cpu.blocks()
        .iter()
        .any(|(t, n)| t.sub_type() == sub && *n == number)
        .then_some(Block {
            sub,
            number,
            mc7_len: 0,
        })
}

/// Block numbers of one type in ascending order, as an iterator over the image and the
/// declared blocks (no allocation).
fn numbers<'a, M: Memory>(mem: &'a M, cpu: &'a Cpu, sub: u8) -> impl Iterator<Item = u16> + 'a {
    let dbs = (0..)
        .map_while(move |i| mem.db_at(i))
        .map(|(n, _)| n)
        .filter(move |_| sub == sub_type::DB)
        // A deleted DB (PI `_DELE`) is configured but not listed.
        .filter(move |n| mem.area(Area::DataBlock, *n).is_ok());
    let declared = cpu
        .blocks()
        .iter()
        .filter(move |(t, _)| t.sub_type() == sub && *t != BlockType::Db)
        .map(|(_, n)| *n);
    dbs.chain(declared)
}

/// List all blocks: `FF 09 00 1C` + 7 × (type (2 ASCII), count (2)).
pub(crate) fn list_all<M: Memory, E>(
    p: &Params,
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> UdAnswer {
    let Some(b) = out.get_mut(..4 + 28) else {
        return UdAnswer::err(p.seq, HeaderError::PDU_SIZE);
    };
    let _ = emit_data_head(b, 28);
    for (i, sub) in LIST_ORDER.iter().enumerate() {
        let count = numbers(ctx.mem, ctx.cpu, *sub).count().min(0xFFFF) as u16;
        let e = &mut b[4 + 4 * i..8 + 4 * i];
        e[0..2].copy_from_slice(&type_ascii(*sub));
        e[2..4].copy_from_slice(&count.to_be_bytes());
    }
    UdAnswer::ok(p.seq, 32)
}

/// List blocks of type: first request data `FF 09 00 02` + type; a follow-up (12-byte
/// parameter head) continues after the last number sent.
pub(crate) fn list_of_type<M: Memory, E>(
    p: &Params,
    data: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> UdAnswer {
    let (sub, after, seq, dur) = if p.follow_up {
        match ctx.conn.blocks.filter(|c| c.seq == p.seq) {
            Some(c) => (c.sub_type, Some(c.last), c.seq, c.dur),
            None => return UdAnswer::err(p.seq, HeaderError::NO_FURTHER_BLOCK),
        }
    } else {
        let sub = match data {
            [_, _, 0, 2, a, b, ..] => parse_type(*a, *b),
            _ => None,
        };
        match sub {
            Some(s) => (s, None, p.seq, 0),
            None => return UdAnswer::err(p.seq, HeaderError::NO_FURTHER_BLOCK),
        }
    };
    // Snap7 puts at most (PDU - 32) / 4 entries in one answer; `out` is the data area, which
    // ends where the PDU does and starts after 22 bytes of header and parameter.
    let max = out.len().saturating_sub(32 - 22) / 4;
    let lang = if sub == sub_type::DB { 0x05 } else { 0x01 };
    let mut n = 0;
    let mut last = 0;
    let mut more = false;
    let (head, body) = out.split_at_mut(4.min(out.len()));
    let mut w = Window::new(body, 0);
    for num in numbers(ctx.mem, ctx.cpu, sub).filter(|x| after.is_none_or(|a| *x > a)) {
        if n == max {
            more = true;
            break;
        }
        w.put_u16(num);
        w.put(&[0x22, lang]);
        last = num;
        n += 1;
    }
    if n == 0 {
        ctx.conn.blocks = None;
        return UdAnswer::err(seq, HeaderError::NO_FURTHER_BLOCK);
    }
    let _ = emit_data_head(head, 4 * n);
    let (seq, dur) = if more && after.is_none() {
        (ctx.conn.next_id(), ctx.conn.next_id())
    } else {
        (seq, dur)
    };
    ctx.conn.blocks = more.then_some(BlockCursor {
        seq,
        dur,
        sub_type: sub,
        last,
    });
    UdAnswer {
        seq,
        dur,
        more,
        error: HeaderError::NONE,
        data_len: 4 + 4 * n,
    }
}

/// Block info: data `FF 09 00 08` + block address; answer `FF 09 00 4E` + 78 bytes.
pub(crate) fn info<M: Memory, E>(
    p: &Params,
    data: &[u8],
    ctx: &mut Ctx<'_, M, E>,
    out: &mut [u8],
) -> UdAnswer {
    let Some(block) = data
        .get(4..)
        .and_then(parse_address)
        .and_then(|(sub, n)| find(ctx.mem, ctx.cpu, sub, n))
    else {
        return UdAnswer::err(p.seq, HeaderError::BLOCK_NOT_FOUND);
    };
    let Some(b) = out.get_mut(..4 + 78) else {
        return UdAnswer::err(p.seq, HeaderError::PDU_SIZE);
    };
    b.fill(0);
    let _ = emit_data_head(b, 78);
    let i = &mut b[4..];
    i[0..2].copy_from_slice(&type_ascii(block.sub));
    i[2..4].copy_from_slice(&74u16.to_be_bytes());
    i[4..6].copy_from_slice(&[0x22, 0x00]);
    i[6..42].copy_from_slice(&block.header(ctx.cpu));
    let f = footer();
    i[42..68].copy_from_slice(&f[0..26]); // author, family, name, version, unknown
    i[68..70].copy_from_slice(&f[26..28]); // checksum
    UdAnswer::ok(p.seq, 82)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_length_of_a_1024_byte_db_is_what_snap7_reports() {
        let b = Block {
            sub: sub_type::DB,
            number: 1,
            mc7_len: 1024,
        };
        assert_eq!(b.load_len(), 1116);
    }
}
