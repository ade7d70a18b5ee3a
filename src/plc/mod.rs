//! The emulated CPU: process image and the rules for addressing it, CPU state (mode, clock,
//! protection, diagnostic buffer, blocks, connection quotas) and personalities.
//!
//! Pure data sized from the configuration at start-up; nothing here allocates after
//! construction.

pub(crate) mod clock;
pub(crate) mod cpu;
pub(crate) mod diag;
mod guarded;
pub(crate) mod image;
pub(crate) mod personality;
pub(crate) mod staging;

pub use clock::{Mono, Now};
pub use cpu::{scramble, BlockType, ConnType, Cpu, CpuSpec, Mode, Refusal};
pub(crate) use guarded::Guarded;
pub use image::{DbSpec, Image, ImageSpec};
pub use personality::Personality;

use crate::wire::var::{Area, ReturnCode};

/// Why one item of a Read Var / Write Var cannot be served. Maps 1:1 onto S7 item return
/// codes; the request as a whole still succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemError {
    /// The DB or area does not exist (0x0A).
    NoSuchObject,
    /// Offset + length beyond the area, or a misaligned address (0x05).
    OutOfRange,
    /// The object exists but may not be written (0x03).
    AccessDenied,
    /// Transport size or syntax id not supported (0x06).
    BadTransport,
    /// Data length does not match the item, or BIT with count > 1 (0x07).
    SizeMismatch,
}

impl From<ItemError> for ReturnCode {
    fn from(e: ItemError) -> ReturnCode {
        match e {
            ItemError::NoSuchObject => ReturnCode::ObjectDoesNotExist,
            ItemError::OutOfRange => ReturnCode::AddressOutOfRange,
            ItemError::AccessDenied => ReturnCode::AccessDenied,
            ItemError::BadTransport => ReturnCode::DataTypeNotSupported,
            ItemError::SizeMismatch => ReturnCode::DataTypeInconsistent,
        }
    }
}

/// Byte-addressed storage of the areas a client can reach.
///
/// Implemented by [`Image`]; tests use small fakes. Returning an error from either method
/// makes the item fail with the matching return code; other items are unaffected.
pub trait Memory {
    /// The whole area (for DB/DI: the DB `db`) for reading.
    fn area(&self, area: Area, db: u16) -> Result<&[u8], ItemError>;
    /// The whole area for writing; `AccessDenied` for read-only objects.
    fn area_mut(&mut self, area: Area, db: u16) -> Result<&mut [u8], ItemError>;
    /// The whole area for writing by the image's owner (start-up content such as DB init
    /// files and tag initial values, the host application, restoring a snapshot): like
    /// [`Memory::area_mut`] but read-only DBs are writable, since they are read-only for
    /// clients only. The default is [`Memory::area_mut`].
    fn owner_area_mut(&mut self, area: Area, db: u16) -> Result<&mut [u8], ItemError> {
        self.area_mut(area, db)
    }
    /// The `i`-th DB in ascending number order as (number, size); `None` past the last.
    /// Used by the block functions; the default lists no DB.
    fn db_at(&self, i: usize) -> Option<(u16, usize)> {
        let _ = i;
        None
    }
    /// Size of the configured DB `db`, also while it is deleted: what a download must
    /// match. `NoSuchObject` if no such DB is configured, `AccessDenied` if it is
    /// read-only. The default knows no DB.
    fn db_capacity(&self, db: u16) -> Result<usize, ItemError> {
        let _ = db;
        Err(ItemError::NoSuchObject)
    }
    /// Replaces the whole content of DB `db` (a downloaded block) and un-deletes it, in one
    /// step. `SizeMismatch` if `data` is not exactly [`Memory::db_capacity`] bytes; nothing
    /// changes on error. The default refuses.
    fn replace_db(&mut self, db: u16, data: &[u8]) -> Result<(), ItemError> {
        let _ = (db, data);
        Err(ItemError::NoSuchObject)
    }
    /// Deletes DB `db`: reads, writes and the block functions treat it as missing until a
    /// download re-inserts it. The default refuses.
    fn delete_db(&mut self, db: u16) -> Result<(), ItemError> {
        let _ = db;
        Err(ItemError::NoSuchObject)
    }
}
