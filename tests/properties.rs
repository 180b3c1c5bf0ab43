//! Properties every linear scheme must keep, on generated tensors (proptest).
#![cfg(not(target_arch = "wasm32"))] // reads files / spawns the CLI: native only

use proptest::prelude::*;
use quantscope::analysis;
use quantscope::quant::{pack, Convention, Granularity, LinearScheme, Rounding, Scheme};
use quantscope::{DType, Error, Tensor};

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
    Tensor {
        name: "t".into(),
        shape,
        dtype: DType::F32,
        data,
    }
}

fn scheme_strategy(ndim: usize) -> impl Strategy<Value = LinearScheme> {
    (2u8..=8, any::<bool>(), proptest::option::of(0..ndim.max(1))).prop_map(
        move |(bits, symmetric, axis)| {
            LinearScheme::new(
                bits,
                symmetric,
                match axis {
                    Some(a) if ndim > 0 => Granularity::PerChannel { axis: a },
                    _ => Granularity::PerTensor,
                },
            )
        },
    )
}

fn tensor_strategy() -> impl Strategy<Value = Tensor> {
    prop::collection::vec(1usize..6, 1..4).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        (
            Just(shape),
            prop::collection::vec(-1000.0f32..1000.0, n),
            prop::sample::select(vec![1e-6f32, 1e-2, 1.0, 1e3]),
        )
            .prop_map(|(shape, data, k)| tensor(shape, data.into_iter().map(|v| v * k).collect()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Inside the range the scheme covers, reconstruction is within half a step.
    #[test]
    fn round_trip_within_half_a_step(
        (t, s) in tensor_strategy().prop_flat_map(|t| { let n = t.shape.len(); (Just(t), scheme_strategy(n)) })
    ) {
        let q = s.quantize(&t).unwrap();
        let y = q.dequantize();
        let codes = q.codes();
        let channels = q.params.len();
        let inner: usize = match q.axis { Some(a) => t.shape[a + 1..].iter().product(), None => t.numel() };
        for (i, (&x, &r)) in t.data.iter().zip(&y).enumerate() {
            let c = if channels == 1 { 0 } else { (i / inner) % channels };
            let p = q.params[c];
            prop_assert!(codes[i] >= p.qmin && codes[i] <= p.qmax);
            let lo = (p.qmin - p.zero_point) as f32 * p.scale;
            let hi = (p.qmax - p.zero_point) as f32 * p.scale;
            if x >= lo && x <= hi {
                let bound = 0.5 * p.scale as f64 * (1.0 + 1e-5) + 1e-6 * x.abs() as f64;
                prop_assert!(((r - x) as f64).abs() <= bound,
                    "{s}: x {x} -> {r}, step {}, channel {c}", p.scale);
            }
        }
    }

    /// Symmetric schemes keep zero exact and the zero point at 0.
    #[test]
    fn symmetric_keeps_zero(t in tensor_strategy(), bits in 2u8..=8) {
        let s = LinearScheme::new(bits, true, Granularity::PerTensor);
        let mut t = t;
        t.data[0] = 0.0;
        let q = s.quantize(&t).unwrap();
        prop_assert_eq!(q.params[0].zero_point, 0);
        prop_assert_eq!(q.dequantize()[0], 0.0);
    }
}

#[test]
fn degenerate_tensors_do_not_panic() {
    let schemes: Vec<Scheme> = ["int8-sym", "int8-asym", "int4-sym-ch0", "int2-asym-ch0"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let cases = [
        tensor(vec![0], vec![]),
        tensor(vec![0, 4], vec![]),
        tensor(vec![3, 0], vec![]),
        tensor(vec![4, 3], vec![0.0; 12]),
        tensor(vec![4, 3], vec![2.5; 12]),
        tensor(vec![4, 3], vec![-7.0; 12]),
        tensor(vec![2, 2], vec![1e-40, -1e-40, 0.0, 1e-45]),
        tensor(vec![2], vec![f32::MAX, -f32::MAX]),
    ];
    for t in &cases {
        for s in &schemes {
            let r =
                analysis::analyze(t, s, 16).unwrap_or_else(|e| panic!("{s} {:?}: {e}", t.shape));
            assert_eq!(r.weights.counts.iter().sum::<u32>() as usize, t.numel());
            let y = s.encode(t).unwrap().dequantize();
            // Near f32::MAX, (q - zp) * scale may round past the largest float: ONNX
            // Runtime's DequantizeLinear gives inf there too, so only ordinary ranges
            // must reconstruct finitely.
            if t.data.iter().all(|v| v.abs() < 1e38) {
                assert!(y.iter().all(|v| v.is_finite()), "{s} {:?}", t.data);
            }
        }
    }
    // Constant tensors: symmetric reconstructs them within half a step of 2.5/127.
    let s: Scheme = "int8-sym".parse().unwrap();
    let r = analysis::analyze(&cases[4], &s, 16).unwrap();
    assert!(r.metrics.max_abs_error <= 2.5 / 127.0 / 2.0 + 1e-6);
    // All zeros: exact.
    let r = analysis::analyze(&cases[3], &s, 16).unwrap();
    assert_eq!(r.metrics.mse, 0.0);
    assert_eq!(r.scales, vec![1.0]);
}

#[test]
fn non_finite_values_are_refused_by_name() {
    let s: Scheme = "int8-sym".parse().unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let t = tensor(vec![5], vec![0.0, 1.0, bad, 2.0, bad]);
        match analysis::analyze(&t, &s, 8) {
            Err(Error::NonFinite { count, first, .. }) => {
                assert_eq!((count, first), (2, 2));
            }
            other => panic!("{bad}: expected NonFinite, got {other:?}"),
        }
    }
}

#[test]
fn bad_axis_is_an_error() {
    let t = tensor(vec![2, 3], vec![0.0; 6]);
    let s: Scheme = "int8-sym-ch2".parse().unwrap();
    let e = analysis::analyze(&t, &s, 8).unwrap_err().to_string();
    assert!(e.contains("axis 2 is out of range"), "{e}");
}

/// Every linear variant: width, sign, symmetry, granularity (tensor, channel along any
/// axis, group along the last or another axis), and each tool's convention.
fn any_linear(ndim: usize) -> impl Strategy<Value = LinearScheme> {
    let widths = prop::sample::select(vec![2u8, 3, 4, 5, 6, 7, 8, 16]);
    let gran = prop_oneof![
        Just(Granularity::PerTensor),
        (0..ndim.max(1)).prop_map(|axis| Granularity::PerChannel { axis }),
        (1usize..7, proptest::option::of(0..ndim.max(1)))
            .prop_map(|(size, axis)| Granularity::PerGroup { size, axis }),
    ];
    let conv = prop::sample::select(vec![
        Convention::Plain,
        Convention::Plain,
        Convention::Ort,
        Convention::Torch,
        Convention::Tflite,
        Convention::Tfjs,
    ]);
    (widths, any::<bool>(), any::<bool>(), gran, conv).prop_filter_map(
        "a scheme the tool can produce",
        |(bits, signed, symmetric, granularity, convention)| {
            let mut s = LinearScheme::new(bits, symmetric, granularity);
            s.signed = signed;
            s.convention = convention;
            let text = s.to_string();
            // Only schemes whose string parses back (the tool allows them) are kept.
            match text.parse::<Scheme>() {
                Ok(Scheme::Linear(p)) if p == s => Some(s),
                _ => None,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// dequantize(quantize(x)) is within half a step of x wherever x is inside the range
    /// its slot covers, for every linear variant; codes stay inside the code range.
    #[test]
    fn every_linear_variant_round_trips_within_half_a_step(
        (t, s) in tensor_strategy().prop_flat_map(|t| { let n = t.shape.len(); (Just(t), any_linear(n)) })
    ) {
        let q = s.quantize(&t).unwrap();
        let y = q.dequantize();
        let codes = q.codes();
        prop_assert_eq!(y.len(), t.numel());
        // What the scheme becomes on this shape (per channel on a 1-D tensor is per tensor).
        let s = s.for_shape(&t.shape).0;
        // Which slot each element uses, by the documented slot order.
        let slot = |i: usize| -> usize {
            let idx = unravel(i, &t.shape);
            match s.granularity {
                Granularity::PerTensor => 0,
                Granularity::PerChannel { axis } => idx[axis],
                Granularity::PerGroup { size, axis } => {
                    let axis = axis.unwrap_or(t.shape.len() - 1);
                    let mut shape = t.shape.clone();
                    shape[axis] = t.shape[axis].div_ceil(size);
                    let mut g = idx.clone();
                    g[axis] /= size;
                    g.iter().zip(&shape).fold(0, |acc, (&k, &d)| acc * d + k)
                }
            }
        };
        for (i, (&x, &r)) in t.data.iter().zip(&y).enumerate() {
            let c = slot(i);
            let p = q.params[c];
            prop_assert!(codes[i] >= p.qmin && codes[i] <= p.qmax, "{s}: code {} outside {}..{}", codes[i], p.qmin, p.qmax);
            let (lo, hi) = if s.convention == Convention::Tfjs {
                let (scale, min) = q.tfjs[c];
                (min as f32, (min + p.qmax as f64 * scale) as f32)
            } else {
                ((p.qmin - p.zero_point) as f32 * p.scale, (p.qmax - p.zero_point) as f32 * p.scale)
            };
            if x >= lo && x <= hi {
                let step = if s.convention == Convention::Tfjs { q.tfjs[c].0 } else { p.scale as f64 };
                let bound = 0.5 * step * (1.0 + 1e-5) + 1e-6 * x.abs() as f64;
                prop_assert!(((r - x) as f64).abs() <= bound, "{s}: x {x} -> {r}, step {step}, slot {c}");
            }
        }
        // Packing is exactly the code width.
        prop_assert_eq!(q.packed.len(), (t.numel() * s.bits as usize).div_ceil(8));
    }

    /// Stochastic rounding lands on one of the two neighbouring codes, and the same seed
    /// gives the same codes.
    #[test]
    fn stochastic_rounding_picks_a_neighbour(t in tensor_strategy(), seed in any::<u64>()) {
        let mut s = LinearScheme::new(4, true, Granularity::PerTensor);
        s.rounding = Rounding::Stochastic { seed };
        let q = s.quantize(&t).unwrap();
        prop_assert_eq!(q.codes(), s.quantize(&t).unwrap().codes());
        let p = q.params[0];
        for (&x, &c) in t.data.iter().zip(&q.codes()) {
            let v = (x / p.scale).clamp((p.qmin - p.zero_point) as f32, (p.qmax - p.zero_point) as f32);
            prop_assert!((c as f32 - v).abs() < 1.0 + 1e-4, "x {x} v {v} code {c}");
        }
    }

    /// pack then unpack returns the codes, for every width, sign and length.
    #[test]
    fn packing_round_trips(
        bits in prop::sample::select(vec![2u8, 3, 4, 5, 6, 7, 8, 16]),
        signed in any::<bool>(),
        raw in prop::collection::vec(any::<u32>(), 0..70),
    ) {
        let (lo, hi) = if signed { (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1) } else { (0, (1i64 << bits) - 1) };
        let codes: Vec<i32> = raw.iter().map(|&r| (lo + r as i64 % (hi - lo + 1)) as i32).collect();
        let packed = pack::pack(&codes, bits);
        prop_assert_eq!(packed.len(), (codes.len() * bits as usize).div_ceil(8));
        prop_assert_eq!(pack::unpack(&packed, bits, signed, codes.len()), codes);
    }
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        idx[k] = i % d;
        i /= d;
    }
    idx
}

#[test]
fn every_family_member_survives_degenerate_tensors() {
    let specs = [
        "int8-sym",
        "uint8-asym-ch0",
        "int4-sym-group2",
        "uint3-asym-group3-ax0",
        "int16-asym-ch1",
        // Channels on the last axis through the int8 kernels' lane scan.
        "int8-asym-ch1",
        "torch-int8-sym-ch1",
        "int8-sym-pct99.9",
        "int8-asym-ch0-kl",
        "int4-sym-mse",
        "int8-sym-rna",
        "int2-asym-sr3",
        "ort-int8-asym-reduced",
        "ort-uint4-asym-group2",
        "torch-int8-sym-ch0",
        "torch-uint8-asym",
        "tflite-int8-ch0",
        "tflite-int8",
        "tfjs-uint8",
        "tfjs-uint16",
        "ort-int8-sym-kl",
    ];
    let cases = [
        tensor(vec![0], vec![]),
        tensor(vec![0, 4], vec![]),
        tensor(vec![3, 0], vec![]),
        tensor(vec![4, 3], vec![0.0; 12]),
        tensor(vec![4, 3], vec![2.5; 12]),
        tensor(vec![4, 3], vec![-7.0; 12]),
        tensor(vec![2, 2], vec![1e-40, -1e-40, 0.0, 1e-45]),
        tensor(vec![2], vec![f32::MAX, -f32::MAX]),
    ];
    for spec in specs {
        let s: Scheme = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
        for t in &cases {
            let r = match analysis::analyze(t, &s, 16) {
                // A channel or group axis the tensor lacks is the one refusal allowed here.
                Err(Error::BadAxis { .. }) if t.shape.len() < 2 => continue,
                other => other.unwrap_or_else(|e| panic!("{s} {:?}: {e}", t.shape)),
            };
            assert_eq!(r.weights.counts.iter().sum::<u32>() as usize, t.numel());
            if t.data.iter().all(|v| v.abs() < 1e38) {
                let Scheme::Linear(l) = &s else {
                    unreachable!("only linear schemes are generated here")
                };
                let y = l.quantize(t).unwrap().dequantize();
                assert!(y.iter().all(|v| v.is_finite()), "{s} {:?}", t.data);
                // All-zero tensors come back exactly.
                if t.data.iter().all(|&v| v == 0.0) {
                    assert!(y.iter().all(|&v| v == 0.0), "{s}");
                }
            }
        }
        for bad in [f32::NAN, f32::INFINITY] {
            let t = tensor(vec![2, 3], vec![0.0, 1.0, bad, 2.0, bad, 3.0]);
            match analysis::analyze(&t, &s, 8) {
                Err(Error::NonFinite { count, first, .. }) => {
                    assert_eq!((count, first), (2, 2), "{s}")
                }
                other => panic!("{s}: expected NonFinite, got {other:?}"),
            }
        }
    }
}
