//! A hostile plant network against the real server over 127.0.0.1 (and ::1): silent sockets
//! holding slots, one address taking all of them, clients the `[[access]]` rules refuse or
//! limit, and TPKTs longer than any the server takes; and what the daemon logs about them.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage};
use s7rt::access::{DbRange, RuleConfig};
use s7rt::client::{Client, ClientError};
use s7rt::wire::var::{Area, ReturnCode};
use s7rt::wire::HeaderError;
use support::*;

/// A TCP connection to `to` from source address `from` (any 127.x.y.z is local on Linux).
fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let family = match from {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd: OwnedFd =
        socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();
    socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrStorage::from(SocketAddr::new(from, 0)),
    )
    .unwrap();
    socket::connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrStorage::from(to),
    )
    .unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Waits until the server closes `s` (EOF or reset); returns how long that took.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    s.set_read_timeout(Some(limit)).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return t0.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return t0.elapsed(),
            Err(e) => panic!("not closed within {limit:?}: {e}"),
        }
    }
}

fn ud(pdu_ref: u16, params: &[u8], data: &[u8]) -> Vec<u8> {
    let mut j = job(pdu_ref, params, data);
    j[8] = 0x07;
    j
}

#[test]
fn silent_sockets_holding_every_slot_do_not_lock_a_real_client_out() {
    let mut server = start(|c| {
        c.max_connections = 4;
        c.handshake_timeout_ms = 5000;
    });
    let addr = server.local_addr();
    // Four sockets that never send a byte, opened one after another.
    let mut silent: Vec<TcpStream> = (0..4)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // A newcomer gets a slot at once (well inside the 5 s deadline): the oldest silent
    // socket made room.
    let t0 = Instant::now();
    let mut c = Client::connect(addr, 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[1, 2]).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    closed_within(&mut silent[0], Duration::from_secs(2));
    // An established session is never evicted: with c and three silent sockets, three more
    // newcomers each evict a silent one, and c keeps working.
    let others: Vec<Client> = (0..3)
        .map(|_| Client::connect(addr, 0, 1, 480).unwrap())
        .collect();
    let mut out = [0u8; 2];
    c.read(Area::DataBlock, 1, 0, &mut out).unwrap();
    assert_eq!(out, [1, 2]);
    // Now every slot holds a session: the next one is refused at once.
    let mut refused = TcpStream::connect(addr).unwrap();
    closed_within(&mut refused, Duration::from_secs(2));
    drop((c, others, silent));
    let t = server.shutdown().unwrap().telemetry;
    assert_eq!(t.counters.evicted, 4);
    assert_eq!(t.counters.refused, 1);
}

#[test]
fn a_connection_that_does_not_finish_its_handshake_in_time_is_closed_and_counted() {
    let mut server = start(|c| c.handshake_timeout_ms = 300);
    let addr = server.local_addr();
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).unwrap();
    // COTP connected but never sets up communication: still a handshake.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(&cr(0x0A, [0x01, 0x01])).unwrap();
    let mut cc = [0u8; 22];
    half.read_exact(&mut cc).unwrap();
    let mut full = TcpStream::connect(addr).unwrap();
    handshake(&mut full);
    for s in [&mut silent, &mut half] {
        closed_within(s, Duration::from_secs(5));
        let took = opened.elapsed();
        assert!(took >= Duration::from_millis(300), "closed early: {took:?}");
    }
    // The established session outlives the deadline.
    std::thread::sleep(Duration::from_millis(400));
    full.write_all(&job(7, &read_params(&[item(0x02, 2, 1, 0x84, 0, 0)]), &[]))
        .unwrap();
    let ans = read_tpkt(&mut full).unwrap();
    assert_eq!(&ans[11..13], &[0, 7]);
    drop(full);
    let t = server.shutdown().unwrap().telemetry;
    assert_eq!(t.counters.handshake_timeouts, 2);
}

#[test]
fn one_address_holds_at_most_max_connections_per_ip() {
    let mut server = start(|c| c.max_connections_per_ip = 2);
    let addr = server.local_addr();
    let a = IpAddr::from([127, 0, 0, 1]);
    let _x = connect_from(a, addr);
    let _y = connect_from(a, addr);
    std::thread::sleep(Duration::from_millis(50));
    let mut third = connect_from(a, addr);
    closed_within(&mut third, Duration::from_secs(2));
    // Another address is not affected.
    let mut other = connect_from(IpAddr::from([127, 0, 0, 2]), addr);
    handshake(&mut other);
    let t = server.shutdown().unwrap().telemetry;
    assert_eq!((t.counters.refused, t.counters.refused_per_ip), (1, 1));
}

#[test]
fn addresses_no_rule_permits_are_refused_at_accept() {
    let mut server = start(|c| {
        let mut deny = RuleConfig::for_networks(&["127.0.0.3"]);
        deny.connect = false;
        c.access = vec![deny, RuleConfig::for_networks(&["127.0.0.0/30"])];
    });
    let addr = server.local_addr();
    let mut ok = connect_from(IpAddr::from([127, 0, 0, 2]), addr);
    handshake(&mut ok);
    for refused in [[127, 0, 0, 3], [127, 0, 0, 9]] {
        let mut s = connect_from(IpAddr::from(refused), addr);
        let _ = s.write_all(&cr(0x0A, [0x01, 0x01]));
        let took = closed_within(&mut s, Duration::from_secs(2));
        assert!(took < Duration::from_secs(1), "refused at once, {took:?}");
    }
    let t = server.shutdown().unwrap().telemetry;
    assert_eq!((t.counters.refused, t.counters.refused_access), (2, 2));
    assert_eq!(t.counters.accepted, 1);
}

#[test]
fn ipv6_clients_are_matched_by_ipv6_networks() {
    let listen: SocketAddr = "[::1]:0".parse().unwrap();
    if std::net::TcpListener::bind(listen).is_err() {
        panic!("this test needs IPv6 on lo (::1)");
    }
    let mut server = start(|c| {
        c.listen = listen;
        c.access = vec![RuleConfig::for_networks(&["::1/128"])];
    });
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    c.write(Area::DataBlock, 1, 0, &[6]).unwrap();
    drop(c);
    let mut other = start(|c| {
        c.listen = listen;
        c.access = vec![RuleConfig::for_networks(&["fd00::/8", "127.0.0.1"])];
    });
    let mut s = TcpStream::connect(other.local_addr()).unwrap();
    closed_within(&mut s, Duration::from_secs(2));
    assert_eq!(server.shutdown().unwrap().telemetry.counters.refused, 0);
    assert_eq!(
        other.shutdown().unwrap().telemetry.counters.refused_access,
        1
    );
}

#[test]
fn a_read_only_rule_refuses_writes_control_clock_and_download_like_a_protected_cpu() {
    let server = start(|c| {
        let mut viewer = RuleConfig::for_networks(&["127.0.0.2"]);
        viewer.read_only = true;
        viewer.control = false;
        viewer.clock_set = false;
        viewer.download = false;
        c.access = vec![viewer, RuleConfig::for_networks(&["127.0.0.1"])];
        c.cpu.allow_download = true;
    });
    let addr = server.local_addr();
    let mut engineer = Client::connect(addr, 0, 1, 480).unwrap();
    engineer.write(Area::DataBlock, 1, 0, &[0x42]).unwrap();
    let mut v = connect_from(IpAddr::from([127, 0, 0, 2]), addr);
    handshake(&mut v);
    // Write: item 0x03; read: fine.
    let write = job(
        1,
        &write_params(&[item(0x02, 1, 1, 0x84, 0, 0)]),
        &write_data(&[(0x04, 8, &[9])]),
    );
    v.write_all(&write).unwrap();
    assert_eq!(
        read_tpkt(&mut v).unwrap(),
        hex("03000016 02f080 32030000 0001 0002 0001 0000 0501 03")
    );
    v.write_all(&job(2, &read_params(&[item(0x02, 1, 1, 0x84, 0, 0)]), &[]))
        .unwrap();
    let ans = read_tpkt(&mut v).unwrap();
    assert_eq!((ans[21], ans[25]), (0xFF, 0x42));
    // PLC stop and hot start (PI): 0xD241, what a password-protected CPU answers.
    for (r, params) in [
        (3, "29000000000009505f50524f4752414d"),
        (4, "28000000000000fd000009505f50524f4752414d"),
    ] {
        v.write_all(&job(r, &hex(params), &[])).unwrap();
        let ans = read_tpkt(&mut v).unwrap();
        assert_eq!(&ans[17..19], &[0xD2, 0x41], "job {params}");
    }
    // Request download of DB1: 0xD241 as well.
    let mut download = hex("1a 00 0100 00000000 09");
    download.extend_from_slice(b"_0A00001P\x0d1001116001024");
    v.write_all(&job(5, &download, &[])).unwrap();
    let ans = read_tpkt(&mut v).unwrap();
    assert_eq!(&ans[17..19], &[0xD2, 0x41]);
    // Set clock (userdata): 0xD0A1 in the answer's parameter.
    let set = ud(
        6,
        &hex("0001120411470200"),
        &hex("ff09000a 0019 2402291337420001"),
    );
    v.write_all(&set).unwrap();
    let ans = read_tpkt(&mut v).unwrap();
    assert_eq!(&ans[17 + 10..17 + 12], &[0xD0, 0xA1]);
    // The engineering station (another rule) still may do everything.
    engineer.write(Area::DataBlock, 1, 0, &[0x43]).unwrap();
}

#[test]
fn put_get_off_answers_read_and_write_var_with_8104_like_an_s7_1500() {
    let server = start(|c| {
        let mut r = RuleConfig::for_networks(&["0.0.0.0/0"]);
        r.put_get = false;
        c.access = vec![r];
    });
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    handshake(&mut s);
    // What s7.net users report from an S7-1200/1500 with PUT/GET off: a bare Ack,
    // `32 02 0000 <ref> 0000 0000 8104` (S7NetPlus/s7netplus issues #403, #549).
    s.write_all(&job(
        0x11,
        &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]),
        &[],
    ))
    .unwrap();
    assert_eq!(
        read_tpkt(&mut s).unwrap(),
        hex("03000013 02f080 32020000 0011 0000 0000 8104")
    );
    let write = job(
        0x12,
        &write_params(&[item(0x02, 1, 1, 0x84, 0, 0)]),
        &write_data(&[(0x04, 8, &[9])]),
    );
    s.write_all(&write).unwrap();
    assert_eq!(
        read_tpkt(&mut s).unwrap(),
        hex("03000013 02f080 32020000 0012 0000 0000 8104")
    );
    // SZL (identification) still answers, as on the CPU.
    let mut d = vec![0xFF, 0x09, 0x00, 0x04];
    d.extend_from_slice(&[0x00, 0x11, 0x00, 0x00]);
    s.write_all(&ud(0x13, &hex("0001120411440100"), &d))
        .unwrap();
    let ans = read_tpkt(&mut s).unwrap();
    assert_eq!(&ans[17 + 10..17 + 12], &[0, 0]);
}

#[test]
fn areas_and_dbs_of_a_rule_limit_each_item_with_0x03() {
    let server = start(|c| {
        let mut r = RuleConfig::for_networks(&["127.0.0.1"]);
        r.areas = Some(vec!["DB".into(), "I".into()]);
        r.dbs = Some(vec![DbRange::One(1), DbRange::Text("3-3".into())]);
        c.access = vec![r];
    });
    let mut c = Client::connect(server.local_addr(), 0, 1, 480).unwrap();
    let mut out = [0u8; 2];
    c.write(Area::DataBlock, 1, 0, &[1, 2]).unwrap();
    c.write(Area::DataBlock, 3, 0, &[3, 4]).unwrap();
    c.read(Area::Inputs, 0, 0, &mut out).unwrap();
    for (area, db) in [(Area::DataBlock, 2), (Area::Flags, 0), (Area::Outputs, 0)] {
        match c.read(area, db, 0, &mut out) {
            Err(ClientError::Item(ReturnCode::AccessDenied)) => {}
            other => panic!("read {area:?} {db}: {other:?}"),
        }
        match c.write(area, db, 0, &[0]) {
            Err(ClientError::Item(ReturnCode::AccessDenied)) => {}
            other => panic!("write {area:?} {db}: {other:?}"),
        }
    }
    // Mixed items in one request: each answered on its own.
    let (_, data) = c
        .request(
            s7rt::wire::s7::Rosctr::Job,
            &read_params(&[
                item(0x02, 2, 1, 0x84, 0, 0),
                item(0x02, 2, 2, 0x84, 0, 0),
                item(0x02, 2, 3, 0x84, 0, 0),
            ]),
            &[],
        )
        .unwrap();
    assert_eq!(data, &hex("ff040010 0102 03000000 ff040010 0304")[..]);
    // Uploading a DB outside the rule is refused like a protected CPU.
    let upload = hex("1d0000000000000009 5f3041303030303241"); // start upload of DB2
    match c.request(s7rt::wire::s7::Rosctr::Job, &upload, &[]) {
        Err(ClientError::Header(HeaderError::PROTECTED)) => {}
        other => panic!("upload DB2: {other:?}"),
    }
}

#[test]
fn a_tpkt_longer_than_any_accepted_is_answered_8500_and_the_connection_kept() {
    let mut server = start(|_| {});
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    handshake(&mut s);
    let mut big = job(0x0BAD, &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]), &[]);
    big.resize(20_000, 0x5A);
    big[2..4].copy_from_slice(&20_000u16.to_be_bytes());
    for part in big.chunks(1500) {
        s.write_all(part).unwrap();
    }
    assert_eq!(
        read_tpkt(&mut s).unwrap(),
        hex("03000013 02f080 32020000 0bad 0000 0000 8500")
    );
    s.write_all(&job(
        0x0BAE,
        &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]),
        &[],
    ))
    .unwrap();
    let ans = read_tpkt(&mut s).unwrap();
    assert_eq!((&ans[11..13], ans[21]), (&[0x0B, 0xAE][..], 0xFF));
    // A broken TPKT header still closes (the stream cannot be resynchronised).
    s.write_all(&[0x03, 0x00, 0x00, 0x03]).unwrap();
    closed_within(&mut s, Duration::from_secs(2));
    let t = server.shutdown().unwrap().telemetry;
    assert_eq!(t.counters.closed, 1);
}

#[test]
fn the_daemon_logs_refusals_and_handshake_timeouts_with_address_and_reason() {
    let dir = std::env::temp_dir().join(format!("s7rt-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("s7rtd.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nhandshake_timeout_ms = 200\nmax_connections_per_ip = 1\n\
         [rt]\nenabled = false\n[[access]]\nnetworks = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(support::daemon::BIN)
        .arg("--config")
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = support::daemon::listening_addr(&mut child);
    let mut stranger = connect_from(IpAddr::from([127, 0, 0, 2]), addr);
    closed_within(&mut stranger, Duration::from_secs(2));
    let mut silent = connect_from(IpAddr::from([127, 0, 0, 1]), addr);
    let mut second = connect_from(IpAddr::from([127, 0, 0, 1]), addr);
    closed_within(&mut second, Duration::from_secs(2));
    closed_within(&mut silent, Duration::from_secs(5));
    let ports = [&stranger, &second, &silent].map(|s| s.local_addr().unwrap().port());
    support::daemon::sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for want in [
        format!(
            "refused 127.0.0.2:{}: no [[access]] rule lets this address connect",
            ports[0]
        ),
        format!(
            "refused 127.0.0.1:{}: this address holds max_connections_per_ip connections",
            ports[1]
        ),
        format!("connected from 127.0.0.1:{}", ports[2]),
        "closed: handshake timeout (no COTP connect and Setup Communication in time)".into(),
    ] {
        assert!(err.contains(&want), "log lacks {want:?}:\n{err}");
    }
}
