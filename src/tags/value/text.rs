//! The text forms of values (command line, configuration, JSON strings): the rules are in
//! the parent module's docs.

use super::{check_dt_range, latin1_len, Value, ValueError};
use crate::plc::clock::{civil_from_days, days_from_civil, DAY_MS};
use crate::tags::types::DataType;

impl Value {
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
}

/// `YYYY-MM-DDTHH:MM:SS.mmm`.
pub(super) fn format_dt(ms: i64) -> String {
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
