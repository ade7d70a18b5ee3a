//! Block transfer parameters, jobs `1A`–`1F` (docs/protocol.md §9): upload (client reads a
//! block) and download (client writes one; the CPU sends the `1B`/`1C` jobs).
//!
//! ```text
//! 1D start upload   1D 00 00 00 00 00 00 00 09 <file name>
//!    answer         1D 00 00 00 00 00 00 <id> 07 <load length, 7 ASCII digits>
//! 1E upload         1E 00 00 00 00 00 00 <id>    answer 1E <more> + data <n> 00 FB <n bytes>
//! 1F end upload     1F 00 <error> 00 00 00 <id>  answer 1F
//! 1A request dl     1A 00 .. 09 <file name> 0D 01 <load length, 6> <MC7 length, 6>
//! 1B/1C (CPU job)   1B 00 <error> 00 00 00 00 09 <file name>
//!    1B answer      1B <more> + data <n> 00 FB <n bytes>
//! ```

use super::block::{self, FILE_NAME_LEN};
use super::s7::Function;

/// Length of the start-upload answer parameter.
pub const START_UPLOAD_ANSWER_LEN: usize = 16;
/// Length of the head of an upload answer: parameter `1E <more>` and data head
/// `<n (2)> 00 FB`.
pub const UPLOAD_HEAD_LEN: usize = 6;
/// Length of the `1B` / `1C` job parameter the CPU sends.
pub const JOB_PARAM_LEN: usize = 18;

/// The block a start-upload parameter names: (sub-block type, number).
pub fn parse_start_upload(params: &[u8]) -> Option<(u8, u16)> {
    block::parse_file_name(params.get(9..)?)
}

/// The upload id of an upload or end-upload parameter (Snap7's client keeps only its last
/// byte, so s7rt's ids are 1..=255 there).
pub fn parse_upload_id(params: &[u8]) -> Option<u8> {
    params.get(7).copied()
}

/// Writes the start-upload answer parameter: upload `id` and the block's load-memory length.
pub fn emit_start_upload_answer(buf: &mut [u8], id: u8, load_len: usize) -> Option<usize> {
    let p = buf.get_mut(..START_UPLOAD_ANSWER_LEN)?;
    p.fill(0);
    p[0] = Function::StartUpload.into();
    p[7] = id;
    p[8] = 7;
    block::emit_ascii_decimal(&mut p[9..16], load_len);
    Some(START_UPLOAD_ANSWER_LEN)
}

/// Writes the head of an upload answer for `n` block bytes: parameter `1E <more>` and the
/// data head `<n> 00 FB`. The parameter is 2 bytes, the data `4 + n`.
pub fn emit_upload_head(buf: &mut [u8], more: bool, n: usize) -> Option<usize> {
    let h = buf.get_mut(..UPLOAD_HEAD_LEN)?;
    h[0] = Function::Upload.into();
    h[1] = u8::from(more);
    h[2..4].copy_from_slice(&u16::try_from(n).ok()?.to_be_bytes());
    h[4..6].copy_from_slice(&[0x00, 0xFB]);
    Some(UPLOAD_HEAD_LEN)
}

/// A request-download parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestDownload {
    /// Sub-block type (from the file name).
    pub sub_type: u8,
    /// Block number.
    pub number: u16,
    /// Load-memory length (the bytes the client will send).
    pub load_len: usize,
    /// MC7 length (for a DB: its size).
    pub mc7_len: usize,
}

impl RequestDownload {
    /// Parses `1A <status> <6 bytes> 09 <file name> 0D <unknown> <load length (6 ASCII)>
    /// <MC7 length (6 ASCII)>` (Snap7 `TReqStartDownloadParams`).
    pub fn parse(params: &[u8]) -> Option<RequestDownload> {
        let name = params
            .get(9..9 + FILE_NAME_LEN)
            .filter(|_| params.get(8) == Some(&(FILE_NAME_LEN as u8)))?;
        let (sub_type, number) = block::parse_file_name(name)?;
        let part2 = params.get(19..32).filter(|_| params.get(18) == Some(&13))?;
        Some(RequestDownload {
            sub_type,
            number,
            load_len: block::parse_ascii_decimal(&part2[1..7])?,
            mc7_len: block::parse_ascii_decimal(&part2[7..13])?,
        })
    }
}

/// Writes the parameter of a job the CPU sends during a download: `function` is
/// [`Function::DownloadBlock`] or [`Function::DownloadEnded`] (which carries `error`).
pub fn emit_download_job(
    buf: &mut [u8],
    function: Function,
    error: u16,
    sub: u8,
    number: u16,
) -> Option<usize> {
    let p = buf.get_mut(..JOB_PARAM_LEN)?;
    p.fill(0);
    p[0] = function.into();
    p[2..4].copy_from_slice(&error.to_be_bytes());
    p[8] = FILE_NAME_LEN as u8;
    block::emit_file_name(&mut p[9..], sub, number, b'P')?;
    Some(JOB_PARAM_LEN)
}

/// The part of a block a client's answer to download block `1B` carries: whether more
/// follow, and the bytes; `None` when the answer is not a well-formed `1B` answer.
pub fn parse_download_part<'a>(params: &[u8], data: &'a [u8]) -> Option<(bool, &'a [u8])> {
    match (params, data) {
        ([function, status, ..], [h, l, 0x00, 0xFB, rest @ ..])
            if Function::from(*function) == Function::DownloadBlock
                && usize::from(u16::from_be_bytes([*h, *l])) == rest.len() =>
        {
            Some((status & 0x01 != 0, rest))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_upload_of_golden_frame_92_names_db1() {
        let p = b"\x1d\x00\x00\x00\x00\x00\x00\x00\x09_0A00001A";
        assert_eq!(parse_start_upload(p), Some((0x0A, 1)));
    }

    #[test]
    fn start_upload_answer_carries_id_and_load_length() {
        let mut b = [0xAA; 16];
        emit_start_upload_answer(&mut b, 7, 1116).unwrap();
        assert_eq!(&b[..9], &[0x1D, 0, 0, 0, 0, 0, 0, 7, 7]);
        assert_eq!(&b[9..], b"0001116");
    }

    #[test]
    fn download_job_names_the_block() {
        let mut b = [0xAA; 18];
        emit_download_job(&mut b, Function::DownloadEnded, 0x8003, 0x0A, 2).unwrap();
        assert_eq!(&b[..9], &[0x1C, 0, 0x80, 0x03, 0, 0, 0, 0, 9]);
        assert_eq!(&b[9..], b"_0A00002P");
    }

    #[test]
    fn parses_snap7s_request_download_for_db2() {
        // 1A st unk-- unk-------- 09 _ 0 A 0 0 0 0 2 P  0D '1' 002140      002048
        let p = b"\x1a\x00\x01\x00\x00\x00\x00\x00\x09_0A00002P\x0d1002140002048";
        assert_eq!(
            RequestDownload::parse(p),
            Some(RequestDownload {
                sub_type: 0x0A,
                number: 2,
                load_len: 2140,
                mc7_len: 2048,
            })
        );
        assert_eq!(RequestDownload::parse(&p[..31]), None);
        assert_eq!(
            RequestDownload::parse(
                b"\x1a\x00\x01\x00\x00\x00\x00\x00\x09X0A00002P\x0d1002140002048"
            ),
            None
        );
    }
}
