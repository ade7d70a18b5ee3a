//! Property tests: arbitrary input never panics a session, never produces an answer larger
//! than the negotiated PDU, and the way a byte stream is chunked never changes the answers.

mod support;

use proptest::prelude::*;
use support::*;

fn valid_requests() -> Vec<Vec<u8>> {
    vec![
        job(1, &read_params(&[item(0x02, 4, 1, 0x84, 0, 0)]), &[]),
        job(
            2,
            &read_params(
                &(0..20)
                    .map(|i| item(0x02, 4, 1, 0x84, i * 4, 0))
                    .collect::<Vec<_>>(),
            ),
            &[],
        ),
        job(
            3,
            &write_params(&[item(0x02, 3, 2, 0x84, 5, 0)]),
            &write_data(&[(0x04, 24, &[1, 2, 3])]),
        ),
        job(
            4,
            &write_params(&[item(0x01, 1, 2, 0x84, 0, 1)]),
            &write_data(&[(0x03, 1, &[1])]),
        ),
        job(5, &read_params(&[item(0x1D, 2, 0, 0x1D, 1, 0)]), &[]),
        job(6, &[0x42, 0x00], &[]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_after_setup_never_panic_or_exceed_the_pdu(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut h = Harness::new(LIMITS);
        let pdu = h.connect(240) as usize;
        let out = h.feed(&bytes);
        let mut rest = &out[..];
        while rest.len() >= 4 {
            let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            prop_assert!(len >= 7 && len <= rest.len());
            prop_assert!(len - 7 <= pdu, "reply of {} bytes exceeds PDU {}", len - 7, pdu);
            rest = &rest[len..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn mutated_valid_requests_never_panic(idx in 0usize..6, pos in 0usize..400, val in any::<u8>()) {
        let mut req = valid_requests()[idx].clone();
        let p = pos % req.len();
        req[p] = val;
        let mut h = Harness::new(LIMITS);
        h.connect(480);
        let _ = h.feed(&req);
    }

    #[test]
    fn chunking_a_stream_never_changes_the_answers(cuts in proptest::collection::vec(1usize..40, 1..60)) {
        let stream: Vec<u8> = valid_requests().concat();
        let whole = { let mut h = Harness::new(LIMITS); h.connect(480); h.feed(&stream) };
        let mut h = Harness::new(LIMITS);
        h.connect(480);
        let mut out = Vec::new();
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= stream.len() { break; }
            let end = (at + c).min(stream.len());
            out.extend(h.feed(&stream[at..end]));
            at = end;
        }
        prop_assert_eq!(out, whole);
    }
}
