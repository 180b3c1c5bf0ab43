//! `quantscope quantize -o`: the writers as a user runs them. What the files hold is
//! checked against the real tools in tests/interop/ (npm test); here, the command line.
#![cfg(not(target_arch = "wasm32"))] // spawns the CLI: native only

use std::path::PathBuf;

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::quantscope;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quantscope-export-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

const DEMO: &str = "www/public/demo.safetensors";

#[test]
fn writes_gguf_with_a_report_whose_rows_are_the_quantize_rows() {
    let out = tmp("demo.gguf");
    let rep = tmp("demo.gguf.json");
    let (ok, stdout, err) = quantscope(&[
        "quantize",
        DEMO,
        "--scheme",
        "q4_0",
        "-o",
        out.to_str().unwrap(),
        "--report",
        rep.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("rows of 3 values do not split"), "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"GGUF");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&rep).unwrap()).unwrap();
    assert_eq!(report["bytes"].as_u64().unwrap() as usize, bytes.len());
    let (ok, rows, _) = quantscope(&[
        "quantize",
        DEMO,
        "--scheme",
        "q4_0",
        "--tensor",
        "embed.weight",
        "--json",
    ]);
    assert!(ok);
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    let t = report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "embed.weight")
        .unwrap();
    assert_eq!(t["summary"], rows[0]);
    assert_eq!(t["stored"], "Q4_0");
}

#[test]
fn the_format_comes_from_the_extension_and_bad_combinations_are_refused() {
    let bad = tmp("demo.bin");
    let (ok, _, err) = quantscope(&["quantize", DEMO, "-s", "q4_0", "-o", bad.to_str().unwrap()]);
    assert!(
        !ok && err.contains(".onnx, .gguf, .safetensors or"),
        "{err}"
    );
    let out = tmp("x.gguf");
    let (ok, _, err) = quantscope(&[
        "quantize",
        DEMO,
        "-s",
        "q4_0",
        "-t",
        "embed.weight",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--tensor"), "{err}");
    let (ok, _, err) = quantscope(&["quantize", DEMO, "-s", "q4_0", "--report", "r.json"]);
    assert!(!ok && err.contains("--output"), "{err}");
    let onnx = tmp("x.onnx");
    let (ok, _, err) = quantscope(&["quantize", DEMO, "-s", "int8", "-o", onnx.to_str().unwrap()]);
    assert!(!ok && err.contains("rewrites an ONNX model"), "{err}");
    assert!(!onnx.exists());
    let st = tmp("x.safetensors");
    let (ok, _, err) = quantscope(&["quantize", DEMO, "-s", "nf4", "-o", st.to_str().unwrap()]);
    assert!(!ok && err.contains("`nf4`"), "{err}");
}

#[test]
fn a_file_that_fails_half_way_is_removed() {
    // Two tensors, the second with a NaN: the GGUF writer has written the header and
    // the first tensor when it meets it.
    let good: Vec<u8> = (0..64).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let mut nan = good.clone();
    nan[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    fn view(b: &[u8]) -> safetensors::tensor::TensorView<'_> {
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 32], b).unwrap()
    }
    let src = safetensors::serialize([("a", view(&good)), ("b", view(&nan))], None).unwrap();
    let input = tmp("nan.safetensors");
    std::fs::write(&input, src).unwrap();
    let out = tmp("nan.gguf");
    let (ok, _, err) = quantscope(&[
        "quantize",
        input.to_str().unwrap(),
        "-s",
        "q8_0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("NaN"), "{err}");
    assert!(!out.exists(), "the partial file was left behind");
}

#[test]
fn writes_qdq_onnx_from_an_onnx_model_with_its_external_data() {
    let out = tmp("external.qdq.onnx");
    let (ok, stdout, err) = quantscope(&[
        "quantize",
        "tests/fixtures/formats2/onnx/external.onnx",
        "-s",
        "int8-sym-ch0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("DequantizeLinear"), "{stdout}");
    // The output opens on its own: its data is inline now.
    let (ok, info, err) = quantscope(&["inspect", out.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let ops = &info["graph"]["op_types"];
    assert_eq!(ops["DequantizeLinear"], 1, "{ops}");
}
