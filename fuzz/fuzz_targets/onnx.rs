#![no_main]
//! Fuzzes the ONNX reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::onnx::read(data, &[]);
});
