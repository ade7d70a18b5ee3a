//! The soak's three kinds of traffic: the read/write clients, connection churn and the
//! malformed slice.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use s7rt::client::{Client, ClientError};
use s7rt::wire::s7::Rosctr;
use s7rt::wire::var::Area;

use crate::{add, add_n, Shared, REGION};

/// Requests `Client::read` makes for `len` bytes (a PDU carries `pdu - 18` of them).
pub(crate) fn read_requests(c: &Client, len: usize) -> u64 {
    len.div_ceil(c.pdu_len() as usize - 18) as u64
}

/// Requests `Client::write` makes for `len` bytes (a PDU carries `pdu - 28` of them).
pub(crate) fn write_requests(c: &Client, len: usize) -> u64 {
    len.div_ceil(c.pdu_len() as usize - 28) as u64
}

/// xorshift64*: reproducible per client, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// One of the 16 clients: its own 512 bytes of DB1, random reads and writes, a shadow copy
/// of what the server acknowledged, a reconnect every 20..300 requests.
pub(crate) fn worker(sh: &Shared, id: usize) -> Vec<u8> {
    let base = id * REGION;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1));
    let mut shadow = vec![0u8; REGION];
    let mut buf = vec![0u8; REGION];
    // The region starts as the server's (zeros); written before being trusted anyway.
    let mut first = true;
    while Instant::now() < sh.deadline {
        let Some(mut c) = sh.connect() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if first {
            match c.write(Area::DataBlock, 1, base as u32, &shadow) {
                Ok(()) => add_n(&sh.counts.writes, write_requests(&c, REGION)),
                Err(e) => sh.fail(format!("client {id}: first write: {e}")),
            }
            first = false;
        }
        let ops = rng.range(20, 300);
        for _ in 0..ops {
            if Instant::now() >= sh.deadline {
                break;
            }
            let off = rng.range(0, REGION - 1);
            if rng.next() % 2 == 0 {
                let len = rng.range(1, (REGION - off).min(200));
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                match c.write(Area::DataBlock, 1, (base + off) as u32, &data) {
                    Ok(()) => {
                        add(&sh.counts.writes);
                        shadow[off..off + len].copy_from_slice(&data);
                    }
                    Err(e) => {
                        // Unacknowledged: the write may or may not have happened; the
                        // region cannot be trusted any more, so the soak fails.
                        sh.fail(format!("client {id}: write: {e}"));
                        return shadow;
                    }
                }
            } else {
                let len = rng.range(1, (REGION - off).min(400));
                match c.read(Area::DataBlock, 1, (base + off) as u32, &mut buf[..len]) {
                    Ok(()) => {
                        add(&sh.counts.reads);
                        if buf[..len] != shadow[off..off + len] {
                            add(&sh.counts.mismatches);
                            sh.fail(format!(
                                "client {id}: read-back differs at DB1.{}",
                                base + off
                            ));
                        }
                    }
                    Err(e) => {
                        sh.fail(format!("client {id}: read: {e}"));
                        break;
                    }
                }
            }
        }
    }
    shadow
}

/// Connection churn: full handshakes dropped at once, and bare TCP connections.
pub(crate) fn churn(sh: &Shared) {
    let mut n = 0u64;
    while Instant::now() < sh.deadline {
        if n % 2 == 0 {
            drop(sh.connect());
        } else if TcpStream::connect(sh.addr).is_ok() {
            add(&sh.counts.connects);
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads until the server closes (true) or `limit` passes (false).
fn closed_by_server(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

const CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02,
    0x01, 0x00, 0xC2, 0x02, 0x01, 0x01,
];

/// The malformed slice: broken framing (must close only that connection), requests the
/// server must refuse with an S7 error and keep serving.
pub(crate) fn malformed(sh: &Shared) {
    let mut rng = Rng(0xDEAD_BEEF);
    let mut case = 0u64;
    while Instant::now() < sh.deadline {
        case += 1;
        match case % 5 {
            // Garbage that is not TPKT (first byte not 3): framing error, closed.
            0 | 1 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let mut junk: Vec<u8> = (0..rng.range(4, 64)).map(|_| rng.next() as u8).collect();
                junk[0] = 0x04 + (junk[0] % 0xF0);
                let _ = s.write_all(&junk);
                add(&sh.counts.malformed);
                if closed_by_server(&mut s, Duration::from_secs(5)) {
                    add(&sh.counts.malformed_closed);
                } else {
                    sh.fail("garbage: connection not closed".into());
                }
            }
            // COTP data before the connection request: closed.
            2 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let dt = [0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80];
                let _ = s.write_all(&dt);
                add(&sh.counts.malformed);
                if closed_by_server(&mut s, Duration::from_secs(5)) {
                    add(&sh.counts.malformed_closed);
                } else {
                    sh.fail("DT before CR: connection not closed".into());
                }
            }
            // A COTP request then silence: we give up first (half-open handshake).
            3 => {
                let Ok(mut s) = TcpStream::connect(sh.addr) else {
                    continue;
                };
                add(&sh.counts.connects);
                let _ = s.write_all(&CR[..rng.range(1, CR.len() - 1)]);
                add(&sh.counts.malformed);
                std::thread::sleep(Duration::from_millis(20));
            }
            // Well-framed but wrong S7: unknown function (header error) and a read past the
            // end of DB1 (item error); the connection stays usable.
            _ => {
                let Some(mut c) = sh.connect() else {
                    continue;
                };
                add(&sh.counts.malformed);
                match c.request(Rosctr::Job, &[0x99, 0x00], &[]) {
                    Err(ClientError::Header(_)) => add(&sh.counts.header_errors),
                    other => sh.fail(format!("unknown function: {:?}", other.map(|_| ()))),
                }
                add(&sh.counts.malformed);
                let mut b = [0u8; 4];
                match c.read(Area::DataBlock, 1, 65_000, &mut b) {
                    Err(ClientError::Item(_)) => add(&sh.counts.reads),
                    other => sh.fail(format!("read past the end: {other:?}")),
                }
                let mut b = [0u8; 1];
                match c.read(Area::DataBlock, 1, 0, &mut b) {
                    Ok(()) => add(&sh.counts.reads),
                    Err(e) => sh.fail(format!("read after refused requests: {e}")),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
