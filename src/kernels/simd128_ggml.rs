//! WebAssembly SIMD128 twins of the ggml block quantizers in `scalar_ggml`: same bytes.
//!
//! Four blocks per step: the per-block maxima are reduced into one vector (a 4x4
//! transpose), so the two divisions (d and 1 / d) and the fp16 conversion of d run once
//! per four blocks as vector operations instead of four scalar `divss` pairs and four
//! calls into the `half` crate (software on wasm, with branches). The tail (fewer than
//! four blocks) and any group holding an unusual block go block by block.
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

/// Lane-wise largest |x| of a block's 8 vectors (not yet reduced across lanes). Input
/// is finite, so pmax's NaN rule never applies.
#[inline(always)]
fn absmax_lanes(v: &[v128; 8]) -> v128 {
    let mut m = f32x4_abs(v[0]);
    for x in &v[1..] {
        m = f32x4_pmax(m, f32x4_abs(*x));
    }
    m
}

/// Largest |x| of 8 vectors.
#[inline(always)]
fn absmax(v: &[v128; 8]) -> f32 {
    let m = absmax_lanes(v);
    let m = f32x4_pmax(m, i32x4_shuffle::<2, 3, 0, 1>(m, m));
    let m = f32x4_pmax(m, i32x4_shuffle::<1, 0, 3, 2>(m, m));
    f32x4_extract_lane::<0>(m)
}

/// Lane i of the result is `f` folded over the 4 lanes of `m[i]` (a transpose by
/// unpacks, which V8 lowers to single punpck instructions).
#[inline(always)]
fn reduce4(m: [v128; 4], f: impl Fn(v128, v128) -> v128) -> v128 {
    let t01 = f(
        i32x4_shuffle::<0, 4, 1, 5>(m[0], m[1]),
        i32x4_shuffle::<2, 6, 3, 7>(m[0], m[1]),
    );
    let t23 = f(
        i32x4_shuffle::<0, 4, 1, 5>(m[2], m[3]),
        i32x4_shuffle::<2, 6, 3, 7>(m[2], m[3]),
    );
    f(
        i32x4_shuffle::<0, 1, 4, 5>(t01, t23),
        i32x4_shuffle::<2, 3, 6, 7>(t01, t23),
    )
}

/// True for a d whose reciprocal may overflow or lose the bound on |x / d|.
#[inline(always)]
fn needs_scalar(d: f32) -> bool {
    d != 0.0 && d.abs() < f32::MIN_POSITIVE
}

/// The lanes of `d` that [`needs_scalar`] would send to the scalar code, as a mask.
#[inline(always)]
fn needs_scalar4(d: v128) -> v128 {
    let a = v128_and(d, i32x4_splat(0x7FFF_FFFF));
    v128_and(
        i32x4_ne(a, i32x4_splat(0)),
        i32x4_lt(a, i32x4_splat(0x0080_0000)),
    )
}

/// `recip_or_zero` on four lanes: 1 / d, and 0 where d is ±0 (where 1 / d is ±inf).
#[inline(always)]
fn recip_or_zero4(d: v128) -> v128 {
    v128_and(
        f32x4_div(f32x4_splat(1.0), d),
        f32x4_ne(d, f32x4_splat(0.0)),
    )
}

/// fp16 bits (in the low half of each i32 lane) of four f32, rounded to nearest even as
/// `scalar::fp16_le` (the `half` crate) does, or None when a lane is neither ±0 nor in
/// fp16's normal range, [2^-14, 2^16) in magnitude (fp16 subnormals, overflow): the
/// caller then converts those four with the scalar code.
///
/// In the normal range the conversion is integer arithmetic on the bits: rebias the
/// exponent (127 - 15 = 112), add 0xFFF plus the lowest kept mantissa bit (round half to
/// even; a carry moves into the exponent, and past 65504 into the infinity pattern, as
/// IEEE rounding does), shift the 13 dropped mantissa bits out.
#[inline(always)]
fn fp16x4(d: v128) -> Option<v128> {
    let sign = v128_and(u32x4_shr(d, 16), i32x4_splat(0x8000));
    let a = v128_and(d, i32x4_splat(0x7FFF_FFFF));
    let normal = v128_and(
        i32x4_ge(a, i32x4_splat(0x3880_0000)),
        i32x4_lt(a, i32x4_splat(0x4780_0000)),
    );
    let zero = i32x4_eq(a, i32x4_splat(0));
    if !i32x4_all_true(v128_or(normal, zero)) {
        return None;
    }
    let odd = v128_and(u32x4_shr(a, 13), i32x4_splat(1));
    let r = i32x4_add(
        i32x4_sub(a, i32x4_splat(112 << 23)),
        i32x4_add(odd, i32x4_splat(0x0FFF)),
    );
    // Zero lanes keep only their sign (the rebias would wrap them).
    Some(v128_or(v128_and(u32x4_shr(r, 13), normal), sign))
}

/// Stores the fp16 d of four blocks, `stride` bytes apart, from [`fp16x4`]'s lanes or
/// (None) from the scalar conversion.
///
/// # Safety
/// `o` points at 4 blocks of `stride >= 2` bytes.
#[inline(always)]
unsafe fn store_d4(o: *mut u8, stride: usize, d: v128) {
    match fp16x4(d) {
        Some(h) => {
            v128_store16_lane::<0>(h, o as *mut u16);
            v128_store16_lane::<2>(h, o.add(stride) as *mut u16);
            v128_store16_lane::<4>(h, o.add(2 * stride) as *mut u16);
            v128_store16_lane::<6>(h, o.add(3 * stride) as *mut u16);
        }
        None => {
            let l = [
                f32x4_extract_lane::<0>(d),
                f32x4_extract_lane::<1>(d),
                f32x4_extract_lane::<2>(d),
                f32x4_extract_lane::<3>(d),
            ];
            for (i, v) in l.into_iter().enumerate() {
                let b = scalar::fp16_le(v);
                *o.add(i * stride) = b[0];
                *o.add(i * stride + 1) = b[1];
            }
        }
    }
}

/// Each lane of `v` splatted into a vector of its own.
#[inline(always)]
fn splat_lanes(v: v128) -> [v128; 4] {
    [
        i32x4_shuffle::<0, 0, 0, 0>(v, v),
        i32x4_shuffle::<1, 1, 1, 1>(v, v),
        i32x4_shuffle::<2, 2, 2, 2>(v, v),
        i32x4_shuffle::<3, 3, 3, 3>(v, v),
    ]
}

/// 1.5 * 2^23: for an integral |v| < 2^22, the bits of v + MAGIC are MAGIC's bits plus
/// v, so their low 16 bits are v in two's complement when |v| < 2^15. One add, where
/// V8 lowers i32x4.trunc_sat_f32x4 on x86 to a cvttps2dq plus NaN/overflow fix-ups
/// (REFERENCE-FACTS, "WebAssembly SIMD on x86").
const MAGIC: f32 = 12_582_912.0;

/// The small integers held by two vectors of integral floats, as eight i16 lanes: the
/// even 16-bit halves of `a + MAGIC` then `b + MAGIC` (V8: two pblendw and a packusdw).
/// Not `i16x8_narrow_i32x4` of the i32 values: LLVM rewrote that narrow into a clamp
/// plus this same shuffle, and V8 emitted four pmaxsd and four pminsd more per 16
/// codes (seen in `node --print-wasm-code`).
#[inline(always)]
fn integral_to_i16(a: v128, b: v128) -> v128 {
    let m = f32x4_splat(MAGIC);
    i16x8_shuffle::<0, 2, 4, 6, 8, 10, 12, 14>(f32x4_add(a, m), f32x4_add(b, m))
}

/// The largest f32 below 0.5 (0.5 - 2^-25).
const JUST_BELOW_HALF: f32 = 0.499_999_97;

/// Round half away from zero (C's roundf, numpy's `np_roundf`) for |v| < 2^22:
/// trunc(v + copysign(0.5 - 2^-25, v)). Why it is exact: for a fraction below 0.5 the
/// sum stays below the next integer even after rounding (it is at least 2^-25 + one ulp
/// short, and an ulp at these magnitudes is 2^-23 or more for |v| >= 1, while for
/// |v| < 0.5 the sum is below 0.99999994); for a fraction of 0.5 or more the exact sum
/// is within 2^-25 of, or past, the next integer and rounds onto it. wasm's `nearest`
/// rounds half to even, which is not ggml's rule. tests/wasm_ggml.rs checks ties and
/// their neighbours one ulp either side.
#[inline(always)]
fn round_away(v: v128) -> v128 {
    let bias = v128_or(v128_and(v, f32x4_splat(-0.0)), f32x4_splat(JUST_BELOW_HALF));
    f32x4_trunc(f32x4_add(v, bias))
}

/// One Q8_0 block's 32 codes from its values and the splatted reciprocal.
///
/// # Safety
/// `o` points at the block's 34 bytes.
#[inline(always)]
unsafe fn q8_0_codes(v: &[v128; 8], id: v128, o: *mut u8) {
    let q = |k: usize| round_away(f32x4_mul(v[k], id));
    let h = |k: usize| integral_to_i16(q(k), q(k + 1));
    // Codes are within -127..=127, so the saturating narrows are exact.
    let lo = i8x16_narrow_i16x8(h(0), h(2));
    let hi = i8x16_narrow_i16x8(h(4), h(6));
    // 16 codes at offset 2 and 16 at offset 18; stores are unaligned.
    v128_store(o.add(2) as *mut v128, lo);
    v128_store(o.add(18) as *mut v128, hi);
}

/// One Q8_0 block on its own (the tail, and groups with a subnormal d).
fn q8_0_one(b: &[f32], o: &mut [u8]) {
    // SAFETY: b has exactly 32 floats.
    let v = unsafe { load8(b.as_ptr()) };
    let d = absmax(&v) / 127.0;
    if needs_scalar(d) {
        return scalar::q8_0_block(b, o);
    }
    o[..2].copy_from_slice(&scalar::fp16_le(d));
    // SAFETY: o has 34 bytes.
    unsafe { q8_0_codes(&v, f32x4_splat(recip_or_zero(d)), o.as_mut_ptr()) };
}

pub fn quantize_q8_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q8_0_BYTES);
    let mut xs = x.chunks_exact(4 * QK);
    let mut os = out.chunks_exact_mut(4 * Q8_0_BYTES);
    for (b, o) in (&mut xs).zip(&mut os) {
        let p = b.as_ptr();
        // Largest |x| per block as max(max x, -min x): V8 lowers f32x4.abs to three
        // instructions (it rebuilds the 0x7FFFFFFF mask each time), 8 per block here,
        // where a pmin is one and the negation runs once per four blocks. The +0 floor
        // makes an all-zero block's maximum +0, as the scalar fold from 0 gives.
        let (mut hi, mut lo) = ([f32x4_splat(0.0); 4], [f32x4_splat(0.0); 4]);
        for i in 0..4 {
            // SAFETY: b holds 4 blocks of 32 floats.
            (hi[i], lo[i]) = max_min_lanes(&unsafe { load8(p.add(i * QK)) });
        }
        let hi = reduce4(hi, |a, b| f32x4_pmax(a, b));
        let lo = reduce4(lo, |a, b| f32x4_pmin(a, b));
        let amax = f32x4_pmax(f32x4_splat(0.0), f32x4_pmax(hi, f32x4_neg(lo)));
        let d = f32x4_div(amax, f32x4_splat(127.0));
        if v128_any_true(needs_scalar4(d)) {
            for (bb, oo) in b.chunks_exact(QK).zip(o.chunks_exact_mut(Q8_0_BYTES)) {
                q8_0_one(bb, oo);
            }
            continue;
        }
        let id = recip_or_zero4(d);
        let op = o.as_mut_ptr();
        // SAFETY: o holds 4 blocks of 34 bytes; b 4 blocks of 32 floats (reloaded from
        // L1 rather than kept: 32 vectors do not fit in 16 registers).
        unsafe {
            store_d4(op, Q8_0_BYTES, d);
            for (i, id) in splat_lanes(id).into_iter().enumerate() {
                q8_0_codes(&load8(p.add(i * QK)), id, op.add(i * Q8_0_BYTES));
            }
        }
    }
    for (b, o) in xs
        .remainder()
        .chunks_exact(QK)
        .zip(os.into_remainder().chunks_exact_mut(Q8_0_BYTES))
    {
        q8_0_one(b, o);
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

/// Lane-wise largest and smallest values of a block's 8 vectors.
#[inline(always)]
fn max_min_lanes(v: &[v128; 8]) -> (v128, v128) {
    let (mut hi, mut lo) = (v[0], v[0]);
    for x in &v[1..] {
        hi = f32x4_pmax(hi, *x);
        lo = f32x4_pmin(lo, *x);
    }
    (hi, lo)
}

/// One Q4_0 block's 16 bytes of nibbles from its values and the splatted reciprocal.
///
/// # Safety
/// `o` points at the block's 18 bytes.
#[inline(always)]
unsafe fn q4_0_codes(v: &[v128; 8], id: v128, o: *mut u8) {
    let half = f32x4_splat(8.5);
    let fifteen = i16x8_splat(15);
    let t = |k: usize| f32x4_trunc(f32x4_add(f32x4_mul(v[k], id), half));
    // trunc(x / d + 8.5) is in 0..=16 here; min(15, ·) on the i16 lanes.
    let h = |k: usize| i16x8_min(integral_to_i16(t(k), t(k + 1)), fifteen);
    // Codes 0..=15: narrow elements 0..15 and 16..31 to bytes, then put the second
    // half in the high nibbles (a 16-bit shift by 4 cannot carry across bytes, as every
    // byte is below 16).
    let lo = u8x16_narrow_i16x8(h(0), h(2));
    let hi = u8x16_narrow_i16x8(h(4), h(6));
    v128_store(o.add(2) as *mut v128, v128_or(lo, i16x8_shl(hi, 4)));
}

/// One Q4_0 block on its own (the tail, and groups with a tie or a subnormal d).
fn q4_0_one(b: &[f32], o: &mut [u8]) {
    // SAFETY: b has exactly 32 floats.
    let v = unsafe { load8(b.as_ptr()) };
    let d = first_absmax(b, &v) / -8.0;
    if needs_scalar(d) {
        return scalar::q4_0_block(b, o);
    }
    o[..2].copy_from_slice(&scalar::fp16_le(d));
    // SAFETY: o has 18 bytes.
    unsafe { q4_0_codes(&v, f32x4_splat(recip_or_zero(d)), o.as_mut_ptr()) };
}

pub fn quantize_q4_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q4_0_BYTES);
    let mut xs = x.chunks_exact(4 * QK);
    let mut os = out.chunks_exact_mut(4 * Q4_0_BYTES);
    for (b, o) in (&mut xs).zip(&mut os) {
        let p = b.as_ptr();
        let (mut hi, mut lo) = ([f32x4_splat(0.0); 4], [f32x4_splat(0.0); 4]);
        for i in 0..4 {
            // SAFETY: b holds 4 blocks of 32 floats.
            (hi[i], lo[i]) = max_min_lanes(&unsafe { load8(p.add(i * QK)) });
        }
        let hi = reduce4(hi, |a, b| f32x4_pmax(a, b));
        let lo = reduce4(lo, |a, b| f32x4_pmin(a, b));
        // The element with the largest |x| is the block's maximum when that exceeds
        // -minimum, its minimum when -minimum is larger: then every element of that
        // magnitude has the same value, so "the first" needs no search. When they are
        // equal (+a and -a both present, or an all-zero block whose first zero's sign
        // decides d's sign) the block goes to the search in `q4_0_one`.
        let neg = f32x4_neg(lo);
        let tie = f32x4_eq(hi, neg);
        let max = v128_bitselect(hi, lo, f32x4_gt(hi, neg));
        let d = f32x4_div(max, f32x4_splat(-8.0));
        if v128_any_true(v128_or(tie, needs_scalar4(d))) {
            for (bb, oo) in b.chunks_exact(QK).zip(o.chunks_exact_mut(Q4_0_BYTES)) {
                q4_0_one(bb, oo);
            }
            continue;
        }
        let id = recip_or_zero4(d);
        let op = o.as_mut_ptr();
        // SAFETY: o holds 4 blocks of 18 bytes; b 4 blocks of 32 floats.
        unsafe {
            store_d4(op, Q4_0_BYTES, d);
            for (i, id) in splat_lanes(id).into_iter().enumerate() {
                q4_0_codes(&load8(p.add(i * QK)), id, op.add(i * Q4_0_BYTES));
            }
        }
    }
    for (b, o) in xs
        .remainder()
        .chunks_exact(QK)
        .zip(os.into_remainder().chunks_exact_mut(Q4_0_BYTES))
    {
        q4_0_one(b, o);
    }
}
