//! The elementary S7 data types a tag can have, their sizes, and which addresses they fit.

use super::address::{Address, Width};
use crate::wire::var::Area;

/// Largest S7 STRING capacity (the header's max-length byte).
pub const STRING_MAX: u8 = 254;

/// An S7 data type, laid out big-endian as an S7-300/400/1500 CPU lays it out in a
/// standard (non-optimized) DB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One bit.
    Bool,
    /// 8 bits, unsigned.
    Byte,
    /// 16 bits, unsigned.
    Word,
    /// 32 bits, unsigned.
    DWord,
    /// 16-bit signed integer.
    Int,
    /// 32-bit signed integer.
    DInt,
    /// IEEE 754 single precision.
    Real,
    /// IEEE 754 double precision.
    LReal,
    /// One character, one byte (ISO 8859-1).
    Char,
    /// `STRING[n]`: max-length byte `n`, current-length byte, then `n` character bytes.
    String(u8),
    /// Signed milliseconds, 32 bits (`T#…`).
    Time,
    /// 8 bytes BCD: year, month, day, hour, minute, second, ms (3 digits), weekday.
    DateAndTime,
}

/// Why a type name is not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeError {
    /// Not one of the supported names.
    Unknown,
    /// `STRING[n]` with n outside 1..=254, or malformed brackets.
    BadStringLength,
}

impl core::fmt::Display for TypeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TypeError::Unknown => "unknown type: use BOOL, BYTE, WORD, DWORD, INT, DINT, REAL, LREAL, CHAR, STRING[n], TIME or DATE_AND_TIME",
            TypeError::BadStringLength => "STRING[n] needs n in 1..254",
        })
    }
}

impl DataType {
    /// Parses a type name (case-insensitive; `DT` for DATE_AND_TIME, `STRING` alone is
    /// `STRING[254]`).
    pub fn parse(text: &str) -> Result<DataType, TypeError> {
        let t = text.trim().to_ascii_uppercase();
        Ok(match t.as_str() {
            "BOOL" => DataType::Bool,
            "BYTE" => DataType::Byte,
            "WORD" => DataType::Word,
            "DWORD" => DataType::DWord,
            "INT" => DataType::Int,
            "DINT" => DataType::DInt,
            "REAL" => DataType::Real,
            "LREAL" => DataType::LReal,
            "CHAR" => DataType::Char,
            "TIME" => DataType::Time,
            "DATE_AND_TIME" | "DT" => DataType::DateAndTime,
            "STRING" => DataType::String(STRING_MAX),
            other => {
                let Some(rest) = other.strip_prefix("STRING") else {
                    return Err(TypeError::Unknown);
                };
                let n = rest
                    .trim()
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|n| n.trim().parse::<u8>().ok())
                    .filter(|n| (1..=STRING_MAX).contains(n))
                    .ok_or(TypeError::BadStringLength)?;
                DataType::String(n)
            }
        })
    }

    /// Bytes the value occupies (1 for BOOL: the byte holding its bit).
    pub fn byte_len(self) -> usize {
        match self {
            DataType::Bool | DataType::Byte | DataType::Char => 1,
            DataType::Word | DataType::Int => 2,
            DataType::DWord | DataType::DInt | DataType::Real | DataType::Time => 4,
            DataType::LReal | DataType::DateAndTime => 8,
            DataType::String(n) => usize::from(n) + 2,
        }
    }

    /// The type an address means when none is given: BOOL for a bit, BYTE, WORD, DWORD
    /// by width, WORD for a timer or counter.
    pub fn default_for(width: Width) -> DataType {
        match width {
            Width::Bit => DataType::Bool,
            Width::Byte => DataType::Byte,
            Width::Word | Width::Element => DataType::Word,
            Width::DWord => DataType::DWord,
        }
    }

    /// Checks that a value of this type can live at `addr`: the address's width must be the
    /// type's size (REAL at a D address, INT at a W address, BOOL at a bit), types longer
    /// than 4 bytes start at a byte address (`DB1.DBB10`, `MB20`), timers and counters
    /// hold WORD or INT. The error says what would fit.
    pub fn check_fits(self, addr: &Address) -> Result<(), &'static str> {
        let timer_counter = matches!(addr.area, Area::Timers | Area::Counters);
        let fits = match self {
            DataType::Bool => addr.width == Width::Bit,
            DataType::Byte | DataType::Char => addr.width == Width::Byte,
            DataType::Word | DataType::Int => matches!(addr.width, Width::Word | Width::Element),
            DataType::DWord | DataType::DInt | DataType::Real | DataType::Time => {
                addr.width == Width::DWord
            }
            DataType::LReal | DataType::DateAndTime | DataType::String(_) => {
                addr.width == Width::Byte
            }
        };
        if fits {
            return Ok(());
        }
        Err(match self {
            _ if timer_counter => "timers and counters hold WORD or INT",
            DataType::Bool => "BOOL needs a bit address (DB1.DBX0.3, M10.0, I0.1, Q0.0)",
            DataType::Byte | DataType::Char => {
                "a 1-byte type needs a byte address (DBB, MB, IB, QB)"
            }
            DataType::Word | DataType::Int => {
                "a 2-byte type needs a word address (DBW, MW, IW, QW)"
            }
            DataType::DWord | DataType::DInt | DataType::Real | DataType::Time => {
                "a 4-byte type needs a double-word address (DBD, MD, ID, QD)"
            }
            DataType::LReal | DataType::DateAndTime | DataType::String(_) => {
                "LREAL, DATE_AND_TIME and STRING start at a byte address (DB1.DBB10, MB20)"
            }
        })
    }
}

/// The STEP 7 spelling (`REAL`, `STRING[20]`, `DATE_AND_TIME`).
impl core::fmt::Display for DataType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self {
            DataType::Bool => "BOOL",
            DataType::Byte => "BYTE",
            DataType::Word => "WORD",
            DataType::DWord => "DWORD",
            DataType::Int => "INT",
            DataType::DInt => "DINT",
            DataType::Real => "REAL",
            DataType::LReal => "LREAL",
            DataType::Char => "CHAR",
            DataType::String(n) => return write!(f, "STRING[{n}]"),
            DataType::Time => "TIME",
            DataType::DateAndTime => "DATE_AND_TIME",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type_name_and_displays_it_back() {
        for (text, t, len) in [
            ("BOOL", DataType::Bool, 1),
            ("byte", DataType::Byte, 1),
            ("WORD", DataType::Word, 2),
            ("DWORD", DataType::DWord, 4),
            ("INT", DataType::Int, 2),
            ("DINT", DataType::DInt, 4),
            ("REAL", DataType::Real, 4),
            ("LREAL", DataType::LReal, 8),
            ("CHAR", DataType::Char, 1),
            ("STRING[20]", DataType::String(20), 22),
            ("TIME", DataType::Time, 4),
            ("DATE_AND_TIME", DataType::DateAndTime, 8),
        ] {
            assert_eq!(DataType::parse(text), Ok(t), "{text}");
            assert_eq!(t.byte_len(), len, "{text}");
            assert_eq!(DataType::parse(&t.to_string()), Ok(t));
        }
        assert_eq!(DataType::parse("dt"), Ok(DataType::DateAndTime));
        assert_eq!(DataType::parse("String [ 8 ]"), Ok(DataType::String(8)));
        assert_eq!(DataType::parse("STRING"), Ok(DataType::String(254)));
    }

    #[test]
    fn refuses_unknown_names_and_bad_string_lengths() {
        assert_eq!(DataType::parse("FLOAT"), Err(TypeError::Unknown));
        assert_eq!(DataType::parse(""), Err(TypeError::Unknown));
        for bad in [
            "STRING[0]",
            "STRING[255]",
            "STRING[",
            "STRING[x]",
            "STRING20",
        ] {
            assert_eq!(
                DataType::parse(bad),
                Err(TypeError::BadStringLength),
                "{bad}"
            );
        }
    }

    #[test]
    fn checks_that_the_type_fits_the_address() {
        let at = |s: &str| Address::parse(s).unwrap();
        assert_eq!(DataType::Real.check_fits(&at("DB1.DBD4")), Ok(()));
        assert_eq!(DataType::Time.check_fits(&at("MD0")), Ok(()));
        assert_eq!(DataType::Bool.check_fits(&at("E0.1")), Ok(()));
        assert_eq!(DataType::Int.check_fits(&at("T5")), Ok(()));
        assert_eq!(DataType::Word.check_fits(&at("Z3")), Ok(()));
        assert_eq!(DataType::Char.check_fits(&at("AB1")), Ok(()));
        assert_eq!(DataType::LReal.check_fits(&at("DB1.DBB8")), Ok(()));
        assert_eq!(DataType::String(10).check_fits(&at("MB20")), Ok(()));
        assert_eq!(
            DataType::Real.check_fits(&at("DB1.DBX0.3")),
            Err("a 4-byte type needs a double-word address (DBD, MD, ID, QD)")
        );
        assert_eq!(
            DataType::Real.check_fits(&at("MW10")),
            Err("a 4-byte type needs a double-word address (DBD, MD, ID, QD)")
        );
        assert_eq!(
            DataType::Bool.check_fits(&at("MB10")),
            Err("BOOL needs a bit address (DB1.DBX0.3, M10.0, I0.1, Q0.0)")
        );
        assert_eq!(
            DataType::Int.check_fits(&at("DB1.DBD0")),
            Err("a 2-byte type needs a word address (DBW, MW, IW, QW)")
        );
        assert_eq!(
            DataType::Byte.check_fits(&at("QW0")),
            Err("a 1-byte type needs a byte address (DBB, MB, IB, QB)")
        );
        assert_eq!(
            DataType::LReal.check_fits(&at("DB1.DBD0")),
            Err("LREAL, DATE_AND_TIME and STRING start at a byte address (DB1.DBB10, MB20)")
        );
        assert_eq!(
            DataType::Real.check_fits(&at("T1")),
            Err("timers and counters hold WORD or INT")
        );
    }
}
