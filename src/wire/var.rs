//! Read Var (0x04) and Write Var (0x05): S7-ANY request items and data items.
//!
//! Request item (12 bytes):
//! ```text
//!  0    1    2       3          4..6    6..8   8     9..12
//! +----+----+------+----------+-------+------+-----+----------------------------+
//! | 12 | 0A | 10   | transport| count | DB   | area| address: byte << 3 | bit   |
//! +----+----+------+----------+-------+------+-----+----------------------------+
//! ```
//! Data item (read answer, write request):
//! ```text
//! | return code | data transport size | length (bits for 03/04/05, bytes else) | data | fill |
//! ```
//! A fill byte follows an odd-length data item unless it is the last item.

use super::s7::Function;
use super::{be16, put_be16, Error};

/// Length of one request item.
pub const ITEM_LEN: usize = 12;
/// Variable specification byte.
pub const VAR_SPEC: u8 = 0x12;
/// Syntax id S7ANY.
pub const SYNTAX_S7ANY: u8 = 0x10;

enum_with_unknown! {
    /// Memory area of an item (German mnemonics in brackets).
    pub enum Area {
        /// Direct peripheral I/O (P, 0x80).
        Peripheral = 0x80,
        /// Process-image inputs (I / E, PE, 0x81).
        Inputs = 0x81,
        /// Process-image outputs (Q / A, PA, 0x82).
        Outputs = 0x82,
        /// Flags / markers (M, Merker, MK, 0x83).
        Flags = 0x83,
        /// Data blocks (DB, 0x84).
        DataBlock = 0x84,
        /// Instance data blocks (DI, 0x85), served from the DBs.
        InstanceDataBlock = 0x85,
        /// Counters (C / Z, 0x1C).
        Counters = 0x1C,
        /// Timers (T, 0x1D).
        Timers = 0x1D,
    }
}

enum_with_unknown! {
    /// Transport size of a request item (what the client asks for).
    pub enum TransportSize {
        /// BIT (0x01): one bit, count must be 1.
        Bit = 0x01,
        /// BYTE (0x02).
        Byte = 0x02,
        /// CHAR (0x03).
        Char = 0x03,
        /// WORD (0x04).
        Word = 0x04,
        /// INT (0x05).
        Int = 0x05,
        /// DWORD (0x06).
        Dword = 0x06,
        /// DINT (0x07).
        Dint = 0x07,
        /// REAL (0x08).
        Real = 0x08,
        /// DATE (0x09).
        Date = 0x09,
        /// TIME_OF_DAY (0x0A).
        TimeOfDay = 0x0A,
        /// TIME (0x0B).
        Time = 0x0B,
        /// S5TIME (0x0C).
        S5Time = 0x0C,
        /// DATE_AND_TIME (0x0F).
        DateAndTime = 0x0F,
        /// WCHAR (0x13).
        WChar = 0x13,
        /// COUNTER (0x1C).
        Counter = 0x1C,
        /// TIMER (0x1D).
        Timer = 0x1D,
    }
}

impl TransportSize {
    /// Bytes per element; `None` for unknown codes. BIT counts as one byte on the wire.
    #[inline]
    pub fn element_len(self) -> Option<usize> {
        use TransportSize::*;
        Some(match self {
            Bit | Byte | Char => 1,
            Word | Int | Date | S5Time | WChar | Counter | Timer => 2,
            Dword | Dint | Real | TimeOfDay | Time => 4,
            DateAndTime => 8,
            Unknown(_) => return None,
        })
    }

    /// The data transport size a real CPU uses when answering this request type.
    #[inline]
    pub fn data_transport(self) -> DataTransport {
        use TransportSize::*;
        match self {
            Bit => DataTransport::Bit,
            Int | Dint => DataTransport::Integer,
            Real => DataTransport::Real,
            Char | Counter | Timer => DataTransport::OctetString,
            _ => DataTransport::ByteWordDword,
        }
    }
}

enum_with_unknown! {
    /// Transport size of a data item (answer or write data), deciding the unit of its length.
    pub enum DataTransport {
        /// NULL (0x00): error items.
        Null = 0x00,
        /// BIT (0x03): length in bits (1).
        Bit = 0x03,
        /// BYTE/WORD/DWORD (0x04): length in bits.
        ByteWordDword = 0x04,
        /// INTEGER (0x05): length in bits.
        Integer = 0x05,
        /// DINTEGER (0x06): length in bytes.
        DInteger = 0x06,
        /// REAL (0x07): length in bytes.
        Real = 0x07,
        /// OCTET STRING (0x09): length in bytes.
        OctetString = 0x09,
    }
}

impl DataTransport {
    /// Length field value for `len_bytes` of data in this transport's unit.
    #[inline]
    pub fn length_field(self, len_bytes: usize) -> usize {
        match self {
            DataTransport::Bit => 1,
            DataTransport::ByteWordDword | DataTransport::Integer => len_bytes * 8,
            _ => len_bytes,
        }
    }

    /// Byte length of the data described by a length field; `None` for unknown codes.
    pub fn data_len_bytes(self, length_field: u16) -> Option<usize> {
        let l = length_field as usize;
        match self {
            DataTransport::Bit => Some(l.div_ceil(8)),
            DataTransport::ByteWordDword | DataTransport::Integer => Some(l.div_ceil(8)),
            DataTransport::DInteger | DataTransport::Real | DataTransport::OctetString => Some(l),
            DataTransport::Null | DataTransport::Unknown(_) => None,
        }
    }
}

enum_with_unknown! {
    /// Per-item return code.
    pub enum ReturnCode {
        /// 0xFF success.
        Success = 0xFF,
        /// 0x01 hardware fault.
        HardwareFault = 0x01,
        /// 0x03 accessing the object not allowed.
        AccessDenied = 0x03,
        /// 0x05 invalid address / out of range.
        AddressOutOfRange = 0x05,
        /// 0x06 data type not supported.
        DataTypeNotSupported = 0x06,
        /// 0x07 data type inconsistent (size mismatch, BIT count > 1).
        DataTypeInconsistent = 0x07,
        /// 0x0A object does not exist.
        ObjectDoesNotExist = 0x0A,
    }
}

/// One S7-ANY request item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Syntax id (0x10 for S7ANY; others are rejected per item).
    pub syntax_id: u8,
    /// Requested transport size.
    pub transport: TransportSize,
    /// Number of elements.
    pub count: u16,
    /// DB number (DB/DI areas only).
    pub db: u16,
    /// Area.
    pub area: Area,
    /// Address: `byte << 3 | bit` (timers/counters: element number).
    pub bit_addr: u32,
}

impl Item {
    /// Parses one 12-byte item.
    #[inline(always)]
    pub fn parse(b: &[u8]) -> Result<Item, Error> {
        if b.len() < ITEM_LEN || b[0] != VAR_SPEC || b[1] != 0x0A {
            return Err(Error::Malformed);
        }
        Ok(Item {
            syntax_id: b[2],
            transport: TransportSize::from(b[3]),
            count: be16(b, 4),
            db: be16(b, 6),
            area: Area::from(b[8]),
            bit_addr: u32::from_be_bytes([0, b[9], b[10], b[11]]),
        })
    }

    /// Writes the 12-byte item.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < ITEM_LEN {
            return None;
        }
        buf[0] = VAR_SPEC;
        buf[1] = 0x0A;
        buf[2] = self.syntax_id;
        buf[3] = self.transport.into();
        put_be16(buf, 4, self.count);
        put_be16(buf, 6, self.db);
        buf[8] = self.area.into();
        let a = self.bit_addr.to_be_bytes();
        buf[9..12].copy_from_slice(&a[1..]);
        Some(ITEM_LEN)
    }
}

/// A Read Var / Write Var parameter part: function, item count, items.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// [`Function::ReadVar`] or [`Function::WriteVar`] (not checked here).
    pub function: Function,
    items: &'a [u8],
}

impl<'a> Request<'a> {
    /// Checks that the parameter part holds exactly `count` 12-byte items and `count ≥ 1`.
    #[inline(always)]
    pub fn parse(params: &'a [u8]) -> Result<Request<'a>, Error> {
        if params.len() < 2 {
            return Err(Error::Truncated);
        }
        let n = params[1] as usize;
        if n == 0 || params.len() != 2 + n * ITEM_LEN {
            return Err(Error::Malformed);
        }
        Ok(Request {
            function: Function::from(params[0]),
            items: &params[2..],
        })
    }

    /// Number of items.
    #[inline]
    pub fn count(&self) -> usize {
        self.items.len() / ITEM_LEN
    }

    /// The items, parsed lazily.
    #[inline]
    pub fn items(&self) -> impl Iterator<Item = Result<Item, Error>> + 'a {
        self.items.chunks_exact(ITEM_LEN).map(Item::parse)
    }

    /// The items, each its 12 bytes (for [`Item::parse`]).
    #[inline]
    pub fn raw_items(&self) -> std::slice::ChunksExact<'a, u8> {
        self.items.chunks_exact(ITEM_LEN)
    }
}

/// A data item of a Write Var request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataItem<'a> {
    /// Return code (0x00 in requests).
    pub return_code: u8,
    /// Data transport size.
    pub transport: DataTransport,
    /// Raw length field.
    pub length_field: u16,
    /// The data bytes.
    pub data: &'a [u8],
}

/// Walks the data items of a Write Var request, skipping fill bytes between items.
#[derive(Debug, Clone)]
pub struct DataItems<'a> {
    rest: &'a [u8],
}

impl<'a> DataItems<'a> {
    /// Starts at the beginning of the data part.
    pub fn new(data: &'a [u8]) -> Self {
        DataItems { rest: data }
    }
}

impl<'a> Iterator for DataItems<'a> {
    type Item = Result<DataItem<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        if r.len() < 4 {
            self.rest = &[];
            return Some(Err(Error::Truncated));
        }
        let transport = DataTransport::from(r[1]);
        let length_field = be16(r, 2);
        // An unknown transport gets its length read as bytes so the walk can go on and the
        // item can be answered with its own return code.
        let n = transport
            .data_len_bytes(length_field)
            .unwrap_or(length_field as usize);
        if r.len() < 4 + n {
            self.rest = &[];
            return Some(Err(Error::Truncated));
        }
        let item = DataItem {
            return_code: r[0],
            transport,
            length_field,
            data: &r[4..4 + n],
        };
        let mut next = 4 + n;
        if n % 2 == 1 && r.len() > next {
            next += 1; // fill byte between items
        }
        self.rest = &r[next..];
        Some(Ok(item))
    }
}

/// Writes a data item header (return code, transport, length field) and returns 4.
#[inline]
pub fn emit_data_header(
    buf: &mut [u8],
    code: ReturnCode,
    transport: DataTransport,
    length_field: usize,
) -> Option<usize> {
    if buf.len() < 4 || length_field > u16::MAX as usize {
        return None;
    }
    buf[0] = code.into();
    buf[1] = transport.into();
    put_be16(buf, 2, length_field as u16);
    Some(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_read_var_with_two_items() {
        // docs/protocol.md §10.4: DB1.DBB0 BYTE×1 and MW10 INT×1
        let p = [
            0x04, 0x02, //
            0x12, 0x0A, 0x10, 0x02, 0x00, 0x01, 0x00, 0x01, 0x84, 0x00, 0x00, 0x00, //
            0x12, 0x0A, 0x10, 0x05, 0x00, 0x01, 0x00, 0x00, 0x83, 0x00, 0x00, 0x50,
        ];
        let r = Request::parse(&p).unwrap();
        assert_eq!(r.count(), 2);
        let items: Vec<Item> = r.items().map(|i| i.unwrap()).collect();
        assert_eq!(items[0].area, Area::DataBlock);
        assert_eq!(items[0].db, 1);
        assert_eq!(items[1].transport, TransportSize::Int);
        assert_eq!(items[1].bit_addr, 0x50);
        let mut b = [0xa5u8; 12];
        items[1].emit(&mut b).unwrap();
        assert_eq!(&b[..], &p[14..]);
    }

    #[test]
    fn rejects_item_count_zero_and_count_mismatch() {
        assert_eq!(Request::parse(&[0x04, 0x00]).err(), Some(Error::Malformed));
        assert_eq!(
            Request::parse(&[0x04, 0x02, 0, 0]).err(),
            Some(Error::Malformed)
        );
    }

    #[test]
    fn walks_write_data_with_fill_bytes() {
        // golden frame 42 shape: 3-byte item, fill, 2-byte item, 1-byte item (no trailing fill)
        let d = [
            0x00, 0x04, 0x00, 0x18, 1, 2, 3, 0xEE, //
            0x00, 0x04, 0x00, 0x10, 4, 5, //
            0x00, 0x04, 0x00, 0x08, 6,
        ];
        let items: Vec<DataItem> = DataItems::new(&d).map(|i| i.unwrap()).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].data, &[1, 2, 3]);
        assert_eq!(items[1].data, &[4, 5]);
        assert_eq!(items[2].data, &[6]);
    }

    #[test]
    fn bit_write_data_is_one_byte() {
        let d = [0x00, 0x03, 0x00, 0x01, 0x01];
        let it = DataItems::new(&d).next().unwrap().unwrap();
        assert_eq!(it.data, &[1]);
    }

    #[test]
    fn reports_truncated_data_item() {
        let d = [0x00, 0x04, 0x00, 0x20, 1, 2];
        assert_eq!(DataItems::new(&d).next(), Some(Err(Error::Truncated)));
    }

    #[test]
    fn maps_answer_transport_like_real_cpus() {
        assert_eq!(TransportSize::Bit.data_transport(), DataTransport::Bit);
        assert_eq!(
            TransportSize::Word.data_transport(),
            DataTransport::ByteWordDword
        );
        assert_eq!(TransportSize::Dint.data_transport(), DataTransport::Integer);
        assert_eq!(TransportSize::Real.data_transport(), DataTransport::Real);
        assert_eq!(
            TransportSize::Timer.data_transport(),
            DataTransport::OctetString
        );
        assert_eq!(DataTransport::Integer.length_field(4), 32);
        assert_eq!(DataTransport::Real.length_field(4), 4);
    }
}
