#![no_main]
//! Fuzzes the TorchScript archive reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::torchscript::read(data, "fuzz.pt");
});
