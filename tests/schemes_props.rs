//! Properties of the non-linear scheme families (NF4/FP4, float casts, powers of two,
//! clustering, mixed INT8+FP16) on generated tensors, and the clustering and mixed
//! invariants that have no outside tool to compare with.
#![cfg(not(target_arch = "wasm32"))] // proptest needs OS randomness: native only

use half::f16;
use proptest::prelude::*;
use quantscope::analysis;
use quantscope::quant::log::LogQuantized;
use quantscope::quant::{Encoded, Scheme};
use quantscope::{DType, Error, Tensor};

/// One or more scheme strings of every family this file covers.
const SCHEMES: &[&str] = &[
    "nf4",
    "fp4",
    "nf4-b32",
    "fp16",
    "bf16",
    "fp8-e4m3",
    "fp8-e5m2",
    "pot4",
    "pot2",
    "pot8",
    "apot4",
    "apot6",
    "pot5-e-8_0",
    "kmeans4",
    "kmeans16-s3-it5",
    "kmeansdp4",
    "kmeansdp16",
    "pq16x2",
    "pq4x4-s1",
    "pq8x8",
    "mixed-int8-fp16-t1",
    "mixed-int8-fp16-top10",
];

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
    Tensor {
        name: "t".into(),
        shape,
        dtype: DType::F32,
        data,
    }
}

fn schemes() -> Vec<Scheme> {
    SCHEMES.iter().map(|s| s.parse().unwrap()).collect()
}

fn tensor_strategy() -> impl Strategy<Value = Tensor> {
    prop::collection::vec(1usize..7, 1..4).prop_flat_map(|shape| {
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
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every family: reconstruction has the input's length and is finite, and the
    /// report's bits per weight is the packed size over the count.
    #[test]
    fn every_scheme_reconstructs_every_value(t in tensor_strategy()) {
        for s in schemes() {
            let e = s.encode(&t).unwrap();
            let y = e.dequantize();
            prop_assert_eq!(y.len(), t.numel(), "{}", s);
            prop_assert!(y.iter().all(|v| v.is_finite()), "{}", s);
            let r = analysis::analyze(&t, &s, 16).unwrap();
            prop_assert_eq!(r.packed_bytes, e.packed_bytes());
            let bpw = (r.packed_bytes * 8) as f64 / t.numel() as f64;
            prop_assert_eq!(r.bits_per_weight, bpw);
        }
    }

    /// Powers of two: every output is a level; nearest-level (no level is closer than
    /// the chosen one); zero stays exactly zero; the map is monotone.
    #[test]
    fn powers_of_two_pick_the_nearest_level(t in tensor_strategy(), s in prop::sample::select(vec!["pot3", "pot4", "pot8", "apot4", "apot5", "pot5-e-8_0", "apot4-e-5_-1"])) {
        let Ok(Scheme::Log(scheme)) = s.parse::<Scheme>() else { panic!("{s}") };
        let mut t = t;
        t.data[0] = 0.0;
        let q: LogQuantized = scheme.quantize(&t).unwrap();
        let y = q.dequantize();
        prop_assert_eq!(y[0], 0.0);
        let g = q.grid().levels;
        for (&x, &v) in t.data.iter().zip(&y) {
            prop_assert!(g.contains(&v), "{} -> {} is not a level", x, v);
            let err = (x as f64 - v as f64).abs();
            for &l in &g {
                prop_assert!((x as f64 - l as f64).abs() >= err, "{}: level {} beats {}", x, l, v);
            }
        }
        let mut pairs: Vec<(f32, f32)> = t.data.iter().copied().zip(y).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in pairs.windows(2) {
            prop_assert!(w[0].1 <= w[1].1, "not monotone: {:?}", w);
        }
    }

    /// NF4/FP4: every value reconstructs to level * its block's absmax, and the block's
    /// largest |x| exactly (the +-1 level).
    #[test]
    fn four_bit_keeps_each_block_absmax(t in tensor_strategy(), s in prop::sample::select(vec!["nf4", "fp4", "nf4-b32", "fp4-b128"])) {
        let Ok(Scheme::FourBit(scheme)) = s.parse::<Scheme>() else { panic!("{s}") };
        let q = scheme.quantize(&t).unwrap();
        let y = q.dequantize();
        for (b, (xs, ys)) in t.data.chunks(scheme.block).zip(y.chunks(scheme.block)).enumerate() {
            let am = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            prop_assert_eq!(q.absmax[b], am);
            let i = xs.iter().position(|v| v.abs() == am).unwrap();
            prop_assert_eq!(ys[i].abs(), am);
            prop_assert!(ys.iter().all(|v| v.abs() <= am));
        }
    }

    /// Float casts: an exactly representable value comes back unchanged, and the result
    /// is never farther than the neighbouring representable values.
    #[test]
    fn float_casts_round_to_a_neighbour(t in tensor_strategy(), s in prop::sample::select(vec!["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"])) {
        let Ok(Scheme::Float(scheme)) = s.parse::<Scheme>() else { panic!("{s}") };
        let f = scheme.format;
        let y = scheme.quantize(&t).unwrap().dequantize();
        for (&x, &v) in t.data.iter().zip(&y) {
            prop_assert_eq!(f.decode(f.encode(v)), v);
            // Saturated or not, re-casting the cast is the identity and the sign holds.
            prop_assert!(x == 0.0 || v == 0.0 || (x > 0.0) == (v > 0.0), "{} -> {}", x, v);
        }
    }
}

#[test]
fn edge_tensors_do_not_panic() {
    let cases = [
        tensor(vec![0], vec![]),
        tensor(vec![0, 5], vec![]),
        tensor(vec![3, 0], vec![]),
        tensor(vec![], vec![2.5]),
        tensor(vec![1], vec![-3.0]),
        tensor(vec![4, 4], vec![0.0; 16]),
        tensor(vec![3, 5], vec![0.7; 15]),
        tensor(vec![2, 3], vec![-1e-40, 1e-40, 0.0, 1e-45, -1e-45, 0.0]),
        tensor(vec![2], vec![f32::MAX, -f32::MAX]),
        tensor(vec![2, 2], vec![1e30, -1e30, 1.0, -1e-30]),
    ];
    for t in &cases {
        for s in schemes() {
            let r =
                analysis::analyze(t, &s, 16).unwrap_or_else(|e| panic!("{s} {:?}: {e}", t.data));
            let y = s.encode(t).unwrap().dequantize();
            assert_eq!(y.len(), t.numel(), "{s}");
            assert_eq!(r.weights.counts.iter().sum::<u32>() as usize, t.numel());
            if t.data.iter().all(|v| *v == 0.0) {
                assert!(y.iter().all(|v| *v == 0.0), "{s}: zeros stay zero");
            }
            if t.numel() > 0
                && t.data.iter().all(|&v| v == t.data[0])
                && !s.to_string().starts_with("fp")
                && !s.to_string().starts_with("bf")
                && !s.to_string().contains("pot")
                && !s.to_string().starts_with("mixed")
            {
                // Codebooks fit a constant tensor exactly.
                assert!(y.iter().all(|&v| v == t.data[0]), "{s}: constant {:?}", y);
            }
        }
    }
}

#[test]
fn non_finite_values_are_refused_by_name() {
    for s in schemes() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let t = tensor(vec![2, 3], vec![0.1, bad, 0.3, bad, 0.5, 0.6]);
            match s.encode(&t) {
                Err(Error::NonFinite { count, first, .. }) => {
                    assert_eq!((count, first), (2, 1), "{s}");
                }
                Err(e) => panic!("{s}: wrong error {e}"),
                Ok(_) => panic!("{s}: accepted {bad}"),
            }
        }
    }
}

/// xorshift64*: seeded test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
    fn normalish(&mut self) -> f32 {
        self.next() + self.next() + self.next() + self.next() - 2.0
    }
}

fn sse(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum()
}

fn cost(t: &Tensor, s: &str) -> f64 {
    let s: Scheme = s.parse().unwrap();
    sse(&t.data, &s.encode(t).unwrap().dequantize())
}

fn gaussian(n: usize, seed: u64) -> Tensor {
    let mut r = Rng(seed);
    let mut data: Vec<f32> = (0..n).map(|_| r.normalish()).collect();
    // A few outliers, as real weights have.
    for i in (0..n).step_by(97) {
        data[i] *= 6.0;
    }
    tensor(vec![n / 32, 32], data)
}

#[test]
fn kmeansdp_is_no_worse_than_lloyd() {
    for seed in 1..6 {
        let t = gaussian(2048, seed);
        for k in [2, 4, 16, 64] {
            let dp = cost(&t, &format!("kmeansdp{k}"));
            for s in 0..3 {
                let lloyd = cost(&t, &format!("kmeans{k}-s{s}"));
                // The DP's partition is optimal; both codebooks are rounded to f32.
                assert!(
                    dp <= lloyd * (1.0 + 1e-6),
                    "k={k} seed={seed}: dp {dp} > lloyd {lloyd}"
                );
            }
        }
    }
}

/// Exhaustive search over every assignment of n points to k clusters.
fn brute_force(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    let mut best = f64::INFINITY;
    let mut a = vec![0usize; n];
    loop {
        let mut c = 0.0;
        for j in 0..k {
            let m: Vec<f64> = (0..n).filter(|&i| a[i] == j).map(|i| x[i]).collect();
            if !m.is_empty() {
                let mean = m.iter().sum::<f64>() / m.len() as f64;
                c += m.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
            }
        }
        best = best.min(c);
        let mut i = 0;
        while i < n {
            a[i] += 1;
            if a[i] < k {
                break;
            }
            a[i] = 0;
            i += 1;
        }
        if i == n {
            return best;
        }
    }
}

#[test]
fn kmeansdp_equals_the_brute_force_optimum_on_tiny_inputs() {
    let mut r = Rng(99);
    for trial in 0..40 {
        let n = 3 + trial % 6;
        let data: Vec<f32> = (0..n).map(|_| r.normalish() * 4.0).collect();
        let t = tensor(vec![n], data.clone());
        let xs: Vec<f64> = data.iter().map(|&v| v as f64).collect();
        for k in 2..=3 {
            let want = brute_force(&xs, k);
            let got = cost(&t, &format!("kmeansdp{k}"));
            assert!(
                (got - want).abs() <= 1e-6 * want.max(1e-12),
                "{data:?} k={k}: dp {got} vs brute force {want}"
            );
        }
    }
}

#[test]
fn lloyd_never_increases_the_cost() {
    for seed in 1..4 {
        let t = gaussian(4096, seed);
        for k in [4, 16] {
            let mut prev = f64::INFINITY;
            for it in 1..=12 {
                let c = cost(&t, &format!("kmeans{k}-s{seed}-it{it}"));
                assert!(c <= prev * (1.0 + 1e-9), "k={k} it={it}: {c} > {prev}");
                prev = c;
            }
        }
    }
}

#[test]
fn clustering_is_deterministic_for_a_seed() {
    let t = gaussian(4096, 7);
    for s in ["kmeans16-s5", "pq64x4-s2", "kmeansdp16", "pq16x8"] {
        let s: Scheme = s.parse().unwrap();
        let a = s.encode(&t).unwrap().dequantize();
        let b = s.encode(&t).unwrap().dequantize();
        assert_eq!(a, b, "{s}");
    }
    let a = cost(&t, "kmeans16-s1");
    let b = cost(&t, "kmeans16-s2");
    // Different seeds start elsewhere (they may still meet; these do not).
    assert_ne!(a, b);
}

#[test]
fn codebook_sizes_are_counted() {
    let t = gaussian(4096, 3); // 128 x 32
    for (s, codes, book) in [
        ("kmeans16", 4096 * 4 / 8, 16 * 4),
        ("kmeans5", 4096 * 3 / 8, 5 * 4),
        ("kmeansdp256", 4096, 256 * 4),
        ("pq256x4", 4096 / 4, 256 * 4 * 4),
        ("pq16x8", 4096 / 8 * 4 / 8, 16 * 8 * 4),
        // Not codebooks, but the same accounting: codes plus parameters.
        ("nf4", 4096 / 2, 4096 / 64 * 4),
        ("fp4-b128", 4096 / 2, 4096 / 128 * 4),
        ("fp8-e5m2", 4096, 0),
        ("bf16", 4096 * 2, 0),
        ("pot4", 4096 / 2, 1),
        ("apot5", 4096 * 5 / 8, 1),
    ] {
        let s: Scheme = s.parse().unwrap();
        let r = analysis::analyze(&t, &s, 16).unwrap();
        assert_eq!(r.packed_bytes, codes + book, "{s}");
        assert_eq!(
            r.bits_per_weight,
            ((codes + book) * 8) as f64 / 4096.0,
            "{s}"
        );
    }
    let nf4 = analysis::analyze(&t, &"nf4".parse().unwrap(), 16).unwrap();
    assert_eq!(nf4.bits_per_weight, 4.5);
    assert_eq!(nf4.scales.len(), 64);
    assert_eq!(nf4.grid.levels.len(), 16);
    // A row that is not a multiple of d: each row's tail is one padded sub-vector.
    let t = tensor(vec![3, 5], (0..15).map(|i| i as f32).collect());
    let e: Scheme = "pq4x2".parse().unwrap();
    let e = e.encode(&t).unwrap();
    assert_eq!(e.packed_bytes(), (3 * 3 * 2usize).div_ceil(8) + 4 * 2 * 4);
    assert_eq!(e.dequantize().len(), 15);
}

#[test]
fn mixed_keeps_outlier_columns_in_fp16_and_the_rest_within_half_a_step() {
    let mut r = Rng(5);
    let (rows, cols) = (32, 64);
    let mut data: Vec<f32> = (0..rows * cols).map(|_| r.normalish() * 0.1).collect();
    for row in data.chunks_mut(cols) {
        row[5] *= 40.0;
        row[37] *= 40.0;
    }
    let t = tensor(vec![rows, cols], data);
    for (s, want_cols) in [
        ("mixed-int8-fp16-top3.125", vec![5, 37]),
        ("mixed-int8-fp16-t0.5", vec![5, 37]),
    ] {
        let Ok(Scheme::Mixed(scheme)) = s.parse::<Scheme>() else {
            panic!("{s}")
        };
        let q = scheme.quantize(&t).unwrap();
        assert_eq!(q.outlier_cols, want_cols, "{s}");
        assert_eq!(q.outlier_fraction(), 2.0 / 64.0);
        assert!(
            q.describe().contains("2 of 64 input columns (3.12%)"),
            "{}",
            q.describe()
        );
        let y = q.dequantize();
        let scales = q.scales();
        for (ri, (xr, yr)) in t.data.chunks(cols).zip(y.chunks(cols)).enumerate() {
            for c in 0..cols {
                if want_cols.contains(&c) {
                    assert_eq!(yr[c], f16::from_f32(xr[c]).to_f32(), "{s} fp16 exact");
                } else {
                    let step = scales[ri];
                    assert!((yr[c] - xr[c]).abs() <= step / 2.0 * (1.0 + 1e-6), "{s}");
                }
            }
            // Outliers no longer widen the row's scale.
            let absmax = xr
                .iter()
                .enumerate()
                .filter(|(c, _)| !want_cols.contains(c))
                .fold(0f32, |m, (_, v)| m.max(v.abs()));
            assert!(scales[ri] <= absmax / 127.0 * 1.000_001);
        }
        let bytes = rows * (cols - 2) + 4 * rows + 2 * rows * 2 + 4 * 2;
        assert_eq!(q.packed_bytes(), bytes, "{s}");
    }
}

#[test]
fn strings_and_json_round_trip() {
    for s in SCHEMES {
        let a: Scheme = s.parse().unwrap();
        assert_eq!(a.to_string(), *s);
        let json = serde_json::to_string(&a).unwrap();
        let b: Scheme = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b, "{json}");
    }
    assert_eq!(
        serde_json::to_value("mixed-int8-fp16-t6".parse::<Scheme>().unwrap()).unwrap(),
        serde_json::json!({"kind": "mixed", "outliers": {"rule": "threshold", "value": 6.0}})
    );
}

/// Input of the cross-platform check: the same bits in tests/wasm_simd.rs.
fn golden_input() -> Tensor {
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
    tensor(vec![64, 48], data)
}

/// FNV-1a over the bits of the reconstruction.
fn fnv(y: &[f32]) -> u64 {
    y.iter().fold(0xcbf2_9ce4_8422_2325, |h, v| {
        v.to_bits()
            .to_le_bytes()
            .iter()
            .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
    })
}

/// The seeded schemes give the same output everywhere: this native run pins the hash of
/// each reconstruction in tests/fixtures/schemes/vq_golden.json (our own output, not a
/// reference), and tests/wasm_simd.rs asserts the same hashes in Node. Regenerate after
/// a deliberate change with QUANTSCOPE_BLESS=1 cargo test --test schemes_props golden.
#[test]
fn seeded_schemes_match_the_golden_hashes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemes/vq_golden.json");
    let t = golden_input();
    let mut got = serde_json::Map::new();
    for s in [
        "kmeans16-s3",
        "kmeansdp16",
        "pq64x4-s1",
        "pq16x8",
        "pot4",
        "apot5",
        "nf4",
        "fp8-e4m3",
    ] {
        let scheme: Scheme = s.parse().unwrap();
        let e = scheme.encode(&t).unwrap();
        got.insert(
            s.to_string(),
            serde_json::json!({"fnv": format!("{:016x}", fnv(&e.dequantize())), "packed_bytes": e.packed_bytes()}),
        );
    }
    let got = serde_json::Value::Object(got);
    if std::env::var_os("QUANTSCOPE_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(got, want);
}
