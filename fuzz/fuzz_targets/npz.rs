#![no_main]
//! Fuzzes the .npz reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::npy::read_npz(data, "fuzz.npz");
});
