//! Scalar reference GEMM/GEMV kernels: the definition the SIMD twins reproduce exactly.

use std::ops::Range;

use super::packed::{
    PackedF32Matrix, PackedI8Matrix, PackedQ4Matrix, Q4Activations, QuantizedRows, NR, Q4_BLOCK,
};
use super::tile::{correct, epilogue, Block, Sink};

/// Σ_k x[m, k]·w[c, k] for the 4 channels of panel `p`.
#[inline(always)]
fn panel_dot(a: &QuantizedRows, m: usize, w: &PackedI8Matrix, p: usize) -> [i32; NR] {
    let row = &a.codes[m * a.kp..(m + 1) * a.kp];
    let panel = &w.data[p * w.kp * NR..(p + 1) * w.kp * NR];
    let mut acc = [0i32; NR];
    for (quad, wq) in row.chunks_exact(4).zip(panel.chunks_exact(16)) {
        for (c, acc) in acc.iter_mut().enumerate() {
            for j in 0..4 {
                *acc += quad[j] as i32 * wq[c * 4 + j] as i32;
            }
        }
    }
    acc
}

pub fn gemm_i8(a: &QuantizedRows, w: &PackedI8Matrix, blk: Block<'_>) {
    let Block {
        rows,
        panels,
        ld,
        col0,
        mut sink,
    } = blk;
    for m in rows.clone() {
        for p in panels.clone() {
            let acc = panel_dot(a, m, w, p);
            for (c, &v) in acc.iter().enumerate() {
                let col = p * NR + c;
                if col >= w.n {
                    break;
                }
                let v = correct(v, a, m, w, col);
                let at = (m - rows.start) * ld + col - col0;
                match &mut sink {
                    Sink::I32(o) => o[at] = v,
                    Sink::F32 { out, bias } => {
                        let b = bias.map_or(0.0, |b| b[col]);
                        out[at] = epilogue(v, a.scales[m], w.scales[col], b);
                    }
                }
            }
        }
    }
}

/// Σ (q − 8)·x over one 32-block of channel `c` in a panel's block slab.
#[inline(always)]
pub fn q4_block_dot(nib: &[u8], x: &[i8]) -> i32 {
    let mut s = 0i32;
    for j in 0..16 {
        s += ((nib[j] & 0x0F) as i32 - 8) * x[j] as i32;
        s += ((nib[j] >> 4) as i32 - 8) * x[j + 16] as i32;
    }
    s
}

pub fn gemv_q4(
    x: &Q4Activations,
    m: usize,
    w: &PackedQ4Matrix,
    bias: Option<&[f32]>,
    panels: Range<usize>,
    out: &mut [f32],
) {
    let a = &x.rows;
    let row = &a.codes[m * a.kp..m * a.kp + a.k];
    let blocks = w.k / Q4_BLOCK;
    let per_group = w.group / Q4_BLOCK;
    let groups = w.k / w.group;
    let col0 = panels.start * NR;
    for p in panels {
        let mut acc = [0f32; NR];
        for g in 0..groups {
            for (c, acc) in acc.iter_mut().enumerate() {
                let mut s = 0i32;
                for b in g * per_group..(g + 1) * per_group {
                    let nib = &w.nibbles[(p * blocks + b) * 64 + c * 16..][..16];
                    s += q4_block_dot(nib, &row[b * Q4_BLOCK..][..Q4_BLOCK]);
                }
                *acc += s as f32 * w.scales[(p * groups + g) * NR + c];
            }
        }
        for (c, &v) in acc.iter().enumerate() {
            let col = p * NR + c;
            if col < w.n {
                out[col - col0] = v * a.scales[m] + bias.map_or(0.0, |b| b[col]);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn gemm_f32(
    x: &[f32],
    w: &PackedF32Matrix,
    bias: Option<&[f32]>,
    rows: Range<usize>,
    panels: Range<usize>,
    ld: usize,
    col0: usize,
    out: &mut [f32],
) {
    let k = w.k;
    for m in rows.clone() {
        let xr = &x[m * k..(m + 1) * k];
        for p in panels.clone() {
            let panel = &w.data[p * k * NR..(p + 1) * k * NR];
            let mut acc = [0f32; NR];
            for (&xv, wk) in xr.iter().zip(panel.chunks_exact(NR)) {
                for c in 0..NR {
                    acc[c] += xv * wk[c];
                }
            }
            for (c, &v) in acc.iter().enumerate() {
                let col = p * NR + c;
                if col < w.n {
                    out[(m - rows.start) * ld + col - col0] = v + bias.map_or(0.0, |b| b[col]);
                }
            }
        }
    }
}
