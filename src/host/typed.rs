//! Typed access by tag name or STEP 7 address (`Line4.Speed`, `DB1.DBD4`), on top of the
//! byte API: values are encoded big-endian on the host side exactly as an S7 CPU lays them
//! out ([`crate::tags::Value`]); the RT thread only ever sees bytes and bits.

use super::{Batch, Host, HostError};
use crate::tags::{Tag, TagTable, Value};

impl Host {
    /// The configured tags (`[[tag]]`).
    pub fn tags(&self) -> &TagTable {
        &self.inner.tags
    }

    /// What `name_or_address` means: a configured tag (then `ty`, if given, must be its
    /// type), or a STEP 7 address (`DB1.DBD4`, `MW10`, `E0.1`; German or English mnemonics)
    /// typed `ty` (`"REAL"`, `"STRING[20]"`) or by its width (BOOL, BYTE, WORD, DWORD).
    pub fn resolve(&self, name_or_address: &str, ty: Option<&str>) -> Result<Tag, HostError> {
        self.inner
            .tags
            .resolve(name_or_address, ty)
            .map_err(HostError::Tag)
    }

    /// Writes `value` to the tag or address `name_or_address` (see [`Host::resolve`]; a bare
    /// address is typed by its width, use [`Host::write_tag`] with a resolved tag for
    /// another type).
    pub fn write_value(&self, name_or_address: &str, value: &Value) -> Result<(), HostError> {
        let tag = self.resolve(name_or_address, None)?;
        self.write_tag(&tag, value)
    }

    /// Reads the value of the tag or address `name_or_address`.
    pub fn read_value(&self, name_or_address: &str) -> Result<Value, HostError> {
        let tag = self.resolve(name_or_address, None)?;
        self.read_tag(&tag)
    }

    /// Writes `value` to `tag` (a BOOL changes only its bit).
    pub fn write_tag(&self, tag: &Tag, value: &Value) -> Result<(), HostError> {
        let mut b = self.batch();
        b.write_tag(tag, value)?;
        b.commit().map(|_| ())
    }

    /// Reads `tag`'s value (consistently: between two S7 jobs).
    pub fn read_tag(&self, tag: &Tag) -> Result<Value, HostError> {
        let a = &tag.address;
        let bytes = self.read(a.area, a.db, tag.offset(), tag.byte_len())?;
        Value::decode(tag.ty, a.bit, &bytes).map_err(HostError::Value)
    }
}

impl Batch<'_> {
    /// Adds a typed write of `value` to `tag` (a BOOL changes only its bit).
    pub fn write_tag(&mut self, tag: &Tag, value: &Value) -> Result<&mut Self, HostError> {
        let a = &tag.address;
        let mut buf = vec![0u8; tag.byte_len()];
        tag.encode(value, &mut buf).map_err(HostError::Value)?;
        match a.bit {
            Some(bit) => {
                let on = buf.first().is_some_and(|b| b & (1 << (bit & 7)) != 0);
                self.write_bit(a.area, a.db, tag.offset(), bit, on)
            }
            None => self.write(a.area, a.db, tag.offset(), &buf),
        }
    }

    /// Adds a typed write to the tag or address `name_or_address` (see [`Host::resolve`]).
    pub fn write_value(
        &mut self,
        name_or_address: &str,
        value: &Value,
    ) -> Result<&mut Self, HostError> {
        let tag = self.host.resolve(name_or_address, None)?;
        self.write_tag(&tag, value)
    }
}
