#![no_main]
//! Fuzzes the legacy ggml (lmgg) reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::ggml_legacy::read(data, "fuzz.bin");
});
