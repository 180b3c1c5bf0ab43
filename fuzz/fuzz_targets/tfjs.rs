#![no_main]
//! Fuzzes the TF.js reader: the input's first two bytes split it into a model.json and a
//! weight shard, so both the manifest and the shard bytes vary.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cut = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (json, shard) = data[2..].split_at(cut);
    let _ = quantscope::formats::tfjs::read(&[("model.json", json), ("group1-shard1of1.bin", shard)]);
});
