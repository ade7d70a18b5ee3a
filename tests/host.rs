//! The host API against the real server over 127.0.0.1: host writes seen by S7 reads,
//! client writes seen by the host with their data, atomic batches both ways, full queues,
//! lag, and exact errors. (python-snap7 does the same from outside: tests/interop/host.)
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s7rt::client::Client;
use s7rt::config::Config;
use s7rt::host::{ClientWrite, HostError, Notification};
use s7rt::plc::ItemError;
use s7rt::server::Server;
use s7rt::wire::s7::Rosctr;
use s7rt::wire::var::Area;
use support::*;

fn config(extra: &str) -> Config {
    let mut cfg = Config::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\n[rt]\nenabled = false\n{extra}\n[[db]]\nnumber = 1\nsize = 1024\n[[db]]\nnumber = 2\nsize = 64\n[[db]]\nnumber = 9\nsize = 16\nread_only = true\n"
    ))
    .unwrap();
    cfg.rt.enabled = false;
    cfg
}

fn client(s: &Server) -> Client {
    Client::connect(s.local_addr(), 0, 1, 480).unwrap()
}

fn next_write(n: &mut s7rt::host::Notifications) -> ClientWrite {
    match n.recv_timeout(Duration::from_secs(5)) {
        Some(Notification::Write(w)) => w,
        other => panic!("expected a client write, got {other:?}"),
    }
}

#[test]
fn host_writes_are_read_by_s7_clients_including_read_only_dbs_and_bits() {
    let mut server = Server::start(&config("")).unwrap();
    let host = server.host();
    host.write(Area::DataBlock, 1, 100, &21.5f32.to_be_bytes())
        .unwrap();
    host.write(Area::DataBlock, 9, 0, &[0xCA, 0xFE]).unwrap(); // read-only for clients
    host.write_bit(Area::Flags, 0, 3, 6, true).unwrap();
    let big: Vec<u8> = (0..300).map(|i| i as u8).collect(); // five commands of one transaction
    host.write(Area::DataBlock, 1, 500, &big).unwrap();
    host.sync().unwrap();
    let mut c = client(&server);
    let mut b = [0u8; 4];
    c.read(Area::DataBlock, 1, 100, &mut b).unwrap();
    assert_eq!(f32::from_be_bytes(b), 21.5);
    let mut b = [0u8; 2];
    c.read(Area::DataBlock, 9, 0, &mut b).unwrap();
    assert_eq!(b, [0xCA, 0xFE]);
    let mut m = [0u8; 1];
    c.read(Area::Flags, 0, 3, &mut m).unwrap();
    assert_eq!(m, [0x40]);
    let mut back = vec![0u8; 300];
    c.read(Area::DataBlock, 1, 500, &mut back).unwrap();
    assert_eq!(back, big);
    // ... and by the host itself.
    assert_eq!(host.read(Area::DataBlock, 1, 500, 300).unwrap(), big);
    assert!(host.read_bit(Area::Flags, 0, 3, 6).unwrap());
    assert!(!host.read_bit(Area::Flags, 0, 3, 5).unwrap());
    let st = host.stats();
    assert_eq!(st.rejected, 0);
    assert_eq!(st.writes_applied, 3 + 5);
    drop(c);
    server.shutdown().unwrap();
    assert_eq!(
        host.write(Area::DataBlock, 1, 0, &[1]),
        Err(HostError::Stopped)
    );
}

#[test]
fn client_writes_reach_the_host_with_their_data_bits_and_large_writes_too() {
    let mut server = Server::start(&config("")).unwrap();
    let host = server.host();
    let mut notes = host.notifications().unwrap();
    assert!(matches!(
        host.notifications(),
        Err(HostError::AlreadySubscribed)
    ));
    let mut c = client(&server);
    c.write(Area::DataBlock, 1, 8, &[1, 2, 3, 4]).unwrap();
    let w = next_write(&mut notes);
    assert_eq!(
        (w.area, w.db, w.offset, w.bit, &w.data[..]),
        (Area::DataBlock, 1, 8, None, &[1u8, 2, 3, 4][..])
    );
    // A bit write (M5.2 := 1) and a 400-byte write (seven notification slots).
    c.request(
        Rosctr::Job,
        &write_params(&[item(0x01, 1, 0, 0x83, 5, 2)]),
        &write_data(&[(0x03, 1, &[1])]),
    )
    .unwrap();
    let big: Vec<u8> = (0..400).map(|i| (i * 7) as u8).collect();
    c.write(Area::DataBlock, 1, 600, &big).unwrap();
    let bit = next_write(&mut notes);
    assert_eq!(
        (bit.area, bit.offset, bit.bit, &bit.data[..]),
        (Area::Flags, 5, Some(2), &[1u8][..])
    );
    assert_eq!(bit.seq, w.seq + 1);
    let large = next_write(&mut notes);
    assert_eq!((large.offset, large.data), (600, big));
    // A multi-item write: one notification per item, in item order.
    c.request(
        Rosctr::Job,
        &write_params(&[item(0x02, 2, 2, 0x84, 0, 0), item(0x02, 1, 1, 0x84, 3, 0)]),
        &write_data(&[(0x04, 16, &[9, 8]), (0x04, 8, &[7])]),
    )
    .unwrap();
    assert_eq!(next_write(&mut notes).data, vec![9, 8]);
    assert_eq!(next_write(&mut notes).data, vec![7]);
    assert_eq!(host.stats().notified, 5);
    // Dropping the receiver stops publishing; a new one starts with what comes after.
    drop(notes);
    c.write(Area::DataBlock, 1, 0, &[1]).unwrap();
    let mut notes = host.notifications().unwrap();
    c.write(Area::DataBlock, 1, 1, &[2]).unwrap();
    assert_eq!(next_write(&mut notes).offset, 1);
    assert_eq!(notes.try_recv(), None);
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn a_slow_host_is_told_how_many_client_writes_it_missed() {
    let mut server = Server::start(&config("[host]\nnotify_queue = 4\n")).unwrap();
    let host = server.host();
    let mut notes = host.notifications().unwrap();
    let mut c = client(&server);
    for i in 0..10u8 {
        c.write(Area::DataBlock, 1, u32::from(i), &[i]).unwrap();
    }
    // Two slots per write do not fit... one does: four writes queued, six dropped.
    let got: Vec<Notification> = std::iter::from_fn(|| notes.try_recv()).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    for (i, n) in got[..4].iter().enumerate() {
        match n {
            Notification::Write(w) => assert_eq!(w.data, vec![i as u8]),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got[4], Notification::Lagged(6));
    assert_eq!(host.stats().lagged, 6);
    c.write(Area::DataBlock, 1, 50, &[50]).unwrap();
    assert_eq!(next_write(&mut notes).offset, 50);
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn no_client_ever_sees_half_of_a_host_batch() {
    let mut server = Server::start(&config("")).unwrap();
    let host = server.host();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (host, stop) = (host.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut k = 0u8;
            let mut batches = 0u32;
            while !stop.load(Ordering::Relaxed) {
                k = k.wrapping_add(1);
                // 200 bytes of DB1 (four commands) and 10 of DB2 in one batch.
                let mut b = host.batch();
                b.write(Area::DataBlock, 1, 0, &[k; 200])
                    .unwrap()
                    .write(Area::DataBlock, 2, 0, &[k; 10])
                    .unwrap();
                match b.commit() {
                    Ok(_) => batches += 1,
                    Err(HostError::QueueFull { .. }) => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
            batches
        })
    };
    let mut c = client(&server);
    let both = read_params(&[
        item(0x02, 200, 1, 0x84, 0, 0),
        item(0x02, 10, 2, 0x84, 0, 0),
    ]);
    let mut seen = std::collections::BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        let (_, data) = c.request(Rosctr::Job, &both, &[]).unwrap();
        let a = &data[4..204];
        let b = &data[208..218];
        assert!(a.iter().all(|&x| x == a[0]), "half a batch in DB1: {a:?}");
        assert!(
            b.iter().all(|&x| x == a[0]),
            "DB2 {b:?} differs from DB1 {}",
            a[0]
        );
        seen.insert(a[0]);
    }
    stop.store(true, Ordering::Relaxed);
    let batches = writer.join().unwrap();
    assert!(
        batches > 50 && seen.len() > 10,
        "{batches} batches, {} values seen",
        seen.len()
    );
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn no_host_read_sees_half_of_a_multi_item_client_write() {
    let mut server = Server::start(&config("")).unwrap();
    let host = server.host();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.local_addr();
    let clients = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = Client::connect(addr, 0, 1, 480).unwrap();
            let mut k = 0u8;
            while !stop.load(Ordering::Relaxed) {
                k = k.wrapping_add(1);
                let p = write_params(&[
                    item(0x02, 100, 1, 0x84, 300, 0),
                    item(0x02, 20, 2, 0x84, 20, 0),
                ]);
                let d = write_data(&[(0x04, 800, &[k; 100]), (0x04, 160, &[k; 20])]);
                c.request(Rosctr::Job, &p, &d).unwrap();
            }
            k
        })
    };
    let end = Instant::now() + Duration::from_secs(2);
    let mut seen = std::collections::BTreeSet::new();
    while Instant::now() < end {
        let mut b = host.batch();
        b.read(Area::DataBlock, 1, 300, 100)
            .unwrap()
            .read(Area::DataBlock, 2, 20, 20)
            .unwrap();
        let r = b.commit().unwrap();
        assert!(r[0].iter().all(|&x| x == r[0][0]), "{:?}", r[0]);
        assert!(
            r[1].iter().all(|&x| x == r[0][0]),
            "{:?} vs {}",
            r[1],
            r[0][0]
        );
        seen.insert(r[0][0]);
    }
    stop.store(true, Ordering::Relaxed);
    clients.join().unwrap();
    assert!(seen.len() > 10, "only {} values seen", seen.len());
    server.shutdown().unwrap();
}

#[test]
fn a_full_command_queue_is_an_error_and_a_counter_never_a_wait() {
    // A long cycle and no client: the loop turns only every 500 ms, so nothing drains the
    // queue between the two writes.
    let cfg = config("[host]\ncommand_queue = 8\nmax_batch = 8\n");
    let mut cfg = cfg;
    cfg.rt.cycle_us = 500_000;
    let mut server = Server::start(&cfg).unwrap();
    let host = server.host();
    let full = |host: &s7rt::host::Host| {
        host.write(Area::DataBlock, 1, 0, &[1; 8 * 64])?;
        let t = Instant::now();
        let e = host.write(Area::DataBlock, 1, 0, &[2; 64]);
        assert!(t.elapsed() < Duration::from_millis(50), "the call waited");
        e
    };
    let mut e = full(&host);
    if e.is_ok() {
        host.sync().unwrap(); // the loop turned in between (unlikely): once more
        e = full(&host);
    }
    assert_eq!(e, Err(HostError::QueueFull { needed: 1, free: 0 }));
    assert!(host.stats().queue_full >= 1);
    assert_eq!(
        host.write(Area::DataBlock, 1, 0, &[0; 9 * 64]),
        Err(HostError::BatchTooLarge {
            commands: 9,
            max: 8
        })
    );
    host.sync().unwrap();
    assert_eq!(host.read(Area::DataBlock, 1, 0, 4).unwrap(), vec![1; 4]);
    server.shutdown().unwrap();
}

#[test]
fn bad_addresses_are_refused_before_anything_is_queued() {
    let mut server = Server::start(&config("")).unwrap();
    let host = server.host();
    assert_eq!(
        host.write(Area::DataBlock, 7, 0, &[1]),
        Err(HostError::NoSuchObject {
            area: Area::DataBlock,
            db: 7
        })
    );
    let e = host.read(Area::DataBlock, 2, 60, 8).unwrap_err();
    assert_eq!(
        e,
        HostError::OutOfRange {
            area: Area::DataBlock,
            db: 2,
            offset: 60,
            len: 8,
            size: 64
        }
    );
    assert_eq!(
        e.to_string(),
        "8 bytes at offset 60 do not fit DB2 (64 bytes)"
    );
    assert_eq!(
        host.write_bit(Area::Flags, 0, 0, 8, true),
        Err(HostError::BadBit(8))
    );
    assert!(matches!(
        host.read(Area::Peripheral, 0, 0, 1),
        Err(HostError::NoSuchObject { .. })
    ));
    assert!(matches!(
        host.write(Area::Flags, 0, 0, &[]),
        Err(HostError::OutOfRange { .. })
    ));
    assert_eq!(host.stats().transactions, 0);
    let _ = ItemError::NoSuchObject;
    server.shutdown().unwrap();
}

#[test]
fn the_handles_can_go_to_any_thread() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<s7rt::host::Host>();
    send::<s7rt::host::Notifications>();
}

#[test]
fn typed_values_by_tag_name_or_address_and_tag_names_in_notifications() {
    use s7rt::tags::Value;
    let cfg = config(
        "[[tag]]\nname = \"Line4.Speed\"\naddress = \"DB1.DBD4\"\ntype = \"REAL\"\n\
         [[tag]]\nname = \"Line4.Run\"\naddress = \"DB1.DBX8.3\"\ntype = \"BOOL\"\n\
         [[tag]]\nname = \"Line4.Name\"\naddress = \"DB1.DBB10\"\ntype = \"STRING[8]\"\n",
    );
    let mut server = Server::start(&cfg).unwrap();
    let host = server.host();
    assert_eq!(host.tags().len(), 3);
    let mut c = client(&server);
    c.write(Area::DataBlock, 1, 8, &[0x01]).unwrap(); // DBX8.0 set by the HMI
    host.write_value("Line4.Speed", &Value::Real(12.5)).unwrap();
    host.write_value("Line4.Run", &Value::Bool(true)).unwrap();
    host.write_value("MW10", &Value::Word(0x1234)).unwrap(); // a bare address, typed by width
    let real = host.resolve("DB1.DBD20", Some("REAL")).unwrap();
    host.write_tag(&real, &Value::Real(-1.5)).unwrap();
    host.sync().unwrap();
    let mut b = [0u8; 5];
    c.read(Area::DataBlock, 1, 4, &mut b).unwrap();
    assert_eq!(f32::from_be_bytes([b[0], b[1], b[2], b[3]]), 12.5);
    assert_eq!(b[4], 0x09, "only bit 3 of DBB8 changed");
    let mut m = [0u8; 2];
    c.read(Area::Flags, 0, 10, &mut m).unwrap();
    assert_eq!(m, [0x12, 0x34]);
    // An S7 STRING[8] written by the HMI (max 8, length 3) reads back as text.
    c.write(Area::DataBlock, 1, 10, &[8, 3, b'a', b'b', b'c'])
        .unwrap();
    assert_eq!(
        host.read_value("Line4.Name").unwrap(),
        Value::String("abc".into())
    );
    assert_eq!(host.read_tag(&real).unwrap(), Value::Real(-1.5));
    assert_eq!(host.read_value("Line4.Run").unwrap(), Value::Bool(true));
    // Errors name what is wrong.
    assert!(matches!(
        host.write_value("Line5.Speed", &Value::Real(1.0)),
        Err(HostError::Tag(s7rt::tags::ResolveError::UnknownTag(_)))
    ));
    assert!(matches!(
        host.write_value("Line4.Speed", &Value::Int(3)),
        Err(HostError::Value(_))
    ));
    // Client writes carry the names of the tags they touch.
    let mut notes = host.notifications().unwrap();
    c.write(Area::DataBlock, 1, 4, &[0; 6]).unwrap();
    assert_eq!(
        next_write(&mut notes).tags,
        vec!["Line4.Speed", "Line4.Run"]
    );
    drop(c);
    server.shutdown().unwrap();
}
