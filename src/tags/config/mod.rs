//! `[[tag]]` and `[[db]] init_file` from the configuration: checked into a [`TagTable`] with
//! errors that name the tag and the problem, and written into the image at start-up.
//!
//! Start-up content of the image, in this order:
//! 1. zeros;
//! 2. each DB's `init_file` (raw bytes, offset 0; a shorter file leaves the rest zero);
//! 3. each tag's `initial` value; a STRING or DATE_AND_TIME tag without one, in a DB without
//!    an init file, gets its S7 default (STRING: the capacity byte, so clients see
//!    `STRING[n]` and not a zero-capacity string; DATE_AND_TIME: `DT#1990-01-01-00:00:00`),
//!    because all-zero bytes are no valid value of those types.
//!
//! Restored retentive data (persistence) is applied after this, by its owner.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Address, DataType, Tag, TagTable, Value};
use crate::plc::{Image, ImageSpec, ItemError, Memory};
use crate::wire::var::Area;

/// One `[[tag]]` entry as written in the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    /// Name clients use (`Line4.Speed`): no blanks, not itself an address.
    pub name: String,
    /// STEP 7 address (`DB1.DBD4`, `MW10`, `E0.1`, `T5`).
    pub address: String,
    /// Type (`REAL`, `STRING[20]`, …).
    #[serde(rename = "type")]
    pub ty: String,
    /// Value at start-up (a TOML number, boolean or string in the type's text form).
    #[serde(default)]
    pub initial: Option<toml::Value>,
    /// Persist the tag's bytes across restarts (`[persist]`).
    #[serde(default)]
    pub retain: bool,
}

/// A `[[tag]]` problem: which entry, its name, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError {
    /// Index in the `[[tag]]` list.
    pub index: usize,
    /// The entry's name as written.
    pub name: String,
    /// What is wrong.
    pub problem: String,
}

impl core::fmt::Display for TagError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "config key `tag[{}]` ({}): {}",
            self.index, self.name, self.problem
        )
    }
}

impl std::error::Error for TagError {}

/// Size in bytes of the area an address lives in, with the config key that sets it.
fn area_size(spec: &ImageSpec, a: &Address) -> Result<(usize, String), String> {
    Ok(match a.area {
        Area::DataBlock | Area::InstanceDataBlock => {
            let d = spec.dbs.iter().find(|d| d.number == a.db).ok_or_else(|| {
                format!(
                    "DB{} is not configured (add a [[db]] with number = {})",
                    a.db, a.db
                )
            })?;
            (d.size, format!("DB{}'s {} bytes", a.db, d.size))
        }
        Area::Inputs => (
            spec.inputs,
            format!("the {} bytes of inputs ([areas] inputs)", spec.inputs),
        ),
        Area::Outputs => (
            spec.outputs,
            format!("the {} bytes of outputs ([areas] outputs)", spec.outputs),
        ),
        Area::Flags => (
            spec.flags,
            format!("the {} bytes of flags ([areas] flags)", spec.flags),
        ),
        Area::Timers => (
            spec.timers * 2,
            format!("the {} timers ([areas] timers)", spec.timers),
        ),
        Area::Counters => (
            spec.counters * 2,
            format!("the {} counters ([areas] counters)", spec.counters),
        ),
        Area::Peripheral | Area::Unknown(_) => return Err("not an area of the image".into()),
    })
}

/// A TOML scalar as JSON, so [`Value::from_json`] reads config and socket values alike.
fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or_else(|| J::String(f.to_string())),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(_) => J::Array(Vec::new()),
        toml::Value::Table(_) => J::Object(serde_json::Map::new()),
    }
}

/// Checks one entry on its own (name, address, type, fit, range, initial value).
fn check_one(c: &TagConfig, spec: &ImageSpec) -> Result<Tag, String> {
    let name = c.name.as_str();
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if let Some(ch) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '"')
    {
        return Err(format!("the name may not contain {ch:?}"));
    }
    if Address::parse(name).is_ok() {
        return Err("the name reads as an address; choose a symbolic name".into());
    }
    let address =
        Address::parse(&c.address).map_err(|e| format!("address `{}`: {e}", c.address))?;
    let ty = DataType::parse(&c.ty).map_err(|e| format!("type `{}`: {e}", c.ty))?;
    ty.check_fits(&address)
        .map_err(|m| format!("{ty} at {address}: {m}"))?;
    let (size, what) = area_size(spec, &address).map_err(|m| format!("{address}: {m}"))?;
    let end = address.offset as usize + ty.byte_len();
    if end > size {
        return Err(format!(
            "{ty} at {address} ({} bytes from byte {}) is out of range: it ends beyond {what}",
            ty.byte_len(),
            address.offset
        ));
    }
    let initial = match &c.initial {
        None => None,
        Some(v) => Some(
            Value::from_json(ty, &toml_to_json(v))
                .map_err(|e| format!("initial value {v}: {e}"))?,
        ),
    };
    Ok(Tag {
        name: name.to_string(),
        address,
        ty,
        initial,
        retain: c.retain,
    })
}

/// Checks every `[[tag]]` against the image sizes and each other: names unique, addresses
/// valid, types fitting their address, inside their area, initial values in range, no two
/// tags sharing a byte (BOOLs may share a byte, not a bit).
pub(crate) fn build(tags: &[TagConfig], spec: &ImageSpec) -> Result<TagTable, TagError> {
    let fail = |i: usize, problem: String| TagError {
        index: i,
        name: tags.get(i).map(|t| t.name.clone()).unwrap_or_default(),
        problem,
    };
    let mut checked = Vec::with_capacity(tags.len());
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, c) in tags.iter().enumerate() {
        if let Some(first) = names.insert(c.name.as_str(), i) {
            return Err(fail(i, format!("the name is already used by tag[{first}]")));
        }
        checked.push((i, check_one(c, spec).map_err(|p| fail(i, p))?));
    }
    // Sorted by place, an overlap shows between a tag and one that starts before it ends.
    checked.sort_by_key(|(i, t)| {
        (
            super::area_key(t.address.area, t.address.db),
            t.address.offset,
            *i,
        )
    });
    for (k, (i, a)) in checked.iter().enumerate() {
        for (j, b) in &checked[k + 1..] {
            let same_area = super::area_key(a.address.area, a.address.db)
                == super::area_key(b.address.area, b.address.db);
            if !same_area || b.offset() >= a.offset() + a.byte_len() {
                break;
            }
            if b.covers(
                a.address.area,
                a.address.db,
                a.address.offset,
                a.byte_len(),
                a.address.bit,
            ) {
                let (first, later) = if i < j {
                    ((i, a), (j, b))
                } else {
                    ((j, b), (i, a))
                };
                return Err(fail(
                    *later.0,
                    format!(
                        "{} {} overlaps tag[{}] ({}) {} {}",
                        later.1.address,
                        later.1.ty,
                        first.0,
                        first.1.name,
                        first.1.address,
                        first.1.ty
                    ),
                ));
            }
        }
    }
    Ok(TagTable::new(checked.into_iter().map(|(_, t)| t).collect()))
}

/// The byte ranges of the tags marked `retain`, for persistence (a BOOL keeps its byte).
pub(crate) fn retained(tags: &TagTable) -> Vec<crate::persist::Region> {
    tags.iter()
        .filter(|t| t.retain)
        .map(|t| crate::persist::Region {
            area: match t.address.area {
                Area::InstanceDataBlock => Area::DataBlock,
                a => a,
            },
            db: t.address.db,
            offset: t.offset(),
            len: t.byte_len(),
        })
        .collect()
}

/// A table of untyped-initial, non-retentive tags `(name, address, type)` over `spec`, for
/// unit tests of the modules that use tags.
#[cfg(test)]
pub(crate) fn table_for_tests(tags: &[(&str, &str, &str)], spec: &ImageSpec) -> TagTable {
    let cfgs: Vec<TagConfig> = tags
        .iter()
        .map(|(name, address, ty)| TagConfig {
            name: name.to_string(),
            address: address.to_string(),
            ty: ty.to_string(),
            initial: None,
            retain: false,
        })
        .collect();
    match build(&cfgs, spec) {
        Ok(t) => t,
        Err(e) => panic!("test tags do not build: {e}"),
    }
}

/// Reads a DB's init file and checks it fits the DB.
pub(crate) fn read_init_file(path: &Path, db: u16, size: usize) -> Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if data.len() > size {
        return Err(format!(
            "{} holds {} bytes, more than DB{db}'s {size}",
            path.display(),
            data.len()
        ));
    }
    Ok(data)
}

/// Writes the start-up content into a freshly allocated image (order in the module docs).
/// `init_files` are (DB number, file) pairs; errors name the file or the tag.
pub(crate) fn initialize(
    image: &mut Image,
    init_files: &[(u16, PathBuf)],
    tags: &TagTable,
) -> Result<(), String> {
    for (db, path) in init_files {
        let area = image
            .owner_area_mut(Area::DataBlock, *db)
            .map_err(|e| format!("DB{db} for {}: {e:?}", path.display()))?;
        let data = read_init_file(path, *db, area.len())?;
        area[..data.len()].copy_from_slice(&data);
    }
    for t in tags.iter() {
        let has_file = matches!(t.address.area, Area::DataBlock | Area::InstanceDataBlock)
            && init_files.iter().any(|(db, _)| *db == t.address.db);
        let value = match (&t.initial, t.ty) {
            (Some(v), _) => v.clone(),
            (None, DataType::String(_) | DataType::DateAndTime) if !has_file => {
                Value::s7_default(t.ty)
            }
            (None, _) => continue,
        };
        let area = image
            .owner_area_mut(t.address.area, t.address.db)
            .map_err(|e| format!("tag {}: {e:?}", t.name))?;
        let bytes = area
            .get_mut(t.offset()..t.offset() + t.byte_len())
            .ok_or_else(|| format!("tag {}: {:?}", t.name, ItemError::OutOfRange))?;
        t.encode(&value, bytes)
            .map_err(|e| format!("tag {}: initial value: {e}", t.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
