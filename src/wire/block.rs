//! How blocks are named on the wire (docs/protocol.md §7.5, §9): a sub-block type as two
//! ASCII hex characters (`30 41` "0A" = DB), a block address `<type (2)><5 decimal digits>
//! <file system>` (`0A00001A` = DB1, active), and a file name, `_` + block address.

/// Sub-block types.
pub mod sub_type {
    /// Organisation block.
    pub const OB: u8 = 0x08;
    /// Data block.
    pub const DB: u8 = 0x0A;
    /// System data block.
    pub const SDB: u8 = 0x0B;
    /// Function.
    pub const FC: u8 = 0x0C;
    /// System function.
    pub const SFC: u8 = 0x0D;
    /// Function block.
    pub const FB: u8 = 0x0E;
    /// System function block.
    pub const SFB: u8 = 0x0F;
}

/// Length of a block address.
pub const ADDRESS_LEN: usize = 8;
/// Length of a file name (`_` + block address).
pub const FILE_NAME_LEN: usize = 1 + ADDRESS_LEN;

/// A sub-block type as it appears on the wire: two ASCII hex characters.
pub fn type_ascii(sub: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    [HEX[usize::from(sub >> 4)], HEX[usize::from(sub & 0x0F)]]
}

/// Parses two ASCII hex characters into a sub-block type.
pub fn parse_type(hi: u8, lo: u8) -> Option<u8> {
    Some(hex_digit(hi)? << 4 | hex_digit(lo)?)
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parses a block address `<type (2 hex)> <5 decimal digits> <file system>` into (sub-block
/// type, number).
pub fn parse_address(b: &[u8]) -> Option<(u8, u16)> {
    let b = b.get(..ADDRESS_LEN)?;
    let sub = parse_type(b[0], b[1])?;
    let mut n: u32 = 0;
    for &c in &b[2..7] {
        n = n * 10 + (c as char).to_digit(10)?;
    }
    Some((sub, u16::try_from(n).ok()?))
}

/// Parses a file name `_<block address>` into (sub-block type, number).
pub fn parse_file_name(b: &[u8]) -> Option<(u8, u16)> {
    match b {
        [b'_', address @ ..] => parse_address(address),
        _ => None,
    }
}

/// Writes the file name `_<type><5 digits><file system>` into `buf` (9 bytes).
pub fn emit_file_name(buf: &mut [u8], sub: u8, number: u16, file_system: u8) -> Option<usize> {
    let b = buf.get_mut(..FILE_NAME_LEN)?;
    b[0] = b'_';
    b[1..3].copy_from_slice(&type_ascii(sub));
    emit_ascii_decimal(&mut b[3..8], usize::from(number));
    b[8] = file_system;
    Some(FILE_NAME_LEN)
}

/// Writes `n` as zero-padded ASCII decimal filling `buf` (the most significant digits are
/// dropped when `n` does not fit).
pub fn emit_ascii_decimal(buf: &mut [u8], mut n: usize) {
    for d in buf.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Parses ASCII decimal digits.
pub fn parse_ascii_decimal(b: &[u8]) -> Option<usize> {
    b.iter().try_fold(0usize, |n, &c| {
        n.checked_mul(10)?
            .checked_add((c as char).to_digit(10)? as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_block_address_of_golden_frame_68() {
        assert_eq!(parse_address(b"0A00001A"), Some((0x0A, 1)));
        assert_eq!(parse_address(b"0865535A"), Some((0x08, 65535)));
        assert_eq!(parse_address(b"0A65536A"), None);
        assert_eq!(parse_address(b"0Z00001A"), None);
        assert_eq!(parse_address(b"0A0001"), None);
    }

    #[test]
    fn file_name_round_trips() {
        let mut b = [0u8; 9];
        assert_eq!(emit_file_name(&mut b, sub_type::DB, 1, b'A'), Some(9));
        assert_eq!(&b, b"_0A00001A");
        assert_eq!(parse_file_name(&b), Some((sub_type::DB, 1)));
        assert_eq!(parse_file_name(b"0A00001A"), None);
    }
}
