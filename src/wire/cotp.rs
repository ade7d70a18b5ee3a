//! COTP (ISO 8073 class 0) TPDUs as S7 uses them: CR, CC, DT, DR, DC, ER.
//!
//! ```text
//! byte 0   LI: header length excluding LI itself (user data not counted)
//! byte 1   TPDU code (high nibble; CR/CC carry the credit in the low nibble, 0 in class 0)
//! DT       2: EOT (bit 7) | TPDU-NR                                   LI = 2
//! CR/CC    2..4 dst-ref | 4..6 src-ref | 6 class/options | 7.. params  LI = 6 + params
//!          param = code(1) len(1) value(len): C0 TPDU size, C1 calling TSAP, C2 called TSAP
//! DR       2..4 dst-ref | 4..6 src-ref | 6 reason                      LI = 6 (+ params)
//! DC       2..4 dst-ref | 4..6 src-ref                                 LI = 5
//! ER       2..4 dst-ref | 4 reject cause (+ params)                    LI ≥ 4
//! ```

use super::{be16, put_be16, Error};

/// TPDU code (high nibble of byte 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpduCode {
    /// Connection request (0xE0).
    ConnectRequest,
    /// Connection confirm (0xD0).
    ConnectConfirm,
    /// Data (0xF0).
    Data,
    /// Disconnect request (0x80).
    DisconnectRequest,
    /// Disconnect confirm (0xC0).
    DisconnectConfirm,
    /// TPDU error (0x70).
    Error,
    /// Any other code (class 0 does not use them).
    Unknown(u8),
}

impl From<u8> for TpduCode {
    fn from(b: u8) -> Self {
        match b & 0xF0 {
            0xE0 => TpduCode::ConnectRequest,
            0xD0 => TpduCode::ConnectConfirm,
            0xF0 => TpduCode::Data,
            0x80 => TpduCode::DisconnectRequest,
            0xC0 => TpduCode::DisconnectConfirm,
            0x70 => TpduCode::Error,
            other => TpduCode::Unknown(other),
        }
    }
}

/// Parameter code: TPDU size (ISO 8073 13.3.4 b).
pub const PARAM_TPDU_SIZE: u8 = 0xC0;
/// Parameter code: calling TSAP (the client's).
pub const PARAM_CALLING_TSAP: u8 = 0xC1;
/// Parameter code: called TSAP (the server's: connection type and rack/slot).
pub const PARAM_CALLED_TSAP: u8 = 0xC2;
/// DT header length including LI.
pub const DT_HEADER_LEN: usize = 3;
/// EOT flag in the DT header.
pub const EOT: u8 = 0x80;

/// Disconnect reasons (ISO 8073 13.5.3 e) a DR carries.
pub mod reason {
    /// Reason not specified.
    pub const NOT_SPECIFIED: u8 = 0x00;
    /// Congestion at the TSAP: s7rt sends it when the connection type's quota is used up.
    pub const CONGESTION_AT_TSAP: u8 = 0x01;
    /// Session entity not attached to the TSAP.
    pub const NOT_ATTACHED: u8 = 0x02;
    /// Address unknown: s7rt sends it for a wrong rack/slot or connection type.
    pub const ADDRESS_UNKNOWN: u8 = 0x03;
    /// Normal disconnect initiated by the session entity.
    pub const NORMAL: u8 = 0x80;
    /// Remote transport entity congestion at connect time.
    pub const CONGESTION: u8 = 0x81;
    /// Connection negotiation failed.
    pub const NEGOTIATION_FAILED: u8 = 0x83;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u8 = 0x85;
    /// Connection request refused on this network connection.
    pub const REFUSED: u8 = 0x88;
}

/// A checked view of one COTP TPDU (the payload of a TPKT).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that LI and the fixed part of the TPDU fit inside `buffer`.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < 2 {
            return Err(Error::Truncated);
        }
        let li = b[0];
        if li as usize + 1 > b.len() || li < 2 {
            return Err(Error::BadCotpLi(li));
        }
        let min_li = match TpduCode::from(b[1]) {
            TpduCode::Data => 2,
            TpduCode::ConnectRequest | TpduCode::ConnectConfirm | TpduCode::DisconnectRequest => 6,
            TpduCode::DisconnectConfirm => 5,
            TpduCode::Error => 4,
            TpduCode::Unknown(_) => 1,
        };
        if li < min_li {
            return Err(Error::BadCotpLi(li));
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Length indicator (header bytes after LI).
    pub fn li(&self) -> u8 {
        self.b()[0]
    }

    /// TPDU code.
    pub fn code(&self) -> TpduCode {
        TpduCode::from(self.b()[1])
    }

    /// DT: true when this is the last fragment of an S7 PDU.
    pub fn eot(&self) -> bool {
        self.b()[2] & EOT != 0
    }

    /// CR/CC/DR/DC: destination reference.
    pub fn dst_ref(&self) -> u16 {
        be16(self.b(), 2)
    }

    /// CR/CC/DR/DC: source reference.
    pub fn src_ref(&self) -> u16 {
        be16(self.b(), 4)
    }

    /// CR/CC: class and options byte.
    pub fn class(&self) -> u8 {
        self.b()[6]
    }

    /// CR/CC: the variable part, as a parameter iterator.
    pub fn params(&self) -> Params<'_> {
        let end = self.li() as usize + 1;
        Params {
            rest: &self.b()[7.min(end)..end],
        }
    }

    /// User data after the header (DT: the S7 PDU or a fragment of it).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.li() as usize + 1..]
    }
}

/// Iterator over CR/CC parameters; stops at the first parameter that overruns the header.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(u8, &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < 2 || self.rest.len() < 2 + self.rest[1] as usize {
            self.rest = &[];
            return Some(Err(Error::Malformed));
        }
        let code = self.rest[0];
        let len = self.rest[1] as usize;
        let value = &self.rest[2..2 + len];
        self.rest = &self.rest[2 + len..];
        Some(Ok((code, value)))
    }
}

/// TPDU size code (C0 value) ↔ bytes: 0x07 = 128 … 0x0D = 8192.
pub fn tpdu_size_bytes(code: u8) -> Option<usize> {
    (0x07..=0x0D).contains(&code).then(|| 1usize << code)
}

/// The largest TPDU size code whose size is ≤ `bytes` (at least 0x07 = 128).
pub fn tpdu_size_code(bytes: usize) -> u8 {
    let mut code = 0x07;
    while code < 0x0D && (1usize << (code + 1)) <= bytes {
        code += 1;
    }
    code
}

/// Fields of a connection confirm, echoing the client's request.
#[derive(Debug, Clone, Copy)]
pub struct ConnectConfirm<'a> {
    /// The client's source reference, which becomes our destination reference.
    pub dst_ref: u16,
    /// Our source reference (non-zero).
    pub src_ref: u16,
    /// The TPDU size code we confirm (≤ the offered one).
    pub tpdu_size: u8,
    /// Calling TSAP, echoed verbatim.
    pub calling_tsap: &'a [u8],
    /// Called TSAP, echoed verbatim.
    pub called_tsap: &'a [u8],
}

impl ConnectConfirm<'_> {
    /// Bytes of the CC TPDU (without TPKT).
    pub fn buffer_len(&self) -> usize {
        7 + 3 + 2 + self.calling_tsap.len() + 2 + self.called_tsap.len()
    }

    /// Writes the CC TPDU: fixed part, then C0, C1, C2 in the order Snap7-family clients send.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let n = self.buffer_len();
        if buf.len() < n || self.calling_tsap.len() > 255 || self.called_tsap.len() > 255 {
            return None;
        }
        buf[0] = (n - 1) as u8;
        buf[1] = 0xD0;
        put_be16(buf, 2, self.dst_ref);
        put_be16(buf, 4, self.src_ref);
        buf[6] = 0;
        let mut at = 7;
        buf[at..at + 3].copy_from_slice(&[PARAM_TPDU_SIZE, 1, self.tpdu_size]);
        at += 3;
        for (code, v) in [
            (PARAM_CALLING_TSAP, self.calling_tsap),
            (PARAM_CALLED_TSAP, self.called_tsap),
        ] {
            buf[at] = code;
            buf[at + 1] = v.len() as u8;
            buf[at + 2..at + 2 + v.len()].copy_from_slice(v);
            at += 2 + v.len();
        }
        Some(at)
    }
}

/// Writes a DT header (`02 F0 80|00`).
pub fn emit_dt_header(buf: &mut [u8], last: bool) -> Option<usize> {
    if buf.len() < DT_HEADER_LEN {
        return None;
    }
    buf[..3].copy_from_slice(&[0x02, 0xF0, if last { EOT } else { 0 }]);
    Some(DT_HEADER_LEN)
}

/// Writes a DR TPDU with `reason`.
pub fn emit_dr(buf: &mut [u8], dst_ref: u16, src_ref: u16, reason: u8) -> Option<usize> {
    if buf.len() < 7 {
        return None;
    }
    buf[0] = 6;
    buf[1] = 0x80;
    put_be16(buf, 2, dst_ref);
    put_be16(buf, 4, src_ref);
    buf[6] = reason;
    Some(7)
}

/// Writes a DC TPDU (answer to a DR).
pub fn emit_dc(buf: &mut [u8], dst_ref: u16, src_ref: u16) -> Option<usize> {
    if buf.len() < 6 {
        return None;
    }
    buf[0] = 5;
    buf[1] = 0xC0;
    put_be16(buf, 2, dst_ref);
    put_be16(buf, 4, src_ref);
    Some(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    // golden snap7_client_full_session frame 4, TPKT stripped
    //  LI  CR  dst--- src--- cl  C0 1 0A  C1 2 01 00  C2 2 01 01
    const CR: [u8; 18] = [
        0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00, 0xC2,
        0x02, 0x01, 0x01,
    ];

    #[test]
    fn deconstructs_connect_request() {
        let p = Packet::new_checked(&CR[..]).unwrap();
        assert_eq!(p.code(), TpduCode::ConnectRequest);
        assert_eq!(p.src_ref(), 1);
        assert_eq!(p.dst_ref(), 0);
        let params: Vec<_> = p.params().map(|r| r.unwrap()).collect();
        assert_eq!(
            params,
            vec![
                (0xC0, &[0x0A][..]),
                (0xC1, &[1, 0][..]),
                (0xC2, &[1, 1][..])
            ]
        );
    }

    #[test]
    fn rejects_li_outside_tpkt() {
        let mut b = CR;
        b[0] = 0x20;
        assert_eq!(
            Packet::new_checked(&b[..]).err(),
            Some(Error::BadCotpLi(0x20))
        );
    }

    #[test]
    fn rejects_short_li_for_connect_request() {
        let b = [0x02, 0xE0, 0x00];
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::BadCotpLi(2)));
    }

    #[test]
    fn reports_parameter_overrunning_header() {
        let b = [0x08, 0xE0, 0, 0, 0, 1, 0, 0xC1, 0x05];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.params().next(), Some(Err(Error::Malformed)));
    }

    #[test]
    fn emits_22_byte_connect_confirm_like_real_cpus() {
        // golden frame 6 without TPKT: 11 D0 00 01 00 01 00 C0 01 0A C1 02 01 00 C2 02 01 01
        let cc = ConnectConfirm {
            dst_ref: 1,
            src_ref: 1,
            tpdu_size: 0x0A,
            calling_tsap: &[1, 0],
            called_tsap: &[1, 1],
        };
        let mut b = [0xa5u8; 32];
        assert_eq!(cc.emit(&mut b), Some(18));
        assert_eq!(
            &b[..18],
            &[0x11, 0xD0, 0, 1, 0, 1, 0, 0xC0, 1, 0x0A, 0xC1, 2, 1, 0, 0xC2, 2, 1, 1]
        );
    }

    #[test]
    fn maps_tpdu_size_codes() {
        assert_eq!(tpdu_size_bytes(0x0A), Some(1024));
        assert_eq!(tpdu_size_bytes(0x06), None);
        assert_eq!(tpdu_size_code(1024), 0x0A);
        assert_eq!(tpdu_size_code(1500), 0x0A);
        assert_eq!(tpdu_size_code(10), 0x07);
        assert_eq!(tpdu_size_code(1 << 20), 0x0D);
    }
}
