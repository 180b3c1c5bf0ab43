//! GEMM/GEMV kernels natively: integer products equal numpy's, Q4_0 equals gguf's, the
//! layer entry points agree with the kernels, and bad shapes are refused by name.

#[path = "gemm_common/mod.rs"]
mod common;

use quantscope::kernels::gemm::{self, ActQuant, PackedF32Matrix, PackedI8Matrix, QuantizedRows};

#[test]
fn int32_gemm_equals_numpy() {
    common::gemm_matches_numpy();
}

#[test]
fn q4_0_gemv_equals_gguf() {
    common::q4_0_matches_gguf();
}

#[test]
fn active_kernels_equal_scalar() {
    // Natively the active kernels are the scalar ones; this exercises the shapes and
    // the block entry point here too, so a bug in the harness shows up without wasm.
    for mode in [ActQuant::Sym8, ActQuant::Asym8, ActQuant::U7] {
        common::i8_kernel_equals_scalar(gemm::scalar::gemm_i8, mode);
    }
}

#[test]
fn linear_layers_are_close_to_float() {
    let mut rng = common::Rng(9);
    let (m, k, n) = (5, 70, 11);
    let x: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
    let w: Vec<f32> = (0..n * k).map(|_| rng.f() * 0.1).collect();
    let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
    let f = gemm::linear_f32(
        &x,
        m,
        &PackedF32Matrix::pack(&w, n, k).unwrap(),
        Some(&bias),
    )
    .unwrap();
    // The plain definition of y = x Wᵀ + b, in f64.
    for r in 0..m {
        for c in 0..n {
            let d: f64 = (0..k)
                .map(|i| x[r * k + i] as f64 * w[c * k + i] as f64)
                .sum::<f64>()
                + bias[c] as f64;
            assert!((f[r * n + c] as f64 - d).abs() < 1e-5, "f32 ({r},{c})");
        }
    }
    let pw = PackedI8Matrix::quantize(&w, n, k).unwrap();
    for mode in [ActQuant::Sym8, ActQuant::Asym8, ActQuant::U7] {
        let q = gemm::linear_i8(&x, m, &pw, Some(&bias), mode).unwrap();
        let m8 = quantscope::metrics::compare(&f, &q);
        assert!(
            m8.sqnr_db > if mode == ActQuant::U7 { 25.0 } else { 30.0 },
            "{mode:?}: {m8:?}"
        );
    }
    let wq = gemm::PackedQ4Matrix::quantize_int4(&w[..n * 64], n, 64, 32).unwrap();
    let f64x: Vec<f32> = x.chunks(k).flat_map(|r| r[..64].to_vec()).collect();
    let q4 = gemm::linear_q4(&f64x, m, &wq, None).unwrap();
    let ref4 = gemm::linear_f32(
        &f64x,
        m,
        &PackedF32Matrix::pack(&w[..n * 64], n, 64).unwrap(),
        None,
    );
    // int4 weights: a coarse but bounded error.
    assert!(quantscope::metrics::compare(&ref4.unwrap(), &q4).sqnr_db > 12.0);
}

#[test]
fn panel_slabs_tile_the_output() {
    let mut rng = common::Rng(10);
    let (m, k, n) = (3, 40, 18);
    let x: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
    let w: Vec<f32> = (0..n * k).map(|_| rng.f()).collect();
    let pw = PackedI8Matrix::quantize(&w, n, k).unwrap();
    let full = gemm::linear_i8(&x, m, &pw, None, ActQuant::Asym8).unwrap();
    let a = QuantizedRows::quantize(&x, m, k, ActQuant::Asym8).unwrap();
    let left = gemm::linear_i8_panels(&a, &pw, None, 0..2).unwrap();
    let right = gemm::linear_i8_panels(&a, &pw, None, 2..pw.panels()).unwrap();
    for r in 0..m {
        let joined: Vec<f32> = left[r * 8..(r + 1) * 8]
            .iter()
            .chain(&right[r * 10..(r + 1) * 10])
            .copied()
            .collect();
        assert_eq!(joined, full[r * n..(r + 1) * n]);
    }
}

#[test]
fn empty_shapes_give_empty_or_bias_outputs() {
    for (m, k, n) in [(0, 0, 1), (2, 0, 3), (0, 5, 2), (1, 4, 0)] {
        let pw = PackedI8Matrix::quantize(&vec![0.5; n * k], n, k).unwrap();
        let bias = vec![0.25; n];
        for mode in [ActQuant::Sym8, ActQuant::Asym8, ActQuant::U7] {
            let y = gemm::linear_i8(&vec![1.0; m * k], m, &pw, Some(&bias), mode).unwrap();
            assert_eq!(y.len(), m * n);
            if k == 0 {
                assert!(y.iter().all(|&v| v == 0.25), "{m}x{k}x{n}: {y:?}");
            }
        }
        let pf = PackedF32Matrix::pack(&vec![0.5; n * k], n, k).unwrap();
        assert_eq!(
            gemm::linear_f32(&vec![1.0; m * k], m, &pf, None)
                .unwrap()
                .len(),
            m * n
        );
    }
    let w4 = gemm::PackedQ4Matrix::quantize_int4(&[], 3, 0, 32).unwrap();
    assert_eq!(gemm::linear_q4(&[], 2, &w4, None).unwrap(), vec![0.0; 6]);
}

#[test]
fn bad_shapes_are_refused_by_name() {
    let e = PackedI8Matrix::quantize(&[0.0; 10], 3, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("10 values do not make 3 rows of 4"), "{e}");
    let pw = PackedI8Matrix::quantize(&[0.5; 12], 3, 4).unwrap();
    let e = gemm::linear_i8(&[1.0; 5], 1, &pw, None, ActQuant::Sym8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 values"), "{e}");
    let e = gemm::linear_i8(&[1.0; 4], 1, &pw, Some(&[0.0; 2]), ActQuant::Sym8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bias has 2 values"), "{e}");
    let e = gemm::linear_i8(&[f32::NAN; 4], 1, &pw, None, ActQuant::Sym8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN"), "{e}");
    let e = gemm::PackedQ4Matrix::from_q4_0(&[0; 17], 1, 32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs 18 bytes"), "{e}");
    let e = gemm::PackedQ4Matrix::quantize_int4(&[0.0; 40], 1, 40, 32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("multiple of the group size"), "{e}");
    let e = ActQuant::parse("int3").unwrap_err().to_string();
    assert!(e.contains("`int3`"), "{e}");
}
