//! What every int8 kernel twin shares: where it writes ([`Block`], [`Sink`]), the
//! zero-point correction and f32 epilogue each applies alike, and the tile order.

use std::ops::Range;

use serde::Serialize;

use super::packed::{PackedI8Matrix, QuantizedRows};

/// Where a kernel writes: rows `rows` and panels `panels` of the product, element (m, c)
/// at `(m - rows.start) * ld + (c - col0)`; columns at or past N are not written.
pub struct Block<'a> {
    pub rows: Range<usize>,
    pub panels: Range<usize>,
    pub ld: usize,
    pub col0: usize,
    pub sink: Sink<'a>,
}

/// What a kernel stores: the corrected int32 product Σ(x - zx)(w - zw), or the f32
/// layer output sx·sw·that + bias.
pub enum Sink<'a> {
    I32(&'a mut [i32]),
    F32 {
        out: &'a mut [f32],
        bias: Option<&'a [f32]>,
    },
}

/// The exact int32 result with both zero points taken out:
/// Σ x·w − zx·Σw − zw·Σx + K·zx·zw (wrapping arithmetic; exact within [`MAX_K`]).
#[inline(always)]
pub fn correct(acc: i32, a: &QuantizedRows, m: usize, w: &PackedI8Matrix, col: usize) -> i32 {
    let (zx, zw) = (a.zero_points[m], w.zero_points[col]);
    acc.wrapping_sub(zx.wrapping_mul(w.col_sums[col]))
        .wrapping_sub(zw.wrapping_mul(a.row_sums[m]))
        .wrapping_add((a.k as i32).wrapping_mul(zx).wrapping_mul(zw))
}

/// The f32 epilogue: (corrected as f32) * (sx * sw) + bias, in this order in every twin.
#[inline(always)]
pub fn epilogue(v: i32, sx: f32, sw: f32, bias: f32) -> f32 {
    v as f32 * (sx * sw) + bias
}

/// The tile shape an int8 kernel runs with: `mr` activation rows x `np` panels of
/// [`NR`] channels per tile, and the panels visited per block of the loop over rows
/// (`pb`; 0 = all panels at once). With `pb` panels per block, every row tile re-reads
/// the same `pb · kp · NR` bytes of weights, which stay in L2 when `pb` is small enough.
/// Rows left over after the last full tile go through tiles of 2 rows, then 1; panels
/// left over through tiles of 1 panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tiles {
    pub mr: usize,
    pub np: usize,
    pub pb: usize,
}

/// Visits the tiles of `rows` x `panels` in the order [`Tiles`] describes, calling
/// `f(first_row, rows_in_tile, first_panel, panels_in_tile)`. Only the SIMD kernels
/// tile (the scalar reference has no tiles to choose).
#[cfg_attr(
    not(all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code)
)]
pub(crate) fn for_each_tile(
    rows: Range<usize>,
    panels: Range<usize>,
    t: Tiles,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    let pb = if t.pb == 0 { panels.len().max(1) } else { t.pb };
    let mut b0 = panels.start;
    while b0 < panels.end {
        let b1 = (b0 + pb).min(panels.end);
        let mut m = rows.start;
        while m < rows.end {
            let r = if m + t.mr <= rows.end {
                t.mr
            } else if m + 2 <= rows.end && t.mr > 2 {
                2
            } else {
                1
            };
            let mut p = b0;
            while p < b1 {
                let q = if p + t.np <= b1 { t.np } else { 1 };
                f(m, r, p, q);
                p += q;
            }
            m += r;
        }
        b0 = b1;
    }
}
