//! ggml's 32-value block formats Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: quantize as the `gguf`
//! package's numpy code does (bit for bit), dequantize as `gguf.quants.dequantize`.
//!
//! Q8_0 and Q4_0 are hot and live in `kernels` (with SIMD128 twins); the others are
//! here. Shared numpy rules are documented in `kernels::scalar_ggml`.

use half::f16;

use crate::kernels::scalar_ggml::{fp16_le, np_low_byte, recip_or_zero, QK};

/// x86 `minps`/`maxps` on one lane: `a` if it wins strictly, else `b` (so on a tie
/// between +0 and -0 the second operand is kept).
#[inline(always)]
fn pick(a: f32, b: f32, less: bool) -> f32 {
    let a_wins = if less { a < b } else { a > b };
    if a_wins {
        a
    } else {
        b
    }
}

/// `block.min()` / `block.max()` exactly as numpy 2 computes them for a 32-value row on
/// x86 with AVX2: element 0 seeds an 8-lane accumulator, elements 1..25 come in three
/// 8-lane steps, the lanes fold 8 -> 4 -> 2 -> 1, and elements 25..32 follow one at a
/// time. The value is the plain min/max; the order only decides whether a zero
/// extreme is +0 or -0, which shows in the fp16 bytes of Q4_1/Q5_1's m and d.
/// (Checked against numpy on 8567 random rows with signed zeros while writing this.)
fn np_extreme(x: &[f32], less: bool) -> f32 {
    let mut acc = [x[0]; 8];
    let rest = &x[1..];
    let vec_len = rest.len() / 8 * 8;
    for chunk in rest[..vec_len].chunks_exact(8) {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = pick(*a, v, less);
        }
    }
    let v4: [f32; 4] = std::array::from_fn(|l| pick(acc[l], acc[l + 4], less));
    let v2 = [pick(v4[0], v4[2], less), pick(v4[1], v4[3], less)];
    let mut r = pick(v2[0], v2[1], less);
    for &v in &rest[vec_len..] {
        r = pick(r, v, less);
    }
    r
}

/// Codes of an affine block (Q4_1, Q5_1): q = min(trunc((x - min) / d + 0.5), top).
fn affine_codes(x: &[f32], top: u8, q: &mut [u8; QK]) -> (f32, f32) {
    let max = np_extreme(x, false);
    let min = np_extreme(x, true);
    let d = (max - min) / top as f32;
    let id = recip_or_zero(d);
    for (c, &v) in q.iter_mut().zip(x) {
        *c = np_low_byte((v - min) * id + 0.5).min(top);
    }
    (d, min)
}

/// Codes of a symmetric 5-bit block (Q5_0): d = max / -16, q = min(trunc(x / d + 16.5), 31).
fn q5_0_codes(x: &[f32], q: &mut [u8; QK]) -> f32 {
    let d = crate::kernels::scalar_ggml::first_absmax(x) / -16.0;
    let id = recip_or_zero(d);
    for (c, &v) in q.iter_mut().zip(x) {
        *c = np_low_byte(v * id + 16.5).min(31);
    }
    d
}

/// Low nibbles: byte j = element j | element j + 16 << 4 (bit 4 of each code dropped).
fn pack_nibbles(q: &[u8; QK], out: &mut [u8]) {
    for j in 0..QK / 2 {
        out[j] = (q[j] & 0x0F) | (q[j + QK / 2] << 4);
    }
}

/// Bit 4 of every code, element j at bit j of a little-endian u32.
fn pack_high_bits(q: &[u8; QK]) -> [u8; 4] {
    let h = q
        .iter()
        .enumerate()
        .fold(0u32, |h, (j, &c)| h | (((c >> 4) as u32 & 1) << j));
    h.to_le_bytes()
}

/// 32 values into 20 bytes: fp16 d, fp16 m (the block's min), 16 bytes of nibbles.
pub fn q4_1_block(x: &[f32], out: &mut [u8]) {
    let mut q = [0u8; QK];
    let (d, m) = affine_codes(x, 15, &mut q);
    out[..2].copy_from_slice(&fp16_le(d));
    out[2..4].copy_from_slice(&fp16_le(m));
    pack_nibbles(&q, &mut out[4..20]);
}

/// 32 values into 22 bytes: fp16 d, 4 bytes of high bits, 16 bytes of nibbles.
pub fn q5_0_block(x: &[f32], out: &mut [u8]) {
    let mut q = [0u8; QK];
    let d = q5_0_codes(x, &mut q);
    out[..2].copy_from_slice(&fp16_le(d));
    out[2..6].copy_from_slice(&pack_high_bits(&q));
    pack_nibbles(&q, &mut out[6..22]);
}

/// 32 values into 24 bytes: fp16 d, fp16 m, 4 bytes of high bits, 16 bytes of nibbles.
pub fn q5_1_block(x: &[f32], out: &mut [u8]) {
    let mut q = [0u8; QK];
    let (d, m) = affine_codes(x, 31, &mut q);
    out[..2].copy_from_slice(&fp16_le(d));
    out[2..4].copy_from_slice(&fp16_le(m));
    out[4..8].copy_from_slice(&pack_high_bits(&q));
    pack_nibbles(&q, &mut out[8..24]);
}

#[inline(always)]
pub(super) fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

/// The code of element j from nibbles (and, for 5-bit formats, the high-bit word).
#[inline(always)]
fn nibble(qs: &[u8], j: usize) -> u8 {
    if j < QK / 2 {
        qs[j] & 0x0F
    } else {
        qs[j - QK / 2] >> 4
    }
}

#[inline(always)]
fn high_bit(qh: &[u8], j: usize) -> u8 {
    let h = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    (((h >> j) & 1) as u8) << 4
}

pub fn dequantize_q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (o, &c) in y.iter_mut().zip(&b[2..34]) {
        *o = c as i8 as f32 * d;
    }
}

pub fn dequantize_q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (j, o) in y.iter_mut().enumerate() {
        *o = d * (nibble(&b[2..18], j) as i32 - 8) as f32;
    }
}

pub fn dequantize_q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (j, o) in y.iter_mut().enumerate() {
        *o = d * nibble(&b[4..20], j) as f32 + m;
    }
}

pub fn dequantize_q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (j, o) in y.iter_mut().enumerate() {
        let q = nibble(&b[6..22], j) | high_bit(&b[2..6], j);
        *o = d * (q as i32 - 16) as f32;
    }
}

pub fn dequantize_q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (j, o) in y.iter_mut().enumerate() {
        let q = nibble(&b[8..24], j) | high_bit(&b[4..8], j);
        *o = d * q as f32 + m;
    }
}
