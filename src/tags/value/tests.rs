//! Golden bytes, text and JSON forms of every type, and the refusals.
use super::*;
use serde_json::json;

use crate::plc::clock::civil_ms as dt;

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
            "1000000000000000000000000000000000000000 is outside REAL's range ±3.4028235e38".into()
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
