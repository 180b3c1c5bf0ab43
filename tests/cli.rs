//! The command-line tool, run as a user runs it.
#![cfg(not(target_arch = "wasm32"))] // reads files / spawns the CLI: native only

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::quantscope;

#[test]
fn inspect_lists_tensors() {
    let (ok, out, err) = quantscope(&["inspect", "tests/fixtures/formats/small.safetensors"]);
    assert!(ok, "{err}");
    for name in ["a.f32", "b.f16", "c.bf16", "d.i8", "e.f64"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(out.contains("[2, 3, 4]") && out.contains("BF16"), "{out}");
    let (ok, out, _) = quantscope(&["inspect", "tests/fixtures/formats/small.npy", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "npy");
    assert_eq!(v["tensors"][0]["name"], "small");
    assert_eq!(v["tensors"][0]["shape"], serde_json::json!([5, 7]));
}

#[test]
fn quantize_json_equals_the_library() {
    let (ok, out, err) = quantscope(&[
        "quantize",
        "www/public/demo.safetensors",
        "--scheme",
        "int8-sym-ch0",
        "--tensor",
        "layers.0.mlp.fc2.weight",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bytes = std::fs::read("www/public/demo.safetensors").unwrap();
    let model = quantscope::open(&bytes, "demo").unwrap();
    let t = model.tensor("layers.0.mlp.fc2.weight").unwrap();
    let direct = quantscope::analysis::summarize(t, &"int8-sym-ch0".parse().unwrap()).unwrap();
    assert_eq!(
        v[0]["metrics"]["sqnr_db"].as_f64().unwrap(),
        direct.metrics.sqnr_db
    );
    assert_eq!(v[0]["metrics"]["mse"].as_f64().unwrap(), direct.metrics.mse);
    assert!(
        direct.metrics.sqnr_db > 30.0,
        "int8 per-channel SQNR should be well above 30 dB"
    );
}

#[test]
fn bad_input_gives_a_clear_error_and_exit_code() {
    let (ok, _, err) = quantscope(&["inspect", "tests/fixtures/formats/truncated.safetensors"]);
    assert!(!ok);
    assert!(err.contains("bytes follow"), "{err}");
    let (ok, _, err) = quantscope(&[
        "quantize",
        "www/public/demo.safetensors",
        "--scheme",
        "int9",
    ]);
    assert!(!ok);
    assert!(err.contains("between 2 and 8"), "{err}");
    let (ok, _, err) = quantscope(&["inspect", "does/not/exist.safetensors"]);
    assert!(!ok);
    assert!(err.contains("does/not/exist.safetensors"), "{err}");
}
