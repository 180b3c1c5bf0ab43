#![no_main]
//! Fuzzes zip archives (.npz and torch.save checkpoints) through both readers and the
//! lazy path, with the bytes made to start as a zip does, so that every input reaches
//! the zip directory, the members' size checks and the inflater.
use quantscope::formats::ModelFile;
use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::TensorStore;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(data.get(4..).unwrap_or_default());
    let _ = quantscope::formats::npy::read_npz(&bytes, "fuzz.npz");
    let _ = quantscope::open(&bytes, "fuzz.pt");
    let src: Box<dyn ByteSource> = Box::new(InMemory(bytes));
    if let Ok(m) = ModelFile::open(vec![("fuzz.npz".to_string(), src)]) {
        for t in m.info().tensors {
            let _ = m.load(&t.name);
        }
    }
});
