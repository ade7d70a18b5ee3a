//! libFuzzer target: see `s7rt_fuzz::session_stream` for the input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| s7rt_fuzz::session_stream(data));
