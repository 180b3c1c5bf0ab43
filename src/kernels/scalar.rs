//! Scalar reference kernels: the definition every SIMD twin must reproduce exactly.

use core::mem::MaybeUninit;

use super::{Lanes, QParams};

pub fn min_max(x: &[f32]) -> (f32, f32, bool) {
    let (mut lo, mut hi, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, true);
    for &v in x {
        lo = if v < lo { v } else { lo };
        hi = if hi < v { v } else { hi };
        finite &= v.abs() < f32::INFINITY;
    }
    (lo, hi, finite)
}

/// One element: divide (not multiply by a reciprocal, which is not what ONNX Runtime
/// or numpy compute), clamp in the float domain to the code range shifted by the zero
/// point (equal to clamping after rounding, since the bounds are integers), round half
/// to even.
#[inline(always)]
pub fn quantize_one(v: f32, p: &QParams) -> i8 {
    quantize_one_by::<false>(v, p)
}

/// [`quantize_one`], or with `MUL` the value times `p.scale`, which then holds the
/// inverse scale (PyTorch's `x * inv_scale`, which can differ from `x / scale` in the
/// last bit and so in a code).
#[inline(always)]
pub fn quantize_one_by<const MUL: bool>(v: f32, p: &QParams) -> i8 {
    let lo = (p.qmin - p.zero_point) as f32;
    let hi = (p.qmax - p.zero_point) as f32;
    let v = if MUL { v * p.scale } else { v / p.scale };
    // Same NaN rule as wasm's pmax/pmin: a NaN becomes `lo`.
    let v = if lo < v { v } else { lo };
    let v = if v < hi { v } else { hi };
    // Round half to even by the magic bias (exact for |v| < 2^22; here |v| <= 255), the
    // SIMD twin's method: `round_ties_even` needs SSE4.1's roundss, and without it (the
    // x86-64 baseline) it is a call to rintf per element that stops vectorisation.
    let r = (v + MAGIC) - MAGIC;
    (r as i32 + p.zero_point) as i8
}

/// 1.5 * 2^23: v + MAGIC rounds v to an integer (half to even) for |v| < 2^22.
const MAGIC: f32 = 12_582_912.0;

#[inline(always)]
pub fn dequantize_one(q: i8, p: &QParams) -> f32 {
    (q as i32 - p.zero_point) as f32 * p.scale
}

pub fn quantize_i8<const MUL: bool>(x: &[f32], p: QParams, out: &mut [i8]) {
    assert_eq!(x.len(), out.len());
    for (o, &v) in out.iter_mut().zip(x) {
        *o = quantize_one_by::<MUL>(v, &p);
    }
}

/// [`quantize_i8`] into memory not yet initialised: writes every element of `out`.
pub fn quantize_i8_uninit<const MUL: bool>(x: &[f32], p: QParams, out: &mut [MaybeUninit<i8>]) {
    assert_eq!(x.len(), out.len());
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(quantize_one_by::<MUL>(v, &p));
    }
}

/// [`quantize_i8_uninit`] of `x`, then [`min_max`] of `next` (the simd128 twin does both
/// in one loop).
pub fn quantize_i8_then_min_max<const MUL: bool>(
    x: &[f32],
    p: QParams,
    out: &mut [MaybeUninit<i8>],
    next: &[f32],
) -> (f32, f32, bool) {
    quantize_i8_uninit::<MUL>(x, p, out);
    min_max(next)
}

pub fn dequantize_i8(q: &[i8], p: QParams, out: &mut [f32]) {
    assert_eq!(q.len(), out.len());
    for (o, &c) in out.iter_mut().zip(q) {
        *o = dequantize_one(c, &p);
    }
}

pub fn quantize_i8_lanes<const MUL: bool>(x: &[f32], p: Lanes<'_>, out: &mut [i8]) {
    assert!(x.len() == out.len() && x.len() == p.len());
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        // quantize_one_by's steps with this element's parameters.
        let v = if MUL { v * p.scale[i] } else { v / p.scale[i] };
        let v = if p.lo[i] < v { v } else { p.lo[i] };
        let v = if v < p.hi[i] { v } else { p.hi[i] };
        let r = (v + MAGIC) - MAGIC;
        *o = (r as i32 + p.zp[i] as i32) as i8;
    }
}

pub fn dequantize_i8_lanes(q: &[i8], p: Lanes<'_>, out: &mut [f32]) {
    assert!(q.len() == out.len() && q.len() == p.len());
    for (i, (o, &c)) in out.iter_mut().zip(q).enumerate() {
        *o = (c as i32 - p.zp[i] as i32) as f32 * p.scale[i];
    }
}

pub fn min_max_lanes(x: &[f32], lo: &mut [f32], hi: &mut [f32]) -> bool {
    assert!(x.len() == lo.len() && x.len() == hi.len());
    let mut finite = true;
    for ((&v, l), h) in x.iter().zip(lo.iter_mut()).zip(hi.iter_mut()) {
        *l = if v < *l { v } else { *l };
        *h = if *h < v { v } else { *h };
        finite &= v.abs() < f32::INFINITY;
    }
    finite
}

/// Memory-bandwidth probe for the benchmarks: XOR of the bits of every value.
pub fn read_probe(x: &[f32]) -> u32 {
    x.iter().fold(0, |a, v| a ^ v.to_bits())
}

/// Memory-bandwidth probe: for every whole 16 values, 16 bytes, the XOR of their four
/// 16-byte quarters (byte j = XOR of input bytes j, 16 + j, 32 + j, 48 + j); for the
/// values after the last whole 16, each value's low byte.
pub fn narrow_probe(x: &[f32], out: &mut [u8]) {
    assert_eq!(x.len(), out.len());
    let n = x.len() / 16 * 16;
    for (o, c) in out[..n].chunks_exact_mut(16).zip(x[..n].chunks_exact(16)) {
        let bytes: Vec<u8> = c.iter().flat_map(|v| v.to_le_bytes()).collect();
        for (j, b) in o.iter_mut().enumerate() {
            *b = bytes[j] ^ bytes[16 + j] ^ bytes[32 + j] ^ bytes[48 + j];
        }
    }
    for (o, v) in out[n..].iter_mut().zip(&x[n..]) {
        *o = v.to_bits() as u8;
    }
}
