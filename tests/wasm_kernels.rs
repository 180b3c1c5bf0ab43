//! The GEMM/GEMV kernels in the wasm build, run in Node under wasm-bindgen-test: every
//! SIMD twin (simd128, and relaxed in a `+relaxed-simd` build) equals the scalar kernel
//! exactly, and the integer product equals numpy's on the committed fixtures.
//! Native `cargo test` compiles this file to nothing; scripts/test-wasm.sh runs it.
#![cfg(target_arch = "wasm32")]

#[path = "gemm_common/mod.rs"]
mod common;

use quantscope::kernels::gemm::{simd128, ActQuant, Tiles};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn int32_gemm_equals_numpy() {
    common::gemm_matches_numpy();
}

#[wasm_bindgen_test]
fn q4_0_gemv_equals_gguf() {
    common::q4_0_matches_gguf();
}

#[wasm_bindgen_test]
fn simd128_int8_gemm_equals_scalar() {
    for mode in [ActQuant::Sym8, ActQuant::Asym8, ActQuant::U7] {
        common::i8_kernel_equals_scalar(simd128::gemm_i8, mode);
    }
}

/// Every tile shape of the sweep (and so the chosen ones), with and without panel
/// blocking, equals the scalar kernel.
#[wasm_bindgen_test]
fn simd128_int8_gemm_every_tile_shape_equals_scalar() {
    for &(mr, np) in simd128::TILE_SHAPES {
        for pb in [0, 1, 3] {
            let t = Tiles { mr, np, pb };
            common::i8_closure_equals_scalar(
                &|a, w, blk| simd128::gemm_i8_tiled(a, w, blk, t).expect("listed shape"),
                ActQuant::Asym8,
            );
        }
    }
}

#[wasm_bindgen_test]
fn simd128_q4_gemv_equals_scalar() {
    common::q4_kernel_equals_scalar(simd128::gemv_q4);
}

#[wasm_bindgen_test]
fn simd128_f32_gemm_equals_scalar() {
    common::f32_kernel_equals_scalar(simd128::gemm_f32);
}

/// A build with +relaxed-simd must really hold the relaxed kernels (and use them).
#[wasm_bindgen_test]
#[allow(clippy::assertions_on_constants)]
fn relaxed_flag_matches_the_build() {
    assert_eq!(
        quantscope::kernels::RELAXED_SIMD,
        option_env!("QUANTSCOPE_EXPECT_RELAXED").is_some(),
        "set QUANTSCOPE_EXPECT_RELAXED when building with +relaxed-simd"
    );
}

#[cfg(target_feature = "relaxed-simd")]
mod relaxed {
    use super::common;
    use quantscope::kernels::gemm::{relaxed, ActQuant, Tiles};
    use wasm_bindgen_test::wasm_bindgen_test;

    /// Only u7 activations reach the relaxed int8 kernel (its exactness condition).
    #[wasm_bindgen_test]
    fn relaxed_int8_gemm_equals_scalar() {
        common::i8_kernel_equals_scalar(relaxed::gemm_i8, ActQuant::U7);
    }

    #[wasm_bindgen_test]
    fn relaxed_int8_gemm_every_tile_shape_equals_scalar() {
        for &(mr, np) in relaxed::TILE_SHAPES {
            for pb in [0, 1, 3] {
                let t = Tiles { mr, np, pb };
                common::i8_closure_equals_scalar(
                    &|a, w, blk| relaxed::gemm_i8_tiled(a, w, blk, t).expect("listed shape"),
                    ActQuant::U7,
                );
            }
        }
    }

    #[wasm_bindgen_test]
    fn relaxed_q4_gemv_equals_scalar() {
        common::q4_kernel_equals_scalar(relaxed::gemv_q4);
    }
}
