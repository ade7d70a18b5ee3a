//! TPKT → COTP → S7 → items: no input panics any checked view or parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s7rt::wire::{cotp, setup, userdata, var, CotpPacket, S7Header, TpktPacket};

fuzz_target!(|data: &[u8]| {
    let _ = s7rt::wire::tpkt::frame(data, 65_535);
    let Ok(tpkt) = TpktPacket::new_checked(data) else { return };
    let Ok(cotp) = CotpPacket::new_checked(tpkt.payload()) else { return };
    for p in cotp.params() {
        let _ = p;
    }
    if cotp.code() != cotp::TpduCode::Data {
        return;
    }
    let Ok(h) = S7Header::new_checked(cotp.payload()) else { return };
    let _ = setup::Repr::parse(h.params());
    let _ = userdata::Params::parse(h.params());
    if let Ok(req) = var::Request::parse(h.params()) {
        for item in req.items() {
            let _ = item;
        }
    }
    for d in var::DataItems::new(h.data()) {
        let _ = d;
    }
});
