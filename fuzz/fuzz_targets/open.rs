#![no_main]
//! Fuzzes format detection and whichever reader it picks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::open(data, "fuzz");
});
