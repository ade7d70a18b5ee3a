//! A small blocking S7 client for benches, tests and scripts.
//!
//! It speaks the same subset real HMIs use: COTP connect, Setup Communication, Read Var and
//! Write Var of one item (split to fit the negotiated PDU), and raw PDUs for anything else.
//! The request path reuses one buffer, so steady-state requests do not allocate.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::wire::s7::{self, Function, Rosctr};
use crate::wire::var::{self, Area, DataTransport, Item, ReturnCode, TransportSize};
use crate::wire::{cotp, setup, tpkt, HeaderError, S7Header};

/// What went wrong with a request.
#[derive(Debug)]
pub enum ClientError {
    /// Socket error or timeout.
    Io(io::Error),
    /// The server answered with an S7 header error.
    Header(HeaderError),
    /// The server answered the item with a return code other than success.
    Item(ReturnCode),
    /// The answer did not make sense.
    Protocol(&'static str),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "I/O: {e}"),
            ClientError::Header(e) => write!(f, "S7 header error {e}"),
            ClientError::Item(c) => write!(f, "item return code {:#04x}", u8::from(*c)),
            ClientError::Protocol(s) => write!(f, "protocol: {s}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    pdu_len: u16,
    pdu_ref: u16,
    buf: Vec<u8>,
}

const MAX_FRAME: usize = 65_540;

impl Client {
    /// Connects as a PG to `rack`/`slot`, negotiates a PDU of up to `pdu_len` bytes.
    pub fn connect(
        addr: SocketAddr,
        rack: u8,
        slot: u8,
        pdu_len: u16,
    ) -> Result<Client, ClientError> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut c = Client {
            stream,
            pdu_len: 0,
            pdu_ref: 0,
            buf: vec![0; MAX_FRAME],
        };
        let called = [0x01, (rack << 5) | (slot & 0x1F)];
        let cr = [
            0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A,
            0xC1, 0x02, 0x01, 0x00, 0xC2, 0x02, called[0], called[1],
        ];
        c.stream.write_all(&cr)?;
        let n = c.read_tpkt()?;
        let cc = cotp::Packet::new_checked(&c.buf[tpkt::HEADER_LEN..n])
            .map_err(|_| ClientError::Protocol("bad CC"))?;
        if cc.code() != cotp::TpduCode::ConnectConfirm {
            return Err(ClientError::Protocol("no connection confirm"));
        }
        let mut p = [0u8; 8];
        setup::Repr {
            amq_calling: 1,
            amq_called: 1,
            pdu_len,
        }
        .emit(&mut p);
        let (params, _) = c.request(Rosctr::Job, &p, &[])?;
        let granted =
            setup::Repr::parse(params).map_err(|_| ClientError::Protocol("bad setup answer"))?;
        c.pdu_len = granted.pdu_len;
        Ok(c)
    }

    /// The negotiated PDU length.
    pub fn pdu_len(&self) -> u16 {
        self.pdu_len
    }

    fn read_tpkt(&mut self) -> Result<usize, ClientError> {
        self.stream.read_exact(&mut self.buf[..4])?;
        let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
        if self.buf[0] != 3 || len < 7 {
            return Err(ClientError::Protocol("bad TPKT"));
        }
        self.stream.read_exact(&mut self.buf[4..len])?;
        Ok(len)
    }

    /// Sends one S7 PDU made of `params` and `data`; returns the answer's parameter and data
    /// parts. Header errors become [`ClientError::Header`].
    pub fn request(
        &mut self,
        rosctr: Rosctr,
        params: &[u8],
        data: &[u8],
    ) -> Result<(&[u8], &[u8]), ClientError> {
        self.pdu_ref = self.pdu_ref.wrapping_add(1);
        let hl = s7::header_len(rosctr);
        let total = 7 + hl + params.len() + data.len();
        if total > MAX_FRAME {
            return Err(ClientError::Protocol("request too large"));
        }
        tpkt::emit_header(&mut self.buf, total);
        cotp::emit_dt_header(&mut self.buf[4..], true);
        s7::emit_header(
            &mut self.buf[7..],
            rosctr,
            self.pdu_ref,
            params.len(),
            data.len(),
            HeaderError::NONE,
        );
        self.buf[7 + hl..7 + hl + params.len()].copy_from_slice(params);
        self.buf[7 + hl + params.len()..total].copy_from_slice(data);
        self.stream.write_all(&self.buf[..total])?;
        let n = self.read_tpkt()?;
        if n < 7 || self.buf[5] != 0xF0 || self.buf[6] & 0x80 == 0 {
            return Err(ClientError::Protocol("expected one DT with EOT"));
        }
        let h = S7Header::new_checked(&self.buf[7..n])
            .map_err(|_| ClientError::Protocol("bad S7 header"))?;
        if h.pdu_ref() != self.pdu_ref {
            return Err(ClientError::Protocol("PDU reference not echoed"));
        }
        if h.error() != HeaderError::NONE {
            return Err(ClientError::Header(h.error()));
        }
        let plen = h.params().len();
        let hl = s7::header_len(Rosctr::from(self.buf[8]));
        let start = 7 + hl;
        Ok((&self.buf[start..start + plen], &self.buf[start + plen..n]))
    }

    /// Reads `out.len()` bytes from `area` (DB `db`) starting at byte `start`, in as many
    /// requests as the PDU needs.
    pub fn read(
        &mut self,
        area: Area,
        db: u16,
        start: u32,
        out: &mut [u8],
    ) -> Result<(), ClientError> {
        let chunk = self.pdu_len as usize - 18;
        let mut done = 0;
        while done < out.len() {
            let n = chunk.min(out.len() - done);
            let p = one_item(Function::ReadVar, area, db, start + done as u32, n);
            let (_, data) = self.request(Rosctr::Job, &p, &[])?;
            if data.len() < 4 {
                return Err(ClientError::Protocol("short read answer"));
            }
            if data[0] != 0xFF {
                return Err(ClientError::Item(ReturnCode::from(data[0])));
            }
            if data.len() < 4 + n {
                return Err(ClientError::Protocol("read answer shorter than asked"));
            }
            out[done..done + n].copy_from_slice(&data[4..4 + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` to `area` (DB `db`) at byte `start`, in as many requests as needed.
    pub fn write(
        &mut self,
        area: Area,
        db: u16,
        start: u32,
        data: &[u8],
    ) -> Result<(), ClientError> {
        let chunk = self.pdu_len as usize - 28;
        let mut done = 0;
        let mut d = vec![0u8; 4 + chunk];
        while done < data.len() {
            let n = chunk.min(data.len() - done);
            let p = one_item(Function::WriteVar, area, db, start + done as u32, n);
            var::emit_data_header(
                &mut d,
                ReturnCode::Unknown(0),
                DataTransport::ByteWordDword,
                n * 8,
            );
            d[4..4 + n].copy_from_slice(&data[done..done + n]);
            let (_, ans) = self.request(Rosctr::Job, &p, &d[..4 + n])?;
            match ans.first() {
                Some(0xFF) => {}
                Some(c) => return Err(ClientError::Item(ReturnCode::from(*c))),
                None => return Err(ClientError::Protocol("empty write answer")),
            }
            done += n;
        }
        Ok(())
    }
}

/// The parameter of a Read/Write Var of one item: `n` bytes of `area` (DB `db`) at byte
/// `start`.
fn one_item(function: Function, area: Area, db: u16, start: u32, n: usize) -> [u8; 14] {
    let item = Item {
        syntax_id: var::SYNTAX_S7ANY,
        transport: TransportSize::Byte,
        count: n as u16,
        db,
        area,
        bit_addr: start << 3,
    };
    let mut p = [0u8; 14];
    p[0] = function.into();
    p[1] = 1;
    item.emit(&mut p[2..]);
    p
}
