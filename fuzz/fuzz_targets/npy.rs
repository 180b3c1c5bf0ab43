#![no_main]
//! Fuzzes the .npy reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::npy::read_npy(data, "fuzz.npy");
});
