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

use super::types::DataType;
use crate::plc::clock::{civil_from_days, days_from_civil, encode_date_and_time};

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

const DAY_MS: i64 = 86_400_000;

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
            DataType::DateAndTime => Value::DateAndTime(days_from_civil(1990, 1, 1) * DAY_MS),
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

    /// Parses text as a value of `ty` (rules in the module docs).
    pub fn from_text(ty: DataType, text: &str) -> Result<Value, ValueError> {
        let t = text.trim();
        let bad = || ValueError::Syntax(format!("`{text}` is not a {ty}"));
        match ty {
            DataType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(ValueError::Syntax(format!(
                    "`{text}` is not a BOOL (true, false, 1 or 0)"
                ))),
            },
            DataType::Byte | DataType::Word | DataType::DWord | DataType::Int | DataType::DInt => {
                let v = parse_int(t).ok_or_else(bad)?;
                Value::from_int(ty, v)
            }
            DataType::Real | DataType::LReal => {
                let v: f64 = t.parse().map_err(|_| bad())?;
                Value::from_float(ty, v)
            }
            DataType::Char => {
                let mut cs = text.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) if (c as u32) <= 0xFF => Ok(Value::Char(c as u32 as u8)),
                    (Some(c), None) => Err(ValueError::OutOfRange(format!(
                        "CHAR holds ISO 8859-1 characters (U+0000..U+00FF), not `{c}`"
                    ))),
                    _ => Err(ValueError::Syntax(format!(
                        "CHAR needs exactly one character, got `{text}`"
                    ))),
                }
            }
            DataType::String(n) => {
                latin1_len(text, n)?;
                Ok(Value::String(text.to_string()))
            }
            DataType::Time => {
                let ms = parse_time(t).ok_or_else(|| {
                    ValueError::Syntax(format!(
                        "`{text}` is not a TIME (milliseconds or T#1d2h3m4s5ms)"
                    ))
                })?;
                i32::try_from(ms).map(Value::Time).map_err(|_| {
                    ValueError::OutOfRange(format!(
                        "TIME {ms} ms is outside -2147483648..2147483647 ms (T#±24d20h31m23s647ms)"
                    ))
                })
            }
            DataType::DateAndTime => {
                let ms = parse_dt(t).ok_or_else(|| {
                    ValueError::Syntax(format!(
                        "`{text}` is not a DATE_AND_TIME (DT#2024-02-29-13:37:42.123 or 2024-02-29T13:37:42.123)"
                    ))
                })?;
                check_dt_range(ms)?;
                Ok(Value::DateAndTime(ms))
            }
        }
    }

    /// Reads a JSON value as `ty`: strings with the text rules, numbers and booleans where
    /// they suit the type.
    pub fn from_json(ty: DataType, v: &serde_json::Value) -> Result<Value, ValueError> {
        use serde_json::Value as J;
        let mismatch =
            |what: &str| ValueError::TypeMismatch(format!("{ty} cannot be given as a JSON {what}"));
        match v {
            J::String(s) => Value::from_text(ty, s),
            J::Bool(b) => match ty {
                DataType::Bool => Ok(Value::Bool(*b)),
                _ => Err(mismatch("boolean")),
            },
            J::Number(n) => match ty {
                DataType::Bool => match n.as_u64() {
                    Some(0) => Ok(Value::Bool(false)),
                    Some(1) => Ok(Value::Bool(true)),
                    _ => Err(ValueError::OutOfRange(format!(
                        "BOOL is true, false, 1 or 0, not {n}"
                    ))),
                },
                DataType::Byte
                | DataType::Word
                | DataType::DWord
                | DataType::Int
                | DataType::DInt
                | DataType::Time => {
                    let i = if let Some(i) = n.as_i64() {
                        i128::from(i)
                    } else if let Some(u) = n.as_u64() {
                        i128::from(u)
                    } else {
                        match n.as_f64() {
                            Some(f) if f.fract() == 0.0 && f.abs() < 1e30 => f as i128,
                            _ => {
                                return Err(ValueError::TypeMismatch(format!(
                                    "{ty} needs an integer, got {n}"
                                )))
                            }
                        }
                    };
                    if ty == DataType::Time {
                        return i32::try_from(i).map(Value::Time).map_err(|_| {
                            ValueError::OutOfRange(format!(
                                "TIME {i} ms is outside -2147483648..2147483647 ms"
                            ))
                        });
                    }
                    Value::from_int(ty, i)
                }
                DataType::Real | DataType::LReal => {
                    Value::from_float(ty, n.as_f64().ok_or_else(|| mismatch("number"))?)
                }
                _ => Err(mismatch("number")),
            },
            J::Null => Err(mismatch("null")),
            J::Array(_) => Err(mismatch("array")),
            J::Object(_) => Err(mismatch("object")),
        }
    }

    /// The JSON form: booleans and numbers as such, CHAR and STRING as strings, TIME as
    /// integer milliseconds, DATE_AND_TIME as `"2024-02-29T13:37:42.123"`, non-finite
    /// REAL/LREAL as `"NaN"`, `"inf"`, `"-inf"`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let float = |f: f64| match serde_json::Number::from_f64(f) {
            Some(n) => J::Number(n),
            None => J::String(f.to_string()),
        };
        match self {
            Value::Bool(b) => J::Bool(*b),
            Value::Byte(v) => J::from(*v),
            Value::Word(v) => J::from(*v),
            Value::DWord(v) => J::from(*v),
            Value::Int(v) => J::from(*v),
            Value::DInt(v) | Value::Time(v) => J::from(*v),
            // Through the shortest decimal text, so 0.1f32 shows as 0.1 and not as
            // 0.10000000149011612.
            Value::Real(v) => float(v.to_string().parse::<f64>().unwrap_or(f64::from(*v))),
            Value::LReal(v) => float(*v),
            Value::Char(c) => J::String(char::from(*c).to_string()),
            Value::String(s) => J::String(s.clone()),
            Value::DateAndTime(ms) => J::String(format_dt(*ms)),
        }
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

/// The JSON text of [`Value::to_json`].
impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.to_json())
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
    let lo = days_from_civil(1990, 1, 1) * DAY_MS;
    let hi = days_from_civil(2090, 1, 1) * DAY_MS;
    if (lo..hi).contains(&ms) {
        Ok(())
    } else {
        Err(ValueError::OutOfRange(format!(
            "DATE_AND_TIME {} is outside 1990-01-01..2089-12-31",
            format_dt(ms)
        )))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmm`.
fn format_dt(ms: i64) -> String {
    let (y, mo, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    )
}

/// An integer in decimal or with an S7/C radix prefix; `None` if malformed.
fn parse_int(t: &str) -> Option<i128> {
    let up = t.to_ascii_uppercase().replace('_', "");
    let sign = |b: &str| -> (bool, String) {
        match b.strip_prefix('-') {
            Some(r) => (true, r.to_string()),
            None => (false, b.strip_prefix('+').unwrap_or(b).to_string()),
        }
    };
    let (neg, body) = sign(&up);
    // Typed prefixes (B#16#FF, L#-5) come before the sign and radix.
    let (neg, body) = match ["B#", "W#", "DW#", "L#"]
        .iter()
        .find_map(|p| body.strip_prefix(p))
    {
        Some(rest) if !neg => sign(rest),
        Some(rest) => (neg, rest.to_string()),
        None => (neg, body),
    };
    let body = body.as_str();
    let (radix, digits) = if let Some(r) = body.strip_prefix("16#").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("2#").or(body.strip_prefix("0B")) {
        (2, r)
    } else if let Some(r) = body.strip_prefix("8#") {
        (8, r)
    } else {
        (10, body)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// TIME text: integer milliseconds or `T#[-]1d2h3m4s5ms` (also `TIME#`, any case,
/// underscores ignored). Milliseconds, unchecked against the TIME range.
fn parse_time(t: &str) -> Option<i64> {
    if let Some(v) = parse_int(t) {
        return i64::try_from(v).ok();
    }
    let up = t.to_ascii_uppercase().replace('_', "");
    let body = up.strip_prefix("TIME#").or(up.strip_prefix("T#"))?;
    let (neg, mut rest) = match body.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, body),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let n = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 12 {
            return None;
        }
        let v: i64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (unit_ms, len) = if rest.starts_with("MS") {
            (1, 2)
        } else {
            match rest.as_bytes().first()? {
                b'D' => (DAY_MS, 1),
                b'H' => (3_600_000, 1),
                b'M' => (60_000, 1),
                b'S' => (1000, 1),
                _ => return None,
            }
        };
        rest = &rest[len..];
        total = total.checked_add(v.checked_mul(unit_ms)?)?;
    }
    Some(if neg { -total } else { total })
}

/// DATE_AND_TIME text to Unix-epoch milliseconds (no range check).
fn parse_dt(t: &str) -> Option<i64> {
    let up = t.to_ascii_uppercase();
    let body = up
        .strip_prefix("DATE_AND_TIME#")
        .or(up.strip_prefix("DT#"))
        .unwrap_or(&up);
    let b = body.as_bytes();
    // YYYY-MM-DD?HH:MM:SS[.f{1,3}], ? one of '-', 'T', ' '
    if b.len() < 19 || !matches!(b[10], b'-' | b'T' | b' ') {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u32> {
        let s = body.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let ms = match &body[19..] {
        "" => 0,
        f if f.len() >= 2 && f.len() <= 4 && f.starts_with('.') => {
            let digits = &f[1..];
            let v = num(20..19 + f.len())?;
            v * 10u32.pow(3 - digits.len() as u32)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    if civil_from_days(days) != (i64::from(y), mo, d) {
        return None;
    }
    Some(days * DAY_MS + i64::from(((h * 60 + mi) * 60 + s) * 1000 + ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dt(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000 + ms
    }

    /// Encodes `v` as `ty` into a buffer pre-filled with 0xA5 and checks the bytes, then
    /// decodes them back.
    fn golden(ty: DataType, v: Value, bytes: &[u8]) {
        let mut out = vec![0xA5u8; ty.byte_len()];
        v.encode(ty, None, &mut out).unwrap();
        assert_eq!(out, bytes, "{ty} {v:?}");
        assert_eq!(Value::decode(ty, None, &out).unwrap(), v, "{ty}");
    }

    #[test]
    fn golden_bytes_of_every_type_round_trip() {
        golden(DataType::Byte, Value::Byte(0xA7), &[0xA7]);
        golden(DataType::Char, Value::Char(b'K'), &[0x4B]);
        golden(DataType::Word, Value::Word(0x1234), &[0x12, 0x34]);
        golden(DataType::Int, Value::Int(-2), &[0xFF, 0xFE]);
        golden(DataType::Int, Value::Int(i16::MIN), &[0x80, 0x00]);
        golden(
            DataType::DWord,
            Value::DWord(0xDEADBEEF),
            &[0xDE, 0xAD, 0xBE, 0xEF],
        );
        golden(
            DataType::DInt,
            Value::DInt(-100_000),
            &[0xFF, 0xFE, 0x79, 0x60],
        );
        // 12.5 = 0x41480000 (IEEE 754 single), as snap7.util.set_real writes it.
        golden(DataType::Real, Value::Real(12.5), &[0x41, 0x48, 0x00, 0x00]);
        golden(
            DataType::LReal,
            Value::LReal(-1.5),
            &[0xBF, 0xF8, 0, 0, 0, 0, 0, 0],
        );
        // T#1M = 60000 ms = 0x0000EA60.
        golden(
            DataType::Time,
            Value::Time(60_000),
            &[0x00, 0x00, 0xEA, 0x60],
        );
        golden(DataType::Time, Value::Time(-1), &[0xFF, 0xFF, 0xFF, 0xFF]);
        // 2024-02-29 13:37:42.123 was a Thursday (weekday 5).
        golden(
            DataType::DateAndTime,
            Value::DateAndTime(dt(2024, 2, 29, 13, 37, 42, 123)),
            &[0x24, 0x02, 0x29, 0x13, 0x37, 0x42, 0x12, 0x35],
        );
        golden(
            DataType::DateAndTime,
            Value::DateAndTime(dt(1999, 12, 31, 23, 59, 59, 999)),
            &[0x99, 0x12, 0x31, 0x23, 0x59, 0x59, 0x99, 0x96],
        );
        // STRING[6] "Hé": max 6, length 2, 'H', 0xE9, rest zeroed.
        golden(
            DataType::String(6),
            Value::String("Hé".into()),
            &[6, 2, b'H', 0xE9, 0, 0, 0, 0],
        );
        golden(
            DataType::String(1),
            Value::String(String::new()),
            &[1, 0, 0],
        );
    }

    #[test]
    fn bool_sets_and_clears_only_its_bit() {
        let mut b = [0b1010_0101u8];
        Value::Bool(true)
            .encode(DataType::Bool, Some(1), &mut b)
            .unwrap();
        assert_eq!(b, [0b1010_0111]);
        Value::Bool(false)
            .encode(DataType::Bool, Some(7), &mut b)
            .unwrap();
        assert_eq!(b, [0b0010_0111]);
        assert_eq!(
            Value::decode(DataType::Bool, Some(2), &b),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            Value::decode(DataType::Bool, Some(3), &b),
            Ok(Value::Bool(false))
        );
    }

    #[test]
    fn s7_defaults_carry_the_string_capacity_and_the_1990_epoch() {
        let mut s = [0xA5u8; 5];
        Value::s7_default(DataType::String(3))
            .encode(DataType::String(3), None, &mut s)
            .unwrap();
        assert_eq!(s, [3, 0, 0, 0, 0]);
        let mut d = [0u8; 8];
        Value::s7_default(DataType::DateAndTime)
            .encode(DataType::DateAndTime, None, &mut d)
            .unwrap();
        // 1990-01-01 was a Monday (2).
        assert_eq!(d, [0x90, 0x01, 0x01, 0, 0, 0, 0, 0x02]);
    }

    #[test]
    fn refuses_to_encode_a_value_of_another_type_or_into_a_wrong_size() {
        let mut four = [0u8; 4];
        assert_eq!(
            Value::Int(1).encode(DataType::Real, None, &mut four),
            Err(ValueError::TypeMismatch("REAL cannot hold an INT".into()))
        );
        assert_eq!(
            Value::Real(1.0).encode(DataType::Real, None, &mut four[..2]),
            Err(ValueError::TypeMismatch("REAL needs 4 bytes, got 2".into()))
        );
        let mut s = [0u8; 4];
        assert_eq!(
            Value::String("abc".into()).encode(DataType::String(2), None, &mut s),
            Err(ValueError::OutOfRange(
                "3 characters do not fit STRING[2]".into()
            ))
        );
    }

    #[test]
    fn decoding_names_corrupt_image_content() {
        assert_eq!(
            Value::decode(DataType::String(2), None, &[2, 3, b'a', b'b']),
            Err(ValueError::Corrupt(
                "STRING[2] header says current length 3 (max byte 2)".into()
            ))
        );
        assert_eq!(
            Value::decode(DataType::DateAndTime, None, &[0; 8]),
            Err(ValueError::Corrupt(
                "bytes 00 00 00 00 00 00 00 00 are not a valid DATE_AND_TIME".into()
            ))
        );
        assert_eq!(
            Value::decode(DataType::DInt, None, &[0; 3]),
            Err(ValueError::Corrupt("DINT needs 4 bytes, got 3".into()))
        );
    }

    #[test]
    fn parses_text_of_every_type() {
        let t = |ty: &str, s: &str| Value::from_text(DataType::parse(ty).unwrap(), s);
        assert_eq!(t("BOOL", "TRUE"), Ok(Value::Bool(true)));
        assert_eq!(t("BOOL", "0"), Ok(Value::Bool(false)));
        assert_eq!(t("BYTE", "16#FF"), Ok(Value::Byte(255)));
        assert_eq!(t("BYTE", "B#16#0a"), Ok(Value::Byte(10)));
        assert_eq!(t("WORD", "W#16#1234"), Ok(Value::Word(0x1234)));
        assert_eq!(t("WORD", "2#1000_0000"), Ok(Value::Word(128)));
        assert_eq!(t("DWORD", "0xDEADBEEF"), Ok(Value::DWord(0xDEADBEEF)));
        assert_eq!(t("DWORD", "DW#16#FFFF_FFFF"), Ok(Value::DWord(u32::MAX)));
        assert_eq!(t("INT", "-32768"), Ok(Value::Int(-32768)));
        assert_eq!(t("DINT", "L#-5"), Ok(Value::DInt(-5)));
        assert_eq!(t("REAL", " 12.5 "), Ok(Value::Real(12.5)));
        assert_eq!(t("LREAL", "-1e300"), Ok(Value::LReal(-1e300)));
        assert_eq!(t("CHAR", "ü"), Ok(Value::Char(0xFC)));
        assert_eq!(t("STRING[5]", "ab cd"), Ok(Value::String("ab cd".into())));
        assert_eq!(t("TIME", "T#1h2m3s4ms"), Ok(Value::Time(3_723_004)));
        assert_eq!(t("TIME", "t#-1d_2ms"), Ok(Value::Time(-86_400_002)));
        assert_eq!(t("TIME", "TIME#500MS"), Ok(Value::Time(500)));
        assert_eq!(t("TIME", "1500"), Ok(Value::Time(1500)));
        let want = Ok(Value::DateAndTime(dt(2024, 2, 29, 13, 37, 42, 120)));
        assert_eq!(t("DT", "DT#2024-02-29-13:37:42.12"), want);
        assert_eq!(t("DT", "2024-02-29T13:37:42.120"), want);
        assert_eq!(t("DT", "date_and_time#2024-02-29 13:37:42.12"), want);
        assert_eq!(
            t("DT", "2089-12-31T23:59:59"),
            Ok(Value::DateAndTime(dt(2089, 12, 31, 23, 59, 59, 0)))
        );
    }

    #[test]
    fn refuses_text_with_the_reason() {
        let t = |ty: &str, s: &str| Value::from_text(DataType::parse(ty).unwrap(), s);
        let oor = |m: &str| Err(ValueError::OutOfRange(m.into()));
        let syn = |m: &str| Err(ValueError::Syntax(m.into()));
        assert_eq!(
            t("BOOL", "yes"),
            syn("`yes` is not a BOOL (true, false, 1 or 0)")
        );
        assert_eq!(t("BYTE", "256"), oor("256 is outside BYTE's range 0..255"));
        assert_eq!(t("BYTE", "-1"), oor("-1 is outside BYTE's range 0..255"));
        assert_eq!(
            t("WORD", "65536"),
            oor("65536 is outside WORD's range 0..65535")
        );
        assert_eq!(
            t("INT", "32768"),
            oor("32768 is outside INT's range -32768..32767")
        );
        assert_eq!(
            t("DINT", "2147483648"),
            oor("2147483648 is outside DINT's range -2147483648..2147483647")
        );
        assert_eq!(
            t("DWORD", "16#1_0000_0000"),
            oor("4294967296 is outside DWORD's range 0..4294967295")
        );
        assert_eq!(t("INT", "12.5"), syn("`12.5` is not a INT"));
        assert_eq!(t("INT", "--1"), syn("`--1` is not a INT"));
        assert_eq!(t("WORD", "16#"), syn("`16#` is not a WORD"));
        assert_eq!(t("REAL", "fast"), syn("`fast` is not a REAL"));
        assert_eq!(
            t("REAL", "1e39"),
            oor("1000000000000000000000000000000000000000 is outside REAL's range ±3.4028235e38")
        );
        assert_eq!(
            t("CHAR", "ab"),
            syn("CHAR needs exactly one character, got `ab`")
        );
        assert_eq!(
            t("CHAR", ""),
            syn("CHAR needs exactly one character, got ``")
        );
        assert_eq!(
            t("CHAR", "€"),
            oor("CHAR holds ISO 8859-1 characters (U+0000..U+00FF), not `€`")
        );
        assert_eq!(
            t("STRING[2]", "abc"),
            oor("3 characters do not fit STRING[2]")
        );
        assert_eq!(
            t("STRING[9]", "5 €"),
            oor("STRING holds ISO 8859-1 characters (U+0000..U+00FF), not `€`")
        );
        assert_eq!(
            t("TIME", "T#1x"),
            syn("`T#1x` is not a TIME (milliseconds or T#1d2h3m4s5ms)")
        );
        assert_eq!(
            t("TIME", "T#25d"),
            oor("TIME 2160000000 ms is outside -2147483648..2147483647 ms (T#±24d20h31m23s647ms)")
        );
        for bad in [
            "DT#2023-02-29-00:00:00",
            "2024-13-01T00:00:00",
            "2024-01-01",
            "2024-01-01T24:00:00",
            "2024-01-01T00:00:00.1234",
            "2024-01-01T00:00:00Z",
        ] {
            assert_eq!(
                t("DT", bad),
                syn(&format!("`{bad}` is not a DATE_AND_TIME (DT#2024-02-29-13:37:42.123 or 2024-02-29T13:37:42.123)")),
                "{bad}"
            );
        }
        assert_eq!(
            t("DT", "DT#1989-12-31-23:59:59"),
            oor("DATE_AND_TIME 1989-12-31T23:59:59.000 is outside 1990-01-01..2089-12-31")
        );
        assert_eq!(
            t("DT", "2090-01-01T00:00:00"),
            oor("DATE_AND_TIME 2090-01-01T00:00:00.000 is outside 1990-01-01..2089-12-31")
        );
    }

    #[test]
    fn reads_json_numbers_booleans_and_strings() {
        let j = |ty: DataType, v: serde_json::Value| Value::from_json(ty, &v);
        assert_eq!(j(DataType::Real, json!(12.5)), Ok(Value::Real(12.5)));
        assert_eq!(j(DataType::Real, json!("12.5")), Ok(Value::Real(12.5)));
        assert_eq!(j(DataType::Real, json!(3)), Ok(Value::Real(3.0)));
        assert_eq!(j(DataType::Int, json!(-7)), Ok(Value::Int(-7)));
        assert_eq!(j(DataType::Int, json!(12.0)), Ok(Value::Int(12)));
        assert_eq!(
            j(DataType::DWord, json!(4294967295u64)),
            Ok(Value::DWord(u32::MAX))
        );
        assert_eq!(j(DataType::Bool, json!(true)), Ok(Value::Bool(true)));
        assert_eq!(j(DataType::Bool, json!(0)), Ok(Value::Bool(false)));
        assert_eq!(j(DataType::Time, json!(1500)), Ok(Value::Time(1500)));
        assert_eq!(j(DataType::Time, json!("T#2s")), Ok(Value::Time(2000)));
        assert_eq!(
            j(DataType::String(3), json!("123")),
            Ok(Value::String("123".into()))
        );
        assert_eq!(j(DataType::Char, json!("x")), Ok(Value::Char(b'x')));
    }

    #[test]
    fn refuses_json_of_the_wrong_kind_or_range() {
        let j = |ty: DataType, v: serde_json::Value| Value::from_json(ty, &v);
        let mm = |m: &str| Err(ValueError::TypeMismatch(m.into()));
        assert_eq!(
            j(DataType::String(3), json!(123)),
            mm("STRING[3] cannot be given as a JSON number")
        );
        assert_eq!(
            j(DataType::Real, json!(true)),
            mm("REAL cannot be given as a JSON boolean")
        );
        assert_eq!(
            j(DataType::Int, json!(12.5)),
            mm("INT needs an integer, got 12.5")
        );
        assert_eq!(
            j(DataType::Int, json!(null)),
            mm("INT cannot be given as a JSON null")
        );
        assert_eq!(
            j(DataType::Int, json!([1])),
            mm("INT cannot be given as a JSON array")
        );
        assert_eq!(
            j(DataType::Word, json!({"a": 1})),
            mm("WORD cannot be given as a JSON object")
        );
        assert_eq!(
            j(DataType::DateAndTime, json!(0)),
            mm("DATE_AND_TIME cannot be given as a JSON number")
        );
        assert_eq!(
            j(DataType::Byte, json!(300)),
            Err(ValueError::OutOfRange(
                "300 is outside BYTE's range 0..255".into()
            ))
        );
        assert_eq!(
            j(DataType::DWord, json!(u64::MAX)),
            Err(ValueError::OutOfRange(
                "18446744073709551615 is outside DWORD's range 0..4294967295".into()
            ))
        );
        assert_eq!(
            j(DataType::Bool, json!(2)),
            Err(ValueError::OutOfRange(
                "BOOL is true, false, 1 or 0, not 2".into()
            ))
        );
        assert_eq!(
            j(DataType::Real, json!(1e39)),
            Err(ValueError::OutOfRange(
                "1000000000000000000000000000000000000000 is outside REAL's range ±3.4028235e38"
                    .into()
            ))
        );
        assert_eq!(
            j(DataType::Time, json!(3_000_000_000u64)),
            Err(ValueError::OutOfRange(
                "TIME 3000000000 ms is outside -2147483648..2147483647 ms".into()
            ))
        );
    }

    #[test]
    fn json_output_is_plain_and_round_trips() {
        assert_eq!(Value::Real(0.1).to_json(), json!(0.1));
        assert_eq!(Value::Real(f32::NAN).to_json(), json!("NaN"));
        assert_eq!(Value::LReal(f64::NEG_INFINITY).to_json(), json!("-inf"));
        assert_eq!(Value::Char(0xE9).to_json(), json!("é"));
        assert_eq!(Value::Time(-5).to_json(), json!(-5));
        let d = Value::DateAndTime(dt(2024, 2, 29, 13, 37, 42, 5));
        assert_eq!(d.to_json(), json!("2024-02-29T13:37:42.005"));
        for (ty, v) in [
            (DataType::Real, Value::Real(0.1)),
            (DataType::Real, Value::Real(f32::NAN)),
            (DataType::LReal, Value::LReal(f64::INFINITY)),
            (DataType::DateAndTime, d),
            (DataType::Char, Value::Char(0xE9)),
            (DataType::DWord, Value::DWord(u32::MAX)),
            (DataType::Int, Value::Int(i16::MIN)),
        ] {
            let back = Value::from_json(ty, &v.to_json()).unwrap();
            match (&v, &back) {
                (Value::Real(a), Value::Real(b)) if a.is_nan() => assert!(b.is_nan()),
                _ => assert_eq!(back, v, "{ty}"),
            }
        }
        assert_eq!(Value::String("a\"b".into()).to_string(), r#""a\"b""#);
    }
}
