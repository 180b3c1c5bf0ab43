//! Results held to the real tools: readers against numpy / safetensors, linear
//! quantization against ONNX Runtime. Fixtures and expected values come from
//! scripts/gen_fixtures.py (run scripts/gen_fixtures.sh to regenerate).
#![cfg(not(target_arch = "wasm32"))] // reads files / spawns the CLI: native only

use std::path::{Path, PathBuf};

use quantscope::{quant::Scheme, Model};
use serde_json::Value;

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn open(path: &Path) -> Result<Model, quantscope::Error> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    quantscope::open(&bytes, &path.to_string_lossy())
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dir("formats").join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn readers_return_what_the_tools_wrote() {
    let m = manifest();
    let files = m["files"].as_array().unwrap();
    assert!(files.len() >= 8);
    for f in files {
        let file = f["file"].as_str().unwrap();
        let model = open(&dir("formats").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let expected = open(&dir("formats/expected").join(format!("{file}.npz"))).unwrap();
        let want = f["tensors"].as_array().unwrap();
        assert_eq!(model.tensors.len(), want.len(), "{file}");
        for (t, w) in model.tensors.iter().zip(want) {
            assert_eq!(t.name, w["name"].as_str().unwrap(), "{file}");
            let shape: Vec<usize> = w["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(t.shape, shape, "{file} {}", t.name);
            assert_eq!(t.dtype.name(), w["dtype"].as_str().unwrap(), "{file}");
            let e = expected.tensor(&t.name).unwrap();
            assert_eq!(e.shape, t.shape);
            let got: Vec<u32> = t.data.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u32> = e.data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{file} {} values", t.name);
        }
    }
}

/// Opens one file through the lazy `ModelFile` (the page's and the CLI's path).
fn open_lazily(path: &Path) -> quantscope::Result<quantscope::formats::ModelFile> {
    use quantscope::formats::source::{ByteSource, InMemory};
    let bytes = std::fs::read(path).unwrap();
    let src: Box<dyn ByteSource> = Box::new(InMemory(bytes));
    quantscope::formats::ModelFile::open(vec![(path.to_string_lossy().into(), src)])
}

#[test]
fn lazy_readers_return_what_the_tools_wrote() {
    use quantscope::TensorStore;
    let m = manifest();
    // Listed from their headers (a deflated .npz member too: indexed, inflated when its
    // tensor is read); the others are decoded whole when opened (Fortran order and
    // big-endian need reordering).
    let lazy = [
        "small.safetensors",
        "small.npy",
        "half.npy",
        "ints.npy",
        "arrays.npz",
        "arrays_deflated.npz",
    ];
    for f in m["files"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        let model =
            open_lazily(&dir("formats").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(model.is_lazy(), lazy.contains(&file), "{file} read lazily");
        let expected = open(&dir("formats/expected").join(format!("{file}.npz"))).unwrap();
        let info = model.info();
        let names: Vec<&str> = info.tensors.iter().map(|t| t.name.as_str()).collect();
        let want: Vec<&str> = f["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{file}");
        for t in &info.tensors {
            let got = model.load(&t.name).unwrap();
            let e = expected.tensor(&t.name).unwrap();
            assert_eq!(got.shape, e.shape, "{file} {}", t.name);
            assert_eq!(t.shape, e.shape, "{file} {} listed shape", t.name);
            let got: Vec<u32> = got.data.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u32> = e.data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{file} {} values", t.name);
        }
    }
    // The corrupt files give the same errors on the lazy path.
    for c in m["corrupt"].as_array().unwrap() {
        let file = c["file"].as_str().unwrap();
        let needle = c["error"].as_str().unwrap();
        let err = match open_lazily(&dir("formats").join(file)) {
            Err(e) => e.to_string(),
            Ok(model) => model
                .info()
                .tensors
                .iter()
                .find_map(|t| model.load(&t.name).err())
                .unwrap_or_else(|| panic!("{file} opened lazily but is broken"))
                .to_string(),
        };
        assert!(
            err.contains(needle),
            "{file} lazily: `{err}` lacks `{needle}`"
        );
    }
}

#[test]
fn safetensors_metadata_is_kept() {
    let model = open(&dir("formats").join("small.safetensors")).unwrap();
    assert_eq!(
        model.metadata.get("origin").map(String::as_str),
        Some("gen_fixtures")
    );
}

#[test]
fn broken_files_give_errors_that_name_the_problem() {
    let m = manifest();
    let corrupt = m["corrupt"].as_array().unwrap();
    assert!(corrupt.len() >= 7);
    for c in corrupt {
        let file = c["file"].as_str().unwrap();
        let needle = c["error"].as_str().unwrap();
        let err = open(&dir("formats").join(file))
            .err()
            .unwrap_or_else(|| panic!("{file} opened but is broken"))
            .to_string();
        assert!(err.contains(needle), "{file}: `{err}` lacks `{needle}`");
    }
}

fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

#[test]
fn linear_int8_matches_onnx_runtime() {
    let text = std::fs::read_to_string(dir("quant").join("cases.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 30);
    let mut checked_codes = 0usize;
    for c in &cases {
        let input = open(&dir("quant").join(c["input"].as_str().unwrap())).unwrap();
        let x = &input.tensors[0];
        let scheme_str = c["scheme"].as_str().unwrap();
        let Scheme::Linear(scheme) = scheme_str.parse::<Scheme>().unwrap() else {
            panic!("{scheme_str} is not linear")
        };
        let q = scheme.quantize(x).unwrap();
        let exp = open(&dir("quant").join(c["expected"].as_str().unwrap())).unwrap();
        let codes: Vec<i32> = exp
            .tensor("codes")
            .unwrap()
            .data
            .iter()
            .map(|&v| v as i32)
            .collect();
        let scales = &exp.tensor("scales").unwrap().data;
        let zps: Vec<i32> = exp
            .tensor("zero_points")
            .unwrap()
            .data
            .iter()
            .map(|&v| v as i32)
            .collect();
        assert_eq!(q.params.len(), scales.len(), "{scheme_str} on {}", x.name);
        for (i, (p, &s)) in q.params.iter().zip(scales).enumerate() {
            assert!(
                ulps(p.scale, s) <= 1,
                "{scheme_str} {} channel {i}: scale {} vs {s}",
                x.name,
                p.scale
            );
        }
        assert_eq!(q.zero_points(), zps, "{scheme_str} {} zero points", x.name);
        let got = q.codes();
        let mismatches: Vec<usize> = (0..codes.len()).filter(|&i| got[i] != codes[i]).collect();
        assert!(
            mismatches.is_empty(),
            "{scheme_str} {}: {} codes differ, first at {} ({} vs {})",
            x.name,
            mismatches.len(),
            mismatches[0],
            got[mismatches[0]],
            codes[mismatches[0]]
        );
        checked_codes += codes.len();
    }
    assert!(checked_codes > 10_000);
}
