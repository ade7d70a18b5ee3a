//! Shared test helpers: golden vector files, the golden process image, frame builders and a
//! harness that drives one `Session` with bytes, as the event loop does.
#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::Duration;

pub mod daemon;

use s7rt::events::{CloseReason, Event, EventSink};
use s7rt::plc::{Cpu, CpuSpec, DbSpec, Image, ImageSpec, Memory, Now};
use s7rt::session::{Limits, Session};
use s7rt::wire::var::Area;

/// One record of a `tests/vectors/*.hex` file.
#[derive(Debug, Clone)]
pub struct Record {
    pub frame: u32,
    pub stream: u32,
    pub from_client: bool,
    pub bytes: Vec<u8>,
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn load_vectors(name: &str) -> Vec<Record> {
    let path = format!("{}/tests/vectors/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut head: Option<(u32, u32, bool)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# frame ") {
            let mut it = rest.split_whitespace();
            let frame = it.next().unwrap().parse().unwrap();
            let stream = it.next().unwrap().trim_start_matches('t').parse().unwrap();
            let from_client = it.next().unwrap() == "client";
            head = Some((frame, stream, from_client));
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else if let Some((frame, stream, from_client)) = head.take() {
            out.push(Record {
                frame,
                stream,
                from_client,
                bytes: hex(line),
            });
        }
    }
    out
}

/// Splits a byte run into its TPKT records (panics on broken framing: vectors are trusted).
pub fn split_tpkts(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        out.push(&b[..len]);
        b = &b[len..];
    }
    out
}

/// The image Snap7's server held when the golden captures were made (tests/vectors/README.md).
pub fn golden_image() -> Image {
    let spec = ImageSpec {
        dbs: vec![
            DbSpec {
                number: 1,
                size: 1024,
                read_only: false,
            },
            DbSpec {
                number: 2,
                size: 2048,
                read_only: false,
            },
            DbSpec {
                number: 3,
                size: 256,
                read_only: false,
            },
        ],
        inputs: 256,
        outputs: 256,
        flags: 256,
        timers: 64,
        counters: 64,
    };
    let mut img = Image::new(&spec);
    let fill = |img: &mut Image, area: Area, db: u16, f: &dyn Fn(usize) -> u8| {
        for (i, b) in img.area_mut(area, db).unwrap().iter_mut().enumerate() {
            *b = f(i);
        }
    };
    fill(&mut img, Area::DataBlock, 1, &|i| i as u8);
    fill(&mut img, Area::DataBlock, 3, &|i| 0xFF - i as u8);
    fill(&mut img, Area::Flags, 0, &|i| (i * 3) as u8);
    fill(&mut img, Area::Inputs, 0, &|i| (i + 0x40) as u8);
    fill(&mut img, Area::Outputs, 0, &|i| (i + 0x80) as u8);
    fill(&mut img, Area::Timers, 0, &|i| i as u8);
    fill(&mut img, Area::Counters, 0, &|i| 0xFF - i as u8);
    img
}

/// A client write as (area, db, offset, bit, data).
pub type Written = (Area, u16, usize, Option<u8>, Vec<u8>);

/// Events, and client writes.
#[derive(Default)]
pub struct Events(pub Vec<Event>, pub Vec<Written>);

impl EventSink for Events {
    fn event(&mut self, e: Event) {
        self.0.push(e);
    }
    fn client_write(&mut self, w: &s7rt::events::WriteRef<'_>) {
        self.1
            .push((w.area, w.db, w.offset, w.bit, w.data.to_vec()));
    }
}

/// 2026-11-23 10:58:07.000 UTC (a Monday), the time in golden frames 51 and 61.
pub const GOLDEN_WALL_MS: i64 = 1_795_431_487_000;

/// A CPU with the S7-300 personality, no password, any slot, no quotas, no download.
pub fn test_cpu(wall_ms: i64) -> Cpu {
    Cpu::new(&CpuSpec::default(), wall_ms)
}

pub const LIMITS: Limits = Limits {
    max_pdu: 960,
    max_amq: 8,
    idle_timeout: Duration::from_secs(60),
};

/// Drives one session like the event loop: buffers input, answers while complete TPKTs are
/// buffered, collects the replies.
pub struct Harness {
    pub session: Session,
    pub image: Image,
    pub now: s7rt::plc::Mono,
    /// Wall clock handed to the session (Unix ms); tests move it by hand.
    pub wall_ms: i64,
    pub cpu: Cpu,
    pub events: Events,
    rx: Vec<u8>,
    tx: Vec<u8>,
    pub closed: Option<CloseReason>,
}

impl Harness {
    pub fn new(limits: Limits) -> Harness {
        Harness::with_image(limits, golden_image())
    }

    pub fn with_image(limits: Limits, image: Image) -> Harness {
        let now = s7rt::plc::Mono::now();
        Harness {
            session: Session::new(limits, 0, now),
            image,
            now,
            wall_ms: GOLDEN_WALL_MS,
            cpu: test_cpu(GOLDEN_WALL_MS),
            events: Events::default(),
            rx: Vec::new(),
            tx: vec![0; 2 * limits.max_reply_len()],
            closed: None,
        }
    }

    /// One `handle_rx` call over `rx` into the caller's `tx`, events discarded: the
    /// allocation-free path the no-alloc tests drive.
    pub fn step(&mut self, rx: &[u8], tx: &mut [u8]) -> s7rt::session::Step {
        let now = s7rt::plc::Now {
            mono: self.now,
            wall_ns: self.wall_ms * 1_000_000,
        };
        self.session.handle_rx(
            now,
            rx,
            &mut self.image,
            &mut self.cpu,
            tx,
            &mut s7rt::events::NoEvents,
        )
    }

    /// Feeds bytes; returns every reply byte produced.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        assert!(self.closed.is_none(), "fed a closed session");
        self.rx.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let step = self.session.handle_rx(
                Now {
                    mono: self.now,
                    wall_ns: self.wall_ms * 1_000_000,
                },
                &self.rx,
                &mut self.image,
                &mut self.cpu,
                &mut self.tx,
                &mut self.events,
            );
            out.extend_from_slice(&self.tx[..step.reply_len]);
            self.rx.drain(..step.consumed);
            if let Some(r) = step.close {
                self.closed = Some(r);
                return out;
            }
            if step.consumed == 0 {
                return out;
            }
        }
    }

    /// CR (rack 0 slot 1, TPDU 1024) + Setup Communication for `pdu`; returns the granted PDU.
    pub fn connect(&mut self, pdu: u16) -> u16 {
        let cc = self.feed(&cr(0x0A, [0x01, 0x01]));
        assert_eq!(cc.len(), 22, "CC must be 22 bytes");
        let ans = self.feed(&job(0xFFFF, &setup_params(pdu), &[]));
        assert_eq!(ans.len(), 27);
        u16::from_be_bytes([ans[25], ans[26]])
    }
}

/// A 22-byte CR as Snap7-family clients send it.
pub fn cr(tpdu_code: u8, called: [u8; 2]) -> Vec<u8> {
    vec![
        0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, tpdu_code,
        0xC1, 0x02, 0x01, 0x00, 0xC2, 0x02, called[0], called[1],
    ]
}

/// Wraps an S7 PDU into one TPKT + DT (EOT).
pub fn dt(pdu: &[u8]) -> Vec<u8> {
    let mut v = vec![0x03, 0x00, 0, 0, 0x02, 0xF0, 0x80];
    v.extend_from_slice(pdu);
    let n = v.len() as u16;
    v[2..4].copy_from_slice(&n.to_be_bytes());
    v
}

/// A Job PDU in one DT.
pub fn job(pdu_ref: u16, params: &[u8], data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x32, 0x01, 0x00, 0x00];
    p.extend_from_slice(&pdu_ref.to_be_bytes());
    p.extend_from_slice(&(params.len() as u16).to_be_bytes());
    p.extend_from_slice(&(data.len() as u16).to_be_bytes());
    p.extend_from_slice(params);
    p.extend_from_slice(data);
    dt(&p)
}

pub fn setup_params(pdu: u16) -> Vec<u8> {
    let mut p = vec![0xF0, 0x00, 0x00, 0x01, 0x00, 0x01];
    p.extend_from_slice(&pdu.to_be_bytes());
    p
}

/// A 12-byte S7-ANY item.
pub fn item(transport: u8, count: u16, db: u16, area: u8, byte: u32, bit: u32) -> Vec<u8> {
    let a = (byte << 3) | bit;
    let mut v = vec![0x12, 0x0A, 0x10, transport];
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(&db.to_be_bytes());
    v.push(area);
    v.extend_from_slice(&a.to_be_bytes()[1..]);
    v
}

pub fn read_params(items: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0x04, items.len() as u8];
    for i in items {
        p.extend_from_slice(i);
    }
    p
}

pub fn write_params(items: &[Vec<u8>]) -> Vec<u8> {
    let mut p = read_params(items);
    p[0] = 0x05;
    p
}

/// Write data items with fill bytes between odd-length items.
pub fn write_data(items: &[(u8, u16, &[u8])]) -> Vec<u8> {
    let mut d = Vec::new();
    for (i, (transport, len_field, data)) in items.iter().enumerate() {
        d.extend_from_slice(&[0x00, *transport]);
        d.extend_from_slice(&len_field.to_be_bytes());
        d.extend_from_slice(data);
        if data.len() % 2 == 1 && i + 1 < items.len() {
            d.push(0x00);
        }
    }
    d
}

/// The S7 PDU of a single-DT reply (panics if the reply is not one TPKT + DT EOT).
pub fn s7(reply: &[u8]) -> &[u8] {
    assert!(reply.len() >= 7, "reply too short: {reply:02x?}");
    assert_eq!(
        u16::from_be_bytes([reply[2], reply[3]]) as usize,
        reply.len(),
        "one TPKT expected"
    );
    assert_eq!(&reply[4..7], &[0x02, 0xF0, 0x80]);
    &reply[7..]
}

/// Header error of an Ack/Ack_Data reply.
pub fn header_error(reply: &[u8]) -> u16 {
    let p = s7(reply);
    assert!(p[1] == 0x02 || p[1] == 0x03, "not an ack: {p:02x?}");
    u16::from_be_bytes([p[10], p[11]])
}

/// Data part of an Ack_Data reply.
pub fn ack_data(reply: &[u8]) -> &[u8] {
    let p = s7(reply);
    let plen = u16::from_be_bytes([p[6], p[7]]) as usize;
    &p[12 + plen..]
}

/// Starts the real server on an ephemeral 127.0.0.1 port, without real-time measures,
/// after `edit` changed the default configuration.
pub fn start(edit: impl FnOnce(&mut s7rt::config::Config)) -> s7rt::server::Server {
    let mut cfg = s7rt::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..s7rt::config::Config::default()
    };
    cfg.rt.enabled = false;
    edit(&mut cfg);
    s7rt::server::Server::start(&cfg).unwrap()
}

/// Reads one whole TPKT from `s`.
pub fn read_tpkt(s: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut h = [0u8; 4];
    s.read_exact(&mut h)?;
    let mut v = h.to_vec();
    v.resize(u16::from_be_bytes([h[2], h[3]]) as usize, 0);
    s.read_exact(&mut v[4..])?;
    Ok(v)
}

/// COTP connect + Setup Communication (PDU 480) over a raw socket.
pub fn handshake(s: &mut std::net::TcpStream) {
    use std::io::{Read, Write};
    s.write_all(&cr(0x0A, [0x01, 0x01])).unwrap();
    let mut cc = [0u8; 22];
    s.read_exact(&mut cc).unwrap();
    s.write_all(&job(0, &setup_params(480), &[])).unwrap();
    let mut ans = [0u8; 27];
    s.read_exact(&mut ans).unwrap();
}
