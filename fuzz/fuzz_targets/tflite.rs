#![no_main]
//! Fuzzes the TFLite reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::tflite::read(data);
});
