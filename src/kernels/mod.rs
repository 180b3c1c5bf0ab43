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

/// True when this build also uses relaxed-SIMD instructions where they are exact (the
/// GEMM calls the relaxed-SIMD kernels where they are exact).
pub const RELAXED_SIMD: bool = cfg!(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
));

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
    active::quantize_i8::<false>(x, p, out)
}

/// [`quantize_i8`], or with `MUL` multiplying by `p.scale`, which then holds the
/// inverse scale (PyTorch's convention; see [`scalar::quantize_one_by`]).
#[inline]
pub fn quantize_i8_by<const MUL: bool>(x: &[f32], p: QParams, out: &mut [i8]) {
    active::quantize_i8::<MUL>(x, p, out)
}

/// [`quantize_i8`] into a buffer not yet initialised (every element is written), so a
/// caller need not zero-fill it first.
#[inline]
pub fn quantize_i8_uninit(x: &[f32], p: QParams, out: &mut [core::mem::MaybeUninit<i8>]) {
    active::quantize_i8_uninit::<false>(x, p, out)
}

/// [`quantize_i8_uninit`] of `x` into `out`, and the [`min_max`] of `next`, the piece to
/// quantize after it: the SIMD128 build interleaves the two so that the scan's memory
/// reads overlap the quantize's arithmetic. `MUL` as in [`quantize_i8_by`].
#[inline]
pub fn quantize_i8_then_min_max<const MUL: bool>(
    x: &[f32],
    p: QParams,
    out: &mut [core::mem::MaybeUninit<i8>],
    next: &[f32],
) -> (f32, f32, bool) {
    active::quantize_i8_then_min_max::<MUL>(x, p, out, next)
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

/// Per-element parameters for rows whose every element has its own quantizer
/// (per-channel quantization along the last axis), one array per field: the SIMD128
/// kernels load four lanes' scales, bounds and zero points with one load each, where
/// gathering them from [`QParams`] structs and storing codes lane by lane made
/// int8-sym-ch1 on a 4096 x 4096 tensor 10x slower than int8-sym-ch0
/// (docs/BENCHMARKS.md, "Quantize throughput", 2026-12-02).
#[derive(Clone, Debug, Default)]
pub struct LaneParams {
    scale: Vec<f32>,
    /// `qmin - zero_point` and `qmax - zero_point`: the clamp bounds before the zero
    /// point is added, as [`scalar::quantize_one`] computes them.
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Zero points; the kernels add them to i16 lanes, so they must fit i16 (codes of
    /// at most 8 bits shifted into i8 have zero points in [-255, 255]).
    zp: Vec<i16>,
}

impl LaneParams {
    pub fn new(params: &[QParams]) -> LaneParams {
        LaneParams {
            scale: params.iter().map(|p| p.scale).collect(),
            lo: params
                .iter()
                .map(|p| (p.qmin - p.zero_point) as f32)
                .collect(),
            hi: params
                .iter()
                .map(|p| (p.qmax - p.zero_point) as f32)
                .collect(),
            zp: params
                .iter()
                .map(|p| i16::try_from(p.zero_point).expect("zero point outside i16"))
                .collect(),
        }
    }

    /// Parameters of elements `base..base + len`.
    pub fn slice(&self, base: usize, len: usize) -> Lanes<'_> {
        let r = base..base + len;
        Lanes {
            scale: &self.scale[r.clone()],
            lo: &self.lo[r.clone()],
            hi: &self.hi[r.clone()],
            zp: &self.zp[r],
        }
    }
}

/// A view of [`LaneParams`]: element `i` of each slice belongs to element `i` of a row.
#[derive(Clone, Copy, Debug)]
pub struct Lanes<'a> {
    pub scale: &'a [f32],
    pub lo: &'a [f32],
    pub hi: &'a [f32],
    pub zp: &'a [i16],
}

impl<'a> Lanes<'a> {
    pub fn len(&self) -> usize {
        self.scale.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }

    /// Elements `start..`.
    pub fn tail(&self, start: usize) -> Lanes<'a> {
        Lanes {
            scale: &self.scale[start..],
            lo: &self.lo[start..],
            hi: &self.hi[start..],
            zp: &self.zp[start..],
        }
    }
}

/// Quantizes one row whose every element has its own parameters (`p` element `i` for
/// `x[i]`): per-channel quantization along the last axis. `MUL` as in
/// [`quantize_i8_by`] (the lanes' `scale` then holds inverse scales).
#[inline]
pub fn quantize_i8_lanes<const MUL: bool>(x: &[f32], p: Lanes<'_>, out: &mut [i8]) {
    active::quantize_i8_lanes::<MUL>(x, p, out)
}

/// Dequantizes one row with per-element parameters.
#[inline]
pub fn dequantize_i8_lanes(q: &[i8], p: Lanes<'_>, out: &mut [f32]) {
    active::dequantize_i8_lanes(q, p, out)
}

/// Running per-element minimum and maximum over rows: `lo[i] = min(lo[i], x[i])` and
/// `hi[i] = max(hi[i], x[i])`, comparisons as [`min_max`]'s (a NaN is ignored); true
/// when every value of `x` is finite.
#[inline]
pub fn min_max_lanes(x: &[f32], lo: &mut [f32], hi: &mut [f32]) -> bool {
    active::min_max_lanes(x, lo, hi)
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
