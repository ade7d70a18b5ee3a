//! Typed values of the S7 elementary types: big-endian encoding into and decoding from image
//! bytes exactly as an S7 CPU lays them out, and parsing from text (command line, config)
//! and JSON (control socket).
//!
//! Layouts (offsets in bytes from the tag's address):
//! ```text
//! BOOL           bit b of byte 0 (the other 7 bits are left as they are)
//! BYTE, CHAR     0: value (CHAR: one ISO 8859-1 character)
//! WORD, INT      0..2  big-endian (INT two's complement)
//! DWORD, DINT    0..4  big-endian (DINT two's complement)
//! REAL, LREAL    0..4 / 0..8  IEEE 754 big-endian
//! TIME           0..4  signed milliseconds, big-endian (a DINT)
//! STRING[n]      0: n (max length) | 1: current length | 2..2+n: characters (ISO 8859-1)
//! DATE_AND_TIME  0..8  BCD: YY MM DD hh mm ss | ms/10 | (ms%10)<<4 | weekday (1 = Sunday)
//! ```
//!
//! Text and JSON forms: BOOL `true`/`false`/`1`/`0`; integers in decimal or `16#FF`,
//! `0xFF`, `2#1010`, `B#16#`, `W#16#`, `DW#16#`, `L#` prefixes; REAL/LREAL decimal; TIME
//! integer milliseconds or `T#1d2h3m4s5ms`; DATE_AND_TIME `DT#2024-02-29-13:37:42.123` or
//! ISO `2024-02-29T13:37:42.123` (years 1990–2089, no time zone: the PLC clock has none).
//! In JSON a string is always read with the text rules for the tag's type, so a client may
//! send every value as text; a JSON number or boolean must suit the type.
//!
//! Here: the values, the byte layouts and the range checks; the text forms are in `text`,
//! the JSON forms in `json`.

use super::types::DataType;
use crate::plc::clock::{date_and_time_range, encode_date_and_time};

mod json;
mod text;

use text::format_dt;

/// A value of one of the [`DataType`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// BOOL.
    Bool(bool),
    /// BYTE.
    Byte(u8),
    /// WORD.
    Word(u16),
    /// DWORD.
    DWord(u32),
    /// INT.
    Int(i16),
    /// DINT.
    DInt(i32),
    /// REAL.
    Real(f32),
    /// LREAL.
    LReal(f64),
    /// CHAR: the ISO 8859-1 byte.
    Char(u8),
    /// `STRING[n]`: the characters (each at most U+00FF).
    String(String),
    /// TIME in milliseconds.
    Time(i32),
    /// DATE_AND_TIME as milliseconds since 1970-01-01 00:00 (PLC local time, no zone).
    DateAndTime(i64),
}

/// Why a value cannot be made, stored or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The value's kind does not suit the type (a JSON number for a STRING, a fraction for
    /// an INT, a Value variant of another type).
    TypeMismatch(String),
    /// A well-formed value outside the type's range (300 for a BYTE, a 30-character text
    /// for `STRING[20]`, a year outside 1990–2089).
    OutOfRange(String),
    /// Text that is not a value of the type.
    Syntax(String),
    /// Image bytes that are no valid value of the type (a STRING whose length byte exceeds
    /// its capacity, a DATE_AND_TIME with a non-BCD digit).
    Corrupt(String),
}

impl ValueError {
    /// A short machine-readable name (`type_mismatch`, `out_of_range`, `bad_value`,
    /// `corrupt`), used as the control socket's error code.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::TypeMismatch(_) => "type_mismatch",
            ValueError::OutOfRange(_) => "out_of_range",
            ValueError::Syntax(_) => "bad_value",
            ValueError::Corrupt(_) => "corrupt",
        }
    }
}

impl core::fmt::Display for ValueError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ValueError::TypeMismatch(m)
            | ValueError::OutOfRange(m)
            | ValueError::Syntax(m)
            | ValueError::Corrupt(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ValueError {}

impl Value {
    /// The S7 default a CPU gives a freshly declared variable: 0, FALSE, empty STRING
    /// (whose header still carries its capacity), `DT#1990-01-01-00:00:00`.
    pub fn s7_default(ty: DataType) -> Value {
        match ty {
            DataType::Bool => Value::Bool(false),
            DataType::Byte => Value::Byte(0),
            DataType::Word => Value::Word(0),
            DataType::DWord => Value::DWord(0),
            DataType::Int => Value::Int(0),
            DataType::DInt => Value::DInt(0),
            DataType::Real => Value::Real(0.0),
            DataType::LReal => Value::LReal(0.0),
            DataType::Char => Value::Char(b' '),
            DataType::String(_) => Value::String(String::new()),
            DataType::Time => Value::Time(0),
            DataType::DateAndTime => Value::DateAndTime(date_and_time_range().start),
        }
    }

    /// Writes the value as `ty` into `out`, which must be exactly `ty.byte_len()` bytes
    /// (for BOOL: the byte holding bit `bit`, of which only that bit changes).
    pub fn encode(&self, ty: DataType, bit: Option<u8>, out: &mut [u8]) -> Result<(), ValueError> {
        if out.len() != ty.byte_len() {
            return Err(ValueError::TypeMismatch(format!(
                "{ty} needs {} bytes, got {}",
                ty.byte_len(),
                out.len()
            )));
        }
        match (ty, self) {
            (DataType::Bool, Value::Bool(v)) => {
                let mask = 1u8 << (bit.unwrap_or(0) & 7);
                out[0] = if *v { out[0] | mask } else { out[0] & !mask };
            }
            (DataType::Byte, Value::Byte(v)) | (DataType::Char, Value::Char(v)) => out[0] = *v,
            (DataType::Word, Value::Word(v)) => out.copy_from_slice(&v.to_be_bytes()),
            (DataType::Int, Value::Int(v)) => out.copy_from_slice(&v.to_be_bytes()),
            (DataType::DWord, Value::DWord(v)) => out.copy_from_slice(&v.to_be_bytes()),
            (DataType::DInt, Value::DInt(v)) | (DataType::Time, Value::Time(v)) => {
                out.copy_from_slice(&v.to_be_bytes())
            }
            (DataType::Real, Value::Real(v)) => out.copy_from_slice(&v.to_be_bytes()),
            (DataType::LReal, Value::LReal(v)) => out.copy_from_slice(&v.to_be_bytes()),
            (DataType::DateAndTime, Value::DateAndTime(ms)) => {
                check_dt_range(*ms)?;
                out.copy_from_slice(&encode_date_and_time(*ms));
            }
            (DataType::String(n), Value::String(s)) => {
                let len = latin1_len(s, n)?;
                out.fill(0);
                out[0] = n;
                out[1] = len;
                for (o, c) in out[2..].iter_mut().zip(s.chars()) {
                    *o = c as u32 as u8; // latin1_len checked every char is ≤ U+00FF
                }
            }
            (ty, v) => {
                return Err(ValueError::TypeMismatch(format!(
                    "{ty} cannot hold {}",
                    v.kind()
                )))
            }
        }
        Ok(())
    }

    /// Reads a value of type `ty` from `bytes` (at least `ty.byte_len()` long; for BOOL the
    /// byte holding bit `bit`).
    pub fn decode(ty: DataType, bit: Option<u8>, bytes: &[u8]) -> Result<Value, ValueError> {
        let b = bytes.get(..ty.byte_len()).ok_or_else(|| {
            ValueError::Corrupt(format!(
                "{ty} needs {} bytes, got {}",
                ty.byte_len(),
                bytes.len()
            ))
        })?;
        Ok(match ty {
            DataType::Bool => Value::Bool(b[0] >> (bit.unwrap_or(0) & 7) & 1 == 1),
            DataType::Byte => Value::Byte(b[0]),
            DataType::Char => Value::Char(b[0]),
            DataType::Word => Value::Word(u16::from_be_bytes(take(b))),
            DataType::Int => Value::Int(i16::from_be_bytes(take(b))),
            DataType::DWord => Value::DWord(u32::from_be_bytes(take(b))),
            DataType::DInt => Value::DInt(i32::from_be_bytes(take(b))),
            DataType::Time => Value::Time(i32::from_be_bytes(take(b))),
            DataType::Real => Value::Real(f32::from_be_bytes(take(b))),
            DataType::LReal => Value::LReal(f64::from_be_bytes(take(b))),
            DataType::DateAndTime => {
                Value::DateAndTime(crate::plc::clock::decode_date_and_time(b).ok_or_else(|| {
                    ValueError::Corrupt(format!("bytes {} are not a valid DATE_AND_TIME", hex(b)))
                })?)
            }
            DataType::String(n) => {
                let len = b[1];
                if len > n {
                    return Err(ValueError::Corrupt(format!(
                        "STRING[{n}] header says current length {len} (max byte {})",
                        b[0]
                    )));
                }
                Value::String(
                    b[2..2 + usize::from(len)]
                        .iter()
                        .map(|&c| char::from(c))
                        .collect(),
                )
            }
        })
    }

    /// What kind of value this is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a BOOL",
            Value::Byte(_) => "a BYTE",
            Value::Word(_) => "a WORD",
            Value::DWord(_) => "a DWORD",
            Value::Int(_) => "an INT",
            Value::DInt(_) => "a DINT",
            Value::Real(_) => "a REAL",
            Value::LReal(_) => "an LREAL",
            Value::Char(_) => "a CHAR",
            Value::String(_) => "a STRING",
            Value::Time(_) => "a TIME",
            Value::DateAndTime(_) => "a DATE_AND_TIME",
        }
    }

    fn from_int(ty: DataType, v: i128) -> Result<Value, ValueError> {
        let (lo, hi): (i128, i128) = match ty {
            DataType::Byte => (0, 0xFF),
            DataType::Word => (0, 0xFFFF),
            DataType::DWord => (0, 0xFFFF_FFFF),
            DataType::Int => (i16::MIN.into(), i16::MAX.into()),
            _ => (i32::MIN.into(), i32::MAX.into()),
        };
        if v < lo || v > hi {
            return Err(ValueError::OutOfRange(format!(
                "{v} is outside {ty}'s range {lo}..{hi}"
            )));
        }
        // In range, so the casts below are exact.
        Ok(match ty {
            DataType::Byte => Value::Byte(v as u8),
            DataType::Word => Value::Word(v as u16),
            DataType::DWord => Value::DWord(v as u32),
            DataType::Int => Value::Int(v as i16),
            _ => Value::DInt(v as i32),
        })
    }

    fn from_float(ty: DataType, v: f64) -> Result<Value, ValueError> {
        match ty {
            DataType::Real if v.is_finite() && v.abs() > f64::from(f32::MAX) => Err(
                ValueError::OutOfRange(format!("{v} is outside REAL's range ±3.4028235e38")),
            ),
            DataType::Real => Ok(Value::Real(v as f32)),
            _ => Ok(Value::LReal(v)),
        }
    }
}

/// The first `N` bytes of `b` (zero-padded if shorter; callers check the length first).
fn take<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = N.min(b.len());
    a[..n].copy_from_slice(&b[..n]);
    a
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Character count of `s` if it fits `STRING[n]` in ISO 8859-1.
fn latin1_len(s: &str, n: u8) -> Result<u8, ValueError> {
    if let Some(c) = s.chars().find(|c| (*c as u32) > 0xFF) {
        return Err(ValueError::OutOfRange(format!(
            "STRING holds ISO 8859-1 characters (U+0000..U+00FF), not `{c}`"
        )));
    }
    let len = s.chars().count();
    u8::try_from(len)
        .ok()
        .filter(|l| *l <= n)
        .ok_or_else(|| ValueError::OutOfRange(format!("{len} characters do not fit STRING[{n}]")))
}

fn check_dt_range(ms: i64) -> Result<(), ValueError> {
    if date_and_time_range().contains(&ms) {
        Ok(())
    } else {
        Err(ValueError::OutOfRange(format!(
            "DATE_AND_TIME {} is outside 1990-01-01..2089-12-31",
            format_dt(ms)
        )))
    }
}

#[cfg(test)]
mod tests;
