//! Turns an S7-ANY item into a byte range of an area, with the checks a real CPU makes.
//!
//! The checks work on the item's raw transport size and area codes, with what each
//! transport size means looked up in [`TRANSPORTS`] (one load instead of a conversion to
//! [`crate::wire::var::TransportSize`] and a match per property): Read Var answers its items from the raw
//! bytes, which saves a 4-byte read a good part of its instructions.

use crate::plc::ItemError;
use crate::wire::var::{Item, SYNTAX_S7ANY};

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

/// How a transport size addresses its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// One bit: count 1, address `byte << 3 | bit`.
    Bit,
    /// Timers only, addressed by element.
    Timer,
    /// Counters only, addressed by element.
    Counter,
    /// Bytes at a byte address (`byte << 3`), any area but timers and counters.
    Bytes,
}

/// What a request item's transport size code means (see [`TRANSPORTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transport {
    /// Bytes per element; 0 for a code that is not a transport size (item refused).
    pub(crate) elem: u8,
    pub(crate) class: Class,
    /// The data transport size code a real CPU answers with
    /// ([`crate::wire::var::TransportSize::data_transport`]).
    pub(crate) data: u8,
    /// The answer's length field counts bits
    /// ([`crate::wire::var::DataTransport::length_field`]).
    pub(crate) length_in_bits: bool,
}

/// [`Transport`] of every code byte: the same facts as `TransportSize::element_len` and
/// `TransportSize::data_transport` (a test checks all 256 codes against them).
pub(crate) static TRANSPORTS: [Transport; 256] = {
    let mut t = [transport(0); 256];
    let mut code = 0;
    while code < 256 {
        t[code] = transport(code as u8);
        code += 1;
    }
    t
};

const fn transport(code: u8) -> Transport {
    const BWD: u8 = 0x04; // DataTransport::ByteWordDword
    const INT: u8 = 0x05; // DataTransport::Integer
    const REAL: u8 = 0x07; // DataTransport::Real
    const OCTETS: u8 = 0x09; // DataTransport::OctetString
    let (elem, class, data) = match code {
        0x01 => (1, Class::Bit, 0x03),  // BIT answers with DataTransport::Bit
        0x02 => (1, Class::Bytes, BWD), // BYTE
        0x03 => (1, Class::Bytes, OCTETS), // CHAR
        0x04 | 0x09 | 0x0C | 0x13 => (2, Class::Bytes, BWD), // WORD, DATE, S5TIME, WCHAR
        0x05 => (2, Class::Bytes, INT), // INT
        0x06 | 0x0A | 0x0B => (4, Class::Bytes, BWD), // DWORD, TIME_OF_DAY, TIME
        0x07 => (4, Class::Bytes, INT), // DINT
        0x08 => (4, Class::Bytes, REAL), // REAL
        0x0F => (8, Class::Bytes, BWD), // DATE_AND_TIME
        0x1C => (2, Class::Counter, OCTETS), // COUNTER
        0x1D => (2, Class::Timer, OCTETS), // TIMER
        _ => (0, Class::Bytes, 0),
    };
    Transport {
        elem,
        class,
        data,
        length_in_bits: matches!(data, BWD | INT),
    }
}

const AREA_TIMERS: u8 = 0x1D;
const AREA_COUNTERS: u8 = 0x1C;

/// Validates syntax, transport/area pairing, bit rules and computes the byte range.
#[inline]
pub(crate) fn resolve(item: &Item) -> Result<Target, ItemError> {
    resolve_raw(
        item.syntax_id,
        &TRANSPORTS[usize::from(u8::from(item.transport))],
        item.count,
        u8::from(item.area),
        item.bit_addr,
    )
}

/// [`resolve`] from the item's raw fields, `transport` being `TRANSPORTS[transport code]`.
/// Always inlined: out of line, a one-item read pays a call for it.
#[inline(always)]
pub(crate) fn resolve_raw(
    syntax_id: u8,
    transport: &Transport,
    count: u16,
    area: u8,
    bit_addr: u32,
) -> Result<Target, ItemError> {
    if syntax_id != SYNTAX_S7ANY || transport.elem == 0 {
        return Err(ItemError::BadTransport);
    }
    let timer_counter = area == AREA_TIMERS || area == AREA_COUNTERS;
    // Timers/counters are addressed by element and only with their own transport size;
    // real CPUs (and Snap7) answer a mismatch with "invalid address".
    let paired = match transport.class {
        Class::Timer => area == AREA_TIMERS,
        Class::Counter => area == AREA_COUNTERS,
        Class::Bit | Class::Bytes => !timer_counter,
    };
    if !paired || count == 0 {
        return Err(ItemError::OutOfRange);
    }
    if transport.class == Class::Bit {
        // A real CPU answers BIT with count > 1 with "data type inconsistent" (PLC4X #2214).
        if count != 1 {
            return Err(ItemError::SizeMismatch);
        }
        return Ok(Target {
            offset: (bit_addr >> 3) as usize,
            len: 1,
            bit: Some((bit_addr & 7) as u8),
        });
    }
    let elem = usize::from(transport.elem);
    let offset = if timer_counter {
        bit_addr as usize * elem
    } else {
        if bit_addr & 7 != 0 {
            return Err(ItemError::OutOfRange);
        }
        (bit_addr >> 3) as usize
    };
    Ok(Target {
        offset,
        len: usize::from(count) * elem,
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
    use crate::wire::var::{Area, TransportSize};

    #[test]
    fn transport_table_agrees_with_the_wire_types_for_every_code() {
        for code in 0..=255u8 {
            let ts = TransportSize::from(code);
            let t = TRANSPORTS[usize::from(code)];
            assert_eq!(
                ts.element_len(),
                (t.elem != 0).then_some(usize::from(t.elem)),
                "{code:#04x}"
            );
            if t.elem == 0 {
                continue;
            }
            let dt = ts.data_transport();
            assert_eq!(u8::from(dt), t.data, "{code:#04x}");
            // A BIT answer carries one byte: its length field (always 1) is that byte count.
            let n = if ts == TransportSize::Bit { 1 } else { 3 };
            let field = if t.length_in_bits { n * 8 } else { n };
            assert_eq!(dt.length_field(n), field, "{code:#04x}");
            let class = match ts {
                TransportSize::Bit => Class::Bit,
                TransportSize::Timer => Class::Timer,
                TransportSize::Counter => Class::Counter,
                _ => Class::Bytes,
            };
            assert_eq!(t.class, class, "{code:#04x}");
        }
    }

    /// The checks as they were written on the wire types, before the table: the model
    /// `resolve` must agree with for every transport and area code.
    fn model(item: &Item) -> Result<Target, ItemError> {
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
            (TransportSize::Timer | TransportSize::Counter, _) => {
                return Err(ItemError::OutOfRange)
            }
            (_, Area::Timers | Area::Counters) => return Err(ItemError::OutOfRange),
            _ => {}
        }
        if item.count == 0 {
            return Err(ItemError::OutOfRange);
        }
        if item.transport == TransportSize::Bit {
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

    #[test]
    fn resolve_agrees_with_the_model_for_every_transport_and_area() {
        for transport in 0..=255u8 {
            for area in 0..=255u8 {
                for syntax_id in [0x10, 0xB0] {
                    for count in [0, 1, 2, 7] {
                        for bit_addr in [0, 3, 8 * 10, 8 * 10 + 5, 0xFF_FFFF] {
                            let mut i = item(transport, count, area, bit_addr);
                            i.syntax_id = syntax_id;
                            assert_eq!(resolve(&i), model(&i), "{i:?}");
                        }
                    }
                }
            }
        }
    }

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
