//! WebAssembly SIMD128 twins of the scalar kernels: same results, bit for bit.
//!
//! Choices follow how V8 lowers wasm SIMD on x86: `pmin`/`pmax` (one instruction each)
//! instead of `min`/`max` (about eight), and rounding by the "magic bias" add of
//! 1.5 * 2^23 instead of `nearest` + `trunc_sat`, which needs fix-up code on x86.

use core::arch::wasm32::*;
use core::mem::MaybeUninit;

use super::scalar;
use super::{Lanes, QParams};

/// 1.5 * 2^23: adding it to |v| < 2^22 leaves round_half_even(v) in the low mantissa
/// bits; the bit pattern minus that of the bias is the integer.
const MAGIC: f32 = 12_582_912.0;

#[inline(always)]
unsafe fn load(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

/// Four independent accumulator sets (16 values per step): `minps`/`maxps` have a
/// latency of 4 cycles on Intel cores, so one accumulator pair made the scan wait on
/// its own chain (4 cycles per vector). With the quantize changes below, this took
/// int8-sym-ch0 on a 64 x 4096 tensor held in L2 from 3.6-4.4 to 6.4-8.4 GB/s on the
/// Intel Xeon of docs/BENCHMARKS.md ("Quantize throughput", 2026-12-01, alternating
/// runs). (An earlier four-way unroll measured no faster on an AMD EPYC, whose min/max
/// latency is 1 cycle.)
///
/// Finiteness is checked by a running sum, one add per vector: NaN and infinities can
/// only make the sum non-finite (NaN stays NaN, ±inf stays inf or becomes NaN), so a
/// finite sum proves a finite input. A non-finite sum (possibly an overflow of finite
/// values near f32::MAX) falls back to the exact per-element test. pmin/pmax ignore a
/// NaN in their second operand, as the scalar comparisons do.
pub fn min_max(x: &[f32]) -> (f32, f32, bool) {
    let n = x.len() / 16 * 16;
    let (mut lo, mut hi, mut finite) = (f32::INFINITY, f32::NEG_INFINITY, true);
    if n > 0 {
        let mut vlo = [f32x4_splat(f32::INFINITY); 4];
        let mut vhi = [f32x4_splat(f32::NEG_INFINITY); 4];
        let mut sum = f32x4_splat(0.0);
        let p = x.as_ptr();
        let mut i = 0;
        while i < n {
            // SAFETY: i + 16 <= n <= x.len(); v128_load has no alignment requirement.
            let v = unsafe { [0, 1, 2, 3].map(|j| load(p.add(i + 4 * j))) };
            for j in 0..4 {
                vlo[j] = f32x4_pmin(vlo[j], v[j]);
                vhi[j] = f32x4_pmax(vhi[j], v[j]);
            }
            // One accumulator fed by a pairwise sum: four sum chains plus the eight
            // min/max ones needed 16 registers and V8 spilled one (x86 V8 keeps xmm15
            // as scratch). Pairwise sums are as conservative: a NaN or inf operand still
            // makes them non-finite.
            sum = f32x4_add(sum, f32x4_add(f32x4_add(v[0], v[1]), f32x4_add(v[2], v[3])));
            i += 16;
        }
        let vlo = f32x4_pmin(f32x4_pmin(vlo[0], vlo[1]), f32x4_pmin(vlo[2], vlo[3]));
        let vhi = f32x4_pmax(f32x4_pmax(vhi[0], vhi[1]), f32x4_pmax(vhi[2], vhi[3]));
        let l = [
            f32x4_extract_lane::<0>(vlo),
            f32x4_extract_lane::<1>(vlo),
            f32x4_extract_lane::<2>(vlo),
            f32x4_extract_lane::<3>(vlo),
        ];
        let h = [
            f32x4_extract_lane::<0>(vhi),
            f32x4_extract_lane::<1>(vhi),
            f32x4_extract_lane::<2>(vhi),
            f32x4_extract_lane::<3>(vhi),
        ];
        for k in 0..4 {
            lo = if l[k] < lo { l[k] } else { lo };
            hi = if hi < h[k] { h[k] } else { hi };
        }
        // sum - sum is 0 in every lane exactly when every lane of sum is finite.
        if !i32x4_all_true(f32x4_eq(f32x4_sub(sum, sum), f32x4_splat(0.0))) {
            finite = all_finite(&x[..n]);
        }
    }
    let (tl, th, tf) = scalar::min_max(&x[n..]);
    (
        if tl < lo { tl } else { lo },
        if hi < th { th } else { hi },
        finite && tf,
    )
}

/// The exact test: every |v| < inf (false for NaN). `x.len()` a multiple of 4.
fn all_finite(x: &[f32]) -> bool {
    let inf = f32x4_splat(f32::INFINITY);
    let mut ok = i32x4_splat(-1);
    for c in x.chunks_exact(4) {
        // SAFETY: c holds 4 floats.
        let v = unsafe { load(c.as_ptr()) };
        ok = v128_and(ok, f32x4_lt(f32x4_abs(v), inf));
    }
    i32x4_all_true(ok)
}

/// Four lanes: divide, clamp with pmax/pmin, add the magic bias. The result's bits are
/// the bits of MAGIC (0x4B40_0000) plus the rounded integer (before the zero point),
/// which [`low_halves`] takes out.
#[inline(always)]
fn q4<const MUL: bool>(v: v128, scale: v128, lo: v128, hi: v128) -> v128 {
    let v = if MUL {
        f32x4_mul(v, scale)
    } else {
        f32x4_div(v, scale)
    };
    // pmax(lo, v) = lo < v ? v : lo, and pmin(hi, v) = v < hi ? v : hi: the scalar rule.
    let v = f32x4_pmin(hi, f32x4_pmax(lo, v));
    f32x4_add(v, f32x4_splat(MAGIC))
}

/// The integers held by two vectors of `v + MAGIC` (integral |v| < 2^15) as eight i16
/// lanes: the low 16 bits of each lane's bits are the integer in two's complement, so
/// this is the even 16-bit halves of `a` then `b` (V8: two pblendw and a packusdw).
///
/// Why not `i16x8_narrow_i32x4` after subtracting MAGIC's bits: LLVM rewrote that narrow
/// into a clamp to the i16 range plus this same shuffle, and V8 then emitted four
/// pmaxsd, four pminsd and two such shuffles per 16 codes (seen in
/// `node --print-wasm-code`), 17 instructions where this takes 9 with the i8 narrow.
#[inline(always)]
fn low_halves(a: v128, b: v128) -> v128 {
    i16x8_shuffle::<0, 2, 4, 6, 8, 10, 12, 14>(a, b)
}

pub fn quantize_i8<const MUL: bool>(x: &[f32], p: QParams, out: &mut [i8]) {
    quantize_i8_uninit::<MUL>(x, p, as_uninit(out));
}

/// [`quantize_i8`] into memory not yet initialised: writes every element of `out`, so
/// a caller can skip zero-filling its buffer.
pub fn quantize_i8_uninit<const MUL: bool>(x: &[f32], p: QParams, out: &mut [MaybeUninit<i8>]) {
    assert_eq!(x.len(), out.len());
    let n = x.len() / 16 * 16;
    let scale = f32x4_splat(p.scale);
    let lo = f32x4_splat((p.qmin - p.zero_point) as f32);
    let hi = f32x4_splat((p.qmax - p.zero_point) as f32);
    // The zero point is added to the i16 halves: clamped codes minus the zero point lie
    // in [qmin - zp, qmax - zp] ⊆ [-255, 255], so neither the halves nor the sums wrap.
    let zp = i16x8_splat(p.zero_point as i16);
    let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= len of both slices; loads/stores are unaligned-safe.
        unsafe {
            let a = q4::<MUL>(load(src.add(i)), scale, lo, hi);
            let b = q4::<MUL>(load(src.add(i + 4)), scale, lo, hi);
            let c = q4::<MUL>(load(src.add(i + 8)), scale, lo, hi);
            let d = q4::<MUL>(load(src.add(i + 12)), scale, lo, hi);
            let ab = i16x8_add(low_halves(a, b), zp);
            let cd = i16x8_add(low_halves(c, d), zp);
            // Values are already inside [qmin, qmax] ⊆ i8, so the saturating narrow is exact.
            v128_store(dst.add(i) as *mut v128, i8x16_narrow_i16x8(ab, cd));
        }
        i += 16;
    }
    scalar::quantize_i8_uninit::<MUL>(&x[n..], p, &mut out[n..]);
}

/// [`quantize_i8_uninit`] of `x` into `out` and, in the same loop, [`min_max`] of `next`
/// (the piece quantized after this one). A per-channel quantize scans a row, then
/// quantizes it from L1: run one after the other, the scan waits on memory while the
/// divider idles and the quantize then runs with memory idle. Here each step's loads of
/// `next` are in flight while the previous step's divisions run.
/// Two min/max accumulator pairs (not [`min_max`]'s four) and the quantize's constants
/// fit V8's 15 usable xmm registers. The minimum and maximum are those of [`min_max`]
/// (equal as numbers; a zero's sign may differ, as between min_max and its scalar twin).
pub fn quantize_i8_then_min_max<const MUL: bool>(
    x: &[f32],
    p: QParams,
    out: &mut [MaybeUninit<i8>],
    next: &[f32],
) -> (f32, f32, bool) {
    assert_eq!(x.len(), out.len());
    let n = x.len().min(next.len()) / 16 * 16;
    let scale = f32x4_splat(p.scale);
    let qlo = f32x4_splat((p.qmin - p.zero_point) as f32);
    let qhi = f32x4_splat((p.qmax - p.zero_point) as f32);
    let zp = i16x8_splat(p.zero_point as i16);
    let mut vlo = [f32x4_splat(f32::INFINITY); 2];
    let mut vhi = [f32x4_splat(f32::NEG_INFINITY); 2];
    let mut sum = f32x4_splat(0.0);
    let (src, dst, nx) = (x.as_ptr(), out.as_mut_ptr(), next.as_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= the length of all three slices.
        unsafe {
            let v = [0, 1, 2, 3].map(|j| load(nx.add(i + 4 * j)));
            vlo[0] = f32x4_pmin(vlo[0], f32x4_pmin(v[0], v[1]));
            vlo[1] = f32x4_pmin(vlo[1], f32x4_pmin(v[2], v[3]));
            vhi[0] = f32x4_pmax(vhi[0], f32x4_pmax(v[0], v[1]));
            vhi[1] = f32x4_pmax(vhi[1], f32x4_pmax(v[2], v[3]));
            sum = f32x4_add(sum, f32x4_add(f32x4_add(v[0], v[1]), f32x4_add(v[2], v[3])));
            let a = q4::<MUL>(load(src.add(i)), scale, qlo, qhi);
            let b = q4::<MUL>(load(src.add(i + 4)), scale, qlo, qhi);
            let c = q4::<MUL>(load(src.add(i + 8)), scale, qlo, qhi);
            let d = q4::<MUL>(load(src.add(i + 12)), scale, qlo, qhi);
            let ab = i16x8_add(low_halves(a, b), zp);
            let cd = i16x8_add(low_halves(c, d), zp);
            v128_store(dst.add(i) as *mut v128, i8x16_narrow_i16x8(ab, cd));
        }
        i += 16;
    }
    quantize_i8_uninit::<MUL>(&x[n..], p, &mut out[n..]);
    let (tl, th, tf) = min_max(&next[n..]);
    let vl = f32x4_pmin(vlo[0], vlo[1]);
    let vh = f32x4_pmax(vhi[0], vhi[1]);
    let (mut lo, mut hi) = (tl, th);
    for (l, h) in [
        (f32x4_extract_lane::<0>(vl), f32x4_extract_lane::<0>(vh)),
        (f32x4_extract_lane::<1>(vl), f32x4_extract_lane::<1>(vh)),
        (f32x4_extract_lane::<2>(vl), f32x4_extract_lane::<2>(vh)),
        (f32x4_extract_lane::<3>(vl), f32x4_extract_lane::<3>(vh)),
    ] {
        lo = if l < lo { l } else { lo };
        hi = if hi < h { h } else { hi };
    }
    // As in min_max: a finite sum proves finite values; otherwise test them one by one.
    let finite = tf
        && (i32x4_all_true(f32x4_eq(f32x4_sub(sum, sum), f32x4_splat(0.0)))
            || all_finite(&next[..n]));
    (lo, hi, finite)
}

fn as_uninit(out: &mut [i8]) -> &mut [MaybeUninit<i8>] {
    // SAFETY: MaybeUninit<i8> has i8's layout, and the kernels only write initialised
    // values through the view.
    unsafe { &mut *(out as *mut [i8] as *mut [MaybeUninit<i8>]) }
}

pub fn dequantize_i8(q: &[i8], p: QParams, out: &mut [f32]) {
    assert_eq!(q.len(), out.len());
    let n = q.len() / 16 * 16;
    let scale = f32x4_splat(p.scale);
    let zp = i32x4_splat(p.zero_point);
    let (src, dst) = (q.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= len of both slices.
        unsafe {
            let c = v128_load(src.add(i) as *const v128);
            let lo16 = i16x8_extend_low_i8x16(c);
            let hi16 = i16x8_extend_high_i8x16(c);
            let parts = [
                i32x4_extend_low_i16x8(lo16),
                i32x4_extend_high_i16x8(lo16),
                i32x4_extend_low_i16x8(hi16),
                i32x4_extend_high_i16x8(hi16),
            ];
            for (k, w) in parts.into_iter().enumerate() {
                let f = f32x4_convert_i32x4(i32x4_sub(w, zp));
                v128_store(dst.add(i + 4 * k) as *mut v128, f32x4_mul(f, scale));
            }
        }
        i += 16;
    }
    scalar::dequantize_i8(&q[n..], p, &mut out[n..]);
}

pub fn quantize_i8_lanes<const MUL: bool>(x: &[f32], p: Lanes<'_>, out: &mut [i8]) {
    assert!(x.len() == out.len() && x.len() == p.len());
    let n = x.len() / 16 * 16;
    let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
    let (sc, lo, hi, zp) = (
        p.scale.as_ptr(),
        p.lo.as_ptr(),
        p.hi.as_ptr(),
        p.zp.as_ptr(),
    );
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= the length of x, out and every parameter slice.
        unsafe {
            let q = |k: usize| {
                let j = i + 4 * k;
                q4::<MUL>(
                    load(src.add(j)),
                    load(sc.add(j)),
                    load(lo.add(j)),
                    load(hi.add(j)),
                )
            };
            let (a, b, c, d) = (q(0), q(1), q(2), q(3));
            let z0 = v128_load(zp.add(i) as *const v128);
            let z1 = v128_load(zp.add(i + 8) as *const v128);
            let ab = i16x8_add(low_halves(a, b), z0);
            let cd = i16x8_add(low_halves(c, d), z1);
            // Clamped codes lie inside i8, so the saturating narrow is exact.
            v128_store(dst.add(i) as *mut v128, i8x16_narrow_i16x8(ab, cd));
        }
        i += 16;
    }
    scalar::quantize_i8_lanes::<MUL>(&x[n..], p.tail(n), &mut out[n..]);
}

pub fn dequantize_i8_lanes(q: &[i8], p: Lanes<'_>, out: &mut [f32]) {
    assert!(q.len() == out.len() && q.len() == p.len());
    let n = q.len() / 16 * 16;
    let (src, dst) = (q.as_ptr(), out.as_mut_ptr());
    let (sc, zp) = (p.scale.as_ptr(), p.zp.as_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= the length of q, out and every parameter slice.
        unsafe {
            let c = v128_load(src.add(i) as *const v128);
            // q - zp in i16: both lie in [-255, 255], the difference in [-510, 510].
            let d0 = i16x8_sub(
                i16x8_extend_low_i8x16(c),
                v128_load(zp.add(i) as *const v128),
            );
            let d1 = i16x8_sub(
                i16x8_extend_high_i8x16(c),
                v128_load(zp.add(i + 8) as *const v128),
            );
            let parts = [
                i32x4_extend_low_i16x8(d0),
                i32x4_extend_high_i16x8(d0),
                i32x4_extend_low_i16x8(d1),
                i32x4_extend_high_i16x8(d1),
            ];
            for (k, w) in parts.into_iter().enumerate() {
                let f = f32x4_mul(f32x4_convert_i32x4(w), load(sc.add(i + 4 * k)));
                v128_store(dst.add(i + 4 * k) as *mut v128, f);
            }
        }
        i += 16;
    }
    scalar::dequantize_i8_lanes(&q[n..], p.tail(n), &mut out[n..]);
}

/// pmin(lo, v) = v < lo ? v : lo and pmax(hi, v) = hi < v ? v : hi: the scalar rule.
/// Finiteness by a running sum, as in [`min_max`].
pub fn min_max_lanes(x: &[f32], lo: &mut [f32], hi: &mut [f32]) -> bool {
    assert!(x.len() == lo.len() && x.len() == hi.len());
    let n = x.len() / 4 * 4;
    let (src, l, h) = (x.as_ptr(), lo.as_mut_ptr(), hi.as_mut_ptr());
    let mut sum = f32x4_splat(0.0);
    let mut i = 0;
    while i < n {
        // SAFETY: i + 4 <= n <= the length of all three slices.
        unsafe {
            let v = load(src.add(i));
            v128_store(l.add(i) as *mut v128, f32x4_pmin(load(l.add(i)), v));
            v128_store(h.add(i) as *mut v128, f32x4_pmax(load(h.add(i)), v));
            sum = f32x4_add(sum, v);
        }
        i += 4;
    }
    let tail = scalar::min_max_lanes(&x[n..], &mut lo[n..], &mut hi[n..]);
    tail && (i32x4_all_true(f32x4_eq(f32x4_sub(sum, sum), f32x4_splat(0.0))) || all_finite(&x[..n]))
}

/// Memory-bandwidth probe for the benchmarks (not used by any scheme): XOR of the bits
/// of every value, four independent vectors so only memory limits it. Equal to
/// `scalar::read_probe`.
pub fn read_probe(x: &[f32]) -> u32 {
    let n = x.len() / 16 * 16;
    let mut acc = [i32x4_splat(0); 4];
    let p = x.as_ptr();
    let mut i = 0;
    while i < n {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 16 <= n <= x.len().
            *a = v128_xor(*a, unsafe { load(p.add(i + 4 * j)) });
        }
        i += 16;
    }
    let v = v128_xor(v128_xor(acc[0], acc[1]), v128_xor(acc[2], acc[3]));
    let lanes = u32x4_extract_lane::<0>(v)
        ^ u32x4_extract_lane::<1>(v)
        ^ u32x4_extract_lane::<2>(v)
        ^ u32x4_extract_lane::<3>(v);
    lanes ^ scalar::read_probe(&x[n..])
}

/// Memory-bandwidth probe: for every 16 values (64 bytes) read, 16 bytes written, the
/// XOR of the four 16-byte quarters; the memory traffic of an int8 quantize (read 4
/// bytes, write 1 per value) with 3 XORs of arithmetic. (Taking each value's low byte
/// instead went through LLVM's clamp-and-shuffle narrowing and was compute-bound even
/// in L2.) Equal to `scalar::narrow_probe`.
pub fn narrow_probe(x: &[f32], out: &mut [u8]) {
    assert_eq!(x.len(), out.len());
    let n = x.len() / 16 * 16;
    let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= len of both slices.
        unsafe {
            let v = |k: usize| load(src.add(i + 4 * k));
            let f = v128_xor(v128_xor(v(0), v(1)), v128_xor(v(2), v(3)));
            v128_store(dst.add(i) as *mut v128, f);
        }
        i += 16;
    }
    scalar::narrow_probe(&x[n..], &mut out[n..]);
}
