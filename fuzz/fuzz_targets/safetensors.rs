#![no_main]
//! Fuzzes the safetensors reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::safetensors::read(data);
});
