//! PI service parameters (job `28`, docs/protocol.md §8): `28`, 7 bytes, parameter block
//! length (2), parameter block, name length (1), service name.

use super::block;

/// What a PI service request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Warm (hot) start: `P_PROGRAM`.
    HotStart,
    /// Cold start: `P_PROGRAM` with parameter block `C `.
    ColdStart,
    /// Compress memory: `_GARB`.
    Compress,
    /// Copy RAM to ROM: `_MODU`.
    CopyRamToRom,
    /// Insert (activate) downloaded blocks: `_INSE`.
    Insert,
    /// Delete blocks: `_DELE`.
    Delete,
    /// Any other name.
    Unknown,
}

/// A parsed PI service parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The service named.
    pub service: Service,
    /// The parameter block (for `_INSE`/`_DELE`: the block list, see [`Request::blocks`]).
    pub block: &'a [u8],
}

impl<'a> Request<'a> {
    /// Parses a PI service parameter part.
    pub fn parse(params: &'a [u8]) -> Option<Request<'a>> {
        let plen = usize::from(u16::from_be_bytes([*params.get(8)?, *params.get(9)?]));
        let block = params.get(10..10 + plen)?;
        let nlen = usize::from(*params.get(10 + plen)?);
        let name = params.get(11 + plen..11 + plen + nlen)?;
        let service = match name {
            b"P_PROGRAM" if block.first() == Some(&b'C') => Service::ColdStart,
            b"P_PROGRAM" => Service::HotStart,
            b"_GARB" => Service::Compress,
            b"_MODU" => Service::CopyRamToRom,
            b"_INSE" => Service::Insert,
            b"_DELE" => Service::Delete,
            _ => Service::Unknown,
        };
        Some(Request { service, block })
    }

    /// The block addresses of an `_INSE` / `_DELE` parameter block: count, `00`, then per
    /// block `<type (2 ASCII)><5 digits><fs>` (e.g. `0A00002P`); `None` when the block list
    /// is malformed, an item `None` when one address is.
    pub fn blocks(&self) -> Option<impl Iterator<Item = Option<(u8, u16)>> + 'a> {
        let (count, list) = match self.block {
            [count, 0, list @ ..]
                if *count > 0 && list.len() == block::ADDRESS_LEN * usize::from(*count) =>
            {
                (usize::from(*count), list)
            }
            _ => return None,
        };
        Some(
            list.chunks_exact(block::ADDRESS_LEN)
                .take(count)
                .map(block::parse_address),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(p: &[u8]) -> Option<Service> {
        Request::parse(p).map(|r| r.service)
    }

    #[test]
    fn parses_the_pi_services_of_golden_frames_74_and_80() {
        let hot = b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x09P_PROGRAM";
        let cold = b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x02C \x09P_PROGRAM";
        assert_eq!(service(hot), Some(Service::HotStart));
        assert_eq!(service(cold), Some(Service::ColdStart));
        assert_eq!(
            service(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x05_GARB"),
            Some(Service::Compress)
        );
        assert_eq!(
            service(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x05_XXXX"),
            Some(Service::Unknown)
        );
        assert_eq!(service(b"\x28\x00\x00\x00\x00\x00\x00\xfd\x00\x09"), None);
    }

    #[test]
    fn pi_block_list_holds_count_then_8_byte_addresses() {
        let blocks = |b: &'static [u8]| Request {
            service: Service::Insert,
            block: b,
        };
        let one: Vec<_> = blocks(b"\x01\x000A00002P").blocks().unwrap().collect();
        assert_eq!(one, [Some((0x0A, 2))]);
        let two: Vec<_> = blocks(b"\x02\x000A00002P0800001P")
            .blocks()
            .unwrap()
            .collect();
        assert_eq!(two, [Some((0x0A, 2)), Some((0x08, 1))]);
        assert!(blocks(b"\x02\x000A00002P").blocks().is_none());
        assert!(blocks(b"\x00\x00").blocks().is_none());
    }
}
