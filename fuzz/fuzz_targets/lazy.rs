#![no_main]
//! Fuzzes ModelFile, the path the page and the CLI open files through: format
//! detection, the header indexes (safetensors, GGUF, torch zip, .npy, stored .npz) or the whole read, then
//! reading every tensor it lists.
use quantscope::formats::ModelFile;
use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::TensorStore;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let src: Box<dyn ByteSource> = Box::new(InMemory(data.to_vec()));
    if let Ok(m) = ModelFile::open(vec![("fuzz.bin".to_string(), src)]) {
        for t in m.info().tensors {
            let _ = m.load(&t.name);
        }
    }
});
