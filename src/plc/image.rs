//! The process image: DBs, inputs, outputs, flags, timers and counters.

use super::{ItemError, Memory};
use crate::wire::var::Area;

/// Size of one timer or counter on the wire (element N lives at byte 2N).
pub(crate) const TIMER_COUNTER_LEN: usize = 2;

/// One data block to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSpec {
    /// DB number (1..=65535).
    pub number: u16,
    /// Size in bytes (1..=65535).
    pub size: usize,
    /// Clients may read but not write it (item code 0x03 on write).
    pub read_only: bool,
}

/// Sizes of everything in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Data blocks.
    pub dbs: Vec<DbSpec>,
    /// Inputs (I / E, PE) in bytes.
    pub inputs: usize,
    /// Outputs (Q / A, PA) in bytes.
    pub outputs: usize,
    /// Flags (M, Merker) in bytes.
    pub flags: usize,
    /// Number of timers (2 bytes each).
    pub timers: usize,
    /// Number of counters (2 bytes each).
    pub counters: usize,
}

#[derive(Debug)]
struct Db {
    number: u16,
    read_only: bool,
    /// Deleted by a client (PI `_DELE`): answers as missing until a download re-inserts it.
    deleted: bool,
    data: Box<[u8]>,
}

/// The process image. Allocated once from an [`ImageSpec`]; never grows.
#[derive(Debug)]
pub struct Image {
    dbs: Box<[Db]>,
    inputs: Box<[u8]>,
    outputs: Box<[u8]>,
    flags: Box<[u8]>,
    timers: Box<[u8]>,
    counters: Box<[u8]>,
    /// Index into `dbs` + 1 by DB number (0: no such DB), up to the highest configured
    /// number: a request finds its DB with one load instead of a binary search.
    by_number: Box<[u16]>,
}

impl Image {
    /// Allocates a zeroed image. DB numbers must be unique (the config checks this).
    pub fn new(spec: &ImageSpec) -> Image {
        let mut dbs: Vec<Db> = spec
            .dbs
            .iter()
            .map(|d| Db {
                number: d.number,
                read_only: d.read_only,
                deleted: false,
                data: vec![0; d.size].into(),
            })
            .collect();
        dbs.sort_by_key(|d| d.number);
        let top = dbs.last().map_or(0, |d| usize::from(d.number));
        let mut by_number = vec![0u16; top + 1];
        for (i, d) in dbs.iter().enumerate() {
            // At most 65535 DBs (one per number), so i + 1 fits.
            by_number[usize::from(d.number)] = (i + 1) as u16;
        }
        Image {
            by_number: by_number.into(),
            dbs: dbs.into(),
            inputs: vec![0; spec.inputs].into(),
            outputs: vec![0; spec.outputs].into(),
            flags: vec![0; spec.flags].into(),
            timers: vec![0; spec.timers * TIMER_COUNTER_LEN].into(),
            counters: vec![0; spec.counters * TIMER_COUNTER_LEN].into(),
        }
    }

    /// Index of a configured DB, deleted or not.
    #[inline]
    fn slot_index(&self, number: u16) -> Result<usize, ItemError> {
        match self.by_number.get(usize::from(number)) {
            Some(&i) if i > 0 => Ok(usize::from(i) - 1),
            _ => Err(ItemError::NoSuchObject),
        }
    }

    /// Index of a DB that exists (configured and not deleted). Inlined: every DB read on
    /// the fast path looks its DB up here.
    #[inline(always)]
    fn db_index(&self, number: u16) -> Result<usize, ItemError> {
        let i = self.slot_index(number)?;
        match self.dbs[i].deleted {
            true => Err(ItemError::NoSuchObject),
            false => Ok(i),
        }
    }

    /// DB numbers and sizes, in ascending order.
    pub fn dbs(&self) -> impl Iterator<Item = (u16, usize)> + '_ {
        self.dbs.iter().map(|d| (d.number, d.data.len()))
    }

    /// Writes to every page of every buffer so no page fault happens after start-up.
    pub fn prefault(&mut self) {
        let touch = |b: &mut [u8]| {
            for i in (0..b.len()).step_by(4096) {
                // Volatile-free: a read-modify-write of the same value still dirties the page.
                b[i] = std::hint::black_box(b[i]);
            }
        };
        for d in self.dbs.iter_mut() {
            touch(&mut d.data);
        }
        touch(&mut self.inputs);
        touch(&mut self.outputs);
        touch(&mut self.flags);
        touch(&mut self.timers);
        touch(&mut self.counters);
        for i in (0..self.by_number.len()).step_by(2048) {
            self.by_number[i] = std::hint::black_box(self.by_number[i]);
        }
    }
}

impl Memory for Image {
    // Inlined: the fast path of every read calls it (a plain `#[inline]` is not taken).
    #[inline(always)]
    fn area(&self, area: Area, db: u16) -> Result<&[u8], ItemError> {
        Ok(match area {
            Area::DataBlock | Area::InstanceDataBlock => &self.dbs[self.db_index(db)?].data,
            Area::Inputs => &self.inputs,
            Area::Outputs => &self.outputs,
            Area::Flags => &self.flags,
            Area::Timers => &self.timers,
            Area::Counters => &self.counters,
            Area::Peripheral | Area::Unknown(_) => return Err(ItemError::NoSuchObject),
        })
    }

    fn owner_area_mut(&mut self, area: Area, db: u16) -> Result<&mut [u8], ItemError> {
        match area {
            Area::DataBlock | Area::InstanceDataBlock => {
                let i = self.db_index(db)?;
                Ok(&mut self.dbs[i].data)
            }
            _ => self.area_mut(area, db),
        }
    }

    fn db_at(&self, i: usize) -> Option<(u16, usize)> {
        self.dbs.get(i).map(|d| (d.number, d.data.len()))
    }

    fn db_capacity(&self, db: u16) -> Result<usize, ItemError> {
        let d = &self.dbs[self.slot_index(db)?];
        match d.read_only {
            true => Err(ItemError::AccessDenied),
            false => Ok(d.data.len()),
        }
    }

    fn replace_db(&mut self, db: u16, data: &[u8]) -> Result<(), ItemError> {
        if self.db_capacity(db)? != data.len() {
            return Err(ItemError::SizeMismatch);
        }
        let i = self.slot_index(db)?;
        let d = &mut self.dbs[i];
        d.data.copy_from_slice(data);
        d.deleted = false;
        Ok(())
    }

    fn delete_db(&mut self, db: u16) -> Result<(), ItemError> {
        self.db_capacity(db)?;
        let i = self.db_index(db)?;
        self.dbs[i].deleted = true;
        Ok(())
    }

    fn area_mut(&mut self, area: Area, db: u16) -> Result<&mut [u8], ItemError> {
        Ok(match area {
            Area::DataBlock | Area::InstanceDataBlock => {
                let i = self.db_index(db)?;
                let d = &mut self.dbs[i];
                if d.read_only {
                    return Err(ItemError::AccessDenied);
                }
                &mut d.data
            }
            Area::Inputs => &mut self.inputs,
            Area::Outputs => &mut self.outputs,
            Area::Flags => &mut self.flags,
            Area::Timers => &mut self.timers,
            Area::Counters => &mut self.counters,
            Area::Peripheral | Area::Unknown(_) => return Err(ItemError::NoSuchObject),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ImageSpec {
        ImageSpec {
            dbs: vec![
                DbSpec {
                    number: 7,
                    size: 10,
                    read_only: true,
                },
                DbSpec {
                    number: 1,
                    size: 65535,
                    read_only: false,
                },
            ],
            inputs: 4,
            outputs: 4,
            flags: 8,
            timers: 3,
            counters: 2,
        }
    }

    #[test]
    fn finds_dbs_by_number_and_maps_di_to_db() {
        let img = Image::new(&spec());
        assert_eq!(img.area(Area::DataBlock, 1).unwrap().len(), 65535);
        assert_eq!(img.area(Area::InstanceDataBlock, 7).unwrap().len(), 10);
        assert_eq!(
            img.area(Area::DataBlock, 2).err(),
            Some(ItemError::NoSuchObject)
        );
    }

    #[test]
    fn timers_and_counters_are_two_bytes_per_element() {
        let img = Image::new(&spec());
        assert_eq!(img.area(Area::Timers, 0).unwrap().len(), 6);
        assert_eq!(img.area(Area::Counters, 0).unwrap().len(), 4);
    }

    #[test]
    fn read_only_db_refuses_mutable_access() {
        let mut img = Image::new(&spec());
        assert_eq!(
            img.area_mut(Area::DataBlock, 7).err(),
            Some(ItemError::AccessDenied)
        );
        assert!(img.area_mut(Area::DataBlock, 1).is_ok());
    }

    #[test]
    fn deleted_db_is_missing_until_replaced_with_data_of_its_size() {
        let mut img = Image::new(&spec());
        img.delete_db(1).unwrap();
        assert_eq!(
            img.area(Area::DataBlock, 1).err(),
            Some(ItemError::NoSuchObject)
        );
        assert_eq!(
            img.area_mut(Area::DataBlock, 1).err(),
            Some(ItemError::NoSuchObject)
        );
        assert_eq!(img.delete_db(1), Err(ItemError::NoSuchObject));
        assert_eq!(img.db_capacity(1), Ok(65535));
        assert_eq!(img.replace_db(1, &[1, 2]), Err(ItemError::SizeMismatch));
        let data = vec![7u8; 65535];
        img.replace_db(1, &data).unwrap();
        assert_eq!(img.area(Area::DataBlock, 1).unwrap(), &data[..]);
        assert_eq!(img.delete_db(7), Err(ItemError::AccessDenied));
        assert_eq!(img.replace_db(7, &[0; 10]), Err(ItemError::AccessDenied));
        assert_eq!(img.delete_db(2), Err(ItemError::NoSuchObject));
    }
}
