//! Hot loops, each with a plain scalar reference and a wasm SIMD128 twin.
//!
//! The twin is picked at compile time: a wasm32 build with `+simd128` uses
//! [`simd128`], everything else uses [`scalar`]. Tests hold every SIMD kernel to its
//! scalar twin bit for bit (tests/wasm_simd.rs and tests/wasm_kernels.rs run them in
//! Node). Matrix products (GEMM/GEMV, int8, 4-bit, f32) live in [`gemm`], with the same
//! scalar / simd128 split plus a relaxed-SIMD build.

pub mod gemm;
pub mod scalar;
pub mod scalar_convert;
pub mod scalar_ggml;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128_convert;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128_ggml;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use simd128 as active;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub use scalar as active;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128_convert as active_convert;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use scalar_convert as active_convert;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128_ggml as active_ggml;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use scalar_ggml as active_ggml;

/// True when this build runs the SIMD128 kernels (a build-time fact, exported to the
/// page so a test can prove which path ran).
pub const SIMD128: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// True when this build also uses relaxed-SIMD instructions where they are exact.
pub const RELAXED_SIMD: bool = gemm::RELAXED_SIMD;

/// Name of the kernel set in this build.
pub const KERNELS: &str = if RELAXED_SIMD {
    "simd128+relaxed"
} else if SIMD128 {
    "simd128"
} else {
    "scalar"
};

/// Little-endian IEEE halves (`raw`, 2 bytes each) to f32 (`out`, one each).
#[inline]
pub fn f16_to_f32(raw: &[u8], out: &mut [f32]) {
    active_convert::f16_to_f32(raw, out)
}

/// Smallest value, largest value, and whether every value was finite.
/// For an empty slice: (+inf, -inf, true).
#[inline]
pub fn min_max(x: &[f32]) -> (f32, f32, bool) {
    active::min_max(x)
}

/// Parameters of one affine int quantizer: q = clamp(round_half_even(x / scale) + zero_point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
    pub qmin: i32,
    pub qmax: i32,
}

/// Quantizes `x` into `out` (same length) with one set of parameters.
#[inline]
pub fn quantize_i8(x: &[f32], p: QParams, out: &mut [i8]) {
    active::quantize_i8(x, p, out)
}

/// [`quantize_i8`] into a buffer not yet initialised (every element is written), so a
/// caller need not zero-fill it first.
#[inline]
pub fn quantize_i8_uninit(x: &[f32], p: QParams, out: &mut [core::mem::MaybeUninit<i8>]) {
    active::quantize_i8_uninit(x, p, out)
}

/// [`quantize_i8_uninit`] of `x` into `out`, and the [`min_max`] of `next`, the piece to
/// quantize after it: the SIMD128 build interleaves the two so that the scan's memory
/// reads overlap the quantize's arithmetic.
#[inline]
pub fn quantize_i8_then_min_max(
    x: &[f32],
    p: QParams,
    out: &mut [core::mem::MaybeUninit<i8>],
    next: &[f32],
) -> (f32, f32, bool) {
    active::quantize_i8_then_min_max(x, p, out, next)
}

/// Benchmark probe of read bandwidth (XOR of every value's bits); no scheme uses it.
#[inline]
pub fn read_probe(x: &[f32]) -> u32 {
    active::read_probe(x)
}

/// Benchmark probe of an int8 quantize's memory traffic (read 4 bytes, write 1 per
/// value, almost no arithmetic); no scheme uses it.
#[inline]
pub fn narrow_probe(x: &[f32], out: &mut [u8]) {
    active::narrow_probe(x, out)
}

/// Dequantizes codes: (q - zero_point) * scale.
#[inline]
pub fn dequantize_i8(q: &[i8], p: QParams, out: &mut [f32]) {
    active::dequantize_i8(q, p, out)
}

/// Quantizes one row whose every element has its own parameters (`params[i]` for
/// `x[i]`): per-channel quantization along the last axis.
#[inline]
pub fn quantize_i8_lanes(x: &[f32], params: &[QParams], out: &mut [i8]) {
    active::quantize_i8_lanes(x, params, out)
}

/// Dequantizes one row with per-element parameters.
#[inline]
pub fn dequantize_i8_lanes(q: &[i8], params: &[QParams], out: &mut [f32]) {
    active::dequantize_i8_lanes(q, params, out)
}

/// ggml Q8_0 blocks: `x.len()` a multiple of 32, `out.len()` 34 bytes per block.
#[inline]
pub fn quantize_q8_0(x: &[f32], out: &mut [u8]) {
    active_ggml::quantize_q8_0(x, out)
}

/// ggml Q4_0 blocks: `x.len()` a multiple of 32, `out.len()` 18 bytes per block.
#[inline]
pub fn quantize_q4_0(x: &[f32], out: &mut [u8]) {
    active_ggml::quantize_q4_0(x, out)
}
