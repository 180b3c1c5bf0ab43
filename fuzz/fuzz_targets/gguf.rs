#![no_main]
//! Fuzzes the GGUF reader: the eager read, and the header index that lists tensors
//! for lazy reading followed by reading each tensor.
use quantscope::formats::ModelFile;
use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::TensorStore;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = quantscope::formats::gguf::read(data, "fuzz.gguf");
    let src: Box<dyn ByteSource> = Box::new(InMemory(data.to_vec()));
    if let Ok(m) = ModelFile::open(vec![("fuzz.gguf".to_string(), src)]) {
        for t in m.info().tensors {
            let _ = m.load(&t.name);
        }
    }
});
