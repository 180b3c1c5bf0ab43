//! WebAssembly SIMD128 twin of `scalar_convert`: the same f32 bits for all 65536 halves
//! (tests/wasm_convert.rs checks every one). wasm has no F16C, and `half`'s portable
//! conversion branches per element.
//!
//! A half's exponent and mantissa shifted left by 13 are the bits of an f32 that is the
//! half's value times 2^-112, for normal and subnormal halves alike (wasm keeps f32
//! subnormals; it never flushes them), so one multiply by 2^112 finishes the conversion
//! exactly. Infinities and NaNs take the all-ones exponent instead, NaNs with the quiet
//! bit set as F16C and `half` set it.

use core::arch::wasm32::*;

use super::scalar_convert as scalar;

const TWO_POW_112: f32 = 5.192_297e33;

#[inline(always)]
fn widen(h: v128) -> v128 {
    let em = v128_and(h, u32x4_splat(0x7fff));
    let shifted = i32x4_shl(em, 13);
    let finite = f32x4_mul(shifted, f32x4_splat(TWO_POW_112));
    let inf_nan = i32x4_ge(em, i32x4_splat(0x7c00));
    let nan = i32x4_gt(em, i32x4_splat(0x7c00));
    let special = v128_or(
        v128_or(shifted, u32x4_splat(0x7f80_0000)),
        v128_and(nan, u32x4_splat(0x0040_0000)),
    );
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    v128_or(v128_bitselect(special, finite, inf_nan), sign)
}

/// Little-endian halves in `raw` (2 bytes each) to `out` (one f32 each).
pub fn f16_to_f32(raw: &[u8], out: &mut [f32]) {
    let n = out.len().min(raw.len() / 2);
    let whole = n / 8 * 8;
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n, so 16 bytes at 2i lie in `raw` and 8 f32 at i in `out`;
        // v128 loads and stores need no alignment.
        unsafe {
            let h = v128_load(raw.as_ptr().add(2 * i) as *const v128);
            let p = out.as_mut_ptr().add(i) as *mut v128;
            v128_store(p, widen(u32x4_extend_low_u16x8(h)));
            v128_store(p.add(1), widen(u32x4_extend_high_u16x8(h)));
        }
    }
    scalar::f16_to_f32(&raw[2 * whole..2 * n], &mut out[whole..n]);
}
