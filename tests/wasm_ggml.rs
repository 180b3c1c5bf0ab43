//! The ggml SIMD128 block quantizers, run in Node under wasm-bindgen-test: each equals
//! its scalar twin byte for byte, and the quantizer the page runs still equals the
//! `gguf` package's bytes. Native `cargo test` compiles this file to nothing;
//! scripts/test-wasm.sh runs it.
#![cfg(target_arch = "wasm32")]

#[path = "support/rng.rs"]
mod rng;

use quantscope::kernels::{scalar_ggml as scalar, simd128_ggml as simd, SIMD128};
use quantscope::quant::ggml::{quantize, GgmlType};
use rng::Rng;
use wasm_bindgen_test::wasm_bindgen_test;

/// Blocks of many kinds: Gaussian-ish at magnitudes from subnormal to near f32::MAX,
/// exact ties for both rounding rules, zeros and signed zeros, constants, a repeated
/// extreme (first-index rule), one outlier.
fn blocks(rng: &mut Rng, count: usize) -> Vec<f32> {
    let scales = [1e-42f32, 1e-39, 1e-37, 1e-20, 1e-3, 1.0, 1e4, 1e30, 3e38];
    let mut x = Vec::with_capacity(count * 32);
    for b in 0..count {
        let k = scales[(rng.next() % scales.len() as u64) as usize];
        let mut blk: Vec<f32> = (0..32).map(|_| (rng.unit() * 2.0 - 1.0) * k).collect();
        match b % 8 {
            0 => {
                // Q8_0 ties: amax 127·s, values (k + 0.5)·s with s a power of two.
                let s = 2f32.powi((rng.next() % 20) as i32 - 10);
                for (j, v) in blk.iter_mut().enumerate() {
                    *v = ((j as f32) - 16.5) * s;
                }
                blk[3] = 127.0 * s;
            }
            1 => {
                // Q4_0 ties: max -8·s, values (k + 0.5)·s.
                let s = 2f32.powi((rng.next() % 20) as i32 - 10);
                for (j, v) in blk.iter_mut().enumerate() {
                    *v = ((j % 16) as f32 - 7.5) * s;
                }
                blk[9] = -8.0 * s;
            }
            2 => blk
                .iter_mut()
                .for_each(|v| *v = if rng.next() % 2 == 0 { 0.0 } else { -0.0 }),
            3 => blk.fill(-0.3 * k),
            4 => {
                let v = blk[5].abs();
                blk[5] = -v;
                blk[20] = v; // the same |x| twice: the first one's sign decides
            }
            5 => blk[(rng.next() % 32) as usize] *= 1000.0f32.min(f32::MAX / k.max(1.0)),
            6 => {
                // Q8_0 near-ties: amax 127 (d = 1, so x / d is x itself), values n + 0.5
                // and their neighbours one ulp either side, both signs.
                for (j, v) in blk.iter_mut().enumerate() {
                    let t = (j as f32 % 16.0) * 8.0 + 0.5;
                    let t = match j % 3 {
                        0 => t,
                        1 => f32::from_bits(t.to_bits() + 1),
                        _ => f32::from_bits(t.to_bits() - 1),
                    };
                    *v = if j >= 16 { -t } else { t };
                }
                blk[7] = if rng.next() % 2 == 0 { 127.0 } else { -127.0 };
            }
            _ => {}
        }
        x.extend(blk);
    }
    x
}

/// Mostly ordinary blocks (the kernels' four-block path runs only when all four of a
/// group are ordinary), with one of [`blocks`]' special kinds in about one block of 8.
fn mostly_plain_blocks(rng: &mut Rng, count: usize) -> Vec<f32> {
    let special = blocks(rng, count);
    let scales = [0.02f32, 1e-3, 1.0, 3e4];
    let mut x = Vec::with_capacity(count * 32);
    for b in special.chunks_exact(32) {
        if rng.next() % 8 == 0 {
            x.extend_from_slice(b);
        } else {
            let k = scales[(rng.next() % scales.len() as u64) as usize];
            x.extend((0..32).map(|_| (rng.unit() * 2.0 - 1.0) * k));
        }
    }
    x
}

/// Constant by design: a build without +simd128 fails here by name.
#[wasm_bindgen_test]
#[allow(clippy::assertions_on_constants)]
fn this_build_runs_simd128() {
    assert!(
        SIMD128,
        "the wasm test build must be compiled with +simd128"
    );
}

#[wasm_bindgen_test]
fn q8_0_simd_equals_scalar() {
    let mut rng = Rng(11);
    for count in [0usize, 1, 2, 3, 4, 5, 7, 8, 17, 64, 257] {
        for (kind, x) in [
            ("special", blocks(&mut rng, count)),
            ("mostly plain", mostly_plain_blocks(&mut rng, count)),
        ] {
            let (mut a, mut b) = (vec![0u8; count * 34], vec![0u8; count * 34]);
            simd::quantize_q8_0(&x, &mut a);
            scalar::quantize_q8_0(&x, &mut b);
            assert_eq!(a, b, "{count} {kind} blocks");
        }
    }
}

#[wasm_bindgen_test]
fn q4_0_simd_equals_scalar() {
    let mut rng = Rng(12);
    for count in [0usize, 1, 2, 3, 4, 5, 7, 8, 17, 64, 257] {
        for (kind, x) in [
            ("special", blocks(&mut rng, count)),
            ("mostly plain", mostly_plain_blocks(&mut rng, count)),
        ] {
            let (mut a, mut b) = (vec![0u8; count * 18], vec![0u8; count * 18]);
            simd::quantize_q4_0(&x, &mut a);
            scalar::quantize_q4_0(&x, &mut b);
            assert_eq!(a, b, "{count} {kind} blocks");
        }
    }
}

/// d's fp16 rounding in the four-block path, against the `half` crate's: Q4_0 blocks
/// whose largest-|x| element is -8·t make d = t exactly (the division by -8 is exact),
/// for t across fp16's normal exponents with the dropped 13 mantissa bits just below,
/// at and above the halfway point (kept bit odd and even), and at the edges: the
/// largest finite fp16, the round-to-infinity boundary 65520, the smallest normal.
#[wasm_bindgen_test]
fn fp16_of_d_equals_scalar_at_ties_and_edges() {
    let mut ts = Vec::new();
    for e in -14i32..=15 {
        for kept in [0u32, 1, 0x2AA, 0x3FE, 0x3FF] {
            for low in [0u32, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF] {
                let bits = (((e + 127) as u32) << 23) | (kept << 13) | low;
                ts.push(f32::from_bits(bits));
            }
        }
    }
    let edges = [65504.0f32, 65519.996, 65520.0, 65535.996, 6.103_515_6e-5];
    ts.extend(edges);
    ts.push(f32::from_bits(6.103_515_6e-5f32.to_bits() - 1)); // fp16 subnormal: scalar
    let mut x = Vec::new();
    for (i, &t) in ts.iter().enumerate() {
        let mut blk: Vec<f32> = (0..32).map(|j| t * (j as f32 / 64.0 - 0.25)).collect();
        blk[i % 32] = -8.0 * t;
        x.extend(blk);
    }
    let n = x.len() / 32;
    let (mut a, mut b) = (vec![0u8; n * 18], vec![0u8; n * 18]);
    simd::quantize_q4_0(&x, &mut a);
    scalar::quantize_q4_0(&x, &mut b);
    for (i, (ba, bb)) in a.chunks(18).zip(b.chunks(18)).enumerate() {
        assert_eq!(ba, bb, "block {i}, d = {:e}", ts[i]);
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The quantizer as the page runs it (SIMD kernels) against the gguf package's bytes.
#[wasm_bindgen_test]
fn simd_quantizer_matches_gguf() {
    let cases: &[(&[u8], &[u8], GgmlType)] = &[
        (
            include_bytes!("fixtures/ggml/gauss.f32"),
            include_bytes!("fixtures/ggml/gauss.q8_0.bin"),
            GgmlType::Q8_0,
        ),
        (
            include_bytes!("fixtures/ggml/gauss.f32"),
            include_bytes!("fixtures/ggml/gauss.q4_0.bin"),
            GgmlType::Q4_0,
        ),
        (
            include_bytes!("fixtures/ggml/ties.f32"),
            include_bytes!("fixtures/ggml/ties.q8_0.bin"),
            GgmlType::Q8_0,
        ),
        (
            include_bytes!("fixtures/ggml/ties.f32"),
            include_bytes!("fixtures/ggml/ties.q4_0.bin"),
            GgmlType::Q4_0,
        ),
        (
            include_bytes!("fixtures/ggml/extremes.f32"),
            include_bytes!("fixtures/ggml/extremes.q8_0.bin"),
            GgmlType::Q8_0,
        ),
        (
            include_bytes!("fixtures/ggml/extremes.f32"),
            include_bytes!("fixtures/ggml/extremes.q4_0.bin"),
            GgmlType::Q4_0,
        ),
        (
            include_bytes!("fixtures/ggml/minilm.f32"),
            include_bytes!("fixtures/ggml/minilm.q4_0.bin"),
            GgmlType::Q4_0,
        ),
    ];
    for (input, want, ty) in cases {
        assert_eq!(quantize(*ty, &f32s(input)).unwrap(), want.to_vec(), "{ty}");
    }
}
