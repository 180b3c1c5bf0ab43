//! Checks shared by tests/gemm.rs (native) and tests/wasm_kernels.rs (wasm, in Node):
//! the GEMM kernels against numpy/gguf fixtures, and any kernel against the scalar one.
#![allow(dead_code)]

use quantscope::kernels::gemm::{
    self, scalar, ActQuant, Block, PackedF32Matrix, PackedI8Matrix, PackedQ4Matrix, Q4Activations,
    QuantizedRows, Sink,
};

/// Sizes that hit empty, single, odd, tail and several-tile cases for M, N and K.
pub const DIMS: &[usize] = &[0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 64];

#[path = "../support/rng.rs"]
mod rng;
pub use rng::Rng;

fn npz(bytes: &[u8]) -> quantscope::Model {
    quantscope::open(bytes, "case.npz").unwrap()
}

fn ints(m: &quantscope::Model, name: &str) -> Vec<i32> {
    m.tensor(name)
        .unwrap()
        .data
        .iter()
        .map(|&v| v as i32)
        .collect()
}

pub const CASES: &[(&str, &[u8])] = &[
    ("tiny", include_bytes!("../fixtures/gemm/case_tiny.npz")),
    ("odd", include_bytes!("../fixtures/gemm/case_odd.npz")),
    ("tails", include_bytes!("../fixtures/gemm/case_tails.npz")),
    ("gemv", include_bytes!("../fixtures/gemm/case_gemv.npz")),
    ("u7", include_bytes!("../fixtures/gemm/case_u7.npz")),
    ("emptyk", include_bytes!("../fixtures/gemm/case_emptyk.npz")),
    ("wide", include_bytes!("../fixtures/gemm/case_wide.npz")),
];

/// The integer product of this build's kernels equals numpy's, zero points included.
pub fn gemm_matches_numpy() {
    for (name, bytes) in CASES {
        let f = npz(bytes);
        let a_t = f.tensor("a").unwrap();
        let (m, k) = (a_t.shape[0], a_t.shape[1]);
        let n = f.tensor("w").unwrap().shape[0];
        let a: Vec<i8> = ints(&f, "a").iter().map(|&v| v as i8).collect();
        let w: Vec<i8> = ints(&f, "w").iter().map(|&v| v as i8).collect();
        let mode = if *name == "u7" {
            ActQuant::U7
        } else {
            ActQuant::Asym8
        };
        let mut rows = QuantizedRows::from_codes(&a, m, k, mode).unwrap();
        rows.zero_points = ints(&f, "za");
        let pw = PackedI8Matrix::from_codes(&w, n, k, &vec![1.0; n], &ints(&f, "zw")).unwrap();
        let y = gemm::gemm_i8_i32(&rows, &pw).unwrap();
        assert_eq!(y, ints(&f, "y"), "case {name} ({m}x{k}x{n})");
    }
}

/// Q4_0 blocks written by gguf: unpacking matches gguf's dequantization, and the GEMV
/// equals the f32 sum numpy computed in the same order.
pub fn q4_0_matches_gguf() {
    let f = npz(include_bytes!("../fixtures/gemm/q4_0.npz"));
    let blocks: Vec<u8> = f
        .tensor("blocks")
        .unwrap()
        .data
        .iter()
        .map(|&v| v as u8)
        .collect();
    let deq = &f.tensor("deq").unwrap();
    let (n, k) = (deq.shape[0], deq.shape[1]);
    let w = PackedQ4Matrix::from_q4_0(&blocks, n, k).unwrap();
    let x: Vec<i8> = ints(&f, "x").iter().map(|&v| v as i8).collect();
    // One-hot activations read back each dequantized weight: (q - 8) * d.
    for kk in [0, 5, 16, 31, 32, 95] {
        let mut e = vec![0i8; k];
        e[kk] = 1;
        let acts = Q4Activations::new(QuantizedRows::from_codes(&e, 1, k, ActQuant::Sym8).unwrap());
        let mut y = vec![0f32; n];
        gemm::gemv_q4_block(&acts, 0, &w, None, 0..w.panels(), &mut y);
        for (r, &v) in y.iter().enumerate() {
            assert_eq!(v, deq.data[r * k + kk], "row {r}, k {kk}");
        }
    }
    let acts = Q4Activations::new(QuantizedRows::from_codes(&x, 1, k, ActQuant::Sym8).unwrap());
    let mut y = vec![0f32; n];
    gemm::gemv_q4_block(&acts, 0, &w, None, 0..w.panels(), &mut y);
    assert_eq!(y, f.tensor("y").unwrap().data);
}

pub type I8Kernel = fn(&QuantizedRows, &PackedI8Matrix, Block<'_>);

fn random_rows(rng: &mut Rng, m: usize, k: usize, mode: ActQuant) -> QuantizedRows {
    let lo = match mode {
        ActQuant::U7 => 0,
        ActQuant::Sym8 => -127,
        ActQuant::Asym8 => -128,
    };
    let codes: Vec<i8> = (0..m * k).map(|_| rng.int(lo, 127) as i8).collect();
    let mut r = QuantizedRows::from_codes(&codes, m, k, mode).unwrap();
    if mode != ActQuant::Sym8 {
        r.zero_points = (0..m).map(|_| rng.int(lo, 127)).collect();
    }
    r.scales = (0..m).map(|_| 0.01 + rng.f().abs()).collect();
    r
}

fn random_weights(rng: &mut Rng, n: usize, k: usize) -> PackedI8Matrix {
    let codes: Vec<i8> = (0..n * k).map(|_| rng.int(-128, 127) as i8).collect();
    let scales: Vec<f32> = (0..n).map(|_| 0.001 + rng.f().abs() * 0.1).collect();
    let zps: Vec<i32> = (0..n).map(|_| rng.int(-10, 10)).collect();
    PackedI8Matrix::from_codes(&codes, n, k, &scales, &zps).unwrap()
}

fn run_i8(
    kern: &dyn Fn(&QuantizedRows, &PackedI8Matrix, Block<'_>),
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    f32_out: bool,
    bias: &[f32],
) -> (Vec<i32>, Vec<f32>) {
    let (mut oi, mut of) = (vec![0i32; a.m * w.n], vec![0f32; a.m * w.n]);
    let sink = if f32_out {
        Sink::F32 {
            out: &mut of,
            bias: Some(bias),
        }
    } else {
        Sink::I32(&mut oi)
    };
    kern(
        a,
        w,
        Block {
            rows: 0..a.m,
            panels: 0..w.panels(),
            ld: w.n,
            col0: 0,
            sink,
        },
    );
    (oi, of)
}

/// `kern` equals the scalar kernel exactly (int32 and f32 outputs) on every shape in
/// DIMS³, for activations of `mode`; also on a sub-block of rows and panels.
pub fn i8_kernel_equals_scalar(kern: I8Kernel, mode: ActQuant) {
    i8_closure_equals_scalar(&kern, mode)
}

/// [`i8_kernel_equals_scalar`] for any callable (a kernel run with a chosen tile shape).
pub fn i8_closure_equals_scalar(
    kern: &dyn Fn(&QuantizedRows, &PackedI8Matrix, Block<'_>),
    mode: ActQuant,
) {
    let mut rng = Rng(0x5EED ^ mode as u64);
    for &m in DIMS {
        for &n in DIMS {
            for &k in DIMS {
                let a = random_rows(&mut rng, m, k, mode);
                let w = random_weights(&mut rng, n, k);
                let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
                for f32_out in [false, true] {
                    let (gi, gf) = run_i8(kern, &a, &w, f32_out, &bias);
                    let (si, sf) = run_i8(&scalar::gemm_i8, &a, &w, f32_out, &bias);
                    assert_eq!(gi, si, "int32 {m}x{k}x{n} {mode:?}");
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&gf), bits(&sf), "f32 {m}x{k}x{n} {mode:?}");
                }
            }
        }
    }
    // A block: rows 3..10, panels 1..3 into a slab, as a worker would.
    let a = random_rows(&mut rng, 12, 37, mode);
    let w = random_weights(&mut rng, 19, 37);
    let mut got = vec![0i32; 7 * 8];
    let mut want = vec![0i32; 7 * 8];
    let scalar_kern: &dyn Fn(&QuantizedRows, &PackedI8Matrix, Block<'_>) = &scalar::gemm_i8;
    for (kern, out) in [(kern, &mut got), (scalar_kern, &mut want)] {
        kern(
            &a,
            &w,
            Block {
                rows: 3..10,
                panels: 1..3,
                ld: 8,
                col0: 4,
                sink: Sink::I32(out),
            },
        );
    }
    assert_eq!(got, want);
    assert!(got.iter().any(|&v| v != 0));
}

pub type Q4Kernel =
    fn(&Q4Activations, usize, &PackedQ4Matrix, Option<&[f32]>, std::ops::Range<usize>, &mut [f32]);

/// `kern` equals the scalar Q4 GEMV bit for bit, int4 groups of 32, 64 and 128.
pub fn q4_kernel_equals_scalar(kern: Q4Kernel) {
    let mut rng = Rng(44);
    for &n in DIMS {
        for k in [0usize, 32, 64, 128, 256] {
            for group in [32usize, 64, 128] {
                if k % group != 0 {
                    continue;
                }
                let w: Vec<f32> = (0..n * k).map(|_| rng.f()).collect();
                let pw = PackedQ4Matrix::quantize_int4(&w, n, k, group).unwrap();
                let x: Vec<i8> = (0..2 * k).map(|_| rng.int(-127, 127) as i8).collect();
                let mut rows = QuantizedRows::from_codes(&x, 2, k, ActQuant::Sym8).unwrap();
                rows.scales = vec![0.5, 0.03];
                let acts = Q4Activations::new(rows);
                let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
                for m in 0..2 {
                    let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
                    kern(&acts, m, &pw, Some(&bias), 0..pw.panels(), &mut a);
                    scalar::gemv_q4(&acts, m, &pw, Some(&bias), 0..pw.panels(), &mut b);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "n {n} k {k} group {group}");
                }
            }
        }
    }
}

pub type F32Kernel = fn(
    &[f32],
    &PackedF32Matrix,
    Option<&[f32]>,
    std::ops::Range<usize>,
    std::ops::Range<usize>,
    usize,
    usize,
    &mut [f32],
);

/// `kern` equals the scalar f32 GEMM bit for bit on every shape in DIMS³.
pub fn f32_kernel_equals_scalar(kern: F32Kernel) {
    let mut rng = Rng(32);
    for &m in DIMS {
        for &n in DIMS {
            for &k in DIMS {
                let x: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
                let w: Vec<f32> = (0..n * k).map(|_| rng.f()).collect();
                let pw = PackedF32Matrix::pack(&w, n, k).unwrap();
                let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
                let (mut a, mut b) = (vec![0f32; m * n], vec![0f32; m * n]);
                kern(&x, &pw, Some(&bias), 0..m, 0..pw.panels(), n, 0, &mut a);
                scalar::gemm_f32(&x, &pw, Some(&bias), 0..m, 0..pw.panels(), n, 0, &mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{m}x{k}x{n}");
            }
        }
    }
}
