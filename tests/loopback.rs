//! The real event loop over 127.0.0.1: back-pressure with partial writes, the connection
//! limit, one broken connection not disturbing another, idle timeouts.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::config::CycleTimer;
use s7rt::server::Server;
use s7rt::wire::var::Area;
use support::*;

fn raw_connect(server: &Server) -> TcpStream {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    handshake(&mut s);
    s
}

#[test]
fn client_that_does_not_read_gets_every_answer_once_it_does() {
    let mut server = start(|_| {});
    let s = raw_connect(&server);
    const N: u16 = 6000; // 6000 answers of 230 bytes: far more than the socket buffers hold
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        for r in 0..N {
            writer
                .write_all(&job(
                    r,
                    &read_params(&[item(0x02, 200, 2, 0x84, 0, 0)]),
                    &[],
                ))
                .unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut s = s;
    for r in 0..N {
        let rep = read_tpkt(&mut s).unwrap_or_else(|e| panic!("answer {r}: {e}"));
        assert_eq!(
            u16::from_be_bytes([rep[11], rep[12]]),
            r,
            "answers in order, none lost"
        );
        assert_eq!(rep.len(), 7 + 12 + 2 + 4 + 200);
    }
    t.join().unwrap();
    drop(s);
    assert!(server.shutdown().unwrap().telemetry.counters.replies >= u64::from(N));
}

#[test]
fn connection_beyond_the_limit_is_closed_at_once_and_counted() {
    let mut server = start(|c| c.max_connections = 2);
    let _a = raw_connect(&server);
    let _b = raw_connect(&server);
    let mut c = TcpStream::connect(server.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(&cr(0x0A, [0x01, 0x01]));
    let mut buf = [0u8; 22];
    let t0 = Instant::now();
    match c.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("refused connection got {n} bytes"),
    }
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "closed at once, not after a timeout"
    );
    let stopped = server.shutdown().unwrap();
    assert_eq!(stopped.telemetry.counters.refused, 1);
    assert_eq!(stopped.telemetry.counters.accepted, 2);
}

#[test]
fn broken_framing_closes_only_that_connection() {
    let server = start(|_| {});
    let mut good = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let mut bad = raw_connect(&server);
    bad.write_all(&[0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0])
        .unwrap(); // TPKT version 4
    let mut b = [0u8; 1];
    assert_eq!(bad.read(&mut b).unwrap(), 0, "broken connection closed");
    good.write(Area::DataBlock, 1, 0, &[1, 2, 3]).unwrap();
    let mut out = [0u8; 3];
    good.read(Area::DataBlock, 1, 0, &mut out).unwrap();
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn idle_connection_is_closed_after_the_timeout() {
    let server = start(|c| c.idle_timeout_ms = 300);
    let mut s = raw_connect(&server);
    let t0 = Instant::now();
    let mut b = [0u8; 1];
    assert_eq!(s.read(&mut b).unwrap(), 0);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn writes_from_concurrent_clients_are_all_kept() {
    let server = start(|_| {});
    let addr = server.local_addr();
    let threads: Vec<_> = (0..8u8)
        .map(|k| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr, 0, 1, 480).unwrap();
                for round in 0..50u8 {
                    let data = [k, round, k ^ round, 0xA5];
                    c.write(
                        Area::DataBlock,
                        2,
                        u32::from(k) * 64 + u32::from(round % 16) * 4,
                        &data,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Client::connect(addr, 0, 1, 480).unwrap();
    let mut all = [0u8; 512];
    c.read(Area::DataBlock, 2, 0, &mut all).unwrap();
    for k in 0..8u8 {
        for slot in 0..16u8 {
            let round = if 48 + slot < 50 { 48 + slot } else { 32 + slot }; // last round that wrote it
            let at = usize::from(k) * 64 + usize::from(slot) * 4;
            assert_eq!(
                &all[at..at + 4],
                &[k, round, k ^ round, 0xA5],
                "client {k} slot {slot}"
            );
        }
    }
}

#[test]
fn both_cycle_timers_serve_and_tick_on_schedule_under_load() {
    // The default ("auto") picks one of them per platform: test each one explicitly.
    for timer in [CycleTimer::Epoll, CycleTimer::Timerfd] {
        ticks_on_schedule_under_load(timer);
    }
}

fn ticks_on_schedule_under_load(timer: CycleTimer) {
    let mut server = start(|c| c.rt.cycle_timer = timer);
    assert_eq!(server.cycle_timer.timer, timer);
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[9, 8, 7]).unwrap();
    let mut out = [0u8; 3];
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(300) {
        c.read(Area::DataBlock, 1, 0, &mut out).unwrap();
        assert_eq!(out, [9, 8, 7]);
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = server.shutdown().unwrap().telemetry;
    // Requests wake the loop between ticks; the ticks still come from the timer and are
    // measured against its own schedule, so a timer wake-up is never "early" (0 ns). (How
    // many ticks and overruns there are depends on the machine's load: not asserted.)
    assert!(
        t.wakeup_ns.len() >= 5,
        "{timer:?}: only {} timer-only wake-ups",
        t.wakeup_ns.len()
    );
    assert!(
        t.wakeup_ns.value_at_quantile(0.5) > 0,
        "{timer:?}: wake-ups measured against a drifted deadline"
    );
}

#[test]
fn idle_timeout_works_with_both_cycle_timers() {
    for timer in [CycleTimer::Epoll, CycleTimer::Timerfd] {
        let server = start(|c| {
            c.idle_timeout_ms = 300;
            c.rt.cycle_timer = timer;
        });
        let mut s = raw_connect(&server);
        let mut b = [0u8; 1];
        assert_eq!(
            s.read(&mut b).unwrap(),
            0,
            "{timer:?}: closed by the idle timeout"
        );
    }
}

#[test]
fn service_time_is_also_measured_from_the_kernels_receive_timestamp() {
    let mut server = start(|c| c.telemetry.rx_timestamps = true);
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let mut out = [0u8; 4];
    for _ in 0..200 {
        c.read(Area::DataBlock, 1, 0, &mut out).unwrap();
    }
    drop(c);
    let t = server.shutdown().unwrap().telemetry;
    // (Nearly) every answered batch had a timestamp (loopback stamps in software), and the
    // time from the kernel's receipt is not shorter than the time from the loop's wake-up.
    assert!(
        t.rx_service_ns.len() >= 180,
        "{} of {}",
        t.rx_service_ns.len(),
        t.service_ns.len()
    );
    assert!(t.rx_service_ns.value_at_quantile(0.5) >= t.service_ns.value_at_quantile(0.5));
}

#[test]
fn without_rx_timestamps_only_the_wake_up_service_time_is_recorded() {
    let mut server = start(|c| c.telemetry.rx_timestamps = false);
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let mut out = [0u8; 4];
    c.read(Area::DataBlock, 1, 0, &mut out).unwrap();
    drop(c);
    let t = server.shutdown().unwrap().telemetry;
    assert!(!t.service_ns.is_empty());
    assert!(t.rx_service_ns.is_empty());
}
