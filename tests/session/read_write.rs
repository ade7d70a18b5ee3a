//! Read Var and Write Var through the session: data item layouts, transport sizes, per-item
//! errors, answers that do not fit the PDU, malformed requests, bit writes.

use super::*;

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
