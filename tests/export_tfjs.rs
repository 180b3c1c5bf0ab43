//! The TF.js writer, read back by TensorFlow.js itself (@tensorflow/tfjs-core's
//! io.decodeWeights, scripts/tfjs_reference.mjs): every weight decodes to exactly the
//! values quantscope's scheme reconstructs (tfjs-uint8, tfjs-uint16: code * scale + min;
//! fp16), kept tensors to their own values, over shards that cut through tensors; and
//! quantscope's reader gives back the stored scale and min. Run from the CLI as a user does.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use quantscope::export::tfjs;
use quantscope::formats::open_many;
use quantscope::{Scheme, TensorStore};
use serde_json::Value;

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::quantscope;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("quantscope-tfjs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tfjs_decode(manifest: &Path) -> Option<Value> {
    if !root().join("node_modules/@tensorflow/tfjs-core").is_dir() {
        models_support::skip("@tensorflow/tfjs-core", "Run `npm ci` (npm test does).");
        return None;
    }
    let out = Command::new("node")
        .arg(root().join("scripts/tfjs_reference.mjs"))
        .arg(manifest)
        .arg("--values")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn source(name: &str) -> quantscope::Model {
    let p = root().join("tests/fixtures").join(name);
    quantscope::open(&std::fs::read(&p).unwrap(), name).unwrap()
}

#[test]
fn tfjs_reads_our_shards_back_to_the_schemes_values() {
    let model = source("torchscript/small.pt");
    for scheme in ["tfjs-uint8", "tfjs-uint16", "fp16"] {
        let s: Scheme = scheme.parse().unwrap();
        // 100-byte shards: tensors span shards, as the converter's 4 MiB cuts make them.
        let files = tfjs::write(&model, &s, "small", 100).unwrap();
        assert!(files.shards.len() > 3, "{scheme}: several shards");
        let dir = tmp(scheme);
        std::fs::write(dir.join(&files.manifest.0), &files.manifest.1).unwrap();
        for (n, b) in &files.shards {
            std::fs::write(dir.join(n), b).unwrap();
        }
        let Some(decoded) = tfjs_decode(&dir.join(&files.manifest.0)) else {
            return;
        };
        let decoded = decoded["tensors"].as_object().unwrap();
        assert_eq!(decoded.len(), model.tensors.len());
        let mut quantized = 0;
        for (t, r) in model.tensors.iter().zip(&files.report.tensors) {
            let got: Vec<u32> = serde_json::from_value(decoded[&t.name]["bits"].clone()).unwrap();
            let want = if r.quantized {
                quantized += 1;
                s.encode(t).unwrap().dequantize()
            } else {
                t.data.clone()
            };
            assert_eq!(got, bits(&want), "{scheme} {}", t.name);
        }
        assert_eq!(quantized, 3, "{scheme}: the three weights of 2+ axes");
        // Our reader: the same values, and the stored scale and min of each weight.
        let named: Vec<(String, Vec<u8>)> = std::iter::once(files.manifest.clone())
            .chain(files.shards.iter().cloned())
            .collect();
        let refs: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
        let back = open_many(&refs).unwrap();
        for t in &back.tensors {
            let got: Vec<u32> = serde_json::from_value(decoded[&t.name]["bits"].clone()).unwrap();
            assert_eq!(bits(&t.data), got, "{scheme} {} read back", t.name);
        }
        if scheme.starts_with("tfjs") {
            assert_eq!(back.quantization.len(), 3);
            for (name, q) in &back.quantization {
                let orig = model.tensor(name).unwrap();
                let Scheme::Linear(l) = &s else {
                    unreachable!()
                };
                let ql = l.quantize(orig).unwrap();
                assert_eq!(q.affine, ql.tfjs, "{scheme} {name}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_tfjs_model_goes_back_out_as_tfjs() {
    // The tensorflowjs fixture (float32, float16, uint8 and uint16 weights) requantized.
    let dir = root().join("tests/fixtures/tfjs/layers");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let model = open_many(&refs).unwrap();
    let out = tmp("layers");
    let manifest = out.join("layers-weights_manifest.json");
    let (ok, stdout, err) = quantscope(&[
        "quantize",
        dir.join("model.json").to_str().unwrap(),
        dir.join("group1-shard1of2.bin").to_str().unwrap(),
        dir.join("group1-shard2of2.bin").to_str().unwrap(),
        dir.join("group2-shard1of1.bin").to_str().unwrap(),
        "-s",
        "tfjs-uint16",
        "-o",
        manifest.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["format"], "tfjs");
    assert!(out.join("layers.group1-shard1of1.bin").is_file());
    let Some(decoded) = tfjs_decode(&manifest) else {
        return;
    };
    let s: Scheme = "tfjs-uint16".parse().unwrap();
    for t in model.info().tensors {
        let t = model.load(&t.name).unwrap();
        let got: Vec<u32> =
            serde_json::from_value(decoded["tensors"][&t.name]["bits"].clone()).unwrap();
        let want = if t.shape.len() >= 2 {
            s.encode(&t).unwrap().dequantize()
        } else {
            t.data.clone()
        };
        assert_eq!(got, bits(&want), "{}", t.name);
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn schemes_tfjs_cannot_store_are_refused_by_name() {
    let model = source("torchscript/small.pt");
    for s in ["int8-sym", "q4_0", "nf4", "tfjs-uint8-ch0"] {
        let Ok(scheme) = s.parse::<Scheme>() else {
            continue; // tfjs-uint8-ch0 is refused when parsed (one scale per tensor)
        };
        let e = tfjs::write(&model, &scheme, "x", 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("`{s}`")) && e.contains("tfjs-uint8"),
            "{e}"
        );
    }
    let out = tmp("refuse");
    let (ok, _, err) = quantscope(&[
        "quantize",
        "tests/fixtures/torchscript/small.pt",
        "-s",
        "int8-sym",
        "-o",
        out.join("m-weights_manifest.json").to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("cannot be written as TF.js weights"),
        "{err}"
    );
    assert!(
        !out.join("m-weights_manifest.json").exists(),
        "no file left behind"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
