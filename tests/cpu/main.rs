//! The CPU personality over the session, bytes in and bytes out: Snap7 client's userdata
//! and control frames 44–87 of the golden capture answered like Snap7 where Snap7 is right
//! (exact bytes, with its documented quirks normalised), and the parts Snap7 does not do
//! (fragmentation, continuation, protection, upload, connection quotas) from the spec.
//! Here: identification, SZL and the clock; PLC control, protection, upload, block lists and
//! connection quotas are in `control`.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod control;

use s7rt::plc::{Cpu, CpuSpec, Mode, Personality};
use support::*;

/// Frames of the golden session by number.
fn frames() -> std::collections::BTreeMap<u32, Vec<u8>> {
    load_vectors("snap7_client_full_session")
        .into_iter()
        .map(|r| (r.frame, r.bytes))
        .collect()
}

/// A CPU configured like the golden Snap7 server: S7-300, AS name "SNAP7-SERVER",
/// password "secret" at level 1 (so nothing is refused).
fn golden_cpu() -> Cpu {
    let o: toml::Table = toml::from_str("as_name = \"SNAP7-SERVER\"").unwrap();
    Cpu::new(
        &CpuSpec {
            personality: Personality::load("s7-300", &o).unwrap(),
            password: Some("secret".into()),
            quotas: [8; 3],
            ..CpuSpec::default()
        },
        GOLDEN_WALL_MS,
    )
}

fn golden_harness() -> (Harness, std::collections::BTreeMap<u32, Vec<u8>>) {
    let f = frames();
    let mut h = Harness::new(LIMITS);
    h.cpu = golden_cpu();
    assert_eq!(h.feed(&f[&4]), f[&6]);
    assert_eq!(h.feed(&f[&8]), f[&9]);
    (h, f)
}

/// Snap7 writes the C weekday (0 = Sunday) into DATE_AND_TIME; 2026-11-23 is a Monday (2).
fn fix_weekday(mut v: Vec<u8>) -> Vec<u8> {
    let n = v.len();
    assert_eq!(v[n - 1], 0x01);
    v[n - 1] = 0x02;
    v
}

#[test]
fn szl_mode_clock_block_list_control_and_password_answers_equal_snap7s() {
    let (mut h, f) = golden_harness();
    // (request, expected answer): exact after the documented normalisations.
    let mut exact = vec![(50, fix_weekday(f[&51].clone()))];
    exact.push((48, f[&49].clone())); // 0x001C: every record equals Snap7's
    exact.push((60, fix_weekday(f[&61].clone())));
    exact.push((62, f[&63].clone()));
    exact.push((64, f[&65].clone()));
    let mut list_of_type = f[&67].clone();
    list_of_type[7 + 10 + 8] = 0x00; // Snap7's DUR 0x23 in a single answer
    exact.push((66, list_of_type));
    for (req, want) in exact {
        assert_eq!(h.feed(&f[&req]), want, "answer to frame {req}");
    }
    // Stop, hot start, stop, cold start, each followed by SZL 0x0424, then the password.
    // The mode records differ from Snap7's in the timestamp (frame 62 set the clock to
    // 2024-02-29 13:37:42, Snap7 ignored it) and, in STOP, in the event id (0x4304 "STOP
    // by PG" where Snap7 keeps its RUN template's 0x5144).
    for (req, ans) in [
        (70, 71),
        (72, 73),
        (74, 75),
        (76, 77),
        (78, 79),
        (80, 81),
        (82, 83),
    ] {
        let ours = h.feed(&f[&req]);
        let want = &f[&ans];
        if f[&req][8] == 0x07 {
            let n = ours.len();
            assert_eq!(n, want.len());
            assert_eq!(&ours[..41], &want[..41], "answer to frame {req}");
            assert_eq!(&ours[43..n - 8], &want[43..n - 8], "answer to frame {req}");
            assert_eq!(&ours[n - 8..n - 2], &hex("240229133742")[..]);
        } else {
            assert_eq!(&ours, want, "answer to frame {req}");
        }
    }
    for (req, ans) in [(84, 85), (86, 87)] {
        assert_eq!(h.feed(&f[&req]), f[&ans], "answer to frame {req}");
    }
}

#[test]
fn identification_records_1_6_7_equal_snap7s_records() {
    let (mut h, f) = golden_harness();
    let ours = h.feed(&f[&46]);
    let snap7 = &f[&47];
    // Records start after TPKT 7 + header 10 + param 12 + FF 09 len id index lenthdr n_dr 12.
    let rec = |b: &[u8], i: usize| b[41 + 28 * i..41 + 28 * (i + 1)].to_vec();
    assert_eq!(
        &ours[41..],
        &[rec(snap7, 0), rec(snap7, 1), rec(snap7, 2)].concat()[..]
    );
    assert_eq!(&ours[37..41], &[0x00, 0x1C, 0x00, 0x03]); // LENTHDR 28, N_DR 3
}

#[test]
fn protection_and_communication_records_report_live_values() {
    let (mut h, f) = golden_harness();
    h.cpu = test_cpu(GOLDEN_WALL_MS); // no password, as in the golden server
    let prot = h.feed(&f[&54]);
    assert_eq!(
        &prot[..53],
        &f[&55][..53],
        "0232/4 up to the reserved bytes"
    );
    assert_eq!(&prot[53..], &[0u8; 28]);
    let cap = h.feed(&f[&52]);
    // index 1, PDU 480 negotiated, 32 connections, MPI 187 500, bus 1 500 000 bit/s
    assert_eq!(&cap[41..55], &hex("0001 01e0 0020 0002dc6c 0016e360")[..]);
}

fn ud(pdu_ref: u16, params: &[u8], data: &[u8]) -> Vec<u8> {
    let mut j = job(pdu_ref, params, data);
    j[8] = 0x07;
    j
}

fn read_szl(id: u16, index: u16) -> Vec<u8> {
    let mut d = vec![0xFF, 0x09, 0x00, 0x04];
    d.extend_from_slice(&id.to_be_bytes());
    d.extend_from_slice(&index.to_be_bytes());
    ud(0x0100, &hex("0001120411440100"), &d)
}

/// Userdata answer: (parameter, data).
fn ud_parts(reply: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let p = s7(reply);
    assert_eq!(p[1], 0x07);
    let plen = u16::from_be_bytes([p[6], p[7]]) as usize;
    (p[10..10 + plen].to_vec(), p[10 + plen..].to_vec())
}

/// Reads an SZL through every fragment; returns the stream (LENTHDR onwards) and the
/// number of answers it took.
fn szl_stream(h: &mut Harness, id: u16, index: u16) -> (Vec<u8>, usize) {
    let first = h.feed(&read_szl(id, index));
    let (p, d) = ud_parts(&first);
    assert_eq!(
        &p[..8],
        &hex("000112081284 01")[..7]
            .iter()
            .chain(&[p[7]])
            .copied()
            .collect::<Vec<_>>()[..]
    );
    assert_eq!(u16::from_be_bytes([p[10], p[11]]), 0, "error in {p:02x?}");
    assert_eq!(
        &d[4..8],
        &[(id >> 8) as u8, id as u8, (index >> 8) as u8, index as u8]
    );
    assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len() - 4);
    let mut stream = d[8..].to_vec();
    let mut answers = 1;
    let (seq, dur, mut more) = (p[7], p[8], p[9]);
    while more == 1 {
        assert!(seq != 0 && dur != 0, "multi-part answer needs seq and DUR");
        let mut fp = hex("000112081244010000000000");
        fp[7] = seq;
        let next = h.feed(&ud(0x0200, &fp, &hex("0a000000")));
        let (p, d) = ud_parts(&next);
        assert_eq!((p[7], p[8]), (seq, dur));
        assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len() - 4);
        stream.extend_from_slice(&d[4..]);
        more = p[9];
        answers += 1;
    }
    (stream, answers)
}

#[test]
fn long_szl_answers_are_fragmented_at_pdu_240_and_reassemble_to_the_single_answer() {
    let mut small = Harness::new(LIMITS);
    small.connect(240);
    let mut big = Harness::new(LIMITS);
    big.connect(960);
    for id in [0x001C, 0x0000, 0x0011, 0x00A0] {
        let (frag, n) = szl_stream(&mut small, id, 0);
        let (whole, one) = szl_stream(&mut big, id, 0);
        assert_eq!(one, 1);
        assert_eq!(frag, whole, "SZL {id:#06x}");
        let lenthdr = u16::from_be_bytes([whole[0], whole[1]]) as usize;
        let n_dr = u16::from_be_bytes([whole[2], whole[3]]) as usize;
        assert_eq!(whole.len(), 4 + lenthdr * n_dr);
        if whole.len() > 240 - 30 {
            assert!(n > 1, "SZL {id:#06x} must be fragmented at PDU 240");
        }
    }
}

#[test]
fn unknown_szl_id_and_index_get_d401_and_d402_with_empty_data() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    for (id, index, err) in [
        (0x0F99, 0, 0xD401),
        (0x0111, 2, 0xD402),
        (0x011C, 6, 0xD402),
    ] {
        let (p, d) = ud_parts(&h.feed(&read_szl(id, index)));
        assert_eq!(u16::from_be_bytes([p[10], p[11]]), err);
        assert_eq!(d, &[0x0A, 0, 0, 0]);
    }
}

#[test]
fn index_0_of_0131_and_0232_answers_the_index_1_and_index_4_records() {
    // python-snap7 3.x's get_cp_info()/get_protection() ask for index 0 (no CPU documents it).
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    for (id, record) in [(0x0131, 1), (0x0232, 4)] {
        let (zero, _) = szl_stream(&mut h, id, 0);
        let (named, _) = szl_stream(&mut h, id, record);
        assert_eq!(zero, named, "SZL {id:#06x} index 0 vs {record}");
        assert_eq!(&zero[..6], &[0, 40, 0, 1, 0, record as u8]);
    }
    // The live PDU of this connection is in the record.
    let (cp, _) = szl_stream(&mut h, 0x0131, 0);
    assert_eq!(&cp[6..8], &480u16.to_be_bytes());
}

#[test]
fn every_served_szl_answers_with_consistent_lengths() {
    let mut h = Harness::new(LIMITS);
    h.connect(960);
    let served = [
        (0x0000, 0),
        (0x0F00, 0),
        (0x0011, 0),
        (0x0111, 1),
        (0x0111, 6),
        (0x0111, 7),
        (0x0F11, 0),
        (0x001C, 0),
        (0x011C, 1),
        (0x011C, 0x0B),
        (0x0F1C, 0),
        (0x0131, 0),
        (0x0131, 1),
        (0x0131, 9),
        (0x0132, 4),
        (0x0232, 0),
        (0x0232, 4),
        (0x0024, 0),
        (0x0424, 0),
        (0x0019, 0),
        (0x0074, 0),
        (0x0037, 0),
        (0x00A0, 0),
        (0x01A0, 1),
    ];
    for (id, index) in served {
        let (s, _) = szl_stream(&mut h, id, index);
        let lenthdr = u16::from_be_bytes([s[0], s[1]]) as usize;
        let n_dr = u16::from_be_bytes([s[2], s[3]]) as usize;
        let header_only = id & 0x0F00 == 0x0F00;
        let want = if header_only { 4 } else { 4 + lenthdr * n_dr };
        assert_eq!(s.len(), want, "SZL {id:#06x}/{index}");
    }
    // 0x0000 lists exactly those ids.
    let (s, _) = szl_stream(&mut h, 0, 0);
    let ids: std::collections::BTreeSet<u16> = s[4..]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let want: std::collections::BTreeSet<u16> =
        served.iter().map(|x| x.0).chain([0x00A0, 0x01A0]).collect();
    assert_eq!(ids, want);
}

#[test]
fn szl_request_with_push_type_nibble_is_answered() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    let ans = h.feed(&ud(0, &hex("0001120411040100"), &hex("ff09000404240000")));
    let (p, d) = ud_parts(&ans);
    assert_eq!(&p[4..7], &[0x12, 0x84, 0x01]);
    assert_eq!(d[15], 0x08, "RUN");
}

#[test]
fn unserved_userdata_groups_get_8104_not_silence() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    for head in [
        "0001120411410100",
        "0001120411420100",
        "0001120411440200",
        "0001120411460100",
    ] {
        let (p, d) = ud_parts(&h.feed(&ud(7, &hex(head), &hex("0a000000"))));
        assert_eq!(u16::from_be_bytes([p[10], p[11]]), 0x8104, "{head}");
        assert_eq!(d, &[0x0A, 0, 0, 0]);
    }
}

#[test]
fn set_clock_is_applied_as_an_offset_and_stamps_later_mode_changes() {
    let mut h = Harness::new(LIMITS);
    h.connect(480);
    let set = ud(
        1,
        &hex("0001120411470200"),
        &hex("ff09000a 0019 2402291337420001"),
    );
    let (p, _) = ud_parts(&h.feed(&set));
    assert_eq!(&p[10..12], &[0, 0]);
    h.wall_ms += 61_500; // a minute and a half second later on the host
    let read = ud(2, &hex("0001120411470100"), &hex("0a000000"));
    let ans = h.feed(&read);
    let (_, d) = ud_parts(&ans);
    // 2024-02-29 (Thursday = 5) 13:38:43.500
    assert_eq!(d, &hex("ff09000a 0020 2402291338435005")[..]);
    assert_eq!(h.cpu.mode(), Mode::Run);
    h.feed(&job(3, &hex("29000000000009505f50524f4752414d"), &[]));
    let (s, _) = szl_stream(&mut h, 0x0424, 0);
    assert_eq!(&s[4..8], &[0x43, 0x04, 0xFF, 0x04]);
    assert_eq!(&s[16..24], &hex("2402291338435005")[..]);
    let bad = ud(
        4,
        &hex("0001120411470200"),
        &hex("ff09000a 0020 2302291337420001"),
    );
    let (p, _) = ud_parts(&h.feed(&bad));
    assert_eq!(&p[10..12], &[0xDC, 0x01]);
}
