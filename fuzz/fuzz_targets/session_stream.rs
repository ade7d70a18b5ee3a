//! Random bytes, chunked at random points, into one session that is already connected:
//! nothing panics and no answer exceeds the negotiated PDU.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use s7rt::events::NoEvents;
use s7rt::plc::{DbSpec, Image, ImageSpec};
use s7rt::session::{Limits, Session};

const CONNECT: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00, 0xC2,
    0x02, 0x01, 0x01,
];
const SETUP: [u8; 25] = [
    0x03, 0x00, 0x00, 0x19, 0x02, 0xF0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0xF0, 0x00,
    0x00, 0x01, 0x00, 0x01, 0x00, 0xF0,
];

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_pdu: 240, max_amq: 8, idle_timeout: Duration::from_secs(1) };
    let spec = ImageSpec {
        dbs: vec![DbSpec { number: 1, size: 64, read_only: false }, DbSpec { number: 2, size: 8, read_only: true }],
        inputs: 16,
        outputs: 16,
        flags: 16,
        timers: 4,
        counters: 4,
    };
    let mut image = Image::new(&spec);
    let now = Instant::now();
    let mut s = Session::new(limits, 0, now);
    let mut tx = vec![0u8; 2 * limits.max_reply_len()];
    let mut rx: Vec<u8> = Vec::new();
    let (cut, body) = data.split_first().map(|(c, b)| (*c as usize + 1, b)).unwrap_or((1, &[]));
    let stream: Vec<u8> = CONNECT.iter().chain(SETUP.iter()).chain(body.iter()).copied().collect();
    for chunk in stream.chunks(cut) {
        rx.extend_from_slice(chunk);
        loop {
            let step = s.handle_rx(now, &rx, &mut image, &mut tx, &mut NoEvents);
            assert!(step.reply_len <= tx.len());
            let mut r = &tx[..step.reply_len];
            while r.len() >= 4 {
                let len = u16::from_be_bytes([r[2], r[3]]) as usize;
                assert!(len >= 7 && len <= r.len());
                assert!(len - 7 <= 240, "answer larger than the PDU");
                r = &r[len..];
            }
            rx.drain(..step.consumed);
            if step.close.is_some() {
                return;
            }
            if step.consumed == 0 {
                break;
            }
        }
    }
});
