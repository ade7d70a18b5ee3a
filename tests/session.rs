//! Session tests: bytes in, bytes out, through the public `Session` API with a real image.

mod support;

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
fn reads_four_bytes_like_section_11_3() {
    let mut h = connected(480);
    h.image.area_mut(Area::DataBlock, 1).unwrap()[..4].copy_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
    let ans = h.feed(&hex(
        "0300001f 02f080 3201 0000 0002 000e 0000 0401 120a 1002 0004 0001 84 000000",
    ));
    assert_eq!(
        ans,
        hex("0300001d 02f080 32030000 0002 0002 0008 0000 0401 ff04 0020 deadbeef")
    );
}

#[test]
fn two_item_read_inserts_fill_byte_only_between_items() {
    let mut h = connected(480);
    h.image.area_mut(Area::DataBlock, 1).unwrap()[0] = 0x7F;
    h.image.area_mut(Area::Flags, 0).unwrap()[10..12].copy_from_slice(&[0x12, 0x34]);
    let p = read_params(&[item(0x02, 1, 1, 0x84, 0, 0), item(0x05, 1, 0, 0x83, 10, 0)]);
    let ans = h.feed(&job(9, &p, &[]));
    assert_eq!(ack_data(&ans), hex("ff04 0008 7f 00 ff05 0010 1234"));
}

#[test]
fn answers_each_transport_size_with_the_length_unit_real_cpus_use() {
    let mut h = connected(960);
    // (request transport, count, expected data transport, expected length field)
    let cases = [
        (0x02, 4, 0x04, 32),
        (0x03, 3, 0x09, 3),
        (0x04, 2, 0x04, 32),
        (0x05, 2, 0x05, 32),
        (0x06, 1, 0x04, 32),
        (0x07, 1, 0x05, 32),
        (0x08, 2, 0x07, 8),
        (0x09, 1, 0x04, 16),
        (0x0A, 1, 0x04, 32),
        (0x0B, 1, 0x04, 32),
        (0x0C, 1, 0x04, 16),
        (0x0F, 1, 0x04, 64),
    ];
    for (i, (ts, count, dts, len)) in cases.into_iter().enumerate() {
        let ans = h.feed(&job(
            i as u16,
            &read_params(&[item(ts, count, 1, 0x84, 0, 0)]),
            &[],
        ));
        let d = ack_data(&ans);
        assert_eq!(
            (d[0], d[1], u16::from_be_bytes([d[2], d[3]])),
            (0xFF, dts, len),
            "transport {ts:#04x}"
        );
    }
    let ans = h.feed(&job(50, &read_params(&[item(0x1D, 2, 0, 0x1D, 0, 0)]), &[]));
    assert_eq!(&ack_data(&ans)[..4], &[0xFF, 0x09, 0x00, 0x04]);
    let ans = h.feed(&job(51, &read_params(&[item(0x1C, 1, 0, 0x1C, 0, 0)]), &[]));
    assert_eq!(&ack_data(&ans)[..4], &[0xFF, 0x09, 0x00, 0x02]);
}

#[test]
fn timer_and_counter_n_are_read_from_byte_2n() {
    let mut h = connected(480);
    // nodes7 asks for T16/C16 (golden quirk 1): a correct CPU answers bytes 32..33.
    let ans = h.feed(&job(1, &read_params(&[item(0x1D, 1, 0, 0x1D, 2, 0)]), &[]));
    assert_eq!(ack_data(&ans), hex("ff09 0002 2021"));
    let ans = h.feed(&job(2, &read_params(&[item(0x1C, 1, 0, 0x1C, 2, 0)]), &[]));
    assert_eq!(ack_data(&ans), hex("ff09 0002 dfde"));
}

#[test]
fn per_item_errors_do_not_fail_the_request() {
    let mut h = connected(480);
    let p = read_params(&[
        item(0x02, 4, 999, 0x84, 0, 0),  // no such DB
        item(0x02, 4, 1, 0x84, 1022, 0), // past the end of DB1
        item(0x42, 1, 1, 0x84, 0, 0),    // unknown transport size
        item(0x01, 2, 1, 0x84, 0, 0),    // BIT with count 2
        item(0x04, 1, 1, 0x84, 0, 3),    // WORD at a bit offset
        item(0x02, 1, 0, 0x33, 0, 0),    // unknown area
        item(0x02, 1, 1, 0x84, 0, 0),    // fine
    ]);
    let ans = h.feed(&job(3, &p, &[]));
    assert_eq!(header_error(&ans), 0);
    assert_eq!(
        ack_data(&ans),
        hex("0a000000 05000000 06000000 07000000 05000000 0a000000 ff040008 00")
    );
}

#[test]
fn twenty_item_read_is_answered_whole_and_consistent() {
    let mut h = connected(480);
    let items: Vec<Vec<u8>> = (0..20).map(|i| item(0x02, 2, 1, 0x84, i * 2, 0)).collect();
    let ans = h.feed(&job(4, &read_params(&items), &[]));
    let d = ack_data(&ans);
    assert_eq!(s7(&ans)[13], 20);
    for i in 0..20 {
        assert_eq!(
            &d[i * 6..i * 6 + 6],
            &[0xFF, 0x04, 0x00, 0x10, (i * 2) as u8, (i * 2 + 1) as u8]
        );
    }
}

#[test]
fn request_whose_answer_exceeds_the_pdu_is_refused_with_8500_not_truncated() {
    let mut h = connected(240);
    let items: Vec<Vec<u8>> = (0..18)
        .map(|i| item(0x02, 12, 1, 0x84, i * 12, 0))
        .collect();
    let ans = h.feed(&job(5, &read_params(&items), &[]));
    assert_eq!(header_error(&ans), 0x8500);
    let ans = h.feed(&read_db1(6, 0, 223));
    assert_eq!(header_error(&ans), 0x8500, "12+2+4+223 = 241 > 240");
    let ans = h.feed(&read_db1(7, 0, 222));
    assert_eq!(header_error(&ans), 0, "12+2+4+222 = 240 fits");
}

#[test]
fn request_larger_than_the_negotiated_pdu_is_refused_with_8500() {
    let mut h = connected(240);
    let data = write_data(&[(0x04, 8 * 220, &[0x55; 220])]);
    let ans = h.feed(&job(
        8,
        &write_params(&[item(0x02, 220, 2, 0x84, 0, 0)]),
        &data,
    ));
    assert_eq!(header_error(&ans), 0x8500);
    assert!(
        h.image
            .area(Area::DataBlock, 2)
            .unwrap()
            .iter()
            .all(|&b| b == 0),
        "nothing written"
    );
}

#[test]
fn unknown_job_function_gets_8104_never_silence() {
    let mut h = connected(480);
    let ans = h.feed(&job(0x1234, &[0x42, 0x00], &[]));
    assert_eq!(ans, hex("03000013 02f080 32020000 1234 0000 0000 8104"));
}

#[test]
fn malformed_requests_get_s7_errors_and_keep_the_session() {
    let mut h = connected(480);
    // item count 0
    assert_eq!(header_error(&h.feed(&job(1, &[0x04, 0x00], &[]))), 0x8104);
    // item count says 2, one item present
    let mut p = read_params(&[item(0x02, 1, 1, 0x84, 0, 0)]);
    p[1] = 2;
    assert_eq!(header_error(&h.feed(&job(2, &p, &[]))), 0x8104);
    // S7 lengths that disagree with the DT payload
    let mut f = read_db1(3, 0, 4);
    f[14] += 1; // parameter length + 1
    assert_eq!(header_error(&h.feed(&f)), 0x8104);
    // protocol id 0x72 (S7CommPlus)
    let mut f = read_db1(4, 0, 4);
    f[7] = 0x72;
    let ans = h.feed(&f);
    assert_eq!(header_error(&ans), 0x8104);
    assert_eq!(&s7(&ans)[4..6], &[0, 4], "PDU reference echoed");
    // write whose data items do not match the items
    let ans = h.feed(&job(5, &write_params(&[item(0x02, 2, 2, 0x84, 0, 0)]), &[]));
    assert_eq!(header_error(&ans), 0x8104);
    assert!(h.closed.is_none());
    assert_eq!(header_error(&h.feed(&read_db1(6, 0, 1))), 0);
}

#[test]
fn write_then_read_back_and_item_codes_for_bad_writes() {
    let mut h = connected(480);
    let items = [
        item(0x02, 3, 2, 0x84, 10, 0),
        item(0x04, 1, 0, 0x83, 20, 0),
        item(0x02, 2, 999, 0x84, 0, 0),
        item(0x02, 2, 2, 0x84, 2047, 0),
        item(0x02, 2, 2, 0x84, 0, 0),
    ];
    let data = write_data(&[
        (0x04, 24, &[1, 2, 3]),
        (0x04, 16, &[0xAB, 0xCD]),
        (0x04, 16, &[9, 9]),
        (0x04, 16, &[9, 9]),
        (0x04, 24, &[9, 9, 9]), // 3 bytes for a 2-byte item
    ]);
    let ans = h.feed(&job(1, &write_params(&items), &data));
    assert_eq!(s7(&ans)[12..], hex("0505 ff ff 0a 05 07")[..]);
    assert_eq!(
        &h.image.area(Area::DataBlock, 2).unwrap()[10..13],
        &[1, 2, 3]
    );
    assert_eq!(
        &h.image.area(Area::Flags, 0).unwrap()[20..22],
        &[0xAB, 0xCD]
    );
    assert_eq!(&h.image.area(Area::DataBlock, 2).unwrap()[..2], &[0, 0]);
    // Only the two applied items are reported, each with the bytes it wrote.
    assert_eq!(
        h.events.1,
        vec![
            (Area::DataBlock, 2, 10, None, vec![1, 2, 3]),
            (Area::Flags, 0, 20, None, vec![0xAB, 0xCD]),
        ]
    );
}

#[test]
fn write_to_read_only_db_is_access_denied() {
    let spec = s7rt::plc::ImageSpec {
        dbs: vec![s7rt::plc::DbSpec {
            number: 5,
            size: 8,
            read_only: true,
        }],
        inputs: 0,
        outputs: 0,
        flags: 0,
        timers: 0,
        counters: 0,
    };
    let mut h = Harness::with_image(LIMITS, s7rt::plc::Image::new(&spec));
    h.connect(480);
    let ans = h.feed(&job(
        1,
        &write_params(&[item(0x02, 1, 5, 0x84, 0, 0)]),
        &write_data(&[(0x04, 8, &[1])]),
    ));
    assert_eq!(ack_data(&ans), &[0x03]);
    // Inputs of size 0: the area exists but has no bytes, so any address is out of range.
    let ans = h.feed(&job(2, &read_params(&[item(0x02, 1, 0, 0x81, 0, 0)]), &[]));
    assert_eq!(ack_data(&ans), hex("05000000"));
}

#[test]
fn bit_write_changes_exactly_one_bit() {
    let mut h = connected(480);
    h.image.area_mut(Area::DataBlock, 2).unwrap()[10] = 0b1010_0001;
    let set = job(
        1,
        &write_params(&[item(0x01, 1, 2, 0x84, 10, 2)]),
        &write_data(&[(0x03, 1, &[1])]),
    );
    assert_eq!(ack_data(&h.feed(&set)), &[0xFF]);
    assert_eq!(h.image.area(Area::DataBlock, 2).unwrap()[10], 0b1010_0101);
    let clear = job(
        2,
        &write_params(&[item(0x01, 1, 2, 0x84, 10, 7)]),
        &write_data(&[(0x03, 1, &[0])]),
    );
    assert_eq!(ack_data(&h.feed(&clear)), &[0xFF]);
    assert_eq!(h.image.area(Area::DataBlock, 2).unwrap()[10], 0b0010_0101);
    let read = job(3, &read_params(&[item(0x01, 1, 2, 0x84, 10, 5)]), &[]);
    assert_eq!(ack_data(&h.feed(&read)), hex("ff03 0001 01"));
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
