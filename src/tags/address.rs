//! STEP 7 absolute addresses (`DB1.DBX0.3`, `MW10`, `EB0`, `QD4`, `T5`, `Z3`, …) parsed into
//! an area of the image, a byte offset and an access width.
//!
//! Both mnemonic sets work: English (I inputs, Q outputs, C counters) and German (E
//! Eingänge, A Ausgänge, Z Zähler); M (Merker, flags), T (timers) and DB are the same in
//! both. Letters are case-insensitive and a leading `%` (TIA Portal's spelling) is allowed.
//!
//! ```text
//! DB<n>.DBX<byte>.<bit>   DB<n>.DBB<byte>   DB<n>.DBW<byte>   DB<n>.DBD<byte>
//! <a><byte>.<bit>         <a>B<byte>        <a>W<byte>        <a>D<byte>     a ∈ I E Q A M
//! T<n>                    C<n> / Z<n>       (2 bytes each: element n is byte 2n)
//! ```
//!
//! Offsets here are byte offsets into the area as [`crate::plc::Memory::area`] returns it,
//! the same unit as [`crate::host::ClientWrite`] reports, so a timer `T5` is at
//! offset 10. Nothing here checks an area's size: that is the configuration's job.

use crate::plc::image::TIMER_COUNTER_LEN;
use crate::wire::var::Area;

/// How many bytes an address reaches, from its width letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// One bit (`X` / `<byte>.<bit>`).
    Bit,
    /// One byte (`B`).
    Byte,
    /// Two bytes (`W`).
    Word,
    /// Four bytes (`D`).
    DWord,
    /// One timer or counter element (2 bytes).
    Element,
}

impl Width {
    /// Bytes covered (1 for a bit).
    pub fn byte_len(self) -> usize {
        match self {
            Width::Bit | Width::Byte => 1,
            Width::Word | Width::Element => 2,
            Width::DWord => 4,
        }
    }
}

/// A parsed absolute address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// Area of the image (DB addresses use [`Area::DataBlock`]).
    pub area: Area,
    /// DB number for [`Area::DataBlock`]; 0 otherwise.
    pub db: u16,
    /// Byte offset into the area (timers and counters: 2 × element number).
    pub offset: u32,
    /// Bit number 0–7 for [`Width::Bit`].
    pub bit: Option<u8>,
    /// Access width the address names.
    pub width: Width,
}

/// Why a text is not an address. Shown to operators after the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing but blanks.
    Empty,
    /// Does not start with DB, I/E, Q/A, M, T or C/Z.
    UnknownArea,
    /// Peripheral I/O (PIB, PEW, PQD, PAB, …): not part of the process image served here.
    Peripheral,
    /// `DB<n>.` is not followed by DBX, DBB, DBW or DBD.
    BadDbAccess,
    /// A number is missing where one is needed.
    MissingNumber,
    /// A number is larger than the address can hold (byte offset ≤ 65535, DB 1–65535,
    /// timer/counter ≤ 32767).
    NumberTooLarge,
    /// DB0 does not exist.
    DbZero,
    /// A bit address (`DBX`, `M10`, `E0`) without `.bit`.
    BitMissing,
    /// A byte, word or double-word address with a `.bit`.
    BitNotAllowed,
    /// A bit number above 7.
    BitOutOfRange,
    /// Characters after a complete address.
    Trailing,
}

impl core::fmt::Display for AddressError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AddressError::Empty => "empty address",
            AddressError::UnknownArea => {
                "unknown area: use DB<n>.DBX/DBB/DBW/DBD, I/E, Q/A, M, T or C/Z"
            }
            AddressError::Peripheral => "peripheral I/O (P…) is not part of the process image",
            AddressError::BadDbAccess => "after DB<n>. comes DBX<byte>.<bit>, DBB, DBW or DBD",
            AddressError::MissingNumber => "a number is missing",
            AddressError::NumberTooLarge => {
                "number too large (byte offset ≤ 65535, DB 1..65535, timer/counter ≤ 32767)"
            }
            AddressError::DbZero => "DB0 does not exist",
            AddressError::BitMissing => "a bit address needs .<bit> (e.g. M10.0, DB1.DBX0.3)",
            AddressError::BitNotAllowed => "only bit addresses take .<bit> (MB10, not MB10.1)",
            AddressError::BitOutOfRange => "bit number above 7",
            AddressError::Trailing => "unexpected characters after the address",
        })
    }
}

/// Largest byte offset an area here can have (areas hold at most 65536 bytes).
const MAX_OFFSET: u32 = 65535;
/// Largest timer or counter number (areas hold at most 32768 elements).
const MAX_ELEMENT: u32 = 32767;

/// A small cursor over the upper-cased address text.
struct Cursor<'a> {
    s: &'a [u8],
}

impl Cursor<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.s.strip_prefix(prefix.as_bytes()) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.first().copied()
    }

    /// A decimal number no larger than `max`.
    fn number(&mut self, max: u32) -> Result<u32, AddressError> {
        let digits = self.s.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(AddressError::MissingNumber);
        }
        let mut v: u32 = 0;
        for &c in &self.s[..digits] {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c - b'0')))
                .filter(|v| *v <= max)
                .ok_or(AddressError::NumberTooLarge)?;
        }
        self.s = &self.s[digits..];
        Ok(v)
    }

    /// `.<bit>` if present.
    fn bit(&mut self) -> Result<Option<u8>, AddressError> {
        if !self.eat(".") {
            return Ok(None);
        }
        let b = self.number(255).map_err(|e| match e {
            AddressError::NumberTooLarge => AddressError::BitOutOfRange,
            e => e,
        })?;
        match u8::try_from(b) {
            Ok(b) if b <= 7 => Ok(Some(b)),
            _ => Err(AddressError::BitOutOfRange),
        }
    }
}

impl Address {
    /// Parses a STEP 7 absolute address (see the module docs for the forms).
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let upper = text.trim().to_ascii_uppercase();
        let upper = upper.strip_prefix('%').unwrap_or(&upper);
        if upper.is_empty() {
            return Err(AddressError::Empty);
        }
        let mut c = Cursor {
            s: upper.as_bytes(),
        };
        let a = if c.eat("DB") {
            Self::parse_db(&mut c)?
        } else {
            let area = match c.peek() {
                Some(b'I' | b'E') => Area::Inputs,
                Some(b'Q' | b'A') => Area::Outputs,
                Some(b'M') => Area::Flags,
                Some(b'T') => Area::Timers,
                Some(b'C' | b'Z') => Area::Counters,
                Some(b'P') => return Err(AddressError::Peripheral),
                _ => return Err(AddressError::UnknownArea),
            };
            c.s = &c.s[1..];
            match area {
                Area::Timers | Area::Counters => {
                    let n = c.number(MAX_ELEMENT)?;
                    if c.peek() == Some(b'.') {
                        return Err(AddressError::BitNotAllowed);
                    }
                    Address {
                        area,
                        db: 0,
                        offset: n * TIMER_COUNTER_LEN as u32,
                        bit: None,
                        width: Width::Element,
                    }
                }
                _ => Self::parse_sized(&mut c, area, 0)?,
            }
        };
        if !c.s.is_empty() {
            return Err(AddressError::Trailing);
        }
        Ok(a)
    }

    /// After `DB`: `<n>.DB<width><byte>[.<bit>]`.
    fn parse_db(c: &mut Cursor<'_>) -> Result<Address, AddressError> {
        let db = c.number(u32::from(u16::MAX))?;
        if db == 0 {
            return Err(AddressError::DbZero);
        }
        if !c.eat(".DB") {
            return Err(AddressError::BadDbAccess);
        }
        if !matches!(c.peek(), Some(b'X' | b'B' | b'W' | b'D')) {
            return Err(AddressError::BadDbAccess);
        }
        Self::parse_sized(c, Area::DataBlock, db as u16)
    }

    /// `X<byte>.<bit>` | `<byte>.<bit>` | `B<byte>` | `W<byte>` | `D<byte>`.
    fn parse_sized(c: &mut Cursor<'_>, area: Area, db: u16) -> Result<Address, AddressError> {
        let width = match c.peek() {
            Some(b'X') => Width::Bit,
            Some(b'B') => Width::Byte,
            Some(b'W') => Width::Word,
            Some(b'D') => Width::DWord,
            Some(d) if d.is_ascii_digit() => Width::Bit,
            Some(_) => return Err(AddressError::UnknownArea),
            None => return Err(AddressError::MissingNumber),
        };
        if !c.peek().is_some_and(|d| d.is_ascii_digit()) {
            // X only in DBs (DBX); outside a DB the bit form has no letter (M10.0).
            if width == Width::Bit && area != Area::DataBlock {
                return Err(AddressError::UnknownArea);
            }
            c.s = &c.s[1..];
        }
        let offset = c.number(MAX_OFFSET)?;
        let bit = c.bit()?;
        match (width, bit) {
            (Width::Bit, None) => Err(AddressError::BitMissing),
            (Width::Bit, Some(_)) | (_, None) => Ok(Address {
                area,
                db,
                offset,
                bit,
                width,
            }),
            (_, Some(_)) => Err(AddressError::BitNotAllowed),
        }
    }

    /// Bytes the address covers (1 for a bit).
    pub fn byte_len(&self) -> usize {
        self.width.byte_len()
    }
}

/// The canonical English spelling (`DB1.DBX0.3`, `IW4`, `QB0`, `M10.1`, `T5`, `C3`).
impl core::fmt::Display for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let letter = match self.area {
            Area::DataBlock | Area::InstanceDataBlock => {
                write!(f, "DB{}.DB", self.db)?;
                ""
            }
            Area::Inputs => "I",
            Area::Outputs => "Q",
            Area::Flags => "M",
            Area::Timers | Area::Counters => {
                let l = if self.area == Area::Timers { "T" } else { "C" };
                return write!(f, "{l}{}", self.offset / TIMER_COUNTER_LEN as u32);
            }
            Area::Peripheral => "P",
            Area::Unknown(_) => "?",
        };
        f.write_str(letter)?;
        let is_db = matches!(self.area, Area::DataBlock | Area::InstanceDataBlock);
        match (self.width, self.bit) {
            (Width::Bit, Some(b)) if is_db => write!(f, "X{}.{b}", self.offset),
            (Width::Bit, Some(b)) => write!(f, "{}.{b}", self.offset),
            (Width::Word, _) => write!(f, "W{}", self.offset),
            (Width::DWord, _) => write!(f, "D{}", self.offset),
            _ => write!(f, "B{}", self.offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(area: Area, db: u16, offset: u32, bit: Option<u8>, width: Width) -> Address {
        Address {
            area,
            db,
            offset,
            bit,
            width,
        }
    }

    fn ok(text: &str) -> Address {
        Address::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_every_db_form() {
        assert_eq!(
            ok("DB1.DBX0.3"),
            a(Area::DataBlock, 1, 0, Some(3), Width::Bit)
        );
        assert_eq!(ok("DB1.DBB1"), a(Area::DataBlock, 1, 1, None, Width::Byte));
        assert_eq!(ok("DB1.DBW2"), a(Area::DataBlock, 1, 2, None, Width::Word));
        assert_eq!(ok("DB1.DBD4"), a(Area::DataBlock, 1, 4, None, Width::DWord));
        assert_eq!(
            ok("DB65535.DBD65535"),
            a(Area::DataBlock, 65535, 65535, None, Width::DWord)
        );
    }

    #[test]
    fn parses_flags_in_every_width() {
        assert_eq!(ok("M10.0"), a(Area::Flags, 0, 10, Some(0), Width::Bit));
        assert_eq!(ok("MB10"), a(Area::Flags, 0, 10, None, Width::Byte));
        assert_eq!(ok("MW10"), a(Area::Flags, 0, 10, None, Width::Word));
        assert_eq!(ok("MD10"), a(Area::Flags, 0, 10, None, Width::DWord));
    }

    #[test]
    fn english_and_german_inputs_are_the_same_address() {
        for (en, de, want) in [
            ("I0.1", "E0.1", a(Area::Inputs, 0, 0, Some(1), Width::Bit)),
            ("IB3", "EB3", a(Area::Inputs, 0, 3, None, Width::Byte)),
            ("IW4", "EW4", a(Area::Inputs, 0, 4, None, Width::Word)),
            ("ID8", "ED8", a(Area::Inputs, 0, 8, None, Width::DWord)),
        ] {
            assert_eq!(ok(en), want, "{en}");
            assert_eq!(ok(de), want, "{de}");
        }
    }

    #[test]
    fn english_and_german_outputs_are_the_same_address() {
        for (en, de, want) in [
            ("Q1.7", "A1.7", a(Area::Outputs, 0, 1, Some(7), Width::Bit)),
            ("QB0", "AB0", a(Area::Outputs, 0, 0, None, Width::Byte)),
            ("QW2", "AW2", a(Area::Outputs, 0, 2, None, Width::Word)),
            ("QD4", "AD4", a(Area::Outputs, 0, 4, None, Width::DWord)),
        ] {
            assert_eq!(ok(en), want, "{en}");
            assert_eq!(ok(de), want, "{de}");
        }
    }

    #[test]
    fn timers_and_counters_are_two_bytes_per_element_in_both_languages() {
        assert_eq!(ok("T5"), a(Area::Timers, 0, 10, None, Width::Element));
        assert_eq!(ok("C3"), a(Area::Counters, 0, 6, None, Width::Element));
        assert_eq!(ok("Z3"), ok("C3"));
        assert_eq!(
            ok("T32767"),
            a(Area::Timers, 0, 65534, None, Width::Element)
        );
    }

    #[test]
    fn accepts_lower_case_blanks_and_the_tia_percent() {
        assert_eq!(ok("  %db2.dbw4 "), ok("DB2.DBW4"));
        assert_eq!(ok("%MW10"), ok("mw10"));
        assert_eq!(ok("e0.0"), ok("I0.0"));
    }

    #[test]
    fn displays_the_canonical_english_form() {
        for (text, shown) in [
            ("DB1.DBX0.3", "DB1.DBX0.3"),
            ("db7.dbb1", "DB7.DBB1"),
            ("DB1.DBW2", "DB1.DBW2"),
            ("DB1.DBD4", "DB1.DBD4"),
            ("E0.1", "I0.1"),
            ("EB1", "IB1"),
            ("AW2", "QW2"),
            ("AD4", "QD4"),
            ("M10.0", "M10.0"),
            ("T5", "T5"),
            ("Z3", "C3"),
        ] {
            assert_eq!(ok(text).to_string(), shown);
            assert_eq!(ok(shown), ok(text), "display parses back");
        }
    }

    #[test]
    fn every_error_is_named() {
        use AddressError::*;
        for (text, want) in [
            ("", Empty),
            ("  % ", Empty),
            ("X10", UnknownArea),
            ("MX10.0", UnknownArea),
            ("MQ10", UnknownArea),
            ("PIW256", Peripheral),
            ("PEB0", Peripheral),
            ("DB1.DBY0", BadDbAccess),
            ("DB1.W2", BadDbAccess),
            ("DB1", BadDbAccess),
            ("DB.DBW2", MissingNumber),
            ("DB1.DBW", MissingNumber),
            ("MW", MissingNumber),
            ("M", MissingNumber),
            ("T", MissingNumber),
            ("M10.", MissingNumber),
            ("DB65536.DBW0", NumberTooLarge),
            ("DB1.DBB65536", NumberTooLarge),
            ("MB99999999999", NumberTooLarge),
            ("T32768", NumberTooLarge),
            ("DB0.DBW0", DbZero),
            ("DB1.DBX0", BitMissing),
            ("M10", BitMissing),
            ("E0", BitMissing),
            ("MW10.1", BitNotAllowed),
            ("DB1.DBB0.0", BitNotAllowed),
            ("T5.1", BitNotAllowed),
            ("DB1.DBX0.8", BitOutOfRange),
            ("M0.300", BitOutOfRange),
            ("MW10 x", Trailing),
            ("DB1.DBW2W", Trailing),
            ("C3C", Trailing),
        ] {
            assert_eq!(Address::parse(text), Err(want), "`{text}`");
        }
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            AddressError::BitMissing.to_string(),
            "a bit address needs .<bit> (e.g. M10.0, DB1.DBX0.3)"
        );
    }
}
