//! The linear family and its tool presets held to the tools: codes, scales, zero points
//! and packed bytes bit for bit (ONNX Runtime, TF.js, and the numpy transcriptions of
//! PyTorch and TFLite), calibrated ranges against ONNX Runtime's calibrators, the MSE
//! search against a second implementation. Fixtures: scripts/gen_linear_fixtures.py.
#![cfg(not(target_arch = "wasm32"))] // reads fixture files: native only

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quantscope::quant::{Convention, LinearScheme, RangeMethod, Scheme};
use quantscope::{Model, Tensor};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linear")
}

fn open(file: &str) -> Model {
    let path = dir().join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    quantscope::open(&bytes, file).unwrap()
}

fn cases() -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir().join("cases.json")).unwrap()).unwrap()
}

fn linear(spec: &str) -> LinearScheme {
    match spec.parse::<Scheme>().unwrap() {
        Scheme::Linear(l) => l,
        other => panic!("{spec} parsed as {other:?}, not a linear scheme"),
    }
}

struct Case {
    input: Tensor,
    scheme: LinearScheme,
    spec: String,
    expected: BTreeMap<String, Vec<f32>>,
}

/// Every case whose scheme satisfies `pick`, with its input and expected arrays.
fn load(pick: impl Fn(&LinearScheme) -> bool) -> Vec<Case> {
    let mut inputs: BTreeMap<String, Model> = BTreeMap::new();
    let mut out = Vec::new();
    for c in cases() {
        let spec = c["scheme"].as_str().unwrap().to_string();
        let scheme = linear(&spec);
        assert_eq!(scheme.to_string(), spec, "canonical form");
        if !pick(&scheme) {
            continue;
        }
        let input = c["input"].as_str().unwrap();
        let exp_file = c["expected"].as_str().unwrap().to_string();
        let exp = inputs
            .entry(exp_file.clone())
            .or_insert_with(|| open(&exp_file));
        let prefix = format!("{spec}.");
        let expected = exp
            .tensors
            .iter()
            .filter_map(|t| {
                t.name
                    .strip_prefix(&prefix)
                    .map(|k| (k.to_string(), t.data.clone()))
            })
            .collect();
        out.push(Case {
            input: open(input).tensors.remove(0),
            scheme,
            spec,
            expected,
        });
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

/// Codes, scales, zero points and packed bytes, where the fixture has them, exactly.
fn assert_exact(c: &Case) -> usize {
    let q = c.scheme.quantize(&c.input).unwrap();
    let what = format!("{} on {}", c.spec, c.input.name);
    let mut checked = 0;
    if let Some(want) = c.expected.get("codes") {
        let got = q.codes();
        let want: Vec<i32> = want.iter().map(|&v| v as i32).collect();
        let bad: Vec<usize> = (0..want.len()).filter(|&i| got[i] != want[i]).collect();
        assert!(
            bad.is_empty(),
            "{what}: {} of {} codes differ, first at {} ({} vs {})",
            bad.len(),
            want.len(),
            bad[0],
            got[bad[0]],
            want[bad[0]]
        );
        checked += want.len();
    }
    if let Some(want) = c.expected.get("scales") {
        let got: Vec<f32> = if c.scheme.convention == Convention::Tfjs {
            q.tfjs.iter().map(|t| t.0 as f32).collect()
        } else {
            q.scales()
        };
        assert_eq!(bits(&got), bits(want), "{what}: scales {got:?} vs {want:?}");
    }
    if let Some(want) = c.expected.get("mins") {
        let got: Vec<f32> = q.tfjs.iter().map(|t| t.1 as f32).collect();
        assert_eq!(bits(&got), bits(want), "{what}: mins");
    }
    if let Some(want) = c.expected.get("zero_points") {
        let want: Vec<i32> = want.iter().map(|&v| v as i32).collect();
        assert_eq!(q.zero_points(), want, "{what}: zero points");
    }
    if let Some(want) = c.expected.get("packed") {
        let want: Vec<u8> = want.iter().map(|&v| v as u8).collect();
        assert_eq!(q.packed, want, "{what}: packed bytes");
        assert!(q.packed_bytes() >= q.packed.len() + 4 * q.params.len());
    }
    if let Some(want) = c.expected.get("dequant") {
        assert_eq!(
            bits(&q.dequantize()),
            bits(want),
            "{what}: dequantized values"
        );
    }
    checked
}

fn run_exact(pick: impl Fn(&LinearScheme) -> bool, min_cases: usize) {
    let cases = load(pick);
    assert!(cases.len() >= min_cases, "only {} cases", cases.len());
    let codes: usize = cases.iter().map(assert_exact).sum();
    assert!(codes > 1000, "{codes} codes checked");
}

fn minmax(s: &LinearScheme) -> bool {
    s.range == RangeMethod::MinMax
}

#[test]
fn onnx_runtime_codes_scales_zero_points_packing() {
    run_exact(|s| s.convention == Convention::Ort && minmax(s), 150);
}

#[test]
fn plain_widths_2_to_8_and_their_packing() {
    run_exact(
        |s| s.convention == Convention::Plain && minmax(s) && s.rounding == Default::default(),
        50,
    );
}

#[test]
fn rounding_half_away_and_stochastic() {
    run_exact(|s| s.rounding != Default::default(), 8);
}

#[test]
fn tfjs_uint8_and_uint16() {
    run_exact(|s| s.convention == Convention::Tfjs, 10);
}

#[test]
fn pytorch_observer_formulas() {
    run_exact(|s| s.convention == Convention::Torch, 40);
}

#[test]
fn tflite_weight_formulas() {
    run_exact(|s| s.convention == Convention::Tflite, 15);
}

#[test]
fn percentile_ranges_equal_onnx_runtime() {
    let cases = load(|s| matches!(s.range, RangeMethod::Percentile { .. }));
    assert!(cases.len() >= 8);
    for c in &cases {
        let q = c.scheme.quantize(&c.input).unwrap();
        let want = &c.expected["ranges"];
        let got: Vec<f32> = q.ranges.iter().flat_map(|r| [r.0, r.1]).collect();
        assert_eq!(bits(&got), bits(want), "{} on {}", c.spec, c.input.name);
        assert_exact(c);
    }
}

/// ORT's entropy search sums its KL divergences in f32 (numpy's pairwise sum) where we
/// sum in f64, so a near-tie between candidates may resolve to a neighbour: the
/// threshold must be within two histogram bins, and equal in most cases; where it is
/// equal, codes must be too.
#[test]
fn entropy_ranges_match_onnx_runtime_within_two_bins() {
    let cases = load(|s| s.range == RangeMethod::Kl);
    assert!(cases.len() >= 8);
    let (mut same, mut total) = (0, 0);
    for c in &cases {
        let q = c.scheme.quantize(&c.input).unwrap();
        let want = &c.expected["ranges"];
        let absmax = c.input.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        let bin = 2.0 * absmax / 2048.0;
        for (i, r) in q.ranges.iter().enumerate() {
            let (wl, wh) = (want[2 * i], want[2 * i + 1]);
            assert!(
                (r.0 - wl).abs() <= 2.0 * bin && (r.1 - wh).abs() <= 2.0 * bin,
                "{} on {} slot {i}: {r:?} vs ({wl}, {wh})",
                c.spec,
                c.input.name
            );
            same += (r.0 == wl && r.1 == wh) as usize;
            total += 1;
        }
        if q.ranges
            .iter()
            .flat_map(|r| [r.0, r.1])
            .eq(want.iter().copied())
        {
            assert_exact(c);
        }
    }
    eprintln!("entropy: {same} of {total} thresholds equal ONNX Runtime's");
    assert!(
        same * 10 >= total * 8,
        "only {same} of {total} thresholds equal ORT's"
    );
}

#[test]
fn mse_search_is_as_good_as_the_reference() {
    let cases = load(|s| s.range == RangeMethod::Mse);
    assert!(cases.len() >= 6);
    for c in &cases {
        let q = c.scheme.quantize(&c.input).unwrap();
        let y = q.dequantize();
        let sse: f64 = c
            .input
            .data
            .iter()
            .zip(&y)
            .map(|(&a, &b)| ((b - a) as f64).powi(2))
            .sum();
        let want: f64 = c.expected["sse"].iter().map(|&v| v as f64).sum();
        assert!(
            sse <= want * (1.0 + 1e-5),
            "{} on {}: SSE {sse} vs reference {want}",
            c.spec,
            c.input.name
        );
        let want_r = &c.expected["ranges"];
        let same = q
            .ranges
            .iter()
            .enumerate()
            .filter(|(i, r)| r.0 == want_r[2 * i] && r.1 == want_r[2 * i + 1])
            .count();
        assert!(
            same * 10 >= q.ranges.len() * 9,
            "{}: {same} of {} ranges equal",
            c.spec,
            q.ranges.len()
        );
        // The search must actually clip something on heavy-tailed data.
        if c.input.name == "heavy" && c.scheme.bits <= 4 {
            let (lo, hi) = q.ranges[0];
            let (mn, mx) = c
                .input
                .data
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(lo > mn || hi < mx, "{}: no clipping", c.spec);
        }
    }
}

#[test]
fn a_real_tensor_is_among_the_inputs() {
    let c = cases();
    assert!(c.iter().any(|c| c["input"] == "minilm_query.npy"));
    let m = open("minilm_query.npy");
    let t = &m.tensors[0];
    assert_eq!(t.shape, vec![24, 64]);
    // Trained weights are not all alike: the value spread differs across rows.
    let std = |r: &[f32]| (r.iter().map(|v| v * v).sum::<f32>() / r.len() as f32).sqrt();
    let s: Vec<f32> = t.data.chunks(64).map(std).collect();
    assert!(
        s.iter().cloned().fold(0.0, f32::max) > 1.2 * s.iter().cloned().fold(f32::MAX, f32::min)
    );
}
