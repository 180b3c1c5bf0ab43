//! The SIMD128 F16 -> f32 conversion, run in Node under wasm-bindgen-test: every one of
//! the 65536 halves gives the f32 bits of its scalar twin (the `half` crate), at every
//! offset and on tails shorter than a vector. Native `cargo test` compiles this file to
//! nothing; scripts/test-wasm.sh runs it.
#![cfg(target_arch = "wasm32")]

use quantscope::kernels::{scalar_convert, simd128_convert};
use wasm_bindgen_test::wasm_bindgen_test;

fn both(raw: &[u8]) -> (Vec<u32>, Vec<u32>) {
    let n = raw.len() / 2;
    let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
    simd128_convert::f16_to_f32(raw, &mut a);
    scalar_convert::f16_to_f32(raw, &mut b);
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect();
    (bits(a), bits(b))
}

#[wasm_bindgen_test]
fn every_half_converts_as_the_scalar_twin() {
    let raw: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
    let (simd, scalar) = both(&raw);
    for (h, (a, b)) in simd.iter().zip(&scalar).enumerate() {
        assert_eq!(a, b, "half {h:#06x}: {a:#010x} vs scalar {b:#010x}");
    }
    // Spot values from the definition, independent of either implementation.
    assert_eq!(f32::from_bits(simd[0x3c00]), 1.0);
    assert_eq!(f32::from_bits(simd[0xc000]), -2.0);
    assert_eq!(f32::from_bits(simd[0x0001]), 2f32.powi(-24));
    assert_eq!(f32::from_bits(simd[0x7c00]), f32::INFINITY);
    assert!(f32::from_bits(simd[0x7e01]).is_nan());
}

#[wasm_bindgen_test]
fn odd_lengths_and_unaligned_starts_match() {
    let raw: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..3 {
        for n in [0usize, 1, 2, 7, 8, 9, 15, 16, 17, 33, 63] {
            let slice = &raw[start..start + 2 * n];
            let (a, b) = both(slice);
            assert_eq!(a, b, "start {start}, n {n}");
        }
    }
}
