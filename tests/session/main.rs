//! Session tests: bytes in, bytes out, through the public `Session` API with a real image.
//! Here: COTP connect, Setup Communication, framing errors, reassembly, fragmentation and
//! timeouts; Read Var and Write Var answers are in `read_write`.

#[path = "../support/mod.rs"]
mod support;

mod read_write;

use std::time::Duration;

use s7rt::events::CloseReason;
use s7rt::plc::Memory;
use s7rt::session::Limits;
use s7rt::wire::var::Area;
use s7rt::wire::Error as WireError;
use support::*;

fn connected(pdu: u16) -> Harness {
    let mut h = Harness::new(LIMITS);
    h.connect(pdu);
    h
}

fn read_db1(pdu_ref: u16, start: u32, count: u16) -> Vec<u8> {
    job(
        pdu_ref,
        &read_params(&[item(0x02, count, 1, 0x84, start, 0)]),
        &[],
    )
}

#[test]
fn connect_confirm_echoes_all_three_parameters_and_swaps_references() {
    let mut h = Harness::new(LIMITS);
    let cc = h.feed(&cr(0x0A, [0x01, 0x02]));
    assert_eq!(cc, hex("0300001611d00001000100c0010ac1020100c2020102"));
}

#[test]
fn connect_confirm_never_offers_a_larger_tpdu_than_requested() {
    let mut h = Harness::new(LIMITS);
    let cc = h.feed(&cr(0x08, [0x01, 0x01]));
    assert_eq!(cc[13], 0x08, "256-byte TPDU offered, must confirm ≤ 256");
    let mut h = Harness::new(LIMITS);
    let cc = h.feed(&cr(0x0D, [0x01, 0x01]));
    assert_eq!(cc[13], 0x0A, "8192 offered, we confirm our maximum 1024");
}

#[test]
fn setup_grants_min_of_requested_and_configured_pdu() {
    for (max, req, want) in [
        (960, 480, 480),
        (960, 960, 960),
        (240, 480, 240),
        (480, 960, 480),
        (960, 2000, 960),
    ] {
        let mut h = Harness::new(Limits {
            max_pdu: max,
            ..LIMITS
        });
        assert_eq!(h.connect(req), want, "max {max} requested {req}");
    }
}

#[test]
fn setup_grants_amq_no_larger_than_requested_and_echoes_pdu_reference() {
    let mut h = Harness::new(LIMITS);
    h.feed(&cr(0x0A, [0x01, 0x01]));
    let ans = h.feed(&job(0x0400, &hex("f000 0003 0010 01e0"), &[]));
    assert_eq!(
        ans,
        hex("0300001b 02f080 32030000 0400 0008 0000 0000 f000 0003 0008 01e0")
    );
}

#[test]
fn job_before_setup_is_refused_with_pdu_size_error() {
    let mut h = Harness::new(LIMITS);
    h.feed(&cr(0x0A, [0x01, 0x01]));
    let ans = h.feed(&read_db1(7, 0, 4));
    assert_eq!(ans, hex("03000013 02f080 32020000 0007 0000 0000 8500"));
}

#[test]
fn data_before_connection_request_closes_the_connection() {
    let mut h = Harness::new(LIMITS);
    assert!(h.feed(&read_db1(1, 0, 4)).is_empty());
    assert_eq!(h.closed, Some(CloseReason::DataBeforeConnect));
}

#[test]
fn wrong_tpkt_version_closes_the_connection() {
    let mut h = connected(480);
    let mut f = read_db1(1, 0, 4);
    f[0] = 2;
    h.feed(&f);
    assert_eq!(
        h.closed,
        Some(CloseReason::Framing(WireError::BadTpktVersion(2)))
    );
}

#[test]
fn tpkt_length_below_seven_or_oversized_non_data_closes_the_connection() {
    let mut h = connected(480);
    h.feed(&[0x03, 0x00, 0x00, 0x05, 0x02]);
    assert_eq!(
        h.closed,
        Some(CloseReason::Framing(WireError::BadTpktLength(5)))
    );
    // 2048 bytes announced for a connection request: no request we serve is that long.
    let mut h = connected(480);
    let mut big_cr = vec![0x03, 0x00, 0x08, 0x00, 0x11, 0xE0];
    big_cr.resize(20, 0);
    h.feed(&big_cr);
    assert_eq!(
        h.closed,
        Some(CloseReason::Framing(WireError::BadTpktLength(2048)))
    );
    // Before the COTP connection no data TPDU is served at all.
    let mut h = Harness::new(LIMITS);
    h.feed(&oversized_read(9, 2048, true)[..20]);
    assert_eq!(
        h.closed,
        Some(CloseReason::Framing(WireError::BadTpktLength(2048)))
    );
}

/// A well-formed TPKT/DT of `len` bytes holding a Read Var job (reference `pdu_ref`)
/// padded with zeros: longer than any TPKT the server takes.
fn oversized_read(pdu_ref: u16, len: usize, eot: bool) -> Vec<u8> {
    let mut f = read_db1(pdu_ref, 0, 4);
    f.resize(len, 0);
    f[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    f[6] = if eot { 0x80 } else { 0x00 };
    f
}

#[test]
fn oversized_tpkt_is_drained_answered_8500_and_the_session_goes_on() {
    for (len, chunk) in [(1029, 1029), (3000, 7), (3000, 1024), (65535, 4096)] {
        let mut h = connected(480);
        let frame = oversized_read(0x0ABC, len, true);
        let mut out = Vec::new();
        for part in frame.chunks(chunk) {
            assert!(
                out.is_empty(),
                "answered before the frame was drained ({len}/{chunk})"
            );
            out = h.feed(part);
            assert_eq!(h.closed, None, "{len}/{chunk}");
        }
        assert_eq!(out, hex("03000013 02f080 32020000 0abc 0000 0000 8500"));
        let ans = h.feed(&read_db1(0x0ABD, 0, 4));
        assert_eq!(&ans[11..13], &[0x0A, 0xBD], "next request answered");
        assert_eq!(ans[17..19], [0, 0], "without error");
    }
}

#[test]
fn oversized_fragment_answers_8500_at_the_end_of_its_pdu() {
    let mut h = connected(480);
    // The PDU's first fragment is oversized, without EOT: nothing to answer yet.
    assert!(h.feed(&oversized_read(0x0777, 1500, false)).is_empty());
    // Its last fragment: a small DT with EOT.
    let last = hex("03000009 02f080 0000");
    assert_eq!(
        h.feed(&last),
        hex("03000013 02f080 32020000 0777 0000 0000 8500")
    );
    assert_eq!(h.closed, None);
    let ans = h.feed(&read_db1(0x0778, 0, 4));
    assert_eq!(&ans[11..13], &[0x07, 0x78]);
}

#[test]
fn cotp_length_indicator_outside_the_tpkt_closes_the_connection() {
    let mut h = connected(480);
    h.feed(&[0x03, 0x00, 0x00, 0x08, 0x09, 0xF0, 0x80, 0x32]);
    assert_eq!(
        h.closed,
        Some(CloseReason::Framing(WireError::BadCotpLi(9)))
    );
}

#[test]
fn request_split_at_every_byte_index_gives_the_same_answer() {
    let req = read_db1(0x0101, 4, 8);
    let whole = connected(480).feed(&req);
    for split in 1..req.len() {
        let mut h = connected(480);
        assert!(
            h.feed(&req[..split]).is_empty(),
            "answered early at split {split}"
        );
        assert_eq!(h.feed(&req[split..]), whole, "split at {split}");
    }
    // and byte by byte, including the connection set-up
    let mut h = Harness::new(LIMITS);
    let mut stream = cr(0x0A, [0x01, 0x01]);
    stream.extend(job(1, &setup_params(480), &[]));
    stream.extend(&req);
    let mut out = Vec::new();
    for b in &stream {
        out.extend(h.feed(std::slice::from_ref(b)));
    }
    assert!(out.ends_with(&whole));
}

#[test]
fn several_requests_in_one_read_are_all_answered_in_order() {
    let mut h = connected(480);
    let mut burst = Vec::new();
    for r in 0..8u16 {
        burst.extend(read_db1(100 + r, r as u32, 1));
    }
    let out = h.feed(&burst);
    let replies = split_tpkts(&out);
    assert_eq!(replies.len(), 8);
    for (r, rep) in replies.iter().enumerate() {
        assert_eq!(u16::from_be_bytes([rep[11], rep[12]]), 100 + r as u16);
        assert_eq!(ack_data(rep), &[0xFF, 0x04, 0x00, 0x08, r as u8]);
    }
}

#[test]
fn pdu_fragmented_over_several_dts_is_reassembled() {
    let mut h = connected(480);
    let pdu = &read_db1(77, 0, 2)[7..];
    let (a, b) = pdu.split_at(10);
    let mut first = vec![0x03, 0x00, 0x00, 0x00, 0x02, 0xF0, 0x00];
    first.extend_from_slice(a);
    let n = first.len() as u16;
    first[2..4].copy_from_slice(&n.to_be_bytes());
    assert!(h.feed(&first).is_empty());
    let ans = h.feed(&dt(b));
    assert_eq!(ack_data(&ans), hex("ff04 0010 0001"));
}

#[test]
fn answer_larger_than_the_tpdu_is_sent_in_several_dts() {
    let mut h = Harness::new(LIMITS);
    h.feed(&cr(0x07, [0x01, 0x01])); // 128-byte TPDUs
    h.feed(&job(1, &setup_params(480), &[]));
    let out = h.feed(&read_db1(2, 0, 200));
    let parts = split_tpkts(&out);
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| p.len() <= 4 + 128));
    assert_eq!(parts[0][6], 0x00, "first DT without EOT");
    assert_eq!(parts[1][6], 0x80, "last DT with EOT");
    let pdu: Vec<u8> = parts.iter().flat_map(|p| p[7..].to_vec()).collect();
    assert_eq!(pdu.len(), 12 + 2 + 4 + 200);
    assert_eq!(
        &pdu[18..],
        &(0..200).map(|i| i as u8).collect::<Vec<_>>()[..]
    );
}

#[test]
fn empty_dt_is_ignored() {
    let mut h = connected(480);
    assert!(h
        .feed(&[0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80])
        .is_empty());
    assert!(h.closed.is_none());
}

#[test]
fn disconnect_request_is_confirmed_and_closes() {
    let mut h = connected(480);
    let dc = h.feed(&hex("0300000b 06 80 0001 0001 80"));
    assert_eq!(dc, hex("0300000a 05 c0 0001 0001"));
    assert_eq!(h.closed, Some(CloseReason::PeerDisconnect));
}

#[test]
fn second_connection_request_closes() {
    let mut h = connected(480);
    h.feed(&cr(0x0A, [0x01, 0x01]));
    assert_eq!(h.closed, Some(CloseReason::UnexpectedConnectRequest));
}

#[test]
fn userdata_is_answered_with_an_error_not_silence() {
    let mut h = connected(480);
    let mut p = hex("32070000 0005 0008 0008 0001120411440100 ff09000404240000");
    p[5] = 5;
    let ans = h.feed(&dt(&p));
    let s = s7(&ans);
    assert_eq!(s[1], 0x07);
    assert_eq!(&s[4..6], &[0, 5]);
}

#[test]
fn idle_timeout_closes_after_the_configured_silence() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(500),
        ..LIMITS
    };
    let mut h = Harness::new(limits);
    h.connect(480);
    let t0 = h.now;
    assert_eq!(
        h.session.handle_timeout(t0 + Duration::from_millis(499)),
        None
    );
    assert_eq!(
        h.session.handle_timeout(t0 + Duration::from_millis(500)),
        Some(CloseReason::IdleTimeout)
    );
    h.now = t0 + Duration::from_millis(400);
    h.feed(&read_db1(1, 0, 1));
    assert_eq!(
        h.session.handle_timeout(t0 + Duration::from_millis(800)),
        None,
        "activity moves the deadline"
    );
}
