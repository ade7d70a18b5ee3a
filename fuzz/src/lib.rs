//! The fuzz targets' bodies, shared by the libFuzzer targets (`fuzz_targets/`, nightly
//! `cargo fuzz`) and the stable-toolchain runner (`src/bin/s7fuzz.rs`, run by
//! `scripts/test.sh`). Each takes arbitrary bytes and panics when a property fails.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::Duration;

use s7rt::config::Config;
use s7rt::events::{CloseReason, NoEvents};
use s7rt::plc::{Cpu, CpuSpec, Image, ImageSpec, Mono, Now};
use s7rt::session::{Limits, Session};
use s7rt::wire::{cotp, setup, userdata, var, CotpPacket, S7Header, TpktPacket};

/// A fuzz target: arbitrary bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: [(&str, Target); 3] = [
    ("wire_parse", wire_parse),
    ("session_stream", session_stream),
    ("session_full", session_full),
];

/// TPKT → COTP → S7 → items: no input panics any checked view or parser.
pub fn wire_parse(data: &[u8]) {
    let _ = s7rt::wire::tpkt::frame(data, 65_535);
    let Ok(tpkt) = TpktPacket::new_checked(data) else {
        return;
    };
    let Ok(cotp) = CotpPacket::new_checked(tpkt.payload()) else {
        return;
    };
    for p in cotp.params() {
        let _ = p;
    }
    if cotp.code() != cotp::TpduCode::Data {
        return;
    }
    let Ok(h) = S7Header::new_checked(cotp.payload()) else {
        return;
    };
    let _ = setup::Repr::parse(h.params());
    let _ = userdata::Params::parse(h.params());
    if let Ok(req) = var::Request::parse(h.params()) {
        for item in req.items() {
            let _ = item;
        }
    }
    for d in var::DataItems::new(h.data()) {
        let _ = d;
    }
}

const CONNECT: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02,
    0x01, 0x00, 0xC2, 0x02, 0x01, 0x01,
];
const SETUP_240: [u8; 25] = [
    0x03, 0x00, 0x00, 0x19, 0x02, 0xF0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xF0,
];

/// One connection's server side as the event loop drives it, over the default configuration's
/// image and CPU (downloads and deletes allowed, so those paths run too).
struct Server {
    session: Session,
    image: Image,
    cpu: Cpu,
    limits: Limits,
    now: Mono,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Every reply byte, in order.
    out: Vec<u8>,
    closed: Option<CloseReason>,
}

impl Server {
    fn new(max_pdu: u16) -> Server {
        // Built once: loading the personality is far slower than a whole fuzz input.
        static SPECS: OnceLock<(ImageSpec, CpuSpec)> = OnceLock::new();
        let (image_spec, cpu_spec) = SPECS.get_or_init(|| {
            let mut cfg = Config::default();
            cfg.cpu.allow_download = true;
            cfg.cpu.allow_delete = true;
            (cfg.image_spec(), cfg.cpu_spec().expect("default config"))
        });
        let limits = Limits {
            max_pdu,
            max_amq: 8,
            idle_timeout: Duration::from_secs(60),
        };
        let now = Mono::now();
        Server {
            session: Session::new(limits, 0, now),
            image: Image::new(image_spec),
            cpu: Cpu::new(cpu_spec, 1_795_431_487_000),
            limits,
            now,
            rx: Vec::new(),
            tx: vec![0; 2 * limits.max_reply_len()],
            out: Vec::new(),
            closed: None,
        }
    }

    /// Buffers `chunk` and answers while complete frames are buffered; checks every reply.
    fn feed(&mut self, chunk: &[u8]) {
        if self.closed.is_some() {
            return;
        }
        self.rx.extend_from_slice(chunk);
        loop {
            let now = Now {
                mono: self.now,
                wall_ns: 1_795_431_487_000 * 1_000_000,
            };
            let step = self.session.handle_rx(
                now,
                &self.rx,
                &mut self.image,
                &mut self.cpu,
                &mut self.tx,
                &mut NoEvents,
            );
            assert!(step.consumed <= self.rx.len(), "consumed past the input");
            assert!(step.reply_len <= self.tx.len());
            let reply = &self.tx[..step.reply_len];
            check_reply(reply, self.limits.max_pdu);
            self.out.extend_from_slice(reply);
            self.rx.drain(..step.consumed);
            if let Some(reason) = step.close {
                self.closed = Some(reason);
                return;
            }
            if step.consumed == 0 {
                return;
            }
        }
    }
}

/// A reply is whole TPKTs with valid COTP, and its S7 PDU (the DT payloads together) is no
/// larger than `max_pdu`.
fn check_reply(mut r: &[u8], max_pdu: u16) {
    let mut pdu = 0;
    while !r.is_empty() {
        assert!(r.len() >= 4, "reply ends in a partial TPKT header");
        let len = u16::from_be_bytes([r[2], r[3]]) as usize;
        assert!(len <= r.len(), "reply TPKT longer than the reply");
        let tpkt = TpktPacket::new_checked(&r[..len]).expect("reply TPKT");
        let cotp = CotpPacket::new_checked(tpkt.payload()).expect("reply COTP");
        if cotp.code() == cotp::TpduCode::Data {
            pdu += cotp.payload().len();
        }
        r = &r[len..];
    }
    assert!(
        pdu <= max_pdu as usize,
        "answer of {pdu} bytes > PDU {max_pdu}"
    );
}

/// The first byte, plus one, is the chunk size; the rest is fed, cut into chunks of that size,
/// into a session already connected with a 240-byte PDU. Nothing panics and no answer exceeds
/// the PDU.
pub fn session_stream(data: &[u8]) {
    let (cut, body) = match data.split_first() {
        Some((c, b)) => (*c as usize + 1, b),
        None => (1, &[][..]),
    };
    let mut s = Server::new(240);
    s.feed(&CONNECT);
    s.feed(&SETUP_240);
    assert!(s.closed.is_none(), "connect failed");
    for chunk in body.chunks(cut) {
        s.feed(chunk);
    }
}

/// A whole client stream from its first byte (COTP connect included) into a fresh session
/// with a 480-byte PDU cap: fed at once, and fed in chunks whose sizes come from the first
/// byte (0: one byte at a time). Besides the checks of every reply, both feedings must give
/// the same answers and end the same way: how the bytes arrive never changes the meaning.
pub fn session_full(data: &[u8]) {
    let (seed, stream) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => return,
    };
    let mut whole = Server::new(480);
    whole.feed(stream);

    let mut chunked = Server::new(480);
    let mut rng = u32::from(seed) | 0x100;
    let mut rest = stream;
    while !rest.is_empty() {
        // Sizes 1..=64, from a xorshift sequence seeded by the first byte.
        let n = if seed == 0 {
            1
        } else {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            (rng % 64) as usize + 1
        };
        let (head, tail) = rest.split_at(n.min(rest.len()));
        chunked.feed(head);
        rest = tail;
    }
    assert_eq!(
        whole.closed, chunked.closed,
        "chunking changed how it ended"
    );
    assert!(
        whole.out == chunked.out,
        "chunking changed the answers ({} vs {} bytes)",
        whole.out.len(),
        chunked.out.len()
    );
    if whole.closed.is_none() {
        assert_eq!(
            whole.rx, chunked.rx,
            "chunking changed what is left buffered"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed corpus input passes every property (the regression part of fuzzing).
    #[test]
    fn corpus_inputs_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let mut n = 0;
            for e in std::fs::read_dir(&dir).unwrap() {
                target(&std::fs::read(e.unwrap().path()).unwrap());
                n += 1;
            }
            assert!(n > 0, "empty corpus {}", dir.display());
        }
    }
}
