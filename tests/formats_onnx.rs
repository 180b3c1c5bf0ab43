//! ONNX: initializers (raw_data and typed fields), Constant nodes in the graph and in
//! If/Loop/Scan bodies, external data, and the graph summary, against onnx's own
//! numpy_helper and graph walk (scripts/gen_format_fixtures.py).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeMap;

use quantscope::formats::{open_many, Format};

fn check_graph(model: &quantscope::Model, rel: &str) {
    let want = &common::manifest(rel)["graph"];
    let g = model.graph.as_ref().expect("an ONNX model has a graph");
    assert_eq!(
        g.node_count as u64,
        want["node_count"].as_u64().unwrap(),
        "{rel}"
    );
    assert_eq!(
        g.subgraph_count as u64,
        want["subgraph_count"].as_u64().unwrap(),
        "{rel}"
    );
    let ops: BTreeMap<String, usize> = want["op_types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap() as usize))
        .collect();
    assert_eq!(g.op_types, ops, "{rel}");
    let mut got: Vec<(String, String, String)> = g
        .weight_consumers
        .iter()
        .flat_map(|(w, nodes)| {
            nodes
                .iter()
                .map(move |n| (w.clone(), n.node.clone(), n.op_type.clone()))
        })
        .collect();
    let mut want: Vec<(String, String, String)> = want["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |i: usize| c[i].as_str().unwrap().to_string();
            (s(0), s(1), s(2))
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{rel}: which weight feeds which node");
}

#[test]
fn initializers_and_constants_equal_numpy_helper() {
    let rel = "onnx/weights.onnx";
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    assert_eq!(model.format, Format::Onnx);
    common::assert_matches_tool(&model, rel);
    check_graph(&model, rel);
    // The weights inside subgraphs are there.
    for name in [
        "then.w",
        "else.w",
        "loop.scale",
        "loop.step",
        "scan.shape",
        "main.bias",
    ] {
        model.tensor(name).unwrap();
    }
    assert_eq!(
        model.metadata.get("producer_name").map(String::as_str),
        Some("gen_format_fixtures")
    );
}

#[test]
fn external_data_is_read_from_the_files_given() {
    let rel = "onnx/external.onnx";
    let main = common::read(rel);
    let data = common::read("onnx/external.onnx.data");
    let model = open_many(&[("external.onnx", &main), ("dir/external.onnx.data", &data)]).unwrap();
    common::assert_matches_tool(&model, rel);
    check_graph(&model, rel);
    let err = quantscope::open(&main, "external.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("external file `external.onnx.data`"), "{err}");
}

/// A lone .onnx whose data file is 43 times its size: the reader names the missing data
/// file (so the CLI can look beside the model) instead of refusing its shapes.
#[test]
fn a_data_file_larger_than_the_model_is_asked_for_by_name() {
    let rel = "onnx/external_large.onnx";
    let main = common::read(rel);
    let data = common::read("onnx/external_large.onnx.data");
    assert!(data.len() > 40 * main.len());
    let err = quantscope::open(&main, "external_large.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("external file `external_large.onnx.data`, which was not given"),
        "{err}"
    );
    let model = open_many(&[
        ("external_large.onnx", &main),
        ("external_large.onnx.data", &data),
    ])
    .unwrap();
    common::assert_matches_tool(&model, rel);
    // The CLI, given the .onnx alone, finds the data file beside it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quantscope"))
        .args(["inspect", "--json"])
        .arg(common::dir().join(rel))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["tensors"][0]["shape"], serde_json::json!([64, 32]));
}

/// An ONNX model opened with its external data files is read lazily: the model file at
/// open, each external tensor from its data file when asked for; the same tensors, bits
/// and graph summary as the whole read.
#[test]
fn external_data_is_read_lazily_and_equals_the_whole_read() {
    for (model, data) in [
        ("external.onnx", "external.onnx.data"),
        ("external_large.onnx", "external_large.onnx.data"),
    ] {
        let files = [
            (model, common::read(&format!("onnx/{model}"))),
            (data, common::read(&format!("onnx/{data}"))),
        ];
        common::assert_lazy_equals_eager(&files, true);
    }
    // A lone model without external data is decoded whole, as before.
    let rel = "onnx/weights.onnx";
    common::assert_lazy_equals_eager(&[(rel, common::read(rel))], false);
}
