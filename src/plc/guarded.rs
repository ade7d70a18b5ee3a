//! The image as a connection limited by an `[[access]]` rule sees it.

use super::{ItemError, Memory};
use crate::access::{Access, Grant};
use crate::wire::var::Area;

/// The image as a connection with a limited grant sees it: items outside its areas or DBs
/// answer 0x03, everything else goes to the image. Used only for grants that do not
/// [`Grant::reaches_everything`], so open connections pay nothing.
pub(crate) struct Guarded<'a, M> {
    /// The image.
    pub(crate) mem: &'a mut M,
    /// The connection's grant.
    pub(crate) grant: Grant,
    /// The rules (for the DB sets).
    pub(crate) access: &'a Access,
}

impl<M: Memory> Memory for Guarded<'_, M> {
    fn area(&self, area: Area, db: u16) -> Result<&[u8], ItemError> {
        match self.grant.reaches(area, db, self.access) {
            true => self.mem.area(area, db),
            false => Err(ItemError::AccessDenied),
        }
    }

    fn area_mut(&mut self, area: Area, db: u16) -> Result<&mut [u8], ItemError> {
        match self.grant.reaches(area, db, self.access) {
            true => self.mem.area_mut(area, db),
            false => Err(ItemError::AccessDenied),
        }
    }
}
