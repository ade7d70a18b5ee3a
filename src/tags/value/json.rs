//! The JSON forms of values (control socket): strings with the text rules, numbers and
//! booleans where they suit the type.

use super::{format_dt, Value, ValueError};
use crate::tags::types::DataType;

impl Value {
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
}

/// The JSON text of [`Value::to_json`].
impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
