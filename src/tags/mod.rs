//! Tags: names for typed values in the process image, declared with `[[tag]]` in the
//! configuration, and everything needed to read and write them by name.
//!
//! - [`address`]: STEP 7 absolute addresses (`DB1.DBX0.3`, `MW10`, `EB0`, `T5`, `Z3`), both
//!   mnemonic sets.
//! - [`types`]: the elementary S7 types and which addresses they fit.
//! - [`value`]: typed values, big-endian encode/decode as an S7 CPU lays them out, text and
//!   JSON parsing.
//! - [`config`]: `[[tag]]` and `[[db]] init_file` entries checked into a [`TagTable`], and the
//!   initial content written into the image at start-up.
//!
//! Pure data: no I/O except reading DB init files at start-up, nothing here runs on the RT
//! thread. The table is built once and then shared read-only (lookups do not allocate).

pub mod address;
pub mod config;
pub mod types;
pub mod value;

pub use address::{Address, AddressError, Width};
pub use config::{TagConfig, TagError};
pub use types::DataType;
pub use value::{Value, ValueError};

use std::collections::HashMap;

use crate::plc::{ItemError, Memory};
use crate::wire::var::Area;

/// Longest value a tag can hold (`STRING[254]`: 2 header bytes + 254 characters).
pub const MAX_TAG_LEN: usize = 256;

/// One named, typed place in the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The name clients use (`Line4.Speed`).
    pub name: String,
    /// Where it lives.
    pub address: Address,
    /// Its type.
    pub ty: DataType,
    /// Value written into the image at start-up.
    pub initial: Option<Value>,
    /// Persisted across restarts (see `[persist]`).
    pub retain: bool,
}

impl Tag {
    /// An unnamed tag for a bare address: named by the address itself, typed `ty` or by
    /// the address's width (BOOL, BYTE, WORD, DWORD).
    pub fn at(address: Address, ty: Option<DataType>) -> Result<Tag, &'static str> {
        let ty = ty.unwrap_or(DataType::default_for(address.width));
        ty.check_fits(&address)?;
        Ok(Tag {
            name: address.to_string(),
            address,
            ty,
            initial: None,
            retain: false,
        })
    }

    /// Bytes the value occupies (1 for BOOL).
    pub fn byte_len(&self) -> usize {
        self.ty.byte_len()
    }

    /// First byte offset in the area.
    pub fn offset(&self) -> usize {
        self.address.offset as usize
    }

    /// True if a write of `len` bytes at `offset` (or of bit `bit` of that byte) in
    /// `area`/`db` touches this tag. Instance DBs (DI) count as DBs.
    pub fn covers(&self, area: Area, db: u16, offset: u32, len: usize, bit: Option<u8>) -> bool {
        if area_key(area, db) != area_key(self.address.area, self.address.db) {
            return false;
        }
        let (s, e) = (u64::from(offset), u64::from(offset) + len as u64);
        let (ts, te) = (
            u64::from(self.address.offset),
            u64::from(self.address.offset) + self.byte_len() as u64,
        );
        if s >= te || ts >= e {
            return false;
        }
        match (self.address.bit, bit) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }

    /// Reads the tag's value from an image.
    pub fn read<M: Memory>(&self, mem: &M) -> Result<Value, TagAccessError> {
        let area = mem.area(self.address.area, self.address.db)?;
        let bytes = area
            .get(self.offset()..self.offset() + self.byte_len())
            .ok_or(TagAccessError::Item(ItemError::OutOfRange))?;
        Ok(Value::decode(self.ty, self.address.bit, bytes)?)
    }

    /// Encodes `v` into `out` (exactly [`Tag::byte_len`] bytes; for BOOL the current byte,
    /// of which only the tag's bit changes).
    pub fn encode(&self, v: &Value, out: &mut [u8]) -> Result<(), ValueError> {
        v.encode(self.ty, self.address.bit, out)
    }
}

/// Why a tag cannot be read from or written to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagAccessError {
    /// The area or range is not there (missing DB, beyond the end, read-only DB).
    Item(ItemError),
    /// The bytes are no valid value, or the value does not suit the type.
    Value(ValueError),
}

impl From<ItemError> for TagAccessError {
    fn from(e: ItemError) -> Self {
        TagAccessError::Item(e)
    }
}

impl From<ValueError> for TagAccessError {
    fn from(e: ValueError) -> Self {
        TagAccessError::Value(e)
    }
}

impl core::fmt::Display for TagAccessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TagAccessError::Item(ItemError::NoSuchObject) => f.write_str("no such DB or area"),
            TagAccessError::Item(ItemError::OutOfRange) => {
                f.write_str("beyond the end of the area")
            }
            TagAccessError::Item(ItemError::AccessDenied) => f.write_str("read-only DB"),
            TagAccessError::Item(e) => write!(f, "{e:?}"),
            TagAccessError::Value(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TagAccessError {}

/// Why a name or address given by a user does not resolve to a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Neither a configured tag nor an address.
    UnknownTag(String),
    /// A bare address that does not parse (when the text looks like one).
    BadAddress(String, AddressError),
    /// A type name that does not parse.
    BadType(String, types::TypeError),
    /// The type does not fit the address, or a type was given for a tag (tags have theirs).
    TypeMismatch(String),
}

impl ResolveError {
    /// Machine-readable code (`unknown_tag`, `bad_address`, `bad_type`, `type_mismatch`).
    pub fn code(&self) -> &'static str {
        match self {
            ResolveError::UnknownTag(_) => "unknown_tag",
            ResolveError::BadAddress(..) => "bad_address",
            ResolveError::BadType(..) => "bad_type",
            ResolveError::TypeMismatch(_) => "type_mismatch",
        }
    }
}

impl core::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResolveError::UnknownTag(n) => write!(f, "unknown tag `{n}` (and not an address)"),
            ResolveError::BadAddress(t, e) => write!(f, "`{t}` is not an address: {e}"),
            ResolveError::BadType(t, e) => write!(f, "type `{t}`: {e}"),
            ResolveError::TypeMismatch(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Orders areas for lookups; DI and DB are the same storage.
fn area_key(area: Area, db: u16) -> (u8, u16) {
    match area {
        Area::DataBlock | Area::InstanceDataBlock => (u8::from(Area::DataBlock), db),
        other => (u8::from(other), 0),
    }
}

/// All configured tags, ordered by place, with a name index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagTable {
    /// Sorted by (area, DB, offset, bit).
    tags: Vec<Tag>,
    by_name: HashMap<String, usize>,
}

impl TagTable {
    /// Builds the table. Names are expected to be unique (the configuration checks); of
    /// duplicates the last wins the name index.
    pub fn new(mut tags: Vec<Tag>) -> TagTable {
        tags.sort_by_key(|t| {
            (
                area_key(t.address.area, t.address.db),
                t.address.offset,
                t.address.bit,
            )
        });
        let by_name = tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        TagTable { tags, by_name }
    }

    /// The tag named `name` (exact, case-sensitive).
    pub fn get(&self, name: &str) -> Option<&Tag> {
        self.by_name.get(name).and_then(|&i| self.tags.get(i))
    }

    /// Every tag, ordered by area, DB and offset.
    pub fn iter(&self) -> impl Iterator<Item = &Tag> + '_ {
        self.tags.iter()
    }

    /// Number of tags.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True if no tag is configured.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The tags a write of `len` bytes at `offset` in `area`/`db` touches (for a bit write,
    /// `bit` is its bit number: BOOL tags at other bits of that byte are not touched). In
    /// address order; does not allocate.
    pub fn covering(
        &self,
        area: Area,
        db: u16,
        offset: u32,
        len: usize,
        bit: Option<u8>,
    ) -> impl Iterator<Item = &Tag> + '_ {
        let key = area_key(area, db);
        // No tag is longer than MAX_TAG_LEN, so none starting earlier can reach `offset`.
        let from = offset.saturating_sub(MAX_TAG_LEN as u32);
        let start = self.tags.partition_point(|t| {
            (area_key(t.address.area, t.address.db), t.address.offset) < (key, from)
        });
        let end = u64::from(offset) + len as u64;
        self.tags[start..]
            .iter()
            .take_while(move |t| {
                area_key(t.address.area, t.address.db) == key && u64::from(t.address.offset) < end
            })
            .filter(move |t| t.covers(area, db, offset, len, bit))
    }

    /// What a user means by `name_or_address`: a configured tag (then `ty`, if given, must
    /// be its type), or else a STEP 7 address typed `ty` or by its width.
    pub fn resolve(&self, name_or_address: &str, ty: Option<&str>) -> Result<Tag, ResolveError> {
        let ty = ty
            .map(|t| DataType::parse(t).map_err(|e| ResolveError::BadType(t.to_string(), e)))
            .transpose()?;
        if let Some(tag) = self.get(name_or_address) {
            return match ty {
                Some(t) if t != tag.ty => Err(ResolveError::TypeMismatch(format!(
                    "tag `{}` is {}, not {t}",
                    tag.name, tag.ty
                ))),
                _ => Ok(tag.clone()),
            };
        }
        match Address::parse(name_or_address) {
            Ok(a) => Tag::at(a, ty).map_err(|m| {
                ResolveError::TypeMismatch(format!(
                    "{} at {a}: {m}",
                    ty.unwrap_or(DataType::default_for(a.width))
                ))
            }),
            // Text starting like an address gets the address's error, anything else is an
            // unknown name.
            Err(e) if looks_like_address(name_or_address) => {
                Err(ResolveError::BadAddress(name_or_address.to_string(), e))
            }
            Err(_) => Err(ResolveError::UnknownTag(name_or_address.to_string())),
        }
    }
}

/// Area letter(s) followed by a digit: `DB1…`, `MW1`, `E0.0`, `T5`, `%…`.
fn looks_like_address(text: &str) -> bool {
    let t = text.trim().trim_start_matches('%').to_ascii_uppercase();
    let letters = t.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
    (1..=3).contains(&letters)
        && t.as_bytes()
            .get(letters)
            .is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plc::{DbSpec, Image, ImageSpec};

    fn tag(name: &str, addr: &str, ty: &str) -> Tag {
        Tag {
            name: name.into(),
            address: Address::parse(addr).unwrap(),
            ty: DataType::parse(ty).unwrap(),
            initial: None,
            retain: false,
        }
    }

    fn table() -> TagTable {
        TagTable::new(vec![
            tag("Speed", "DB1.DBD4", "REAL"),
            tag("Run", "DB1.DBX0.3", "BOOL"),
            tag("Stop", "DB1.DBX0.4", "BOOL"),
            tag("Name", "DB1.DBB10", "STRING[20]"),
            tag("Count", "MW10", "INT"),
            tag("Other", "DB2.DBW0", "WORD"),
            tag("T5", "T5", "WORD"),
        ])
    }

    fn names<'a>(it: impl Iterator<Item = &'a Tag>) -> Vec<&'a str> {
        it.map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn finds_tags_by_name_and_lists_them_in_address_order() {
        let t = table();
        assert_eq!(t.get("Speed").unwrap().address.offset, 4);
        assert_eq!(t.get("speed"), None);
        assert_eq!(t.len(), 7);
        assert_eq!(
            names(t.iter()),
            ["T5", "Count", "Run", "Stop", "Speed", "Name", "Other"]
        );
    }

    #[test]
    fn covering_finds_exactly_the_tags_a_write_touches() {
        let t = table();
        assert_eq!(
            names(t.covering(Area::DataBlock, 1, 0, 8, None)),
            ["Run", "Stop", "Speed"]
        );
        assert_eq!(names(t.covering(Area::DataBlock, 1, 7, 1, None)), ["Speed"]);
        assert_eq!(
            names(t.covering(Area::DataBlock, 1, 8, 2, None)),
            Vec::<&str>::new()
        );
        assert_eq!(names(t.covering(Area::DataBlock, 1, 31, 1, None)), ["Name"]);
        assert_eq!(
            names(t.covering(Area::DataBlock, 1, 32, 1, None)),
            Vec::<&str>::new()
        );
        // A bit write touches only the BOOL at that bit.
        assert_eq!(
            names(t.covering(Area::DataBlock, 1, 0, 1, Some(4))),
            ["Stop"]
        );
        assert_eq!(
            names(t.covering(Area::DataBlock, 1, 0, 1, Some(5))),
            Vec::<&str>::new()
        );
        // DI is served from the DBs.
        assert_eq!(
            names(t.covering(Area::InstanceDataBlock, 2, 1, 1, None)),
            ["Other"]
        );
        assert_eq!(
            names(t.covering(Area::DataBlock, 3, 0, 100, None)),
            Vec::<&str>::new()
        );
        assert_eq!(names(t.covering(Area::Flags, 0, 11, 1, None)), ["Count"]);
        assert_eq!(names(t.covering(Area::Timers, 0, 10, 2, None)), ["T5"]);
        assert_eq!(names(t.covering(Area::Flags, 0, 0, 65536, None)), ["Count"]);
    }

    #[test]
    fn covering_reaches_back_over_the_longest_string() {
        let t = TagTable::new(vec![
            tag("S", "MB0", "STRING[254]"),
            tag("W", "MW256", "WORD"),
        ]);
        assert_eq!(names(t.covering(Area::Flags, 0, 255, 2, None)), ["S", "W"]);
    }

    #[test]
    fn resolves_names_and_bare_addresses() {
        let t = table();
        assert_eq!(t.resolve("Speed", None).unwrap().ty, DataType::Real);
        assert_eq!(t.resolve("Speed", Some("real")).unwrap().ty, DataType::Real);
        let a = t.resolve("db1.dbd8", Some("DINT")).unwrap();
        assert_eq!((a.name.as_str(), a.ty), ("DB1.DBD8", DataType::DInt));
        assert_eq!(t.resolve("E0.1", None).unwrap().ty, DataType::Bool);
        assert_eq!(t.resolve("MW2", None).unwrap().ty, DataType::Word);
        assert_eq!(
            t.resolve("Speed", Some("INT")),
            Err(ResolveError::TypeMismatch(
                "tag `Speed` is REAL, not INT".into()
            ))
        );
        assert_eq!(
            t.resolve("MW10x", None).map_err(|e| e.to_string()),
            Err("`MW10x` is not an address: unexpected characters after the address".into())
        );
        assert_eq!(
            t.resolve("Line9.Speed", None),
            Err(ResolveError::UnknownTag("Line9.Speed".into()))
        );
        assert_eq!(
            t.resolve("MW2", Some("REAL")).map_err(|e| e.to_string()),
            Err("REAL at MW2: a 4-byte type needs a double-word address (DBD, MD, ID, QD)".into())
        );
        assert_eq!(
            t.resolve("MW2", Some("FLOAT")).map_err(|e| e.code()),
            Err("bad_type")
        );
    }

    #[test]
    fn reads_a_tag_from_an_image() {
        let mut img = Image::new(&ImageSpec {
            dbs: vec![DbSpec {
                number: 1,
                size: 8,
                read_only: false,
            }],
            inputs: 0,
            outputs: 0,
            flags: 0,
            timers: 0,
            counters: 0,
        });
        img.area_mut(Area::DataBlock, 1).unwrap()[4..8].copy_from_slice(&12.5f32.to_be_bytes());
        img.area_mut(Area::DataBlock, 1).unwrap()[0] = 0x08;
        let t = table();
        assert_eq!(t.get("Speed").unwrap().read(&img), Ok(Value::Real(12.5)));
        assert_eq!(t.get("Run").unwrap().read(&img), Ok(Value::Bool(true)));
        assert_eq!(t.get("Stop").unwrap().read(&img), Ok(Value::Bool(false)));
        assert_eq!(
            t.get("Name").unwrap().read(&img),
            Err(TagAccessError::Item(ItemError::OutOfRange))
        );
        assert_eq!(
            t.get("Other").unwrap().read(&img),
            Err(TagAccessError::Item(ItemError::NoSuchObject))
        );
    }
}
