//! GGUF: every tensor type quantscope reads, metadata of every value type, a custom
//! alignment and a split model, against the `gguf` package's own reader and
//! gguf.quants.dequantize (scripts/gen_format_fixtures.py); and the same files read
//! lazily, tensor by tensor, as the page and the CLI read them.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::formats::ModelFile;
use quantscope::formats::{open_many, Format};
use quantscope::TensorStore;

fn order(rel: &str) -> Vec<String> {
    common::manifest(rel)["tensor_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_type_equals_the_gguf_package() {
    let rel = "gguf/all_types.gguf";
    let bytes = common::read(rel);
    let model = quantscope::open(&bytes, rel).unwrap();
    assert_eq!(model.format, Format::Gguf);
    common::assert_matches_tool(&model, rel);
    let names: Vec<String> = model.tensors.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, order(rel), "GGUF keeps the file's tensor order");
    // The block types keep their name; their size is whole blocks.
    let q4k = model
        .info()
        .tensors
        .into_iter()
        .find(|t| t.name == "blk.q4_k.weight");
    let q4k = q4k.unwrap();
    assert_eq!(q4k.dtype.name(), "Q4_K");
    assert_eq!(q4k.size_bytes, 4 * 2 * 144);
    let tokens = &model.metadata["test.tokens"];
    assert!(
        tokens.starts_with("[10 × string] [\"<unk>\", \"<s>\""),
        "{tokens}"
    );
    assert!(tokens.ends_with(", …]"), "{tokens}");
    assert_eq!(model.metadata["gguf.version"], "3");
    common::assert_lazy_equals_eager(&[(rel, bytes)], true);
}

fn split_files() -> Vec<(&'static str, Vec<u8>)> {
    let files = common::manifest("gguf/split")["files"].clone();
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name: &'static str = Box::leak(f.as_str().unwrap().to_string().into_boxed_str());
            (name, common::read(&format!("gguf/split/{name}")))
        })
        .collect()
}

#[test]
fn a_split_model_opens_as_one() {
    let files = split_files();
    assert_eq!(files.len(), 3);
    let named: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let model = open_many(&named).unwrap();
    common::assert_matches_tool(&model, "gguf/split");
    common::assert_lazy_equals_eager(&files, true);
    let lazy = common::lazy(&files);
    let names: Vec<String> = lazy.info().tensors.into_iter().map(|t| t.name).collect();
    assert_eq!(names, order("gguf/split"), "split files keep their order");
}

/// gguf-split's files given in any order open as the model in split.no order: the
/// tensor order and the metadata are the tool's, whichever file comes first.
#[test]
fn split_files_in_any_order_are_ordered_by_split_no() {
    let files = split_files();
    for order_of_files in [[2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let shuffled: Vec<(&str, Vec<u8>)> = order_of_files
            .iter()
            .map(|&i| (files[i].0, files[i].1.clone()))
            .collect();
        let named: Vec<(&str, &[u8])> = shuffled.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let model = open_many(&named).unwrap();
        common::assert_matches_tool(&model, "gguf/split");
        let lazy = common::lazy(&shuffled);
        let names: Vec<String> = lazy.info().tensors.into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            order("gguf/split"),
            "files given as {order_of_files:?}"
        );
        assert_eq!(lazy.info().metadata["split.no"], "0");
    }
    // A split given twice (under another name) is refused, naming both files.
    let twice: Vec<(&str, &[u8])> = vec![
        (files[0].0, files[0].1.as_slice()),
        ("copy-of-first.gguf", files[0].1.as_slice()),
        (files[2].0, files[2].1.as_slice()),
    ];
    let err = open_many(&twice).unwrap_err().to_string();
    assert!(
        err.contains("appears in both") && err.contains("copy-of-first.gguf"),
        "{err}"
    );
}

#[test]
fn a_split_model_missing_a_file_is_named() {
    let files = split_files();
    let two: Vec<(String, Box<dyn ByteSource>)> = files[..2]
        .iter()
        .map(|(n, b)| {
            (
                n.to_string(),
                Box::new(InMemory(b.clone())) as Box<dyn ByteSource>,
            )
        })
        .collect();
    let err = ModelFile::open(two).err().unwrap().to_string();
    assert!(
        err.contains("one of 3 GGUF split files") && err.contains("2 were given"),
        "{err}"
    );
}

#[test]
fn safetensors_read_lazily_equal_the_eager_reader() {
    let rel = "safetensors/all_dtypes.safetensors";
    common::assert_lazy_equals_eager(&[(rel, common::read(rel))], true);
    let dir = "safetensors/sharded";
    let files: Vec<(&str, Vec<u8>)> = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]
    .into_iter()
    .map(|n| (n, common::read(&format!("{dir}/{n}"))))
    .collect();
    common::assert_lazy_equals_eager(&files, true);
}

#[test]
fn formats_without_a_header_index_are_decoded_when_opened() {
    let rel = "onnx/weights.onnx";
    let m = common::lazy(&[(rel, common::read(rel))]);
    assert!(!m.is_lazy());
    common::assert_matches_tool(&quantscope::open(&common::read(rel), rel).unwrap(), rel);
    assert_eq!(
        m.info().tensors.len(),
        common::manifest(rel)["tensors"].as_array().unwrap().len()
    );
}

/// The metadata entries come with their encoding (type and bytes), for a GGUF writer
/// to carry over: every key the manifest lists, arrays included, in the file's order.
#[test]
fn metadata_entries_keep_their_encoding() {
    let rel = "gguf/all_types.gguf";
    let m = common::lazy(&[(rel, common::read(rel))]);
    let kv = m.gguf_metadata();
    let keys: Vec<&str> = kv.iter().map(|e| e.key.as_str()).collect();
    for k in common::manifest(rel)["metadata"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(keys.contains(&k.as_str()), "{k}");
    }
    let tokens = kv.iter().find(|e| e.key == "test.tokens").unwrap();
    assert_eq!(tokens.value_type, 9, "an array");
    // element type string (8), count 10, then 10 length-prefixed strings
    assert_eq!(&tokens.value[..4], &8u32.to_le_bytes());
    assert_eq!(&tokens.value[4..12], &10u64.to_le_bytes());
    let u32_entry = kv.iter().find(|e| e.key == "test.u32").unwrap();
    assert_eq!(
        (u32_entry.value_type, u32_entry.value.as_slice()),
        (4, &4_000_000_000u32.to_le_bytes()[..])
    );
}

/// Split files given in any order: the model's metadata is the first split's.
#[test]
fn split_metadata_comes_from_the_first_split_whatever_the_order() {
    let mut files = split_files();
    files.reverse();
    let m = common::lazy(&files);
    let name = m
        .gguf_metadata()
        .iter()
        .find(|e| e.key == "general.name")
        .expect("the first split's general.name");
    assert_eq!(&name.value[8..], b"split fixture");
}
