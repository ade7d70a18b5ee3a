//! One client flooding the server with pipelined requests cannot starve another: the loop
//! reads each ready connection at most once per turn (a per-turn budget), and level-triggered
//! readiness brings the flooding connection back only after the others had their turn.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::server::Server;
use s7rt::wire::var::Area;
use support::*;

/// Reads every complete answer already delivered to `s` without waiting; returns the first
/// data byte (DB1.DBB0 at the time the server answered) of each, in order.
fn drain(s: &mut TcpStream, answer_len: usize, pending: &mut Vec<u8>) -> Vec<u8> {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => panic!("the server closed the flooding connection"),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("flood read: {e}"),
        }
    }
    s.set_nonblocking(false).unwrap();
    let n = pending.len() / answer_len;
    // TPKT 4 + COTP 3 + Ack_Data header 12 + parameter 2 + item header 4: data at 25.
    let values = pending.chunks_exact(answer_len).map(|a| a[25]).collect();
    pending.drain(..n * answer_len);
    values
}

#[test]
fn a_flooding_client_does_not_starve_a_measuring_one() {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    cfg.rt.enabled = false;
    let mut server = Server::start(&cfg).unwrap();

    // The flood: one connection and a writer that never waits for answers (500 pipelined
    // 4-byte reads per write, as fast as the socket takes them) until told to stop.
    let mut flood = TcpStream::connect(server.local_addr()).unwrap();
    flood
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    flood.write_all(&cr(0x0A, [0x01, 0x01])).unwrap();
    read_tpkt(&mut flood).unwrap();
    flood.write_all(&job(0, &setup_params(480), &[])).unwrap();
    read_tpkt(&mut flood).unwrap();
    let request = job(1, &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]), &[]);
    flood.write_all(&request).unwrap();
    let answer_len = read_tpkt(&mut flood).unwrap().len();
    let stop = Arc::new(AtomicBool::new(false));
    let batch: Vec<u8> = (0..500).flat_map(|_| request.clone()).collect();
    let writer =
        {
            let (mut s, stop) = (flood.try_clone().unwrap(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && s.write_all(&batch).is_ok() {}
            })
        };
    let mut m = Client::connect(server.local_addr(), 0, 1, 480).unwrap();

    // Let the flood get going, reading its answers as they come so that none wait in the
    // server's send buffer.
    let mut pending = Vec::new();
    let (mut flood_answers, t0) = (0, Instant::now());
    while flood_answers < 5000 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the flood is not answered"
        );
        flood_answers += drain(&mut flood, answer_len, &mut pending).len();
    }

    // While the flood goes on, the measuring client writes k into DB1.DBB0, the byte every
    // flood request reads; the flood answers show exactly how many flood requests the server
    // answered after the flood answers already seen and before the write (they still read
    // k - 1). One read per connection per turn takes at most 2 × 1028 bytes (the receive
    // buffer), i.e. 66 of these 31-byte requests, and the flood's read of the current turn
    // and of the next may come first. A loop that served the flooding connection until its
    // socket ran dry answers thousands first (the writer keeps the socket full). A round
    // trip is bounded by the client's 5 s timeout. The median over 20 round trips is
    // judged, so that this thread being preempted between reading the flood's answers and
    // sending its write (the server meanwhile serving the flood alone, correctly) does not
    // count against the server.
    let per_read = 2 * 1028 / request.len();
    let mut served_first = Vec::new();
    for k in 1..=20u8 {
        flood_answers += drain(&mut flood, answer_len, &mut pending).len();
        if let Err(e) = m.write(Area::DataBlock, 1, 0, &[k]) {
            panic!("round trip {k} of the measuring client starved by the flood: {e}");
        }
        // Every flood answer up to the first one that saw k was served before the write.
        let (mut before_write, t0) = (0, Instant::now());
        'seen: loop {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no flood answer saw the write within 10 s"
            );
            for v in drain(&mut flood, answer_len, &mut pending) {
                flood_answers += 1;
                if v == k {
                    break 'seen;
                }
                before_write += 1;
            }
        }
        served_first.push(before_write);
    }
    served_first.sort_unstable();
    let median = served_first[served_first.len() / 2];
    assert!(
        median <= 4 * per_read,
        "a median of {median} flood requests was answered before the measuring client's \
         (budget: {per_read} per turn; all: {served_first:?})"
    );

    stop.store(true, Ordering::Relaxed);
    let _ = flood.shutdown(Shutdown::Both);
    writer.join().unwrap();
    drop(m);
    let stopped = server.shutdown().unwrap();
    assert!(stopped.telemetry.counters.reads >= flood_answers as u64);
    assert_eq!(stopped.telemetry.counters.writes, 20);
}
