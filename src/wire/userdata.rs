//! Userdata PDUs (ROSCTR 07): the parameter head shared by SZL, clock, block and security
//! functions, and the standard error answer.
//!
//! ```text
//! request   00 01 12 04 11 <type|group> <sub> <seq>
//! follow-up 00 01 12 08 12 <type|group> <sub> <seq> <dur> <last> <err hi> <err lo>
//! response  00 01 12 08 12 <8|group>    <sub> <seq> <dur> <last> <err hi> <err lo>
//! data      <return code> <transport> <length (2)> <payload>
//! ```

use super::{be16, put_be16, Error, HeaderError};

/// Function groups (low nibble of the type/group byte).
pub mod group {
    /// Programmer commands (variable tables, forces, diagnostics).
    pub const PROGRAMMER: u8 = 0x1;
    /// Cyclic data (subscriptions pushed by the CPU).
    pub const CYCLIC: u8 = 0x2;
    /// Block functions.
    pub const BLOCKS: u8 = 0x3;
    /// CPU functions: read SZL, messages and alarms.
    pub const CPU: u8 = 0x4;
    /// Security: session password.
    pub const SECURITY: u8 = 0x5;
    /// Time functions: the PLC clock.
    pub const TIME: u8 = 0x7;
}

/// What a userdata request asks for, from its function group and subfunction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Group 3, subfunction 1: list all blocks (counts per type).
    ListAllBlocks,
    /// Group 3, subfunction 2: list the blocks of one type.
    ListBlocksOfType,
    /// Group 3, subfunction 3: get block info.
    BlockInfo,
    /// Group 4, subfunction 1: read SZL.
    ReadSzl,
    /// Group 5, subfunction 1: enter the session password.
    EnterPassword,
    /// Group 5, subfunction 2: clear the session password.
    ClearPassword,
    /// Group 7, subfunction 1, or 3 ("read clock, following").
    ReadClock,
    /// Group 7, subfunction 2, or 4 (the variant PLC4X sends).
    SetClock,
    /// Anything else.
    Unknown {
        /// Function group.
        group: u8,
        /// Subfunction.
        subfunction: u8,
    },
}

impl Function {
    /// Decodes a function group and subfunction.
    pub fn new(group: u8, subfunction: u8) -> Function {
        match (group, subfunction) {
            (group::BLOCKS, 1) => Function::ListAllBlocks,
            (group::BLOCKS, 2) => Function::ListBlocksOfType,
            (group::BLOCKS, 3) => Function::BlockInfo,
            (group::CPU, 1) => Function::ReadSzl,
            (group::SECURITY, 1) => Function::EnterPassword,
            (group::SECURITY, 2) => Function::ClearPassword,
            (group::TIME, 1 | 3) => Function::ReadClock,
            (group::TIME, 2 | 4) => Function::SetClock,
            (group, subfunction) => Function::Unknown { group, subfunction },
        }
    }
}

/// Length of a response parameter head.
pub const RESPONSE_PARAM_LEN: usize = 12;

/// A checked view of a userdata request parameter (first request or follow-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Method byte (0x11 request, 0x12 response/follow-up).
    pub method: u8,
    /// Type nibble (0 push, 4 request, 8 response).
    pub kind: u8,
    /// Function group nibble.
    pub group: u8,
    /// Subfunction.
    pub subfunction: u8,
    /// Sequence number.
    pub seq: u8,
    /// True for the 12-byte head of a follow-up request.
    pub follow_up: bool,
    /// Follow-up only: data unit reference.
    pub dur: u8,
    /// Follow-up only: last data unit flag (0 = last).
    pub last: u8,
    /// Follow-up only: error field.
    pub error: u16,
}

impl Params {
    /// What the request asks for.
    pub fn function(&self) -> Function {
        Function::new(self.group, self.subfunction)
    }

    /// Parses an 8- or 12-byte userdata parameter head.
    pub fn parse(p: &[u8]) -> Result<Params, Error> {
        if p.len() < 8 || p[0..3] != [0x00, 0x01, 0x12] {
            return Err(Error::Malformed);
        }
        let follow_up = match (p[3], p.len()) {
            (0x04, 8) => false,
            (0x08, 12) => true,
            _ => return Err(Error::Malformed),
        };
        Ok(Params {
            method: p[4],
            kind: p[5] >> 4,
            group: p[5] & 0x0F,
            subfunction: p[6],
            seq: p[7],
            follow_up,
            dur: if follow_up { p[8] } else { 0 },
            last: if follow_up { p[9] } else { 0 },
            error: if follow_up { be16(p, 10) } else { 0 },
        })
    }
}

/// Writes a 12-byte response parameter head.
pub fn emit_response_params(
    buf: &mut [u8],
    group: u8,
    subfunction: u8,
    seq: u8,
    dur: u8,
    more: bool,
    error: HeaderError,
) -> Option<usize> {
    if buf.len() < RESPONSE_PARAM_LEN {
        return None;
    }
    buf[..8].copy_from_slice(&[
        0x00,
        0x01,
        0x12,
        0x08,
        0x12,
        0x80 | (group & 0x0F),
        subfunction,
        seq,
    ]);
    buf[8] = dur;
    buf[9] = u8::from(more);
    put_be16(buf, 10, error.0);
    Some(RESPONSE_PARAM_LEN)
}

/// The empty data part `0A 00 00 00` of error and no-payload answers.
pub const EMPTY_DATA: [u8; 4] = [0x0A, 0x00, 0x00, 0x00];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_szl_request_head() {
        let p = Params::parse(&[0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00]).unwrap();
        assert_eq!(
            (p.kind, p.group, p.subfunction, p.seq, p.follow_up),
            (4, 4, 1, 0, false)
        );
    }

    #[test]
    fn routes_group_and_subfunction_to_one_function() {
        assert_eq!(Function::new(4, 1), Function::ReadSzl);
        assert_eq!(Function::new(7, 3), Function::ReadClock);
        assert_eq!(Function::new(7, 4), Function::SetClock);
        assert_eq!(
            Function::new(4, 2),
            Function::Unknown {
                group: 4,
                subfunction: 2
            }
        );
    }

    #[test]
    fn parses_follow_up_head() {
        let p = Params::parse(&[0, 1, 0x12, 8, 0x12, 0x44, 1, 7, 0, 0, 0, 0]).unwrap();
        assert!(p.follow_up);
        assert_eq!(p.seq, 7);
    }

    #[test]
    fn rejects_head_length_that_disagrees_with_its_length_byte() {
        assert_eq!(
            Params::parse(&[0, 1, 0x12, 8, 0x11, 0x44, 1, 0]),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn emits_error_head_like_section_8_2() {
        let mut b = [0xa5; 12];
        emit_response_params(&mut b, 4, 1, 0, 0, false, HeaderError::SZL_UNKNOWN_INDEX).unwrap();
        assert_eq!(b, [0, 1, 0x12, 8, 0x12, 0x84, 1, 0, 0, 0, 0xD4, 0x02]);
    }
}
