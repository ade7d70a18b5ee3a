//! Block download and delete over the session, bytes in and bytes out (docs/protocol.md §9):
//! refused like a protected CPU by default; when the configuration allows them, the exchange
//! Snap7's client (`opDownload`, `opDelete`) runs, with the roles reversed for `1B`/`1C`.

#![allow(clippy::unwrap_used)]

mod support;

use s7rt::events::Event;
use s7rt::plc::{Cpu, CpuSpec, Memory};
use s7rt::session::Session;
use s7rt::wire::var::Area;
use support::*;

fn cpu(allow: bool) -> Cpu {
    Cpu::new(
        &CpuSpec {
            quotas: [8; 3],
            max_connections: 8,
            allow_download: allow,
            allow_delete: allow,
            staging_len: 2048,
            ..CpuSpec::default()
        },
        GOLDEN_WALL_MS,
    )
}

fn harness(allow: bool) -> Harness {
    let mut h = Harness::new(LIMITS);
    h.cpu = cpu(allow);
    assert_eq!(h.connect(480), 480);
    h
}

/// Snap7's request download (`TReqStartDownloadParams`) for DB `db`.
fn request(db: u16, load_len: usize, mc7_len: usize) -> Vec<u8> {
    let mut p = hex("1a 00 0100 00000000 09");
    p.extend_from_slice(format!("_0A{db:05}P").as_bytes());
    p.push(0x0D);
    p.extend_from_slice(format!("1{load_len:06}{mc7_len:06}").as_bytes());
    assert_eq!(p.len(), 32);
    p
}

/// The client's Ack_Data to the CPU's `1B` job: `1B <more>` + `<n> 00 FB <bytes>`.
fn block_answer(pdu_ref: u16, more: bool, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![0x32, 0x03, 0x00, 0x00];
    p.extend_from_slice(&pdu_ref.to_be_bytes());
    p.extend_from_slice(&2u16.to_be_bytes());
    p.extend_from_slice(&(4 + bytes.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0x00, 0x00, 0x1B, u8::from(more)]);
    p.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0x00, 0xFB]);
    p.extend_from_slice(bytes);
    dt(&p)
}

/// The client's Ack_Data to the CPU's `1C` job.
fn ended_answer(pdu_ref: u16) -> Vec<u8> {
    let mut p = vec![0x32, 0x03, 0x00, 0x00];
    p.extend_from_slice(&pdu_ref.to_be_bytes());
    p.extend_from_slice(&hex("0001 0000 0000 1c"));
    dt(&p)
}

/// Snap7's PI `_INSE` / `_DELE` (`TReqControlBlockParams`) for DB `db`.
fn pi(name: &str, db: u16) -> Vec<u8> {
    let mut p = hex("28 000000000000fd 000a 01 00 30 41");
    p.extend_from_slice(format!("{db:05}").as_bytes());
    p.push(if name == "_INSE" { 0x50 } else { 0x42 });
    p.push(5);
    p.extend_from_slice(name.as_bytes());
    assert_eq!(p.len(), 26);
    p
}

/// A DB in load-memory format: header 36, MC7, interface 20, footer 36 (what upload sends).
fn block(db: u16, mc7: &[u8]) -> Vec<u8> {
    let load = 36 + mc7.len() + 20 + 36;
    let mut b = vec![0u8; load];
    b[0..6].copy_from_slice(&[0x70, 0x70, 0x01, 0x01, 0x05, 0x0A]);
    b[6..8].copy_from_slice(&db.to_be_bytes());
    b[8..12].copy_from_slice(&(load as u32).to_be_bytes());
    b[28..30].copy_from_slice(&20u16.to_be_bytes());
    b[34..36].copy_from_slice(&(mc7.len() as u16).to_be_bytes());
    b[36..36 + mc7.len()].copy_from_slice(mc7);
    b
}

/// The CPU's job frame: `1B`/`1C` with file name `_0A<db>P` and its own PDU reference.
fn cpu_job(pdu_ref: u16, function: u8, error: u16, db: u16) -> Vec<u8> {
    let mut p = vec![function, 0x00];
    p.extend_from_slice(&error.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x09]);
    p.extend_from_slice(format!("_0A{db:05}P").as_bytes());
    job(pdu_ref, &p, &[])
}

fn read_db(h: &mut Harness, db: u16, len: u16) -> Vec<u8> {
    let r = h.feed(&job(
        0x7777,
        &read_params(&[item(0x02, len, db, 0x84, 0, 0)]),
        &[],
    ));
    ack_data(&r).to_vec()
}

/// Runs request download → `1B`… → `1C` like Snap7's client, in slices of PDU − 18;
/// returns every CPU frame received after the `1A` answer, and the `1C` job's error.
fn download(h: &mut Harness, db: u16, blk: &[u8], first_ref: u16) -> u16 {
    let mc7 = u16::from_be_bytes([blk[34], blk[35]]) as usize;
    let first = h.feed(&job(0x0500, &request(db, blk.len(), mc7), &[]));
    let ack = hex("03000014 02f080 32030000 0500 0001 0000 0000 1a");
    assert_eq!(&first[..ack.len()], &ack[..], "answer to 1A");
    let mut next = first[ack.len()..].to_vec();
    let mut job_ref = first_ref;
    let slice = 480 - 12 - 2 - 4;
    let mut off = 0;
    loop {
        assert_eq!(next, cpu_job(job_ref, 0x1B, 0, db), "1B job");
        let end = (off + slice).min(blk.len());
        let more = end < blk.len();
        next = h.feed(&block_answer(job_ref, more, &blk[off..end]));
        off = end;
        job_ref += 1;
        if !more {
            break;
        }
    }
    let s = s7(&next);
    assert_eq!(&s[..10], &cpu_job(job_ref, 0x1C, 0, db)[7..17], "1C header");
    let error = u16::from_be_bytes([s[12], s[13]]);
    assert_eq!(next, cpu_job(job_ref, 0x1C, error, db));
    assert_eq!(h.feed(&ended_answer(job_ref)), Vec::<u8>::new());
    error
}

#[test]
fn default_config_refuses_download_insert_and_delete_with_d241() {
    let mut h = harness(false);
    // Snap7 client's request download for DB2, golden-frame style header-only Ack.
    let r = h.feed(&job(0x0500, &request(2, 2140, 2048), &[]));
    assert_eq!(r, hex("03000013 02f080 32020000 0500 0000 0000 d241"));
    for f in [0x1B, 0x1C] {
        let r = h.feed(&cpu_job(0x0600, f, 0, 2));
        assert_eq!(r, hex("03000013 02f080 32020000 0600 0000 0000 d241"));
    }
    for name in ["_INSE", "_DELE"] {
        let r = h.feed(&job(0x0700, &pi(name, 2), &[]));
        assert_eq!(r, hex("03000013 02f080 32020000 0700 0000 0000 d241"));
    }
    assert_eq!(read_db(&mut h, 2, 2)[..4], [0xFF, 0x04, 0x00, 0x10]);
}

#[test]
fn allowed_download_replaces_the_db_on_insert_with_exact_frames() {
    let mut h = harness(true);
    let new: Vec<u8> = (0..2048).map(|i| (i * 7 + 3) as u8).collect();
    let before = read_db(&mut h, 2, 16);
    assert_eq!(download(&mut h, 2, &block(2, &new), 1), 0x0000);
    // Received whole but not yet active: the DB still holds its old bytes.
    assert_eq!(read_db(&mut h, 2, 16), before);
    let r = h.feed(&job(0x0800, &pi("_INSE", 2), &[]));
    assert_eq!(r, hex("03000014 02f080 32030000 0800 0001 0000 0000 28"));
    assert_eq!(h.image.area(Area::DataBlock, 2).unwrap(), &new[..]);
    assert!(h.events.0.contains(&Event::Download {
        slot: 0,
        db: 2,
        len: 2048
    }));
    // The block was consumed: a second insert finds nothing to activate.
    let again = h.feed(&job(0x0801, &pi("_INSE", 2), &[]));
    assert_eq!(header_error(&again), 0xD209);
}

#[test]
fn uploaded_block_with_new_content_downloads_back() {
    let mut h = harness(true);
    let start = h.feed(&job(1, &hex("1d0000000000000009 5f3041303030303341"), &[]));
    let id = s7(&start)[12 + 7];
    let mut blk = Vec::new();
    loop {
        let ans = h.feed(&job(2, &[0x1E, 0, 0, 0, 0, 0, 0, id], &[]));
        let s = s7(&ans);
        blk.extend_from_slice(&s[18..]);
        if s[13] == 0 {
            break;
        }
    }
    h.feed(&job(3, &[0x1F, 0, 0, 0, 0, 0, 0, id], &[]));
    assert_eq!(blk.len(), 256 + 92);
    for b in &mut blk[36..36 + 256] {
        *b = !*b;
    }
    assert_eq!(download(&mut h, 3, &blk, 1), 0);
    h.feed(&job(4, &pi("_INSE", 3), &[]));
    let db3: Vec<u8> = (0..256).map(|i| i as u8).collect(); // golden DB3 is 0xFF - i
    assert_eq!(h.image.area(Area::DataBlock, 3).unwrap(), &db3[..]);
}

#[test]
fn broken_block_ends_with_8003_and_insert_finds_nothing() {
    let mut h = harness(true);
    let mut blk = block(2, &[0x55; 2048]);
    blk[7] = 9; // header names DB9
    assert_eq!(download(&mut h, 2, &blk, 1), 0x8003);
    let r = h.feed(&job(9, &pi("_INSE", 2), &[]));
    assert_eq!(r, hex("03000013 02f080 32020000 0009 0000 0000 d209"));
    assert_ne!(h.image.area(Area::DataBlock, 2).unwrap(), &[0x55; 2048][..]);
    // A last part short of the announced length fails the same way.
    let blk = block(2, &[0x66; 2048]);
    let first = h.feed(&job(0x0500, &request(2, blk.len(), 2048), &[]));
    let job_ref = u16::from_be_bytes([first[20 + 11], first[20 + 12]]);
    assert_eq!(first[20..], cpu_job(job_ref, 0x1B, 0, 2));
    let r = h.feed(&block_answer(job_ref, false, &blk[..100]));
    assert_eq!(r, cpu_job(job_ref + 1, 0x1C, 0x8003, 2));
}

#[test]
fn request_download_refusals_name_the_reason() {
    let mut h = harness(true);
    let cases = [
        (request(2, 1116, 1024), 0x8301), // DB2 is 2048 bytes: the image cannot resize
        (request(99, 1116, 1024), 0x8301), // not configured
        (request(2, 2100, 2048), 0xD202), // load length too short for header + footer
        (
            hex("1a 00 0100 00000000 09 5f3038303030303150 0d 31303030303932303030303030"),
            0xD203,
        ), // OB1
        (hex("1a 00 0100 00000000"), 0xD202),
    ];
    for (params, code) in cases {
        let r = h.feed(&job(0x10, &params, &[]));
        assert_eq!(header_error(&r), code, "{params:02x?}");
        assert_eq!(r.len(), 19);
    }
}

#[test]
fn second_connection_gets_8304_until_the_first_closes() {
    let mut h = harness(true);
    let first = h.feed(&job(1, &request(2, 2140, 2048), &[]));
    assert_eq!(first.len(), 20 + 35);
    let mut other = Session::new(LIMITS, 5, h.now);
    let mut tx = vec![0u8; 4096];
    let mut feed = |h: &mut Harness, other: &mut Session, bytes: &[u8]| {
        let st = other.handle_rx(
            s7rt::plc::Now {
                mono: h.now,
                wall_ns: h.wall_ms * 1_000_000,
            },
            bytes,
            &mut h.image,
            &mut h.cpu,
            &mut tx,
            &mut h.events,
        );
        assert_eq!(st.consumed, bytes.len());
        tx[..st.reply_len].to_vec()
    };
    feed(&mut h, &mut other, &cr(0x0A, [1, 1]));
    feed(&mut h, &mut other, &job(1, &setup_params(480), &[]));
    let r = feed(&mut h, &mut other, &job(2, &request(1, 1116, 1024), &[]));
    assert_eq!(r, hex("03000013 02f080 32020000 0002 0000 0000 8304"));
    h.session.release(&mut h.cpu); // the first connection closes mid-transfer
    let r = feed(&mut h, &mut other, &job(3, &request(1, 1116, 1024), &[]));
    assert_eq!(header_error(&r[..20]), 0x0000);
}

#[test]
fn delete_hides_the_db_until_a_download_reinserts_it() {
    let mut h = harness(true);
    let r = h.feed(&job(0x20, &pi("_DELE", 3), &[]));
    assert_eq!(r, hex("03000014 02f080 32030000 0020 0001 0000 0000 28"));
    assert_eq!(read_db(&mut h, 3, 4), [0x0A, 0x00, 0x00, 0x00]);
    assert_eq!(
        header_error(&h.feed(&job(0x21, &pi("_DELE", 3), &[]))),
        0xD209
    );
    let start = h.feed(&job(
        0x22,
        &hex("1d0000000000000009 5f3041303030303341"),
        &[],
    ));
    assert_eq!(header_error(&start), 0xD209);
    // List all blocks (golden frame 64): the DB count is 2 (DB1, DB2).
    let list_all = load_vectors("snap7_client_full_session")
        .into_iter()
        .find(|r| r.frame == 64)
        .unwrap();
    let list = h.feed(&list_all.bytes);
    let d = &s7(&list)[10 + 12..];
    assert_eq!(&d[4 + 12..4 + 16], &[0x30, 0x41, 0x00, 0x02]);
    assert!(h.events.0.contains(&Event::BlockDeleted { slot: 0, db: 3 }));
    let new = [0x42u8; 256];
    assert_eq!(download(&mut h, 3, &block(3, &new), 1), 0);
    h.feed(&job(0x23, &pi("_INSE", 3), &[]));
    assert_eq!(
        read_db(&mut h, 3, 4),
        [0xFF, 0x04, 0x00, 0x20, 0x42, 0x42, 0x42, 0x42]
    );
}

#[test]
fn protection_level_2_refuses_download_even_when_allowed() {
    let mut h = Harness::new(LIMITS);
    let spec = CpuSpec {
        password: Some("secret".into()),
        protection_level: 2,
        quotas: [8; 3],
        max_connections: 8,
        allow_download: true,
        allow_delete: true,
        staging_len: 2048,
        ..CpuSpec::default()
    };
    h.cpu = Cpu::new(&spec, GOLDEN_WALL_MS);
    h.connect(480);
    let r = h.feed(&job(1, &request(2, 2140, 2048), &[]));
    assert_eq!(header_error(&r), 0xD241);
    assert_eq!(header_error(&h.feed(&job(2, &pi("_DELE", 2), &[]))), 0xD241);
}

#[test]
fn malformed_answers_to_download_block_end_the_download_with_8003() {
    let mut h = harness(true);
    let blk = block(2, &[0x11; 2048]);
    let good = block_answer(0, true, &blk[..100]);
    let mut bad_len = good.clone();
    bad_len[7 + 14] = 0x63; // length field 99 for 100 bytes
    let mut bad_marker = good.clone();
    bad_marker[7 + 17] = 0xFC;
    let mut bad_function = good.clone();
    bad_function[7 + 12] = 0x1E;
    let mut with_error = good.clone();
    with_error[7 + 10..7 + 12].copy_from_slice(&[0x81, 0x04]);
    for answer in [bad_len, bad_marker, bad_function, with_error] {
        let first = h.feed(&job(0x0500, &request(2, blk.len(), 2048), &[]));
        let job_ref = u16::from_be_bytes([first[20 + 11], first[20 + 12]]);
        let mut answer = answer;
        answer[11..13].copy_from_slice(&job_ref.to_be_bytes());
        let r = h.feed(&answer);
        assert_eq!(r, cpu_job(job_ref + 1, 0x1C, 0x8003, 2), "{answer:02x?}");
        assert_eq!(h.feed(&ended_answer(job_ref + 1)), Vec::<u8>::new());
        assert_eq!(header_error(&h.feed(&job(9, &pi("_INSE", 2), &[]))), 0xD209);
    }
    // An Ack_Data nobody asked for is answered like any unknown PDU.
    let stray = h.feed(&block_answer(0x4242, false, &[1, 2]));
    assert_eq!(stray, hex("03000013 02f080 32020000 4242 0000 0000 8104"));
}
