//! The S7comm PDU header (protocol id 0x32).
//!
//! ```text
//!  0     1       2..4      4..6     6..8       8..10     10     11
//! +----+-------+---------+--------+----------+---------+------+------+
//! | 32 | ROSCTR| reserved| PDU ref| param len| data len| class| code |  class/code: Ack, Ack_Data only
//! +----+-------+---------+--------+----------+---------+------+------+
//! ```
//! The header is 10 bytes for Job and Userdata, 12 for Ack and Ack_Data.

use super::{be16, put_be16, Error, HeaderError};

/// S7 protocol id.
pub const PROTOCOL_ID: u8 = 0x32;

mod field {
    pub(super) const PROTOCOL_ID: usize = 0;
    pub(super) const ROSCTR: usize = 1;
    pub(super) const PDU_REF: usize = 4;
    pub(super) const PARAM_LEN: usize = 6;
    pub(super) const DATA_LEN: usize = 8;
    pub(super) const ERROR: usize = 10;
}

/// Header length for a ROSCTR: 12 for Ack/Ack_Data (they carry the error class and code),
/// else 10.
pub const fn header_len(rosctr: Rosctr) -> usize {
    match rosctr {
        Rosctr::Ack | Rosctr::AckData => 12,
        _ => 10,
    }
}

enum_with_unknown! {
    /// PDU type (ROSCTR).
    pub enum Rosctr {
        /// Request from a client (0x01).
        Job = 0x01,
        /// Acknowledgement without data (0x02).
        Ack = 0x02,
        /// Acknowledgement with data (0x03).
        AckData = 0x03,
        /// Userdata (0x07): SZL, clock, blocks, security.
        Userdata = 0x07,
    }
}

enum_with_unknown! {
    /// The function of a Job and of its Ack_Data: the first parameter byte.
    pub enum Function {
        /// The first parameter byte of every userdata PDU (its function is in the userdata
        /// parameter head, [`crate::wire::userdata::Function`]).
        CpuServices = 0x00,
        /// Read Var.
        ReadVar = 0x04,
        /// Write Var.
        WriteVar = 0x05,
        /// Request download (client to CPU).
        RequestDownload = 0x1A,
        /// Download block (CPU to client, during a download).
        DownloadBlock = 0x1B,
        /// Download ended (CPU to client, at the end of a download).
        DownloadEnded = 0x1C,
        /// Start upload.
        StartUpload = 0x1D,
        /// Upload (one part of the block).
        Upload = 0x1E,
        /// End upload.
        EndUpload = 0x1F,
        /// PI service: start, compress, copy RAM to ROM, insert or delete blocks.
        PiService = 0x28,
        /// PLC stop.
        PlcStop = 0x29,
        /// Setup Communication.
        Setup = 0xF0,
    }
}

/// A checked view of one complete S7 PDU.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

/// Reads the PDU reference of something that looks like an S7 header, without validating
/// the rest, so even a rejected PDU can be answered with its own reference.
#[inline]
pub fn peek_pdu_ref(pdu: &[u8]) -> Option<u16> {
    (pdu.len() >= 6).then(|| be16(pdu, field::PDU_REF))
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Checks protocol id and that header + parameter + data lengths equal the PDU length.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < 10 {
            return Err(Error::Truncated);
        }
        if b[field::PROTOCOL_ID] != PROTOCOL_ID {
            return Err(Error::BadProtocolId(b[field::PROTOCOL_ID]));
        }
        let hl = header_len(Rosctr::from(b[field::ROSCTR]));
        let declared = hl + be16(b, field::PARAM_LEN) as usize + be16(b, field::DATA_LEN) as usize;
        if b.len() < hl || declared != b.len() {
            return Err(Error::LengthMismatch {
                declared: declared.min(u16::MAX as usize) as u16,
                actual: b.len().min(u16::MAX as usize) as u16,
            });
        }
        Ok(Header { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The function: the first parameter byte (`Unknown(0)` for a PDU without parameter).
    #[inline(always)]
    pub fn function(&self) -> Function {
        self.params()
            .first()
            .map_or(Function::Unknown(0), |b| Function::from(*b))
    }

    /// PDU type.
    #[inline(always)]
    pub fn rosctr(&self) -> Rosctr {
        Rosctr::from(self.b()[field::ROSCTR])
    }

    /// PDU reference chosen by the requester (echoed in the answer).
    #[inline]
    pub fn pdu_ref(&self) -> u16 {
        be16(self.b(), field::PDU_REF)
    }

    /// Parameter part.
    #[inline(always)]
    pub fn params(&self) -> &[u8] {
        let hl = header_len(self.rosctr());
        &self.b()[hl..hl + be16(self.b(), field::PARAM_LEN) as usize]
    }

    /// Data part.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        let hl = header_len(self.rosctr());
        &self.b()[hl + be16(self.b(), field::PARAM_LEN) as usize..]
    }

    /// Ack/Ack_Data: header error; `NONE` for other PDU types.
    pub fn error(&self) -> HeaderError {
        match header_len(self.rosctr()) {
            12 => HeaderError(be16(self.b(), field::ERROR)),
            _ => HeaderError::NONE,
        }
    }
}

/// Writes an S7 header. `error` is written only for Ack/Ack_Data. Returns the header length.
pub fn emit_header(
    buf: &mut [u8],
    rosctr: Rosctr,
    pdu_ref: u16,
    param_len: usize,
    data_len: usize,
    error: HeaderError,
) -> Option<usize> {
    let hl = header_len(rosctr);
    if buf.len() < hl || param_len > u16::MAX as usize || data_len > u16::MAX as usize {
        return None;
    }
    buf[field::PROTOCOL_ID] = PROTOCOL_ID;
    buf[field::ROSCTR] = rosctr.into();
    buf[2] = 0;
    buf[3] = 0;
    put_be16(buf, field::PDU_REF, pdu_ref);
    put_be16(buf, field::PARAM_LEN, param_len as u16);
    put_be16(buf, field::DATA_LEN, data_len as u16);
    if hl == 12 {
        put_be16(buf, field::ERROR, error.0);
    }
    Some(hl)
}

/// Writes a header-only Ack (ROSCTR 02, no parameter, no data) carrying `error`: the answer
/// to a job the server rejects as a whole (golden frame 93 has this shape).
pub fn emit_error_ack(buf: &mut [u8], pdu_ref: u16, error: HeaderError) -> Option<usize> {
    emit_header(buf, Rosctr::Ack, pdu_ref, 0, 0, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    // golden snap7_client_full_session frame 8 (setup communication job), TPKT/COTP stripped
    //  32 Job rsvd-- ref--- plen-- dlen-- | F0 00 amq1-- amq2-- pdu---
    const SETUP_JOB: [u8; 18] = [
        0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0xF0, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x01, 0xE0,
    ];

    #[test]
    fn deconstructs_setup_job() {
        let h = Header::new_checked(&SETUP_JOB[..]).unwrap();
        assert_eq!(h.rosctr(), Rosctr::Job);
        assert_eq!(h.pdu_ref(), 0);
        assert_eq!(h.params(), &SETUP_JOB[10..]);
        assert_eq!(h.data(), &[] as &[u8]);
    }

    #[test]
    fn rejects_bad_protocol_id() {
        let mut b = SETUP_JOB;
        b[0] = 0x72;
        assert_eq!(
            Header::new_checked(&b[..]).err(),
            Some(Error::BadProtocolId(0x72))
        );
    }

    #[test]
    fn rejects_lengths_that_disagree() {
        let mut b = SETUP_JOB;
        b[7] = 9;
        assert_eq!(
            Header::new_checked(&b[..]).err(),
            Some(Error::LengthMismatch {
                declared: 19,
                actual: 18
            })
        );
    }

    #[test]
    fn emits_error_ack_like_section_11_7() {
        let mut b = [0xa5u8; 12];
        assert_eq!(
            emit_error_ack(&mut b, 0x1234, HeaderError::NOT_IMPLEMENTED),
            Some(12)
        );
        assert_eq!(b, [0x32, 0x02, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0x81, 0x04]);
    }
}
