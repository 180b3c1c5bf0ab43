//! safetensors: every dtype (F8 included, all 256 codes of each) and sharded checkpoints,
//! against safetensors' own reader and ml_dtypes (scripts/gen_format_fixtures.py).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use quantscope::formats::{open_many, Format};

#[test]
fn every_dtype_equals_safetensors_and_ml_dtypes() {
    let rel = "safetensors/all_dtypes.safetensors";
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    assert_eq!(model.format, Format::Safetensors);
    common::assert_matches_tool(&model, rel);
    let f8 = model.tensor("f8_e4m3").unwrap();
    assert_eq!(f8.data.len(), 256);
    assert_eq!(
        f8.data.iter().filter(|v| v.is_nan()).count(),
        2,
        "E4M3FN has 2 NaNs, no inf"
    );
}

#[test]
fn shards_with_their_index_open_as_one_model() {
    let dir = "safetensors/sharded";
    let names = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ];
    let bytes: Vec<Vec<u8>> = names
        .iter()
        .map(|n| common::read(&format!("{dir}/{n}")))
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    let model = open_many(&files).unwrap();
    common::assert_matches_tool(&model, dir);
    assert_eq!(model.metadata.get("shards").map(String::as_str), Some("2"));
    // Without the index too.
    let model = open_many(&files[..2]).unwrap();
    common::assert_matches_tool(&model, dir);
}

#[test]
fn a_shard_missing_from_the_index_is_named() {
    let dir = "safetensors/sharded";
    let a = common::read(&format!("{dir}/model-00001-of-00002.safetensors"));
    let idx = common::read(&format!("{dir}/model.safetensors.index.json"));
    let err = open_many(&[
        ("model-00001-of-00002.safetensors", &a),
        ("model.safetensors.index.json", &idx),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("model-00002-of-00002.safetensors") && err.contains("not given"),
        "{err}"
    );
}

#[test]
fn the_same_tensor_in_two_shards_is_refused() {
    let a = common::read("safetensors/sharded/model-00001-of-00002.safetensors");
    let err = open_many(&[("a.safetensors", &a), ("b.safetensors", &a)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("appears in both `a.safetensors` and `b.safetensors`"),
        "{err}"
    );
}
