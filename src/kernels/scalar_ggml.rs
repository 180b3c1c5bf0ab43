//! Scalar reference kernels for ggml's hot block quantizers (Q8_0, Q4_0), written to
//! reproduce the `gguf` package's numpy arithmetic bit for bit.
//!
//! The numpy rules they copy (gguf 0.19, gguf/quants.py): every step in f32; the
//! reciprocal `1 / d` is taken once per block (0 when d is 0) and multiplied in; Q8_0
//! rounds half away from zero (`np_roundf`); Q4_0 adds 8.5 and truncates; casts to
//! u8/i8 keep the low byte of the truncated integer, and a value outside the i32 range
//! (or NaN) becomes 0, as numpy's cast does on x86; d is stored as IEEE fp16 (`half`),
//! rounded to nearest even.

use half::f16;

/// Values per block of the legacy formats.
pub const QK: usize = 32;
/// Bytes per Q8_0 block: fp16 d + 32 i8 codes.
pub const Q8_0_BYTES: usize = 34;
/// Bytes per Q4_0 block: fp16 d + 16 bytes of nibbles.
pub const Q4_0_BYTES: usize = 18;

/// numpy's `astype(uint8)` / `astype(int8)` of an f32 on x86: truncate to i32 and keep
/// the low byte; NaN and values outside the i32 range give 0.
#[inline(always)]
pub fn np_low_byte(v: f32) -> u8 {
    if v > -2_147_483_648.0 && v < 2_147_483_648.0 {
        (v as i32) as u8
    } else {
        0
    }
}

/// `np_low_byte(v.round())` without a call to libm's roundf (x86-64's baseline has no
/// rounding instruction, and the call kept the loop from vectorizing): truncate, then
/// step away from zero when the dropped fraction (computed exactly) is at least 0.5.
#[inline(always)]
pub fn np_round_low_byte(v: f32) -> u8 {
    let a = v.abs();
    if a < 8_388_608.0 {
        let t = a as i32;
        let r = t + (a - t as f32 >= 0.5) as i32;
        (if v < 0.0 { -r } else { r }) as u8
    } else {
        np_low_byte(v.round())
    }
}

/// The reciprocal numpy computes: `np.where(d == 0, 0, 1 / d)`.
#[inline(always)]
pub fn recip_or_zero(d: f32) -> f32 {
    if d == 0.0 {
        0.0
    } else {
        1.0 / d
    }
}

/// fp16 bits of `v`, little-endian, rounded to nearest even (numpy's `astype(float16)`).
#[inline(always)]
pub fn fp16_le(v: f32) -> [u8; 2] {
    f16::from_f32(v).to_bits().to_le_bytes()
}

/// One Q8_0 block: 32 values into 34 bytes.
#[inline(always)]
pub fn q8_0_block(x: &[f32], out: &mut [u8]) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = recip_or_zero(d);
    out[..2].copy_from_slice(&fp16_le(d));
    for (o, &v) in out[2..Q8_0_BYTES].iter_mut().zip(x) {
        // f32::round is half away from zero, as np_roundf and C's roundf.
        *o = np_round_low_byte(v * id);
    }
}

/// The element numpy's `abs(block).argmax()` picks: the first with the largest |x|.
#[inline(always)]
pub fn first_absmax(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (f32::NEG_INFINITY, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    max
}

/// One Q4_0 block: 32 values into 18 bytes; byte j holds element j (low nibble) and
/// element j + 16 (high nibble).
#[inline(always)]
pub fn q4_0_block(x: &[f32], out: &mut [u8]) {
    let d = first_absmax(x) / -8.0;
    let id = recip_or_zero(d);
    out[..2].copy_from_slice(&fp16_le(d));
    // np_low_byte truncates toward zero itself: numpy's np.trunc before the cast is the same.
    let q = |v: f32| np_low_byte(v * id + 8.5).min(15);
    for j in 0..QK / 2 {
        out[2 + j] = q(x[j]) | (q(x[j + QK / 2]) << 4);
    }
}

/// Quantizes whole blocks: `x.len()` a multiple of 32, `out.len()` = blocks * 34.
pub fn quantize_q8_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q8_0_BYTES);
    for (b, o) in x.chunks_exact(QK).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        q8_0_block(b, o);
    }
}

/// Quantizes whole blocks: `x.len()` a multiple of 32, `out.len()` = blocks * 18.
pub fn quantize_q4_0(x: &[f32], out: &mut [u8]) {
    assert!(x.len() % QK == 0 && out.len() == x.len() / QK * Q4_0_BYTES);
    for (b, o) in x.chunks_exact(QK).zip(out.chunks_exact_mut(Q4_0_BYTES)) {
        q4_0_block(b, o);
    }
}
