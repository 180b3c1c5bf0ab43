#![no_main]
//! Fuzzes the PyTorch checkpoint reader (zip and legacy) and its unpickler.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::pytorch::read(data, "fuzz.pt");
});
