//! ggml's 256-value "K" super-blocks: dequantization of Q2_K..Q6_K as
//! `gguf.quants.dequantize` computes it, and quantization of Q4_K and Q6_K as ggml's C
//! reference (`quantize_row_q4_K_ref`, `quantize_row_q6_K_ref` in ggml-quants.c).
//!
//! The quantizers follow the C statement by statement, in f32 with the same operation
//! order (C evaluates `w*x*l` as `(w*x)*l`, no fused multiply-adds), because their
//! scale search compares sums of squared errors: a different rounding anywhere can pick
//! a different scale and change every byte of the block.

use super::legacy::f16_at;
pub use crate::dtype::QK_K;
use crate::kernels::scalar_ggml::fp16_le;
/// C's GROUP_MAX_EPS: a group whose largest |x| is below it is all zeros.
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: round half to even via the 1.5 * 2^23 bias, reading the
/// integer from the low mantissa bits. Outside |x| < 2^22 (where C asserts, and release
/// builds carry on) the same bit pattern arithmetic gives the same garbage as C does.
#[inline(always)]
fn nearest_int(f: f32) -> i32 {
    let v = f + 12_582_912.0;
    (v.to_bits() as i32 & 0x007F_FFFF) - 0x0040_0000
}

/// The 6-bit scale and min of sub-block j from Q4_K/Q5_K's 12 packed bytes.
#[inline(always)]
pub(super) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

// ---------------------------------------------------------------- dequantization
// Layouts and arithmetic as gguf/quants.py: element order, then `dl * q - ml` etc. in f32.

/// Q2_K, 84 bytes: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
pub fn dequantize_q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[..16], &b[16..80]);
    let (d, dmin) = (f16_at(b, 80), f16_at(b, 82));
    for (e, o) in y.iter_mut().enumerate() {
        let sc = scales[e / 16];
        let dl = d * (sc & 0xF) as f32;
        let ml = dmin * (sc >> 4) as f32;
        let (half, shift, l) = (e / 128, (e % 128) / 32, e % 32);
        let q = (qs[half * 32 + l] >> (2 * shift)) & 3;
        *o = dl * q as f32 - ml;
    }
}

/// Q3_K, 110 bytes: hmask[32], qs[64], scales[12] (16 six-bit values, offset 32), d.
pub fn dequantize_q3_k(b: &[u8], y: &mut [f32]) {
    let (hmask, qs, sc) = (&b[..32], &b[32..96], &b[96..108]);
    let d = f16_at(b, 108);
    let scale = |i: usize| {
        let lo = if i < 8 { sc[i] & 0xF } else { sc[i - 8] >> 4 };
        let hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
        ((lo | (hi << 4)) as i32 - 32) as f32
    };
    for (e, o) in y.iter_mut().enumerate() {
        let dl = d * scale(e / 16);
        let (half, shift, l) = (e / 128, (e % 128) / 32, e % 32);
        let low = ((qs[half * 32 + l] >> (2 * shift)) & 3) as i32;
        // The high bit set means no offset; clear means -4.
        let h = ((hmask[l] >> (e / 32)) & 1) as i32;
        *o = dl * (low - ((h ^ 1) << 2)) as f32;
    }
}

/// Q4_K, 144 bytes: d, dmin, scales[12] (eight 6-bit scales and mins), qs[128].
pub fn dequantize_q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for (j, sub) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(j, scales);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        for (l, o) in sub.iter_mut().enumerate() {
            let q = (qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0xF;
            *o = dl * q as f32 - ml;
        }
    }
}

/// Q5_K, 176 bytes: d, dmin, scales[12], qh[32] (bit j = sub-block j), qs[128].
pub fn dequantize_q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for (j, sub) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(j, scales);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        for (l, o) in sub.iter_mut().enumerate() {
            let low = (qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0xF;
            let q = low | (((qh[l] >> j) & 1) << 4);
            *o = dl * q as f32 - ml;
        }
    }
}

/// Q6_K, 210 bytes: ql[128], qh[64], scales[16] (i8), d.
pub fn dequantize_q6_k(b: &[u8], y: &mut [f32]) {
    let (ql, qh, sc) = (&b[..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for (e, o) in y.iter_mut().enumerate() {
        let (half, r) = (e / 128, e % 128);
        let low = (ql[half * 64 + r % 64] >> (4 * (r / 64))) & 0xF;
        let high = (qh[half * 32 + r % 32] >> (2 * (r / 32))) & 3;
        let q = (low | (high << 4)) as i32 - 32;
        let dl = d * sc[e / 16] as i8 as f32;
        *o = dl * q as f32;
    }
}

// ---------------------------------------------------------------- quantization

/// C's make_qkx2_quants: an affine fit of one sub-block with codes 0..=nmax, trying
/// nstep + 1 scales around the min-max one and keeping the smallest weighted squared
/// error. Returns (scale, -min); the codes land in `l`.
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..n {
        let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        l[i] = q as u8;
        let diff = scale * l[i] as f32 + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    if nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for i in 0..n {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = q as u8;
            let (w, lf) = (weights[i], q as f32);
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0f32;
            for i in 0..n {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                l[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// One Q4_K super-block (256 values -> 144 bytes), as quantize_row_q4_K_ref.
pub fn q4_k_block(x: &[f32], y: &mut [u8]) {
    let mut l = [0u8; QK_K];
    let mut laux = [0u8; 32];
    let mut weights = [0f32; 32];
    let mut mins = [0f32; 8];
    let mut scales = [0f32; 8];
    let (mut max_scale, mut max_min) = (0f32, 0f32);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        let (s, m) = make_qkx2_quants(
            15,
            xs,
            &weights,
            &mut l[32 * j..32 * j + 32],
            &mut laux,
            -1.0,
            0.1,
            20,
        );
        scales[j] = s;
        mins[j] = m;
        if s > max_scale {
            max_scale = s;
        }
        if m > max_min {
            max_min = m;
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let sc = &mut y[4..16];
    for j in 0..8 {
        // C stores nearest_int's int into a uint8_t (wrapping) before MIN(63, ...).
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            sc[j - 4] |= (ls >> 4) << 6;
            sc[j] |= (lm >> 4) << 6;
        }
    }
    y[..2].copy_from_slice(&fp16_le(max_scale / 63.0));
    y[2..4].copy_from_slice(&fp16_le(max_min / 63.0));
    let (d16, dmin16) = (f16_at(y, 0), f16_at(y, 2));
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &y[4..16]);
        let d = d16 * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = dmin16 * m as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / d).clamp(0, 15) as u8;
        }
    }
    let qs = &mut y[16..144];
    for (c, chunk) in qs.chunks_exact_mut(32).enumerate() {
        let j = 64 * c;
        for (k, q) in chunk.iter_mut().enumerate() {
            *q = l[j + k] | (l[j + k + 32] << 4);
        }
    }
}

/// C's make_qx_quants with rmse_type 1 and no importance weights (Q6_K's use): a
/// symmetric fit of 16 values with codes -nmax..nmax-1 (stored + nmax), weights x²,
/// trying 18 scales around -nmax / max. Returns the scale.
fn make_qx_quants(nmax: i32, x: &[f32], l: &mut [u8]) -> f32 {
    let (mut max, mut amax) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let nmaxf = nmax as f32;
    let mut iscale = -nmaxf / max;
    let (mut sumlx, mut suml2) = (0f32, 0f32);
    for (i, &v) in x.iter().enumerate() {
        let q = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
        l[i] = (q + nmax) as u8;
        let (w, lf) = (v * v, q as f32);
        sumlx += w * v * lf;
        suml2 += w * lf * lf;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmaxf + 0.1 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for &v in x {
            let lf = nearest_int(iscale * v).clamp(-nmax, nmax - 1) as f32;
            let w = v * v;
            sumlx += w * v * lf;
            suml2 += w * lf * lf;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (i, &v) in x.iter().enumerate() {
                let q = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
                l[i] = (nmax + q) as u8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// One Q6_K super-block (256 values -> 210 bytes), as quantize_row_q6_K_ref.
pub fn q6_k_block(x: &[f32], y: &mut [u8]) {
    let mut l = [0u8; QK_K];
    let mut scales = [0f32; 16];
    let (mut max_scale, mut max_abs_scale) = (0f32, 0f32);
    for ib in 0..16 {
        let s = make_qx_quants(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
        scales[ib] = s;
        if s.abs() > max_abs_scale {
            max_abs_scale = s.abs();
            max_scale = s;
        }
    }
    if max_abs_scale < GROUP_MAX_EPS {
        y[..210].fill(0);
        return;
    }
    let iscale = -128.0 / max_scale;
    y[208..210].copy_from_slice(&fp16_le(1.0 / iscale));
    for ib in 0..16 {
        // MIN(127, ...) in int, then stored into an int8_t (wrapping).
        y[192 + ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
    }
    let d16 = f16_at(y, 208);
    for j in 0..16 {
        let d = d16 * y[192 + j] as i8 as f32;
        if d == 0.0 {
            continue;
        }
        for ii in 0..16 {
            let q = nearest_int(x[16 * j + ii] / d).clamp(-32, 31);
            l[16 * j + ii] = (q + 32) as u8;
        }
    }
    let (ql, qh) = y[..192].split_at_mut(128);
    for h in 0..2 {
        let j = 128 * h;
        for k in 0..32 {
            let q = |o: usize| l[j + k + o];
            ql[64 * h + k] = (q(0) & 0xF) | ((q(64) & 0xF) << 4);
            ql[64 * h + k + 32] = (q(32) & 0xF) | ((q(96) & 0xF) << 4);
            qh[32 * h + k] =
                (q(0) >> 4) | ((q(32) >> 4) << 2) | ((q(64) >> 4) << 4) | ((q(96) >> 4) << 6);
        }
    }
}
