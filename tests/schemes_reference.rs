//! The non-linear scheme families held to the real tools: NF4/FP4 codes and absmax to
//! bitsandbytes' rule and its CPU kernel's dequantization, FP8 to ONNX's reference Cast
//! (saturate=1), FP16/BF16 to numpy / ml_dtypes, powers of two to a numpy nearest-level
//! reference, mixed INT8+FP16 to numpy and onnxruntime. Fixtures come from
//! scripts/gen_scheme_fixtures.py (run scripts/gen_scheme_fixtures.sh to regenerate).
#![cfg(not(target_arch = "wasm32"))] // reads files: native only

use std::path::{Path, PathBuf};

use quantscope::quant::{float::FloatFormat, nf4, Encoded, Scheme};
use quantscope::{Model, Tensor};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemes")
}

fn open(file: &str) -> Model {
    let path = dir().join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    quantscope::open(&bytes, file).unwrap()
}

fn input(spec: &str) -> Tensor {
    if let Some(name) = spec.strip_prefix("demo:") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/public/demo.safetensors");
        let bytes = std::fs::read(path).unwrap();
        let m = quantscope::open(&bytes, "demo.safetensors").unwrap();
        return m.tensor(name).unwrap().clone();
    }
    open(spec).tensors.remove(0)
}

fn cases(family: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("cases.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all[family].as_array().unwrap().clone()
}

fn field<'a>(m: &'a Model, name: &str) -> &'a [f32] {
    &m.tensor(name).unwrap().data
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// First index where two sequences differ, for a readable failure.
fn first_diff<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T]) -> Option<(usize, String)> {
    assert_eq!(a.len(), b.len(), "lengths");
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| (i, format!("{:?} vs {:?}", a[i], b[i])))
}

#[test]
fn four_bit_tables_are_bitsandbytes_own() {
    let t = open("bnb_tables.npz");
    for (name, format) in [
        ("nf4", nf4::FourBitFormat::Nf4),
        ("fp4", nf4::FourBitFormat::Fp4),
    ] {
        let ours = nf4::levels(format);
        // == rather than bits: FP4's code 8 is -0.0 in bitsandbytes' C kernels and
        // +0.0 in its Python table.
        assert_eq!(&ours[..], field(&t, name), "{name}");
    }
}

#[test]
fn nf4_fp4_codes_and_absmax_match_bitsandbytes() {
    let cases = cases("fourbit");
    assert!(cases.len() >= 16);
    let mut checked = 0;
    for c in &cases {
        let x = input(c["input"].as_str().unwrap());
        let s = c["scheme"].as_str().unwrap();
        let Scheme::FourBit(scheme) = s.parse::<Scheme>().unwrap() else {
            panic!("{s}")
        };
        let q = scheme.quantize(&x).unwrap();
        let e = open(c["expected"].as_str().unwrap());
        let packed: Vec<u8> = field(&e, "packed").iter().map(|&v| v as u8).collect();
        let what = format!("{s} on {}", c["input"]);
        if let Some((i, d)) = first_diff(&q.packed, &packed) {
            panic!("{what}: packed byte {i} differs: {d}");
        }
        assert_eq!(bits(&q.absmax), bits(field(&e, "absmax")), "{what}: absmax");
        let y = q.dequantize();
        let want = field(&e, "dequantized");
        if c["dequantized_by"] == "libbitsandbytes_cpu" {
            if let Some((i, d)) = first_diff(&bits(&y), &bits(want)) {
                panic!("{what}: value {i} differs from bitsandbytes' kernel: {d}");
            }
        } else {
            // bitsandbytes' Python fallback (odd counts) decodes FP4's code 8 as +0.0.
            assert_eq!(&y[..], want, "{what}: values");
        }
        checked += x.numel();
    }
    assert!(checked > 20_000);
}

#[test]
fn float_casts_match_onnx_and_numpy_bit_for_bit() {
    let cases = cases("float");
    assert_eq!(cases.len(), 4);
    for c in &cases {
        let x = input(c["input"].as_str().unwrap());
        let s = c["scheme"].as_str().unwrap();
        let Scheme::Float(scheme) = s.parse::<Scheme>().unwrap() else {
            panic!("{s}")
        };
        let q = scheme.quantize(&x).unwrap();
        let e = open(c["expected"].as_str().unwrap());
        let want: Vec<u16> = field(&e, "bits").iter().map(|&v| v as u16).collect();
        if let Some((i, d)) = first_diff(&q.codes, &want) {
            panic!("{s}: value {i} ({:e}) casts differently: {d}", x.data[i]);
        }
        // Dequantized values are the format's values, exactly.
        let y = q.dequantize();
        for (v, &b) in y.iter().zip(&want) {
            assert_eq!(v.to_bits(), scheme.format.decode(b).to_bits());
        }
        // NaN and infinities, through the element cast (tensors refuse them).
        let sp = &c["special"];
        let want: Vec<u16> = sp["bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u16)
            .collect();
        let f = scheme.format;
        let got: Vec<u16> = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
            .iter()
            .map(|&v| f.encode(v))
            .collect();
        assert!(f.decode(got[0]).is_nan(), "{s}: NaN stays NaN");
        if matches!(f, FloatFormat::Fp8E4m3 | FloatFormat::Fp8E5m2) {
            assert_eq!(got, want, "{s}: NaN, +Inf, -Inf");
        } else {
            assert_eq!(got[1..], want[1..], "{s}: +-Inf saturate");
        }
    }
}

#[test]
fn powers_of_two_match_the_numpy_nearest_level_reference() {
    let cases = cases("log");
    assert!(cases.len() >= 20);
    for c in &cases {
        let x = input(c["input"].as_str().unwrap());
        let s = c["scheme"].as_str().unwrap();
        let Scheme::Log(scheme) = s.parse::<Scheme>().unwrap() else {
            panic!("{s}")
        };
        let q = scheme.quantize(&x).unwrap();
        let e = open(c["expected"].as_str().unwrap());
        let what = format!("{s} on {}", c["input"]);
        assert_eq!(
            q.top_exponent,
            field(&e, "top_exponent")[0] as i32,
            "{what}: top exponent"
        );
        assert_eq!(bits(&q.magnitudes), bits(field(&e, "magnitudes")), "{what}");
        let codes: Vec<u8> = field(&e, "codes").iter().map(|&v| v as u8).collect();
        if let Some((i, d)) = first_diff(&q.codes, &codes) {
            panic!("{what}: code {i} (x = {:e}) differs: {d}", x.data[i]);
        }
        assert_eq!(&q.dequantize()[..], field(&e, "values"), "{what}");
    }
}

#[test]
fn mixed_int8_fp16_matches_numpy_and_onnx_runtime() {
    let cases = cases("mixed");
    assert_eq!(cases.len(), 3);
    for c in &cases {
        let x = input(c["input"].as_str().unwrap());
        let s = c["scheme"].as_str().unwrap();
        let Scheme::Mixed(scheme) = s.parse::<Scheme>().unwrap() else {
            panic!("{s}")
        };
        let q = scheme.quantize(&x).unwrap();
        let e = open(c["expected"].as_str().unwrap());
        let cols: Vec<usize> = field(&e, "outlier_cols")
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(q.outlier_cols, cols, "{s}: outlier columns");
        assert_eq!(bits(&q.int8.scales()), bits(field(&e, "scales")), "{s}");
        let codes: Vec<i32> = field(&e, "codes").iter().map(|&v| v as i32).collect();
        let mut ours = q.int8.codes();
        // Outlier columns hold zero codes in the int8 part; the fixture's too.
        for r in ours.chunks_mut(q.cols) {
            for &c in &q.outlier_cols {
                r[c] = 0;
            }
        }
        assert_eq!(ours, codes, "{s}: int8 codes");
        assert_eq!(
            bits(&q.dequantize()),
            bits(field(&e, "dequantized")),
            "{s}: values"
        );
    }
}
