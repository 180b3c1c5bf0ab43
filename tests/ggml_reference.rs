//! ggml block formats held to the real tools: quantized bytes equal to the `gguf`
//! package (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and to ggml's C reference (Q4_K, Q6_K), and
//! dequantized f32 equal to gguf.quants.dequantize, bit for bit. Fixtures come from
//! scripts/gen_ggml_fixtures.py (run scripts/gen_ggml_fixtures.sh to regenerate).
#![cfg(not(target_arch = "wasm32"))] // reads files: native only

use std::path::{Path, PathBuf};

use quantscope::quant::ggml::{dequantize, quantize, quantize_to, GgmlType};
use quantscope::quant::{Encoded, Scheme};
use quantscope::{DType, Error, Tensor};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ggml")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn f32s(name: &str) -> Vec<f32> {
    read(name)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn manifest() -> Value {
    serde_json::from_str(&String::from_utf8(read("manifest.json")).unwrap()).unwrap()
}

fn ty(name: &str) -> GgmlType {
    GgmlType::from_name(name).unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The first byte where two buffers differ, for a readable failure.
fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[test]
fn quantize_equals_gguf_and_ggml_c_byte_for_byte() {
    let m = manifest();
    let mut checked = 0;
    for case in m["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = f32s(&format!("{name}.f32"));
        for t in names(&case["quantize"]) {
            let want = read(&format!("{name}.{t}.bin"));
            let got = quantize(ty(&t), &x).unwrap();
            assert_eq!(got.len(), want.len(), "{name} {t}");
            assert!(
                got == want,
                "{name} {t}: first difference at byte {:?}",
                first_diff(&got, &want)
            );
            checked += 1;
        }
    }
    // Every case in every format it applies to, K-quants included.
    assert!(checked >= 80, "only {checked} comparisons");
}

#[test]
fn dequantize_equals_gguf_bit_for_bit() {
    let m = manifest();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    let mut checked = 0;
    let mut run = |t: &str, bytes: &str, expected: &str| {
        let want = f32s(expected);
        let got = dequantize(ty(t), &read(bytes), want.len()).unwrap();
        let (g, w) = (bits(&got), bits(&want));
        let diff = g.iter().zip(&w).position(|(a, b)| a != b);
        assert!(
            diff.is_none(),
            "{bytes}: first difference at value {diff:?}"
        );
        checked += 1;
    };
    for case in m["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for t in names(&case["dequantize"]) {
            run(
                &t,
                &format!("{name}.{t}.bin"),
                &format!("{name}.{t}.deq.f32"),
            );
        }
    }
    for r in m["random"].as_array().unwrap() {
        let t = r["type"].as_str().unwrap();
        run(
            t,
            &format!("random.{t}.bin"),
            &format!("random.{t}.deq.f32"),
        );
    }
    assert!(checked >= 120, "only {checked} comparisons");
}

/// Exact ties: x / d on k + 0.5 with a power-of-two d. Q8_0 rounds them away from zero,
/// Q4_0/Q4_1/Q5_x add an offset and truncate (so they round up); the fixture has blocks
/// built for each. Here: those blocks really are ties, and the codes differ from
/// half-to-even somewhere, so the byte comparison above could not pass by accident.
#[test]
fn tie_blocks_are_ties_and_round_as_the_tools_do() {
    let x = f32s("ties.f32");
    let q8 = read("ties.q8_0.bin");
    let mut away_from_even = 0;
    for (b, block) in x.chunks_exact(32).enumerate() {
        let qb = &q8[34 * b..34 * b + 34];
        let d = half::f16::from_le_bytes([qb[0], qb[1]]).to_f32();
        if d == 0.0 || !d.is_finite() {
            continue;
        }
        for (j, &v) in block.iter().enumerate() {
            let r = v / d;
            if r.fract().abs() == 0.5 {
                let code = qb[2 + j] as i8 as f32;
                assert_eq!(
                    code,
                    r.round(),
                    "Q8_0 block {b} element {j}: half away from zero"
                );
                if code != r.round_ties_even() {
                    away_from_even += 1;
                }
            }
        }
    }
    assert!(
        away_from_even > 10,
        "{away_from_even} ties decided away from even"
    );
}

#[test]
fn scheme_strings_and_encoded_view() {
    let x = f32s("gauss.f32");
    let t = Tensor {
        name: "w".into(),
        shape: vec![4, 256],
        dtype: DType::F32,
        data: x.clone(),
    };
    for (s, bytes) in [
        ("q8_0", "gauss.q8_0.bin"),
        ("Q4_0", "gauss.q4_0.bin"),
        ("q4_1", "gauss.q4_1.bin"),
        ("q5_0", "gauss.q5_0.bin"),
        ("q5_1", "gauss.q5_1.bin"),
        ("q4_k", "gauss.q4_k.bin"),
        ("q6_k", "gauss.q6_k.bin"),
    ] {
        let scheme: Scheme = s.parse().unwrap();
        assert_eq!(scheme.to_string(), s.to_lowercase());
        let json = serde_json::to_string(&scheme).unwrap();
        assert_eq!(
            serde_json::from_str::<Scheme>(&json).unwrap(),
            scheme,
            "{json}"
        );
        let e = scheme.encode(&t).unwrap();
        let want = read(bytes);
        assert_eq!(e.packed_bytes(), want.len(), "{s}");
        let deq = f32s(&bytes.replace(".bin", ".deq.f32"));
        assert_eq!(e.dequantize(), deq, "{s}");
        let scales = e.scales();
        assert!(
            !scales.is_empty() && scales.iter().all(|v| v.is_finite()),
            "{s}"
        );
        let grid = e.grid();
        assert!(grid.levels.len() >= 16, "{s}: {} levels", grid.levels.len());
        // The widest block's levels bracket that block's values.
        assert!(e.describe().contains(&s.to_lowercase()), "{}", e.describe());
    }
}

#[test]
fn bad_input_gives_errors_that_name_the_problem() {
    let t = Tensor {
        name: "blk.0.attn_q.weight".into(),
        shape: vec![2, 48],
        dtype: DType::F32,
        data: vec![0.5; 96],
    };
    let e = "q4_0".parse::<Scheme>().unwrap().encode(&t).err().unwrap();
    assert!(
        matches!(
            e,
            Error::GgmlRow {
                row: 48,
                block: 32,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("blk.0.attn_q.weight") && msg.contains("48") && msg.contains("32"),
        "{msg}"
    );
    // 32-multiple rows but not 256: fine for q8_0, an error for q4_k.
    let t = Tensor {
        shape: vec![3, 96],
        data: vec![0.5; 288],
        ..t
    };
    assert!("q8_0".parse::<Scheme>().unwrap().encode(&t).is_ok());
    let e = "q6_k".parse::<Scheme>().unwrap().encode(&t).err().unwrap();
    assert!(e.to_string().contains("256"), "{e}");
    // NaN refused with its index.
    let mut nan = t.clone();
    nan.data[40] = f32::NAN;
    let e = "q8_0"
        .parse::<Scheme>()
        .unwrap()
        .encode(&nan)
        .err()
        .unwrap();
    assert!(matches!(e, Error::NonFinite { first: 40, .. }), "{e}");

    // Truncated and overlong block data, and counts that are not whole blocks.
    let bytes = read("gauss.q4_k.bin");
    let e = dequantize(GgmlType::Q4_K, &bytes[..bytes.len() - 1], 1024).unwrap_err();
    assert!(
        matches!(e, Error::GgmlBytes { got, .. } if got == bytes.len() - 1),
        "{e}"
    );
    let mut long = bytes.clone();
    long.push(0);
    assert!(dequantize(GgmlType::Q4_K, &long, 1024).is_err());
    let e = dequantize(GgmlType::Q8_0, &[0; 34], 33).unwrap_err();
    assert!(
        matches!(
            e,
            Error::GgmlLength {
                n: 33,
                block: 32,
                ..
            }
        ),
        "{e}"
    );
    assert!(dequantize(GgmlType::Q8_0, &[0; 34], usize::MAX / 2).is_err());
    assert!(quantize(GgmlType::Q8_0, &[0.0; 31]).is_err());
    let mut out = vec![0u8; 33];
    let e = quantize_to(GgmlType::Q8_0, &[0.0; 32], &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            Error::GgmlBytes {
                needed: 34,
                got: 33,
                ..
            }
        ),
        "{e}"
    );
    assert!(quantize(GgmlType::Q2_K, &[0.0; 256]).is_err());
    // Types that can be read but not produced say so.
    let e = "q3_k".parse::<Scheme>().unwrap_err().to_string();
    assert!(e.contains("not produced"), "{e}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use quantscope::quant::ggml::GgmlScheme;

    fn encode(ty: GgmlType, x: &[f32]) -> quantscope::quant::QuantizedGgml {
        let t = Tensor {
            name: "p".into(),
            shape: vec![x.len()],
            dtype: DType::F32,
            data: x.to_vec(),
        };
        GgmlScheme { format: ty }.quantize(&t).unwrap()
    }

    /// Rows of 256 to 768 values at one of several magnitudes, with some blocks set to
    /// zero or to a constant.
    fn rows() -> impl Strategy<Value = Vec<f32>> {
        (
            1usize..=3,
            prop::sample::select(vec![1e-3f32, 0.05, 1.0, 300.0]),
        )
            .prop_flat_map(|(supers, k)| {
                (
                    prop::collection::vec(-1.0f32..1.0, supers * 256),
                    prop::collection::vec(0u8..6, supers * 8),
                )
                    .prop_map(move |(v, kinds)| {
                        let mut v: Vec<f32> = v.into_iter().map(|x| x * k).collect();
                        for (b, kind) in v.chunks_mut(32).zip(kinds) {
                            match kind {
                                0 => b.fill(0.0),
                                1 => b.fill(0.7 * k),
                                _ => {}
                            }
                        }
                        v
                    })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Each value comes back as the nearest level of its block's grid (within half
        /// a step), or, outside the grid, no further than its distance to the grid's
        /// end; slack covers d and m rounded to fp16 after the codes were chosen.
        #[test]
        fn round_trip_within_half_a_step_of_the_block_grid(x in rows()) {
            for ty in GgmlType::QUANTIZABLE {
                let q = encode(ty, &x);
                let y = q.dequantize();
                let per = q.values_per_scale();
                for (i, (xb, yb)) in x.chunks(per).zip(y.chunks(per)).enumerate() {
                    let levels = q.levels(i);
                    prop_assert!(levels.len() >= 16);
                    let lo = levels.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = levels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let step = (hi - lo) / (levels.len() - 1) as f32;
                    // fp16 keeps 11 significant bits: m is off by up to |m|·2^-11 and
                    // q·d by up to (hi - lo)·2^-11; doubled, plus fp16's subnormal spacing.
                    let slack = (lo.abs().min(hi.abs()) + (hi - lo)) * 2f32.powi(-10) + 2f32.powi(-17);
                    for (&a, &b) in xb.iter().zip(yb) {
                        let outside = (lo - a).max(a - hi).max(0.0);
                        prop_assert!(
                            (a - b).abs() <= step / 2.0 + outside + slack,
                            "{ty} block {i}: x {a} -> {b}, grid {lo}..{hi} step {step}"
                        );
                    }
                }
            }
        }

        /// Any finite input quantizes (no panic) to exactly its block bytes.
        #[test]
        fn any_finite_input_quantizes(
            x in prop::collection::vec(
                prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
                256,
            )
        ) {
            for ty in GgmlType::QUANTIZABLE {
                let bytes = quantize(ty, &x).unwrap();
                prop_assert_eq!(bytes.len(), ty.bytes_for(256).unwrap());
                prop_assert_eq!(dequantize(ty, &bytes, 256).unwrap().len(), 256);
            }
        }

        /// Wrong lengths are errors, right ones are not; never a panic.
        #[test]
        fn lengths_are_checked(n in 0usize..2000, len in 0usize..3000, pick in 0usize..13) {
            let ty = GgmlType::ALL[pick];
            let bytes = vec![0u8; len];
            let ok = n % ty.block_size() == 0 && len == n / ty.block_size() * ty.type_size();
            prop_assert_eq!(dequantize(ty, &bytes, n).is_ok(), ok);
        }
    }
}
