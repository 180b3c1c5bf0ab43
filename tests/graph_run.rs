//! `quantscope run`: whole-model float vs quantized runs, as a user runs them. Fixtures
//! are made by scripts/gen_graph_fixtures.py (onnx.helper models, numpy inputs,
//! onnxruntime's outputs); real models come from the packages setup installs.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/cli.rs"]
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::quantscope;

const CONVNET: &str = "tests/fixtures/graph/convnet.onnx";
const CONVNET_NPZ: &str = "tests/fixtures/graph/convnet.npz";

fn run_json(args: &[&str]) -> Value {
    let (ok, out, err) = quantscope(args);
    assert!(ok, "quantscope {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quantscope-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn sqnr(r: &Value) -> f64 {
    r["sqnr_db"].as_f64().unwrap_or(f64::INFINITY)
}

#[test]
fn float_outputs_equal_onnxruntime() {
    let dump = tmp("convnet.outputs.json");
    let d = dump.to_str().unwrap();
    run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--dump-outputs",
        d,
        "--json",
    ]);
    let ours: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let ort: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/graph/convnet.ort.json").unwrap(),
    )
    .unwrap();
    let o = &ours[0];
    assert_eq!(o["name"], "probs");
    assert_eq!(o["shape"], ort["probs"]["shape"]);
    let want: Vec<f64> = ort["probs"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let got: Vec<f64> = o["float"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let scale = want.iter().fold(0f64, |a, v| a.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-5 * scale,
            "float output {g} vs onnxruntime {w}"
        );
    }
    // The quantized outputs really differ from the float ones.
    assert_ne!(o["float"], o["quantized"]);
}

#[test]
fn every_node_is_reported_in_order_and_weight_nodes_have_isolated_error() {
    let r = run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--json",
    ]);
    let nodes = r["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["conv", "relu1", "flatten", "fc", "relu2", "out", "softmax"]
    );
    for n in nodes {
        let weight_op = ["Conv", "Gemm", "MatMul"].contains(&n["op_type"].as_str().unwrap());
        assert_eq!(n["isolated"].is_object(), weight_op, "{n}");
        assert_eq!(n["scheme"].as_str(), weight_op.then_some("int8-sym-ch0"));
        let acc = sqnr(&n["accumulated"]);
        assert!(acc.is_finite() && acc > 10.0 && acc < 80.0, "{n}");
    }
    // The first node sees the float input either way: isolated is accumulated there.
    assert_eq!(nodes[0]["isolated"], nodes[0]["accumulated"]);
    // Later, error has accumulated: the output carries more than the last node alone.
    let out = nodes.iter().find(|n| n["node"] == "out").unwrap();
    assert!(sqnr(&out["accumulated"]) < sqnr(&out["isolated"]), "{out}");
    // Ranking: the weight nodes, worst isolated first.
    let ranked: Vec<f64> = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| sqnr(&nodes[i.as_u64().unwrap() as usize]["isolated"]))
        .collect();
    assert_eq!(ranked.len(), 3);
    assert!(ranked.windows(2).all(|w| w[0] <= w[1]), "{ranked:?}");
    let probs = &r["outputs"][0];
    assert_eq!(probs["name"], "probs");
    assert!(probs["top1_agreement"].as_f64().unwrap() >= 0.5);
    assert_eq!(probs["float_preview"].as_array().unwrap().len(), 10);
}

#[test]
fn coarser_schemes_do_more_damage() {
    let out_sqnr = |scheme: &str| {
        let r = run_json(&[
            "run",
            CONVNET,
            "--scheme",
            scheme,
            "--inputs",
            CONVNET_NPZ,
            "--json",
            "--no-isolated",
        ]);
        sqnr(&r["outputs"][0]["metrics"])
    };
    let (i8, i4, i2) = (
        out_sqnr("int8-sym-ch0"),
        out_sqnr("int4-sym-ch0"),
        out_sqnr("int2-sym-ch0"),
    );
    assert!(i8 > i4 + 10.0 && i4 > i2, "int8 {i8} int4 {i4} int2 {i2}");
    // Schemes beyond the linear ones run too (dequantized weights in the graph).
    let nf4 = out_sqnr("nf4");
    assert!(nf4.is_finite() && nf4 < i8, "nf4 {nf4}");
}

#[test]
fn full_mode_quantizes_the_weight_ops_activation_inputs() {
    let w = run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--json",
    ]);
    let f = run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--mode",
        "full",
        "--json",
    ]);
    assert_eq!(f["mode"], "full");
    assert_eq!(f["act"], "ort-uint8-asym");
    let acts: Vec<&str> = f["activations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    // The graph input `x` stays float (src/graph/mod.rs, activations(): quantizing it, our
    // run and ONNX Runtime's on the QDQ export disagreed; see that comment).
    assert_eq!(acts, ["flat", "relu2"]);
    for a in f["activations"].as_array().unwrap() {
        assert_eq!(
            (a["qmin"].as_i64(), a["qmax"].as_i64()),
            (Some(0), Some(255))
        );
        assert!(a["scale"].as_f64().unwrap() > 0.0);
    }
    // The conv reads the float graph input, so its isolated error is the weights mode's.
    assert_eq!(w["nodes"][0]["isolated"], f["nodes"][0]["isolated"]);
    let bad = quantscope(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym",
        "--mode",
        "full",
        "--act",
        "int4-asym",
    ]);
    assert!(!bad.0 && bad.2.contains("8-bit"), "{}", bad.2);
}

#[test]
fn excluding_a_node_keeps_it_float_in_the_run_and_the_export() {
    let base = tmp("convnet.q.onnx");
    let excl = tmp("convnet.excl.onnx");
    let r = run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--json",
        "-o",
        base.to_str().unwrap(),
    ]);
    let x = run_json(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym-ch0",
        "--inputs",
        CONVNET_NPZ,
        "--json",
        "--exclude",
        "fc",
        "-o",
        excl.to_str().unwrap(),
    ]);
    assert_eq!(x["nodes_to_exclude"], serde_json::json!(["fc"]));
    assert_eq!(r["nodes_to_exclude"], serde_json::json!([]));
    let fc = x["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "fc")
        .unwrap();
    assert_eq!(fc["excluded"], true);
    assert!(fc["isolated"].is_null() && fc["scheme"].is_null());
    assert_ne!(r["outputs"][0]["metrics"], x["outputs"][0]["metrics"]);
    // Upstream of the exclusion nothing changed.
    assert_eq!(r["nodes"][0]["accumulated"], x["nodes"][0]["accumulated"]);
    let tensors = |p: &Path| -> Vec<(String, String)> {
        let v = run_json(&["inspect", p.to_str().unwrap(), "--json"]);
        v["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["dtype"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let b = tensors(&base);
    let e = tensors(&excl);
    assert!(
        b.contains(&("fc.weight_quantized".into(), "I8".into())),
        "{b:?}"
    );
    assert!(!b.iter().any(|(n, _)| n == "fc.weight"), "{b:?}");
    assert!(e.contains(&("fc.weight".into(), "F32".into())), "{e:?}");
    assert!(
        e.contains(&("conv.weight_quantized".into(), "I8".into())),
        "{e:?}"
    );
    // A name that is no node is refused by name.
    let (ok, _, err) = quantscope(&["run", CONVNET, "--scheme", "int8-sym", "--exclude", "nope"]);
    assert!(!ok && err.contains("`nope`"), "{err}");
}

#[test]
fn generated_inputs_follow_the_seed() {
    let a = run_json(&[
        "run", CONVNET, "--scheme", "int8-sym", "--seed", "3", "--json",
    ]);
    let b = run_json(&[
        "run", CONVNET, "--scheme", "int8-sym", "--seed", "3", "--json",
    ]);
    let c = run_json(&[
        "run", CONVNET, "--scheme", "int8-sym", "--seed", "4", "--json",
    ]);
    assert_eq!(a, b);
    assert_ne!(a["nodes"], c["nodes"]);
    assert_eq!(a["inputs"][0]["shape"], serde_json::json!([1, 2, 6, 6]));
    assert_eq!(a["inputs"][0]["source"], "N(0, 1), seeded");
    let d = run_json(&[
        "run", CONVNET, "--scheme", "int8-sym", "--dim", "batch=3", "--json",
    ]);
    assert_eq!(d["inputs"][0]["shape"], serde_json::json!([3, 2, 6, 6]));
    assert_eq!(d["outputs"][0]["shape"], serde_json::json!([3, 5]));
}

#[test]
fn csv_has_one_line_per_node_output() {
    let (ok, out, err) = quantscope(&["run", CONVNET, "--scheme", "int8-sym", "--csv"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("index,node,op_type,output,shape,acc_sqnr_db"));
    assert_eq!(lines.len(), 8);
    assert!(lines[1].starts_with("0,conv,Conv,conv,1x3x4x4,"));
}

#[test]
fn bad_input_gets_a_clear_error() {
    // An operator the engine lacks is named, with its node.
    let (ok, _, err) = quantscope(&[
        "run",
        "tests/fixtures/graph/det_op.onnx",
        "--scheme",
        "int8-sym",
    ]);
    assert!(
        !ok && err.contains("no operator Det") && err.contains("det (Det)"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    // A truncated model.
    let bytes = std::fs::read(CONVNET).unwrap();
    let cut = tmp("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, _, err) = quantscope(&["run", cut.to_str().unwrap(), "--scheme", "int8-sym"]);
    assert!(
        !ok && err.contains("ONNX") && !err.contains("panicked"),
        "{err}"
    );
    // An inputs file whose array matches no input.
    let npz = tmp("wrong.npz");
    let src = std::fs::read(CONVNET_NPZ).unwrap();
    // The same archive with its member renamed x.npy -> y.npy (same length).
    let renamed: Vec<u8> = replace_all(&src, b"x.npy", b"y.npy");
    std::fs::write(&npz, renamed).unwrap();
    let (ok, _, err) = quantscope(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym",
        "--inputs",
        npz.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("`y`") && err.contains("`x`"), "{err}");
    // An absurd dimension is refused before anything is allocated.
    let (ok, _, err) = quantscope(&[
        "run",
        CONVNET,
        "--scheme",
        "int8-sym",
        "--dim",
        "batch=100000000000",
    ]);
    assert!(!ok && err.contains("elements"), "{err}");
    let (ok, _, err) = quantscope(&["run", CONVNET, "--scheme", "int8-sym", "--dim", "batch"]);
    assert!(!ok && err.contains("NAME=N"), "{err}");
    let (ok, _, err) = quantscope(&["run", CONVNET, "--scheme", "int8-sym", "--mode", "half"]);
    assert!(!ok && err.contains("`half`"), "{err}");
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = hay.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

fn package_file(package: &str, rel: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(root.join(".venv/bin/python"))
        .args([
            "-c",
            &format!("import importlib.util as u; s = u.find_spec('{package}'); print(s.submodule_search_locations[0] if s else '')"),
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let p = PathBuf::from(dir).join(rel);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "\n!!!!!!!! SKIPPED: {rel} of the `{package}` package is not installed.\n\
             !!!!!!!! Run `bash scripts/setup-python.sh` (npm test does) to install it.\n"
        );
        None
    }
}

#[test]
fn silero_vad_runs_with_its_if_branches_followed() {
    let Some(p) = package_file("silero_vad", "data/silero_vad.onnx") else {
        return;
    };
    let r = run_json(&[
        "run",
        p.to_str().unwrap(),
        "--scheme",
        "int8-sym-ch0",
        "--dim",
        "input.1=512",
        "--json",
    ]);
    let inputs = r["inputs"].as_array().unwrap();
    let by_name = |n: &str| inputs.iter().find(|i| i["name"] == n).unwrap().clone();
    assert_eq!(by_name("sr")["source"], "16000 (a sample rate)");
    assert_eq!(by_name("state")["source"], "zeros (a state input)");
    assert_eq!(by_name("state")["shape"], serde_json::json!([2, 1, 128]));
    let notes = r["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("is true for these inputs")),
        "{notes:?}"
    );
    // The 16 kHz branch's Conv and LSTM-side weights are followed one by one.
    let convs = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["op_type"] == "Conv" && n["isolated"].is_object())
        .count();
    assert!(convs >= 5, "{convs} Conv nodes with isolated error");
    assert_eq!(r["outputs"].as_array().unwrap().len(), 2);
}

#[test]
fn paddleocr_needs_its_image_size_fixed() {
    let Some(p) = package_file("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx") else {
        return;
    };
    let (ok, _, err) = quantscope(&["run", p.to_str().unwrap(), "--scheme", "int8-sym-ch0"]);
    assert!(
        !ok && err.contains("p2o.DynamicDimension.1") && err.contains("--dim"),
        "{err}"
    );
}
