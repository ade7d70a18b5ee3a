//! Unit tests of the event loop over real loopback sockets.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use super::*;
use crate::plc::{DbSpec, Image, ImageSpec};
use crate::settings::Limits;
use crate::wire::s7::{self, Rosctr};
use crate::wire::var::{self, Area, Item, TransportSize};
use crate::wire::{cotp, setup, tpkt, HeaderError};

/// One TPKT/DT frame holding a Job PDU.
fn job(pdu_ref: u16, params: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 7 + 10 + params.len()];
    let total = f.len();
    tpkt::emit_header(&mut f, total).unwrap();
    cotp::emit_dt_header(&mut f[4..], true).unwrap();
    s7::emit_header(
        &mut f[7..],
        Rosctr::Job,
        pdu_ref,
        params.len(),
        0,
        HeaderError::NONE,
    )
    .unwrap();
    f[17..].copy_from_slice(params);
    f
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
    let mut f = head.to_vec();
    f.resize(len, 0);
    s.read_exact(&mut f[4..]).unwrap();
    f
}

#[test]
fn requests_left_in_rx_when_tx_fills_are_answered_without_more_input() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let image = Image::new(&ImageSpec {
        dbs: vec![DbSpec {
            number: 1,
            size: 4096,
            read_only: false,
        }],
        inputs: 16,
        outputs: 16,
        flags: 16,
        timers: 1,
        counters: 1,
    });
    let control = Arc::new(Control::default());
    let cfg = LoopConfig {
        max_connections: 2,
        limits: Limits {
            max_pdu: 960,
            max_amq: 8,
            idle_timeout: Duration::from_secs(30),
        },
        cycle: Duration::from_millis(1),
        busy_poll: false,
        cycle_timer: CycleTimer::Epoll,
        rx_timestamps: false,
        handshake_timeout: Duration::from_secs(5),
        max_connections_per_ip: 8,
    };
    let mut el = EventLoop::new(
        listener.into(),
        image,
        Cpu::for_tests(0),
        EventQueue::new(64),
        control.clone(),
        cfg,
    )
    .unwrap();
    let rt = std::thread::spawn(move || el.run().unwrap());

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cr = [
        0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xC0, 0x01, 0x0A, 0xC1,
        0x02, 0x01, 0x00, 0xC2, 0x02, 0x01, 0x01,
    ];
    s.write_all(&cr).unwrap();
    assert_eq!(read_frame(&mut s)[5], 0xD0, "connection confirm");
    let mut p = [0u8; 8];
    setup::Repr {
        amq_calling: 8,
        amq_called: 8,
        pdu_len: 960,
    }
    .emit(&mut p)
    .unwrap();
    s.write_all(&job(1, &p)).unwrap();
    read_frame(&mut s);

    // Four 900-byte reads in one write: TX holds two such answers, so the loop must come
    // back for the other two after flushing, although no further byte arrives.
    let mut batch = Vec::new();
    for r in 0..4u16 {
        let mut p = [0u8; 14];
        p[0] = s7::Function::ReadVar.into();
        p[1] = 1;
        Item {
            syntax_id: var::SYNTAX_S7ANY,
            transport: TransportSize::Byte,
            count: 900,
            db: 1,
            area: Area::DataBlock,
            bit_addr: u32::from(r) * 8,
        }
        .emit(&mut p[2..])
        .unwrap();
        batch.extend_from_slice(&job(10 + r, &p));
    }
    s.write_all(&batch).unwrap();
    let refs: Vec<u16> = (0..4)
        .map(|_| {
            let f = read_frame(&mut s);
            u16::from_be_bytes([f[11], f[12]])
        })
        .collect();
    assert_eq!(refs, [10, 11, 12, 13]);

    control.stop.store(true, Ordering::Relaxed);
    rt.join().unwrap();
}
