//! Turns an S7-ANY item into a byte range of an area, with the checks a real CPU makes.

use crate::plc::ItemError;
use crate::wire::var::{Area, Item, TransportSize, SYNTAX_S7ANY};

/// Where an item points, after validation against the item itself (not yet the area size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// First byte.
    pub(crate) offset: usize,
    /// Number of bytes (1 for a bit).
    pub(crate) len: usize,
    /// Bit number for BIT access.
    pub(crate) bit: Option<u8>,
}

/// Validates syntax, transport/area pairing, bit rules and computes the byte range.
#[inline]
pub(crate) fn resolve(item: &Item) -> Result<Target, ItemError> {
    if item.syntax_id != SYNTAX_S7ANY {
        return Err(ItemError::BadTransport);
    }
    let elem = item
        .transport
        .element_len()
        .ok_or(ItemError::BadTransport)?;
    let timer_counter = matches!(item.area, Area::Timers | Area::Counters);
    match (item.transport, item.area) {
        (TransportSize::Timer, Area::Timers) | (TransportSize::Counter, Area::Counters) => {}
        // Timers/counters are addressed by element and only with their own transport size;
        // real CPUs (and Snap7) answer a mismatch with "invalid address".
        (TransportSize::Timer | TransportSize::Counter, _) => return Err(ItemError::OutOfRange),
        (_, Area::Timers | Area::Counters) => return Err(ItemError::OutOfRange),
        _ => {}
    }
    if item.count == 0 {
        return Err(ItemError::OutOfRange);
    }
    if item.transport == TransportSize::Bit {
        // A real CPU answers BIT with count > 1 with "data type inconsistent" (PLC4X #2214).
        if item.count != 1 {
            return Err(ItemError::SizeMismatch);
        }
        return Ok(Target {
            offset: (item.bit_addr >> 3) as usize,
            len: 1,
            bit: Some((item.bit_addr & 7) as u8),
        });
    }
    let offset = if timer_counter {
        item.bit_addr as usize * elem
    } else {
        if item.bit_addr & 7 != 0 {
            return Err(ItemError::OutOfRange);
        }
        (item.bit_addr >> 3) as usize
    };
    Ok(Target {
        offset,
        len: item.count as usize * elem,
        bit: None,
    })
}

/// Checks that `t` lies inside an area of `area_len` bytes.
#[inline]
pub(crate) fn check_bounds(t: &Target, area_len: usize) -> Result<(), ItemError> {
    match t.offset.checked_add(t.len) {
        Some(end) if end <= area_len => Ok(()),
        _ => Err(ItemError::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(transport: u8, count: u16, area: u8, bit_addr: u32) -> Item {
        Item {
            syntax_id: 0x10,
            transport: TransportSize::from(transport),
            count,
            db: 1,
            area: Area::from(area),
            bit_addr,
        }
    }

    #[test]
    fn bit_address_splits_into_byte_and_bit() {
        let t = resolve(&item(0x01, 1, 0x84, 10 * 8 + 2)).unwrap();
        assert_eq!(
            t,
            Target {
                offset: 10,
                len: 1,
                bit: Some(2)
            }
        );
    }

    #[test]
    fn bit_count_above_one_is_data_type_inconsistent() {
        assert_eq!(
            resolve(&item(0x01, 2, 0x84, 0)),
            Err(ItemError::SizeMismatch)
        );
    }

    #[test]
    fn word_at_bit_offset_is_refused() {
        assert_eq!(resolve(&item(0x04, 1, 0x84, 3)), Err(ItemError::OutOfRange));
    }

    #[test]
    fn timer_element_n_lives_at_byte_2n() {
        let t = resolve(&item(0x1D, 3, 0x1D, 16)).unwrap();
        assert_eq!(
            t,
            Target {
                offset: 32,
                len: 6,
                bit: None
            }
        );
    }

    #[test]
    fn timer_transport_on_db_and_byte_transport_on_counters_are_refused() {
        assert_eq!(resolve(&item(0x1D, 1, 0x84, 0)), Err(ItemError::OutOfRange));
        assert_eq!(resolve(&item(0x02, 1, 0x1C, 0)), Err(ItemError::OutOfRange));
    }

    #[test]
    fn unknown_transport_and_syntax_are_not_supported() {
        assert_eq!(
            resolve(&item(0x42, 1, 0x84, 0)),
            Err(ItemError::BadTransport)
        );
        let mut i = item(0x02, 1, 0x84, 0);
        i.syntax_id = 0xB0;
        assert_eq!(resolve(&i), Err(ItemError::BadTransport));
    }

    #[test]
    fn bounds_are_checked_without_overflow() {
        let t = Target {
            offset: usize::MAX,
            len: 2,
            bit: None,
        };
        assert_eq!(check_bounds(&t, 10), Err(ItemError::OutOfRange));
        assert_eq!(
            check_bounds(
                &Target {
                    offset: 8,
                    len: 2,
                    bit: None
                },
                10
            ),
            Ok(())
        );
        assert_eq!(
            check_bounds(
                &Target {
                    offset: 9,
                    len: 2,
                    bit: None
                },
                10
            ),
            Err(ItemError::OutOfRange)
        );
    }
}
