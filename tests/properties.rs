//! Properties every linear scheme must keep, on generated tensors (proptest).
#![cfg(not(target_arch = "wasm32"))] // reads files / spawns the CLI: native only

use proptest::prelude::*;
use quantscope::analysis;
use quantscope::quant::{Granularity, LinearScheme, Scheme};
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
            let y = match s {
                Scheme::Linear(l) => l.quantize(t).unwrap().dequantize(),
            };
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
