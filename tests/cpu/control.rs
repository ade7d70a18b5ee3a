//! PLC control (stop, start), protection levels and passwords, upload, block lists over
//! several answers, and connection quotas.

use super::*;

const STOP: &str = "29000000000009505f50524f4752414d";
const HOT: &str = "28000000000000fd000009505f50524f4752414d";

#[test]
fn stop_in_stop_and_start_in_run_are_refused_with_snap7s_status_bytes() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    let ans = h.feed(&job(1, &hex(HOT), &[]));
    assert_eq!(
        ans,
        hex("03000015 02f080 32030000 0001 0002 0000 8404 2803")
    );
    assert_eq!(header_error(&h.feed(&job(2, &hex(STOP), &[]))), 0);
    let ans = h.feed(&job(3, &hex(STOP), &[]));
    assert_eq!(
        ans,
        hex("03000015 02f080 32030000 0003 0002 0000 8404 2907")
    );
    // Unknown PI service: 0x8104.
    let unknown = hex("28000000000000fd0000055f58585858");
    assert_eq!(header_error(&h.feed(&job(4, &unknown, &[]))), 0x8104);
    // Compress and copy RAM to ROM succeed without changing the mode.
    for pi in [
        "28000000000000fd0000055f47415242",
        "28000000000000fd000245500 55f4d4f4455",
    ] {
        let ans = h.feed(&job(5, &hex(pi), &[]));
        assert_eq!(header_error(&ans), 0, "{pi}");
    }
    assert_eq!(h.cpu.mode(), Mode::Stop);
}

#[test]
fn stop_clears_outputs_and_reads_and_writes_of_dbs_still_work() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    h.feed(&job(1, &hex(STOP), &[]));
    let q = h.feed(&job(2, &read_params(&[item(0x02, 4, 0, 0x82, 0, 0)]), &[]));
    assert_eq!(ack_data(&q), &hex("ff040020 00000000")[..]);
    let w = h.feed(&job(
        3,
        &write_params(&[item(0x02, 2, 2, 0x84, 0, 0)]),
        &write_data(&[(0x04, 16, &[1, 2])]),
    ));
    assert_eq!(ack_data(&w), &[0xFF]);
}

fn protected_harness(level: u8) -> Harness {
    let mut h = Harness::new(LIMITS);
    h.cpu = Cpu::new(
        &CpuSpec {
            password: Some("secret".into()),
            protection_level: level,
            quotas: [8; 3],
            max_connections: 8,
            ..CpuSpec::default()
        },
        GOLDEN_WALL_MS,
    );
    h.connect(480);
    h
}

fn password(pw: &[u8; 8]) -> Vec<u8> {
    let mut d = hex("ff090008");
    d.extend_from_slice(pw);
    ud(9, &hex("0001120411450100"), &d)
}

#[test]
fn protection_level_2_refuses_writes_and_control_until_the_password_is_entered() {
    let mut h = protected_harness(2);
    let write = job(
        1,
        &write_params(&[item(0x02, 1, 2, 0x84, 0, 0)]),
        &write_data(&[(0x04, 8, &[9])]),
    );
    // Every item refused with 0x03 (access denied).
    let refused = hex("03000016 02f080 32030000 0001 0002 0001 0000 0501 03");
    assert_eq!(h.feed(&write), refused);
    assert_eq!(header_error(&h.feed(&job(2, &hex(STOP), &[]))), 0xD241);
    let read = job(3, &read_params(&[item(0x02, 1, 1, 0x84, 0, 0)]), &[]);
    assert_eq!(header_error(&h.feed(&read)), 0);
    let (s, _) = szl_stream(&mut h, 0x0232, 4);
    assert_eq!(&s[4..14], &hex("0004 0001 0002 0002 0002")[..]);
    // Wrong password ("secreT").
    let wrong = s7rt::plc::scramble("secreT");
    let (p, _) = ud_parts(&h.feed(&password(&wrong)));
    assert_eq!(&p[10..12], &[0xD6, 0x02]);
    assert_eq!(ack_data(&h.feed(&write)), &[0x03]);
    let right = s7rt::plc::scramble("secret");
    let (p, _) = ud_parts(&h.feed(&password(&right)));
    assert_eq!(&p[10..12], &[0, 0]);
    assert_eq!(ack_data(&h.feed(&write)), &[0xFF]);
    let (s, _) = szl_stream(&mut h, 0x0232, 4);
    assert_eq!(&s[4..14], &hex("0004 0001 0002 0001 0002")[..]);
    // Clear: protected again; clearing twice says there is nothing to clear.
    let clear = ud(10, &hex("0001120411450200"), &hex("0a000000"));
    let (p, _) = ud_parts(&h.feed(&clear));
    assert_eq!(&p[10..12], &[0, 0]);
    assert_eq!(ack_data(&h.feed(&write)), &[0x03]);
    let (p, _) = ud_parts(&h.feed(&clear));
    assert_eq!(&p[10..12], &[0xD6, 0x04]);
}

#[test]
fn protection_level_3_refuses_reads_and_upload_too() {
    let mut h = protected_harness(3);
    let read = job(3, &read_params(&[item(0x02, 1, 1, 0x84, 0, 0)]), &[]);
    assert_eq!(ack_data(&h.feed(&read)), &[0x03, 0, 0, 0]);
    let start = hex("1d0000000000000009 5f3041303030303141");
    assert_eq!(header_error(&h.feed(&job(4, &start, &[]))), 0xD241);
}

#[test]
fn full_upload_of_db1_returns_header_current_content_interface_and_footer() {
    let mut h = Harness::new(LIMITS);
    h.connect(240);
    let start = h.feed(&job(1, &hex("1d0000000000000009 5f3041303030303141"), &[]));
    let p = &s7(&start)[12..];
    assert_eq!(&p[..7], &[0x1D, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&p[8..16], b"\x070001116");
    let id = p[7];
    let mut block = Vec::new();
    let mut parts = 0;
    loop {
        let ans = h.feed(&job(2, &[0x1E, 0, 0, 0, 0, 0, 0, id], &[]));
        let s = s7(&ans);
        assert!(s.len() <= 240);
        let d = &s[14..];
        let n = u16::from_be_bytes([d[0], d[1]]) as usize;
        assert_eq!(&d[2..4], &[0x00, 0xFB]);
        assert_eq!(d.len(), 4 + n);
        block.extend_from_slice(&d[4..]);
        parts += 1;
        if s[13] == 0 {
            break;
        }
        assert_eq!(s[13], 1);
    }
    assert!(parts > 1);
    assert_eq!(block.len(), 1116);
    assert_eq!(&block[..2], b"pp");
    assert_eq!(&block[4..8], &[0x05, 0x0A, 0x00, 0x01]);
    assert_eq!(&block[8..12], &1116u32.to_be_bytes());
    assert_eq!(&block[34..36], &1024u16.to_be_bytes());
    let db1: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    assert_eq!(&block[36..36 + 1024], &db1[..]);
    let end = h.feed(&job(3, &[0x1F, 0, 0, 0, 0, 0, 0, id], &[]));
    assert_eq!(end, hex("03000014 02f080 32030000 0003 0001 0000 0000 1f"));
    // The id is gone after end upload.
    let again = h.feed(&job(4, &[0x1E, 0, 0, 0, 0, 0, 0, id], &[]));
    assert_eq!(header_error(&again), 0x8104);
    let missing = h.feed(&job(5, &hex("1d0000000000000009 5f3041303039393941"), &[]));
    assert_eq!(header_error(&missing), 0xD209);
    let download = h.feed(&job(6, &hex("1a0000000000000009 5f3041303030303141"), &[]));
    assert_eq!(header_error(&download), 0xD241);
}

#[test]
fn block_list_of_many_dbs_continues_over_several_answers() {
    let spec = s7rt::plc::ImageSpec {
        dbs: (1..=120)
            .map(|n| s7rt::plc::DbSpec {
                number: n * 2,
                size: 4,
                read_only: false,
            })
            .collect(),
        inputs: 1,
        outputs: 1,
        flags: 1,
        timers: 1,
        counters: 1,
    };
    let mut h = Harness::with_image(LIMITS, s7rt::plc::Image::new(&spec));
    h.connect(240);
    let first = h.feed(&ud(1, &hex("0001120411430200"), &hex("ff0900023041")));
    let (p, d) = ud_parts(&first);
    let mut numbers: Vec<u16> = d[4..]
        .chunks(4)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(numbers.len(), (240 - 32) / 4);
    let (seq, mut more) = (p[7], p[9]);
    while more == 1 {
        let mut fp = hex("000112081143020000000000");
        fp[7] = seq;
        let next = h.feed(&ud(2, &fp, &hex("0a000000")));
        let (p, d) = ud_parts(&next);
        numbers.extend(d[4..].chunks(4).map(|c| u16::from_be_bytes([c[0], c[1]])));
        more = p[9];
    }
    assert_eq!(numbers, (1..=120).map(|n| n * 2).collect::<Vec<u16>>());
    // Block info of DB240 and of a missing DB.
    let info = h.feed(&ud(
        3,
        &hex("0001120411430300"),
        &hex("ff090008 3041 3030323430 41"),
    ));
    let (p, d) = ud_parts(&info);
    assert_eq!(&p[10..12], &[0, 0]);
    assert_eq!(&d[..8], &hex("ff09004e 3041 004a")[..]);
    assert_eq!(&d[16..18], &[0, 240]);
    let none = h.feed(&ud(
        4,
        &hex("0001120411430300"),
        &hex("ff090008 3041 3030303031 41"),
    ));
    assert_eq!(&ud_parts(&none).0[10..12], &[0xD2, 0x09]);
    let fcs = h.feed(&ud(5, &hex("0001120411430200"), &hex("ff0900023043")));
    assert_eq!(&ud_parts(&fcs).0[10..12], &[0xD2, 0x0E]);
}

#[test]
fn connection_quota_and_rack_slot_refusals_send_a_disconnect_request() {
    let mut h = Harness::new(LIMITS);
    h.cpu = Cpu::new(
        &CpuSpec {
            accept_any_slot: false,
            quotas: [1, 0, 1],
            max_connections: 8,
            ..CpuSpec::default()
        },
        GOLDEN_WALL_MS,
    );
    // Rack 0 slot 1 is not where an S7-300 CPU sits: DR reason 3 (address unknown).
    let dr = h.feed(&cr(0x0A, [0x01, 0x01]));
    assert_eq!(dr, hex("0300000b 06 80 0001 0000 03"));
    assert!(h.closed.is_some());
    let mut h2 = Harness::new(LIMITS);
    h2.cpu = std::mem::replace(&mut h.cpu, test_cpu(0));
    assert_eq!(h2.feed(&cr(0x0A, [0x01, 0x02])).len(), 22, "PG to slot 2");
    let mut h3 = Harness::new(LIMITS);
    h3.cpu = std::mem::replace(&mut h2.cpu, test_cpu(0));
    // Second PG: quota 1 exhausted → DR reason 1; OP quota 0.
    assert_eq!(
        h3.feed(&cr(0x0A, [0x01, 0x02])),
        hex("0300000b 06 80 0001 0000 01")
    );
    let mut h4 = Harness::new(LIMITS);
    h4.cpu = std::mem::replace(&mut h3.cpu, test_cpu(0));
    assert_eq!(
        h4.feed(&cr(0x0A, [0x02, 0x02])),
        hex("0300000b 06 80 0001 0000 01")
    );
    // The first PG connection closes: its place is free again.
    h2.session.release(&mut h4.cpu);
    let mut h5 = Harness::new(LIMITS);
    h5.cpu = std::mem::replace(&mut h4.cpu, test_cpu(0));
    assert_eq!(h5.feed(&cr(0x0A, [0x01, 0x02])).len(), 22);
    assert_eq!(h5.cpu.open_connections(), [1, 0, 0]);
}
