//! The SIMD128 kernels, run in Node under wasm-bindgen-test: each equals its scalar twin
//! bit for bit, and the whole quantizer built on them still equals ONNX Runtime.
//! Native `cargo test` compiles this file to nothing; scripts/test-wasm.sh runs it.
#![cfg(target_arch = "wasm32")]

#[path = "support/rng.rs"]
mod rng;

use quantscope::kernels::{scalar, simd128, LaneParams, QParams, SIMD128};
use quantscope::quant::Scheme;
use rng::Rng;
use wasm_bindgen_test::wasm_bindgen_test;

/// Lengths that hit empty input, tails shorter than a vector, and several blocks.
const LENGTHS: &[usize] = &[0, 1, 3, 4, 5, 15, 16, 17, 31, 33, 64, 100, 257, 1000];

fn params(rng: &mut Rng) -> QParams {
    let symmetric = rng.next() % 2 == 0;
    QParams {
        scale: 0.001 + rng.unit() * 0.1,
        zero_point: if symmetric {
            0
        } else {
            (rng.next() % 200) as i32 - 100
        },
        qmin: if symmetric { -127 } else { -128 },
        qmax: 127,
    }
}

/// Constant by design: a build without +simd128 fails here by name (and cannot import
/// `simd128` at all), rather than silently testing the scalar path twice.
#[wasm_bindgen_test]
#[allow(clippy::assertions_on_constants)]
fn this_build_runs_simd128() {
    assert!(
        SIMD128,
        "the wasm test build must be compiled with +simd128"
    );
}

#[wasm_bindgen_test]
fn min_max_equals_scalar() {
    let mut rng = Rng(1);
    for &n in LENGTHS {
        let x: Vec<f32> = (0..n).map(|_| rng.normalish(3.0)).collect();
        assert_eq!(simd128::min_max(&x), scalar::min_max(&x), "n = {n}");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            if n > 0 {
                let mut y = x.clone();
                y[n / 2] = bad;
                assert!(!simd128::min_max(&y).2, "n = {n}, {bad} must be reported");
                assert_eq!(simd128::min_max(&y).2, scalar::min_max(&y).2);
            }
        }
        // Finite values whose running sum overflows to inf: the SIMD scan's sum check
        // must fall back to the exact test and still report them finite.
        let big: Vec<f32> = (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    f32::MAX
                } else {
                    f32::MAX * 0.75
                }
            })
            .collect();
        assert_eq!(
            simd128::min_max(&big),
            scalar::min_max(&big),
            "n = {n}, near f32::MAX"
        );
        assert!(
            simd128::min_max(&big).2,
            "n = {n}: finite values near f32::MAX"
        );
        // +inf and -inf together (their sum is NaN) and a NaN among them.
        if n >= 2 {
            let mut y = x.clone();
            y[0] = f32::INFINITY;
            y[n - 1] = f32::NEG_INFINITY;
            assert_eq!(simd128::min_max(&y), scalar::min_max(&y), "n = {n}, ±inf");
        }
    }
}

#[wasm_bindgen_test]
fn quantize_then_scan_equals_scalar() {
    quantize_then_scan_equals_scalar_by::<false>();
    quantize_then_scan_equals_scalar_by::<true>();
}

fn quantize_then_scan_equals_scalar_by<const MUL: bool>() {
    let mut rng = Rng(12 + MUL as u64);
    let uninit = |n: usize| vec![std::mem::MaybeUninit::<i8>::uninit(); n];
    // SAFETY: the kernels write every element of `out`.
    let init = |u: &[std::mem::MaybeUninit<i8>]| -> Vec<i8> {
        u.iter().map(|v| unsafe { v.assume_init() }).collect()
    };
    for &n in LENGTHS {
        // The next piece as long, shorter and longer than this one (the last piece of a
        // tensor has none).
        for m in [n, n / 2, n + 17, 0] {
            let p = params(&mut rng);
            let x: Vec<f32> = (0..n).map(|_| rng.normalish(p.scale * 400.0)).collect();
            let next: Vec<f32> = (0..m).map(|_| rng.normalish(3.0)).collect();
            let (mut a, mut b) = (uninit(n), uninit(n));
            let ra = simd128::quantize_i8_then_min_max::<MUL>(&x, p, &mut a, &next);
            let rb = scalar::quantize_i8_then_min_max::<MUL>(&x, p, &mut b, &next);
            assert_eq!(init(&a), init(&b), "codes n = {n}, m = {m}, MUL {MUL}");
            assert_eq!(ra, rb, "scan n = {n}, m = {m}");
            assert_eq!(ra, simd128::min_max(&next), "scan n = {n}, m = {m}");
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, m / 2, m.saturating_sub(1)] {
                    if m == 0 {
                        continue;
                    }
                    let mut y = next.clone();
                    y[at] = bad;
                    let r = simd128::quantize_i8_then_min_max::<MUL>(&x, p, &mut a, &y);
                    assert!(!r.2, "n = {n}, m = {m}: {bad} at {at} must be reported");
                    assert_eq!(init(&a), init(&b), "codes n = {n}, m = {m} with {bad}");
                }
            }
            // Finite values whose running sum overflows: still finite.
            let big: Vec<f32> = (0..m).map(|i| f32::MAX * [1.0, 0.75][i % 2]).collect();
            let r = simd128::quantize_i8_then_min_max::<MUL>(&x, p, &mut a, &big);
            assert_eq!(r, scalar::min_max(&big), "n = {n}, m = {m}, near f32::MAX");
        }
    }
}

#[wasm_bindgen_test]
fn bandwidth_probes_equal_scalar() {
    let mut rng = Rng(9);
    for &n in LENGTHS {
        let x: Vec<f32> = (0..n).map(|_| rng.normalish(3.0)).collect();
        assert_eq!(simd128::read_probe(&x), scalar::read_probe(&x), "n = {n}");
        let (mut a, mut b) = (vec![0u8; n], vec![1u8; n]);
        simd128::narrow_probe(&x, &mut a);
        scalar::narrow_probe(&x, &mut b);
        assert_eq!(a, b, "n = {n}");
    }
}

#[wasm_bindgen_test]
fn quantize_and_dequantize_equal_scalar() {
    let mut rng = Rng(2);
    for &n in LENGTHS {
        for _ in 0..20 {
            let p = params(&mut rng);
            // Values up to 3x past the range so clamping is exercised, plus exact ties.
            let mut x: Vec<f32> = (0..n).map(|_| rng.normalish(p.scale * 400.0)).collect();
            for (i, v) in x.iter_mut().enumerate().step_by(7) {
                *v = ((i % 50) as f32 - 25.0 + 0.5) * p.scale;
            }
            let (mut a, mut b) = (vec![0i8; n], vec![0i8; n]);
            // Multiplying by the inverse scale (PyTorch's way) as well as dividing.
            let inv = QParams {
                scale: 1.0 / p.scale,
                ..p
            };
            simd128::quantize_i8::<true>(&x, inv, &mut a);
            scalar::quantize_i8::<true>(&x, inv, &mut b);
            assert_eq!(a, b, "quantize by the inverse n = {n} {p:?}");
            simd128::quantize_i8::<false>(&x, p, &mut a);
            scalar::quantize_i8::<false>(&x, p, &mut b);
            assert_eq!(a, b, "quantize n = {n} {p:?}");
            let mut u = vec![std::mem::MaybeUninit::<i8>::uninit(); n];
            simd128::quantize_i8_uninit::<false>(&x, p, &mut u);
            // SAFETY: quantize_i8_uninit writes every element.
            let u: Vec<i8> = u.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert_eq!(u, b, "quantize into uninitialised memory n = {n} {p:?}");
            let (mut fa, mut fb) = (vec![0f32; n], vec![0f32; n]);
            simd128::dequantize_i8(&a, p, &mut fa);
            scalar::dequantize_i8(&a, p, &mut fb);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fa), bits(&fb), "dequantize n = {n}");
        }
    }
}

#[wasm_bindgen_test]
fn per_lane_kernels_equal_scalar() {
    let mut rng = Rng(3);
    for &n in LENGTHS {
        let ps: Vec<QParams> = (0..n).map(|_| params(&mut rng)).collect();
        let lp = LaneParams::new(&ps);
        // Values up to 3x past each lane's range, and exact ties.
        let mut x: Vec<f32> = ps.iter().map(|p| rng.normalish(p.scale * 300.0)).collect();
        for (i, v) in x.iter_mut().enumerate().step_by(5) {
            *v = ((i % 40) as f32 - 20.0 + 0.5) * ps[i].scale;
        }
        let (mut a, mut b) = (vec![0i8; n], vec![0i8; n]);
        // With inverse scales, multiplying (PyTorch's way).
        let inv: Vec<QParams> = ps
            .iter()
            .map(|p| QParams {
                scale: 1.0 / p.scale,
                ..*p
            })
            .collect();
        let lpi = LaneParams::new(&inv);
        simd128::quantize_i8_lanes::<true>(&x, lpi.slice(0, n), &mut a);
        scalar::quantize_i8_lanes::<true>(&x, lpi.slice(0, n), &mut b);
        assert_eq!(a, b, "n = {n}, by the inverse");
        let one: Vec<i8> = x
            .iter()
            .zip(&inv)
            .map(|(&v, p)| scalar::quantize_one_by::<true>(v, p))
            .collect();
        assert_eq!(b, one, "n = {n}: lanes vs quantize_one_by, by the inverse");
        simd128::quantize_i8_lanes::<false>(&x, lp.slice(0, n), &mut a);
        scalar::quantize_i8_lanes::<false>(&x, lp.slice(0, n), &mut b);
        assert_eq!(a, b, "n = {n}");
        // Each lane's code is the one-parameter quantizer's.
        let one: Vec<i8> = x
            .iter()
            .zip(&ps)
            .map(|(&v, p)| scalar::quantize_one(v, p))
            .collect();
        assert_eq!(b, one, "n = {n}: lanes vs quantize_one");
        let (mut fa, mut fb) = (vec![0f32; n], vec![0f32; n]);
        simd128::dequantize_i8_lanes(&a, lp.slice(0, n), &mut fa);
        scalar::dequantize_i8_lanes(&a, lp.slice(0, n), &mut fb);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fa), bits(&fb), "n = {n}");
        let one: Vec<f32> = a
            .iter()
            .zip(&ps)
            .map(|(&c, p)| scalar::dequantize_one(c, p))
            .collect();
        assert_eq!(bits(&fb), bits(&one), "n = {n}: lanes vs dequantize_one");
        // Running min/max over a few rows, with signed zeros and a NaN (ignored).
        let (mut la, mut ha) = (vec![f32::INFINITY; n], vec![f32::NEG_INFINITY; n]);
        let (mut lb, mut hb) = (la.clone(), ha.clone());
        for row in 0..4 {
            let mut y: Vec<f32> = (0..n).map(|_| rng.normalish(2.0)).collect();
            for (i, v) in y.iter_mut().enumerate().step_by(3) {
                *v = if (i + row) % 2 == 0 { 0.0 } else { -0.0 };
            }
            if n > 0 {
                y[n / 2] = f32::NAN;
            }
            let fa = simd128::min_max_lanes(&y, &mut la, &mut ha);
            let fb = scalar::min_max_lanes(&y, &mut lb, &mut hb);
            assert_eq!(fa, fb, "n = {n}: finiteness");
            assert_eq!(fa, n == 0, "n = {n}: the NaN must be reported");
        }
        // Finite rows (also near f32::MAX, whose running sum overflows) and an infinity.
        for (row, want) in [
            ((0..n).map(|i| i as f32 - 7.5).collect::<Vec<f32>>(), true),
            (
                (0..n).map(|i| f32::MAX * [1.0, 0.75][i % 2]).collect(),
                true,
            ),
            (
                (0..n)
                    .map(|i| if i == n / 3 { f32::NEG_INFINITY } else { 1.0 })
                    .collect(),
                n == 0,
            ),
        ] {
            let fa = simd128::min_max_lanes(&row, &mut la, &mut ha);
            let fb = scalar::min_max_lanes(&row, &mut lb, &mut hb);
            assert_eq!(
                (fa, fb),
                (want, want),
                "n = {n}: finiteness of {:?}",
                &row[..n.min(3)]
            );
        }
        assert_eq!(bits(&la), bits(&lb), "n = {n}: lane minima");
        assert_eq!(bits(&ha), bits(&hb), "n = {n}: lane maxima");
    }
}

/// The quantizer as the page runs it (SIMD kernels) against ONNX Runtime's codes.
#[wasm_bindgen_test]
fn simd_quantizer_matches_onnx_runtime() {
    let cases: &[(&[u8], &[u8], &str)] = &[
        (
            include_bytes!("fixtures/quant/gauss.npy"),
            include_bytes!("fixtures/quant/gauss.int8-sym-ch0.npz"),
            "int8-sym-ch0",
        ),
        (
            include_bytes!("fixtures/quant/outliers.npy"),
            include_bytes!("fixtures/quant/outliers.int8-asym-ch1.npz"),
            "int8-asym-ch1",
        ),
        (
            include_bytes!("fixtures/quant/conv.npy"),
            include_bytes!("fixtures/quant/conv.int8-asym-ch3.npz"),
            "int8-asym-ch3",
        ),
        (
            include_bytes!("fixtures/quant/ties.npy"),
            include_bytes!("fixtures/quant/ties.int8-sym.npz"),
            "int8-sym",
        ),
    ];
    for (input, expected, scheme) in cases {
        let x = quantscope::open(input, "x.npy").unwrap();
        let exp = quantscope::open(expected, "e.npz").unwrap();
        let Scheme::Linear(s) = scheme.parse::<Scheme>().unwrap() else {
            panic!("{scheme} is not linear")
        };
        let q = s.quantize(&x.tensors[0]).unwrap();
        let want: Vec<i32> = exp
            .tensor("codes")
            .unwrap()
            .data
            .iter()
            .map(|&v| v as i32)
            .collect();
        assert_eq!(q.codes(), want, "{scheme}");
    }
}

/// The linear family as the page runs it (SIMD kernels, wasm arithmetic) against the
/// tools' codes and the packed bytes: ONNX Runtime's uint8 per channel along the last
/// axis, its blocked int4 with packed nibbles, and quantscope's stochastic rounding, whose
/// hash must give the same codes in wasm as natively (the same fixture holds both).
#[wasm_bindgen_test]
fn linear_family_matches_the_fixtures_in_wasm() {
    let cases: &[(&[u8], &[u8], &str)] = &[
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "ort-uint8-asym-ch1",
        ),
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "ort-int4-sym-group16",
        ),
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "int8-sym-sr7",
        ),
        (
            include_bytes!("fixtures/linear/heavy.npy"),
            include_bytes!("fixtures/linear/heavy.expected.npz"),
            "int4-asym-sr7",
        ),
        (
            include_bytes!("fixtures/linear/minilm_query.npy"),
            include_bytes!("fixtures/linear/minilm_query.expected.npz"),
            "int3-asym-ch0",
        ),
        // PyTorch's own codes (the kernels multiplying by inv_scale): per row, per
        // last-axis lane, per tensor, 4-bit.
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "torch-int8-sym-ch0",
        ),
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "torch-int8-asym-ch1",
        ),
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "torch-uint8-asym",
        ),
        (
            include_bytes!("fixtures/linear/gauss.npy"),
            include_bytes!("fixtures/linear/gauss.expected.npz"),
            "torch-int4-asym",
        ),
        (
            include_bytes!("fixtures/linear/conv.npy"),
            include_bytes!("fixtures/linear/conv.expected.npz"),
            "torch-uint4-sym-ch0",
        ),
    ];
    for (input, expected, scheme) in cases {
        let x = quantscope::open(input, "x.npy").unwrap();
        let exp = quantscope::open(expected, "e.npz").unwrap();
        let Scheme::Linear(s) = scheme.parse::<Scheme>().unwrap() else {
            panic!("{scheme} is not linear")
        };
        let q = s.quantize(&x.tensors[0]).unwrap();
        if let Ok(codes) = exp.tensor(&format!("{scheme}.codes")) {
            let want: Vec<i32> = codes.data.iter().map(|&v| v as i32).collect();
            assert_eq!(q.codes(), want, "{scheme} codes");
        }
        if let Ok(packed) = exp.tensor(&format!("{scheme}.packed")) {
            let want: Vec<u8> = packed.data.iter().map(|&v| v as u8).collect();
            assert_eq!(q.packed, want, "{scheme} packed");
        }
    }
}

/// The other scheme families give, under wasm, the bits they give natively: the seeded
/// clustering (and a few deterministic families) hash to the values the native run pinned
/// in fixtures/schemes/vq_golden.json (tests/schemes_props.rs), and NF4 codes equal the
/// bitsandbytes-rule fixture.
#[wasm_bindgen_test]
fn other_scheme_families_match_the_native_build() {
    use quantscope::{DType, Tensor};
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let data = (0..64 * 48)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
                * 0.25
        })
        .collect();
    let t = Tensor {
        name: "golden".into(),
        shape: vec![64, 48],
        dtype: DType::F32,
        data,
    };
    let golden: serde_json::Value =
        serde_json::from_slice(include_bytes!("fixtures/schemes/vq_golden.json")).unwrap();
    let golden = golden.as_object().unwrap();
    assert!(golden.len() >= 8);
    for (scheme, want) in golden {
        let e = scheme.parse::<Scheme>().unwrap().encode(&t).unwrap();
        let h = e
            .dequantize()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                v.to_bits()
                    .to_le_bytes()
                    .iter()
                    .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
            });
        assert_eq!(
            format!("{h:016x}"),
            want["fnv"].as_str().unwrap(),
            "{scheme}"
        );
        assert_eq!(
            e.packed_bytes() as u64,
            want["packed_bytes"].as_u64().unwrap()
        );
    }
    let x = quantscope::open(
        include_bytes!("fixtures/schemes/fourbit_in_gauss.npy"),
        "x.npy",
    )
    .unwrap();
    let exp = quantscope::open(
        include_bytes!("fixtures/schemes/fourbit_gauss.nf4.npz"),
        "e.npz",
    )
    .unwrap();
    let Scheme::FourBit(s) = "nf4".parse::<Scheme>().unwrap() else {
        panic!("nf4")
    };
    let q = s.quantize(&x.tensors[0]).unwrap();
    let want: Vec<u8> = exp
        .tensor("packed")
        .unwrap()
        .data
        .iter()
        .map(|&v| v as u8)
        .collect();
    assert_eq!(q.packed, want);
}
