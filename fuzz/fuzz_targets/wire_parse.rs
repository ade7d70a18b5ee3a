//! libFuzzer target: see `s7rt_fuzz::wire_parse` for the input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| s7rt_fuzz::wire_parse(data));
