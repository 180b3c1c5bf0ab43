//! WebAssembly SIMD128 twins of the ggml block quantizers in `scalar_ggml`: same bytes.
//!
//! A block whose d is subnormal (|x| around 1e-37 and below) goes to the scalar code:
//! there `1 / d` can overflow and numpy's cast rules for inf/NaN decide the codes. For
//! every other block the products stay within ±(127 or 8) · (1 + 3·2^-24), so the
//! saturating conversions below are exact and no per-lane fix-up is needed.

use core::arch::wasm32::*;

use super::scalar_ggml::{self as scalar, recip_or_zero, Q4_0_BYTES, Q8_0_BYTES, QK};

#[inline(always)]
unsafe fn load8(p: *const f32) -> [v128; 8] {
    let l = |k: usize| v128_load(p.add(4 * k) as *const v128);
    [l(0), l(1), l(2), l(3), l(4), l(5), l(6), l(7)]
}

/// Largest |x| of 8 vectors. Input is finite, so pmax's NaN rule never applies.
#[inline(always)]
fn absmax(v: &[v128; 8]) -> f32 {
    let mut m = f32x4_abs(v[0]);
    for x in &v[1..] {
        m = f32x4_pmax(m, f32x4_abs(*x));
    }
    let m = f32x4_pmax(m, i32x4_shuffle::<2, 3, 0, 1>(m, m));
    let m = f32x4_pmax(m, i32x4_shuffle::<1, 0, 3, 2>(m, m));
    f32x4_extract_lane::<0>(m)
}

/// True for a d whose reciprocal may overflow or lose the bound on |x / d|.
#[inline(always)]
fn needs_scalar(d: f32) -> bool {
    d != 0.0 && d.abs() < f32::MIN_POSITIVE
}

/// 1.5 * 2^23: for an integral |v| < 2^22, the bits of v + MAGIC minus MAGIC's bits are
/// v as an i32. Two cheap adds, where V8 lowers i32x4.trunc_sat_f32x4 on x86 to a
/// cvttps2dq plus NaN/overflow fix-ups (REFERENCE-FACTS, "WebAssembly SIMD on x86").
const MAGIC: f32 = 12_582_912.0;
const MAGIC_BITS: i32 = 0x4B40_0000;

#[inline(always)]
fn integral_to_i32(v: v128) -> v128 {
    i32x4_sub(f32x4_add(v, f32x4_splat(MAGIC)), i32x4_splat(MAGIC_BITS))
}

/// round half away from zero: trunc, then step away when the dropped part is >= 0.5
/// (the subtraction is exact). wasm's `nearest` rounds half to even, which is not ggml's.
#[inline(always)]
fn round_away(v: v128) -> v128 {
    let t = f32x4_trunc(v);
    let frac = f32x4_abs(f32x4_sub(v, t));
    let step = v128_or(v128_and(v, f32x4_splat(-0.0)), f32x4_splat(1.0));
    f32x4_add(t, v128_and(step, f32x4_ge(frac, f32x4_splat(0.5))))
}

pub fn quantize_q8_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q8_0_BYTES);
    for (b, o) in x.chunks_exact(QK).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        // SAFETY: b has exactly 32 floats.
        let v = unsafe { load8(b.as_ptr()) };
        let d = absmax(&v) / 127.0;
        if needs_scalar(d) {
            scalar::q8_0_block(b, o);
            continue;
        }
        let id = f32x4_splat(recip_or_zero(d));
        o[..2].copy_from_slice(&scalar::fp16_le(d));
        let q = |k: usize| integral_to_i32(round_away(f32x4_mul(v[k], id)));
        // Codes are within -127..=127, so the saturating narrows are exact.
        let lo = i8x16_narrow_i16x8(
            i16x8_narrow_i32x4(q(0), q(1)),
            i16x8_narrow_i32x4(q(2), q(3)),
        );
        let hi = i8x16_narrow_i16x8(
            i16x8_narrow_i32x4(q(4), q(5)),
            i16x8_narrow_i32x4(q(6), q(7)),
        );
        // SAFETY: o has 34 bytes: 16 at offset 2 and 16 at offset 18; stores are unaligned.
        unsafe {
            v128_store(o.as_mut_ptr().add(2) as *mut v128, lo);
            v128_store(o.as_mut_ptr().add(18) as *mut v128, hi);
        }
    }
}

/// The first element with the largest |x| (numpy's argmax), found with one compare
/// per vector and the bit mask of the matches.
#[inline(always)]
fn first_absmax(b: &[f32], v: &[v128; 8]) -> f32 {
    let amax = f32x4_splat(absmax(v));
    let mut mask = 0u32;
    for (k, x) in v.iter().enumerate() {
        mask |= (i32x4_bitmask(f32x4_eq(f32x4_abs(*x), amax)) as u32) << (4 * k);
    }
    // A block of finite values always has a lane equal to its own maximum.
    b[mask.trailing_zeros() as usize & (QK - 1)]
}

pub fn quantize_q4_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q4_0_BYTES);
    for (b, o) in x.chunks_exact(QK).zip(out.chunks_exact_mut(Q4_0_BYTES)) {
        // SAFETY: b has exactly 32 floats.
        let v = unsafe { load8(b.as_ptr()) };
        let d = first_absmax(b, &v) / -8.0;
        if needs_scalar(d) {
            scalar::q4_0_block(b, o);
            continue;
        }
        let id = f32x4_splat(recip_or_zero(d));
        o[..2].copy_from_slice(&scalar::fp16_le(d));
        let half = f32x4_splat(8.5);
        let fifteen = i32x4_splat(15);
        let q = |k: usize| {
            let t = f32x4_trunc(f32x4_add(f32x4_mul(v[k], id), half));
            i32x4_min(integral_to_i32(t), fifteen)
        };
        // Element j in the low nibble, j + 16 in the high nibble.
        let byte = |k: usize| v128_or(q(k), i32x4_shl(q(k + 4), 4));
        let packed = u8x16_narrow_i16x8(
            i16x8_narrow_i32x4(byte(0), byte(1)),
            i16x8_narrow_i32x4(byte(2), byte(3)),
        );
        // SAFETY: o has 18 bytes: 16 at offset 2; the store is unaligned.
        unsafe { v128_store(o.as_mut_ptr().add(2) as *mut v128, packed) };
    }
}
