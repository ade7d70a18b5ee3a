//! The control socket's JSON-lines protocol: one request object per line in, one response
//! object per line out (plus event lines for `watch`). Documented for users in
//! `docs/control-socket.md`; this module is the reference.
//!
//! Parsing is hand-rolled over `serde_json::Value` so every mistake gets its own code and a
//! sentence, and a bad line never costs the connection.

use serde_json::{json, Map, Value as J};

use crate::tags::{DataType, ResolveError, Tag, TagTable, Value, ValueError};
use crate::wire::var::Area;

/// Longest request line accepted, newline included. Longer lines are answered with
/// `line_too_long` and skipped up to their newline.
pub const MAX_LINE: usize = 65_536;

/// Most items one `write` may carry (they are applied as one batch).
pub const MAX_ITEMS: usize = 256;

/// An error answer: a code from the table in `docs/control-socket.md` and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Machine-readable code (`malformed_json`, `unknown_tag`, `out_of_range`, …).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<ResolveError> for Failure {
    fn from(e: ResolveError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<ValueError> for Failure {
    fn from(e: ValueError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

/// One write resolved against the tag table, ready for the image.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteItem {
    /// Where and as what.
    pub tag: Tag,
    /// The value.
    pub value: Value,
}

/// What a request line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Read these tags (one consistent snapshot).
    Read(Vec<Tag>),
    /// Write these values, all or none, as one batch.
    Write(Vec<WriteItem>),
    /// Start streaming write events to this connection.
    Watch,
    /// Stop streaming.
    Unwatch,
    /// Server state and counters.
    Status,
    /// The configured tags.
    Tags,
}

/// A parsed request line: the client's `id` (echoed in the answer) and the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The request's `"id"`, any JSON value, echoed back.
    pub id: Option<J>,
    /// The request, or why it cannot be served.
    pub request: Result<Request, Failure>,
}

fn field_str<'a>(o: &'a Map<String, J>, key: &str) -> Result<Option<&'a str>, Failure> {
    match o.get(key) {
        None | Some(J::Null) => Ok(None),
        Some(J::String(s)) => Ok(Some(s)),
        Some(_) => Err(Failure::new(
            "bad_request",
            format!("`{key}` must be a string"),
        )),
    }
}

/// The tag an item names: `"tag"` (a configured name, or else an address) or `"address"`
/// (an address only), with an optional `"type"`.
fn item_tag(o: &Map<String, J>, tags: &TagTable) -> Result<Tag, Failure> {
    let ty = field_str(o, "type")?;
    match (field_str(o, "tag")?, field_str(o, "address")?) {
        (Some(_), Some(_)) => Err(Failure::new(
            "bad_request",
            "give either `tag` or `address`, not both",
        )),
        (Some(name), None) => Ok(tags.resolve(name, ty)?),
        (None, Some(addr)) => {
            let a = crate::tags::Address::parse(addr)
                .map_err(|e| ResolveError::BadAddress(addr.to_string(), e))?;
            let t = ty
                .map(|t| DataType::parse(t).map_err(|e| ResolveError::BadType(t.to_string(), e)))
                .transpose()?;
            Tag::at(a, t).map_err(|m| {
                Failure::new(
                    "type_mismatch",
                    format!(
                        "{} at {a}: {m}",
                        t.unwrap_or(DataType::default_for(a.width))
                    ),
                )
            })
        }
        (None, None) => Err(Failure::new(
            "bad_request",
            "the item needs `tag` (a name or an address) or `address`",
        )),
    }
}

/// The items of a read or write: the request itself, or its `"items"` array.
fn items(o: &Map<String, J>) -> Result<Vec<&Map<String, J>>, Failure> {
    match o.get("items") {
        None => Ok(vec![o]),
        Some(J::Array(a)) if a.is_empty() => Err(Failure::new("bad_request", "`items` is empty")),
        Some(J::Array(a)) if a.len() > MAX_ITEMS => Err(Failure::new(
            "bad_request",
            format!("{} items exceed the limit of {MAX_ITEMS}", a.len()),
        )),
        Some(J::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_object().ok_or_else(|| {
                    Failure::new("bad_request", format!("items[{i}] is not an object"))
                })
            })
            .collect(),
        Some(_) => Err(Failure::new("bad_request", "`items` must be an array")),
    }
}

/// Prefixes an item's error with its index when the request has several.
fn at_item(many: bool, i: usize, f: Failure) -> Failure {
    match many {
        true => Failure::new(f.code, format!("items[{i}]: {}", f.message)),
        false => f,
    }
}

/// Parses one request line (without its newline) against the tag table.
pub fn parse(line: &[u8], tags: &TagTable) -> Parsed {
    let v: J = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Parsed {
                id: None,
                request: Err(Failure::new("malformed_json", format!("not JSON: {e}"))),
            }
        }
    };
    let J::Object(o) = v else {
        return Parsed {
            id: None,
            request: Err(Failure::new(
                "bad_request",
                "a request is a JSON object like {\"op\":\"read\",\"tag\":\"Line4.Speed\"}",
            )),
        };
    };
    let id = o.get("id").cloned();
    let request = parse_object(&o, tags);
    Parsed { id, request }
}

fn parse_object(o: &Map<String, J>, tags: &TagTable) -> Result<Request, Failure> {
    let op = field_str(o, "op")?.ok_or_else(|| {
        Failure::new(
            "bad_request",
            "missing `op` (read, write, watch, unwatch, status, tags)",
        )
    })?;
    let known: &[&str] = match op {
        "read" => &["op", "id", "tag", "address", "type", "items"],
        "write" => &["op", "id", "tag", "address", "type", "value", "items"],
        "watch" | "unwatch" | "status" | "tags" => &["op", "id"],
        other => {
            return Err(Failure::new(
                "bad_request",
                format!("unknown op `{other}` (read, write, watch, unwatch, status, tags)"),
            ))
        }
    };
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Failure::new(
            "bad_request",
            format!("unknown key `{k}` for op `{op}`"),
        ));
    }
    match op {
        "read" => {
            let list = items(o)?;
            let many = o.contains_key("items");
            list.iter()
                .enumerate()
                .map(|(i, it)| {
                    if many && it.contains_key("value") {
                        return Err(at_item(
                            many,
                            i,
                            Failure::new("bad_request", "a read item has no `value`"),
                        ));
                    }
                    item_tag(it, tags).map_err(|f| at_item(many, i, f))
                })
                .collect::<Result<_, _>>()
                .map(Request::Read)
        }
        "write" => {
            let list = items(o)?;
            let many = o.contains_key("items");
            if many && o.contains_key("value") {
                return Err(Failure::new(
                    "bad_request",
                    "give `value` inside each of `items`",
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, it)| {
                    let tag = item_tag(it, tags).map_err(|f| at_item(many, i, f))?;
                    let raw = it.get("value").ok_or_else(|| {
                        at_item(many, i, Failure::new("bad_request", "missing `value`"))
                    })?;
                    let value = Value::from_json(tag.ty, raw).map_err(|e| {
                        at_item(
                            many,
                            i,
                            Failure::new(e.code(), format!("{} ({}): {e}", tag.name, tag.ty)),
                        )
                    })?;
                    Ok(WriteItem { tag, value })
                })
                .collect::<Result<_, _>>()
                .map(Request::Write)
        }
        "watch" => Ok(Request::Watch),
        "unwatch" => Ok(Request::Unwatch),
        "status" => Ok(Request::Status),
        _ => Ok(Request::Tags),
    }
}

/// The area letters used in event lines (`DB`, `I`, `Q`, `M`, `T`, `C`).
pub fn area_name(area: Area) -> &'static str {
    match area {
        Area::DataBlock | Area::InstanceDataBlock => "DB",
        Area::Inputs => "I",
        Area::Outputs => "Q",
        Area::Flags => "M",
        Area::Timers => "T",
        Area::Counters => "C",
        Area::Peripheral => "P",
        Area::Unknown(_) => "?",
    }
}

/// `{"name","address","type","value"}` of one tag's value.
pub fn tag_value(tag: &Tag, value: Result<&Value, &ValueError>) -> J {
    let mut o = json!({
        "name": tag.name,
        "address": tag.address.to_string(),
        "type": tag.ty.to_string(),
    });
    match value {
        Ok(v) => o["value"] = v.to_json(),
        Err(e) => {
            o["value"] = J::Null;
            o["error"] = json!({"code": e.code(), "message": e.to_string()});
        }
    }
    o
}

/// A success line: `{"ok":true, "id":…, …fields}`.
pub fn ok_line(id: &Option<J>, fields: J) -> String {
    let mut o = Map::new();
    o.insert("ok".into(), J::Bool(true));
    if let Some(id) = id {
        o.insert("id".into(), id.clone());
    }
    if let J::Object(f) = fields {
        o.extend(f);
    }
    J::Object(o).to_string()
}

/// An error line: `{"ok":false, "id":…, "error":{"code","message"}}`.
pub fn error_line(id: &Option<J>, f: &Failure) -> String {
    let mut o = Map::new();
    o.insert("ok".into(), J::Bool(false));
    if let Some(id) = id {
        o.insert("id".into(), id.clone());
    }
    o.insert(
        "error".into(),
        json!({"code": f.code, "message": f.message}),
    );
    J::Object(o).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::Address;

    fn table() -> TagTable {
        crate::tags::config::table_for_tests(
            &[
                ("Line4.Speed", "DB1.DBD4", "REAL"),
                ("Line4.Run", "DB1.DBX0.3", "BOOL"),
                ("Line4.Name", "DB1.DBB10", "STRING[8]"),
            ],
            &crate::config::Config::default().image_spec(),
        )
    }

    fn req(line: &str) -> Result<Request, Failure> {
        parse(line.as_bytes(), &table()).request
    }

    fn code(line: &str) -> &'static str {
        req(line).unwrap_err().code
    }

    fn msg(line: &str) -> String {
        req(line).unwrap_err().message
    }

    #[test]
    fn parses_reads_by_tag_address_and_items() {
        let Ok(Request::Read(t)) = req(r#"{"op":"read","tag":"Line4.Speed"}"#) else {
            panic!()
        };
        assert_eq!(t[0].name, "Line4.Speed");
        let Ok(Request::Read(t)) = req(r#"{"op":"read","address":"DB1.DBD8","type":"DINT"}"#)
        else {
            panic!()
        };
        assert_eq!(
            (t[0].address, t[0].ty),
            (Address::parse("DB1.DBD8").unwrap(), DataType::DInt)
        );
        let Ok(Request::Read(t)) = req(r#"{"op":"read","tag":"EB0"}"#) else {
            panic!()
        };
        assert_eq!(t[0].ty, DataType::Byte);
        let Ok(Request::Read(t)) =
            req(r#"{"op":"read","items":[{"tag":"Line4.Run"},{"address":"MW2","type":"INT"}]}"#)
        else {
            panic!()
        };
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn parses_writes_with_typed_and_text_values() {
        let Ok(Request::Write(w)) = req(r#"{"op":"write","tag":"Line4.Speed","value":12.5}"#)
        else {
            panic!()
        };
        assert_eq!(w[0].value, Value::Real(12.5));
        let Ok(Request::Write(w)) = req(
            r#"{"op":"write","items":[{"tag":"Line4.Speed","value":"1.5"},{"tag":"Line4.Run","value":true}]}"#,
        ) else {
            panic!()
        };
        assert_eq!(w[0].value, Value::Real(1.5));
        assert_eq!(w[1].value, Value::Bool(true));
    }

    #[test]
    fn echoes_the_id() {
        let p = parse(br#"{"op":"status","id":[7,"x"]}"#, &table());
        assert_eq!(p.id, Some(json!([7, "x"])));
        assert_eq!(p.request, Ok(Request::Status));
        assert_eq!(
            ok_line(&p.id, json!({"a": 1})),
            r#"{"ok":true,"id":[7,"x"],"a":1}"#
        );
        assert_eq!(
            error_line(&None, &Failure::new("unknown_tag", "no")),
            r#"{"ok":false,"error":{"code":"unknown_tag","message":"no"}}"#
        );
    }

    #[test]
    fn every_bad_request_has_its_code_and_sentence() {
        assert_eq!(code("{\"op\":"), "malformed_json");
        assert!(msg("nonsense").starts_with("not JSON: "));
        assert_eq!(code("[1,2]"), "bad_request");
        assert_eq!(
            msg("{}"),
            "missing `op` (read, write, watch, unwatch, status, tags)"
        );
        assert_eq!(msg(r#"{"op":5}"#), "`op` must be a string");
        assert_eq!(
            msg(r#"{"op":"explode"}"#),
            "unknown op `explode` (read, write, watch, unwatch, status, tags)"
        );
        assert_eq!(
            msg(r#"{"op":"read","tga":"x"}"#),
            "unknown key `tga` for op `read`"
        );
        assert_eq!(
            msg(r#"{"op":"read"}"#),
            "the item needs `tag` (a name or an address) or `address`"
        );
        assert_eq!(
            msg(r#"{"op":"read","tag":"Line4.Speed","address":"MW0"}"#),
            "give either `tag` or `address`, not both"
        );
        assert_eq!(
            msg(r#"{"op":"write","tag":"Line4.Speed"}"#),
            "missing `value`"
        );
        assert_eq!(msg(r#"{"op":"read","items":[]}"#), "`items` is empty");
        assert_eq!(
            msg(r#"{"op":"read","items":[1]}"#),
            "items[0] is not an object"
        );
        assert_eq!(code(r#"{"op":"read","tag":"Nope"}"#), "unknown_tag");
        assert_eq!(
            msg(r#"{"op":"read","tag":"Nope"}"#),
            "unknown tag `Nope` (and not an address)"
        );
        assert_eq!(code(r#"{"op":"read","address":"Nope"}"#), "bad_address");
        assert_eq!(code(r#"{"op":"read","tag":"MW1.5"}"#), "bad_address");
        assert_eq!(
            code(r#"{"op":"read","tag":"MW0","type":"FLOAT"}"#),
            "bad_type"
        );
        assert_eq!(
            msg(r#"{"op":"read","address":"MW0","type":"REAL"}"#),
            "REAL at MW0: a 4-byte type needs a double-word address (DBD, MD, ID, QD)"
        );
        assert_eq!(
            msg(r#"{"op":"read","tag":"Line4.Speed","type":"INT"}"#),
            "tag `Line4.Speed` is REAL, not INT"
        );
        assert_eq!(
            code(r#"{"op":"write","tag":"Line4.Speed","value":"fast"}"#),
            "bad_value"
        );
        assert_eq!(
            msg(r#"{"op":"write","tag":"Line4.Speed","value":true}"#),
            "Line4.Speed (REAL): REAL cannot be given as a JSON boolean"
        );
        assert_eq!(
            code(r#"{"op":"write","tag":"Line4.Speed","value":true}"#),
            "type_mismatch"
        );
        assert_eq!(
            msg(r#"{"op":"write","tag":"Line4.Name","value":"way too long"}"#),
            "Line4.Name (STRING[8]): 12 characters do not fit STRING[8]"
        );
        assert_eq!(
            code(r#"{"op":"write","tag":"MB0","value":256}"#),
            "out_of_range"
        );
        assert_eq!(
            msg(r#"{"op":"write","items":[{"tag":"MB0","value":1},{"tag":"MB1","value":-1}]}"#),
            "items[1]: MB1 (BYTE): -1 is outside BYTE's range 0..255"
        );
        let many = format!(
            r#"{{"op":"read","items":[{}]}}"#,
            vec![r#"{"tag":"MB0"}"#; MAX_ITEMS + 1].join(",")
        );
        assert_eq!(msg(&many), "257 items exceed the limit of 256");
    }
}
