//! Matrix products for a layer y = x Wᵀ + b: int8 x int8 -> int32 GEMM/GEMV on weights
//! packed once, 4-bit (int4 groups, ggml Q4_0) x int8 GEMV, and f32 GEMM/GEMV.
//!
//! Where things live:
//! - this file: the packed types ([`PackedI8Matrix`], [`PackedQ4Matrix`],
//!   [`PackedF32Matrix`]), dynamic activation quantization ([`QuantizedRows`]), the
//!   public entry points and the compile-time choice of kernels;
//! - `scalar.rs`: the reference kernels, the definition every twin reproduces exactly;
//! - `simd128.rs`: the wasm SIMD128 twins (pmaddwd via `i32x4.dot_i16x8_s`);
//! - `relaxed.rs`: twins that use `i32x4.relaxed_dot_i8x16_i7x16_add_s`, built only with
//!   `+relaxed-simd` and called only where one operand is provably in [0, 127].
//!
//! # Packed layout (int8 and f32)
//! Output channels are grouped into panels of 4 ([`NR`]); K is padded with zeros to a
//! multiple of 4. Panel `p` holds, for every k-quad `q`, 16 bytes: the 4 weights
//! w[4p + c][4q .. 4q + 4] of column c = 0..3 in turn. One 16-byte load therefore feeds
//! both the pmaddwd kernel (widen low/high half: columns 0-1 and 2-3, each lane a pair of
//! k) and the relaxed kernel (each i32 lane one column's 4 k), so both builds share one
//! packing. f32 panels hold, for every k, the 4 columns' weights (16 bytes).

#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
))]
pub mod relaxed;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

use std::ops::Range;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::kernels::{self, QParams};
// The one home of ONNX Runtime's scale and zero point (and its tiny-scale rule).
use crate::quant::convention::ort;

/// Output channels per packed panel.
pub const NR: usize = 4;
/// Values per Q4 block (ggml's QK4_0).
pub const Q4_BLOCK: usize = 32;
/// Largest K the int8 kernels accept: |(x - zx)(w - zw)| <= 255 * 255, so an i32 sum of
/// 2^15 such terms cannot overflow (2^15 * 65025 < 2^31).
pub const MAX_K: usize = 1 << 15;

pub use crate::kernels::RELAXED_SIMD;

/// How a row of activations is quantized on the fly, one scale per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActQuant {
    /// Symmetric int8: codes -127..127, scale absmax / 127, zero point 0.
    Sym8,
    /// Affine int8: codes -128..127 with a zero point (ONNX Runtime's `compute_scale_zp`).
    Asym8,
    /// Affine 7-bit: codes 0..127 with a zero point. One bit coarser than `Asym8`, but
    /// every code is in [0, 127], so the relaxed-SIMD dot product is exact on it.
    U7,
}

impl ActQuant {
    pub fn parse(s: &str) -> Result<ActQuant> {
        match s {
            "sym" | "sym8" | "int8-sym" => Ok(ActQuant::Sym8),
            "asym" | "asym8" | "int8-asym" => Ok(ActQuant::Asym8),
            "u7" | "uint7" => Ok(ActQuant::U7),
            _ => Err(Error::Invalid(format!(
                "activation quantization `{s}`: expected sym, asym or u7"
            ))),
        }
    }

    fn params(self, lo: f32, hi: f32) -> QParams {
        let (qmin, qmax, symmetric) = match self {
            ActQuant::Sym8 => (-127, 127, true),
            ActQuant::Asym8 => (-128, 127, false),
            ActQuant::U7 => (0, 127, false),
        };
        ort::qparams(lo, hi, qmin, qmax, symmetric)
    }
}

fn round_up(v: usize, to: usize) -> usize {
    v.div_ceil(to) * to
}

/// Rows of activations quantized dynamically, one scale and zero point per row, K padded
/// with zero codes to a multiple of 4.
#[derive(Clone, Debug)]
pub struct QuantizedRows {
    pub m: usize,
    pub k: usize,
    /// Row stride of `codes`: K rounded up to a multiple of 4.
    pub kp: usize,
    pub mode: ActQuant,
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i32>,
    /// Σ codes of each row (for weight zero points).
    pub row_sums: Vec<i32>,
}

impl QuantizedRows {
    /// Quantizes `x` (M rows of K, row-major) with the SIMD quantizer of this build.
    pub fn quantize(x: &[f32], m: usize, k: usize, mode: ActQuant) -> Result<QuantizedRows> {
        check_len("activations", x.len(), m, k)?;
        if k > MAX_K {
            return Err(Error::Invalid(format!(
                "K = {k} is larger than the int8 kernels' limit of {MAX_K}"
            )));
        }
        let kp = round_up(k, 4);
        let mut codes = vec![0i8; m * kp];
        let (mut scales, mut zero_points, mut row_sums) = (
            Vec::with_capacity(m),
            Vec::with_capacity(m),
            Vec::with_capacity(m),
        );
        for (row, dst) in x
            .chunks_exact(k.max(1))
            .take(m)
            .zip(codes.chunks_exact_mut(kp.max(1)))
        {
            let (lo, hi, finite) = kernels::min_max(row);
            if !finite {
                return Err(Error::Invalid(
                    "activations hold NaN or infinite values".into(),
                ));
            }
            let p = mode.params(lo, hi);
            kernels::quantize_i8(row, p, &mut dst[..k]);
            scales.push(p.scale);
            zero_points.push(p.zero_point);
            row_sums.push(dst[..k].iter().map(|&c| c as i32).sum());
        }
        // K = 0: every row is empty; keep one (unit) parameter set per row all the same.
        while scales.len() < m {
            scales.push(1.0);
            zero_points.push(0);
            row_sums.push(0);
        }
        Ok(QuantizedRows {
            m,
            k,
            kp,
            mode,
            codes,
            scales,
            zero_points,
            row_sums,
        })
    }

    /// Rows of raw codes with unit scales and zero points 0 (integer tests, benches).
    pub fn from_codes(codes: &[i8], m: usize, k: usize, mode: ActQuant) -> Result<QuantizedRows> {
        check_len("activation codes", codes.len(), m, k)?;
        let kp = round_up(k, 4);
        let mut padded = vec![0i8; m * kp];
        for (dst, src) in padded
            .chunks_exact_mut(kp.max(1))
            .zip(codes.chunks_exact(k.max(1)))
        {
            dst[..k].copy_from_slice(src);
        }
        if mode == ActQuant::U7 && codes.iter().any(|&c| c < 0) {
            return Err(Error::Invalid(
                "u7 activation codes must be in 0..=127".into(),
            ));
        }
        let row_sums = (0..m)
            .map(|r| padded[r * kp..r * kp + k].iter().map(|&c| c as i32).sum())
            .collect();
        Ok(QuantizedRows {
            m,
            k,
            kp,
            mode,
            codes: padded,
            scales: vec![1.0; m],
            zero_points: vec![0; m],
            row_sums,
        })
    }
}

fn check_len(what: &str, len: usize, m: usize, k: usize) -> Result<()> {
    match m.checked_mul(k) {
        Some(n) if n == len => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{what}: {len} values do not make {m} rows of {k}"
        ))),
    }
}

/// int8 weights [N, K] packed into panels (see the module docs), with one scale and zero
/// point per output channel and the column sums the activation zero point needs.
#[derive(Clone, Debug)]
pub struct PackedI8Matrix {
    pub n: usize,
    pub k: usize,
    pub kp: usize,
    /// Panels of [`NR`] channels: `panels * kp * NR` codes.
    pub data: Vec<i8>,
    /// Per channel, padded with zeros to a multiple of [`NR`].
    pub scales: Vec<f32>,
    pub zero_points: Vec<i32>,
    pub col_sums: Vec<i32>,
}

impl PackedI8Matrix {
    /// Packs codes of a row-major [N, K] matrix (output channels in rows).
    pub fn from_codes(
        codes: &[i8],
        n: usize,
        k: usize,
        scales: &[f32],
        zero_points: &[i32],
    ) -> Result<PackedI8Matrix> {
        check_len("weight codes", codes.len(), n, k)?;
        if scales.len() != n || zero_points.len() != n {
            return Err(Error::Invalid(format!(
                "weights: {n} channels need {n} scales and zero points, got {} and {}",
                scales.len(),
                zero_points.len()
            )));
        }
        if k > MAX_K {
            return Err(Error::Invalid(format!(
                "K = {k} is larger than the int8 kernels' limit of {MAX_K}"
            )));
        }
        let kp = round_up(k, 4);
        let np = round_up(n, NR);
        let mut data = vec![0i8; np * kp];
        for (row, src) in codes.chunks_exact(k.max(1)).take(n).enumerate() {
            let (p, c) = (row / NR, row % NR);
            let panel = &mut data[p * kp * NR..(p + 1) * kp * NR];
            for (kk, &v) in src.iter().enumerate() {
                panel[(kk / 4) * 16 + c * 4 + kk % 4] = v;
            }
        }
        let pad = |v: &[f32]| {
            let mut o = v.to_vec();
            o.resize(np, 0.0);
            o
        };
        let mut zps = zero_points.to_vec();
        zps.resize(np, 0);
        let mut col_sums: Vec<i32> = (0..n)
            .map(|r| codes[r * k..(r + 1) * k].iter().map(|&c| c as i32).sum())
            .collect();
        col_sums.resize(np, 0);
        Ok(PackedI8Matrix {
            n,
            k,
            kp,
            data,
            scales: pad(scales),
            zero_points: zps,
            col_sums,
        })
    }

    /// Quantizes f32 weights [N, K] symmetric int8 per output channel (codes -127..127,
    /// scale absmax / 127, as ONNX Runtime does) and packs them.
    pub fn quantize(w: &[f32], n: usize, k: usize) -> Result<PackedI8Matrix> {
        check_len("weights", w.len(), n, k)?;
        let mut codes = vec![0i8; n * k];
        let mut scales = Vec::with_capacity(n);
        for (row, dst) in w
            .chunks_exact(k.max(1))
            .take(n)
            .zip(codes.chunks_exact_mut(k.max(1)))
        {
            let (lo, hi, finite) = kernels::min_max(row);
            if !finite {
                return Err(Error::Invalid("weights hold NaN or infinite values".into()));
            }
            let p = ort::qparams(lo, hi, -127, 127, true);
            kernels::quantize_i8(row, p, dst);
            scales.push(p.scale);
        }
        scales.resize(n, 1.0);
        PackedI8Matrix::from_codes(&codes, n, k, &scales, &vec![0; n])
    }

    pub fn panels(&self) -> usize {
        self.scales.len() / NR
    }

    /// The code of channel `row`, input `col` (for tests and the scalar reference).
    pub fn get(&self, row: usize, col: usize) -> i8 {
        let (p, c) = (row / NR, row % NR);
        self.data[p * self.kp * NR + (col / 4) * 16 + c * 4 + col % 4]
    }

    /// Bytes held (codes plus parameters).
    pub fn bytes(&self) -> usize {
        self.data.len() + 12 * self.scales.len()
    }
}

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

/// Runs the int8 kernel of this build on one block with the given tile shape (for the
/// tile sweep of scripts/bench/gemm_tiles.mjs); an error names a shape this build has
/// no kernel for. `relaxed` picks the relaxed-SIMD kernel (u7 activations only).
pub fn gemm_i8_block_tiled(
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    blk: Block<'_>,
    tiles: Tiles,
    relaxed: bool,
) -> Result<()> {
    let unsupported = || {
        Error::Invalid(format!(
            "no {} int8 kernel with tiles {tiles:?} in this build",
            if relaxed { "relaxed" } else { "simd128" }
        ))
    };
    if relaxed && a.mode != ActQuant::U7 {
        return Err(Error::Invalid(
            "the relaxed kernel takes u7 activations only".into(),
        ));
    }
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        target_feature = "relaxed-simd"
    ))]
    if relaxed {
        return relaxed::gemm_i8_tiled(a, w, blk, tiles).ok_or_else(unsupported);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if !relaxed {
        return simd128::gemm_i8_tiled(a, w, blk, tiles).ok_or_else(unsupported);
    }
    let _ = (w, blk);
    Err(unsupported())
}

/// The corrected int32 product [M, N] with a given tile shape (see
/// [`gemm_i8_block_tiled`]).
pub fn gemm_i8_i32_tiled(
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    tiles: Tiles,
    relaxed: bool,
) -> Result<Vec<i32>> {
    check_k("gemm", a.k, w.k)?;
    let mut out = vec![0i32; a.m * w.n];
    gemm_i8_block_tiled(
        a,
        w,
        Block {
            rows: 0..a.m,
            panels: 0..w.panels(),
            ld: w.n,
            col0: 0,
            sink: Sink::I32(&mut out),
        },
        tiles,
        relaxed,
    )?;
    Ok(out)
}

/// Runs the int8 kernel of this build on one block.
pub fn gemm_i8_block(a: &QuantizedRows, w: &PackedI8Matrix, blk: Block<'_>) {
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        target_feature = "relaxed-simd"
    ))]
    if a.mode == ActQuant::U7 {
        // Every activation code is in 0..=127: the relaxed dot product is exact.
        return relaxed::gemm_i8(a, w, blk);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::gemm_i8(a, w, blk);
    #[allow(unreachable_code)]
    scalar::gemm_i8(a, w, blk)
}

fn check_k(what: &str, k_act: usize, k_w: usize) -> Result<()> {
    if k_act != k_w {
        return Err(Error::Invalid(format!(
            "{what}: activations have K = {k_act}, the weights K = {k_w}"
        )));
    }
    Ok(())
}

fn check_bias(bias: Option<&[f32]>, n: usize) -> Result<()> {
    match bias {
        Some(b) if b.len() != n => Err(Error::Invalid(format!(
            "bias has {} values, the layer {n} outputs",
            b.len()
        ))),
        _ => Ok(()),
    }
}

/// The corrected int32 product [M, N] (no scales).
pub fn gemm_i8_i32(a: &QuantizedRows, w: &PackedI8Matrix) -> Result<Vec<i32>> {
    check_k("gemm", a.k, w.k)?;
    let mut out = vec![0i32; a.m * w.n];
    gemm_i8_block(
        a,
        w,
        Block {
            rows: 0..a.m,
            panels: 0..w.panels(),
            ld: w.n,
            col0: 0,
            sink: Sink::I32(&mut out),
        },
    );
    Ok(out)
}

/// The layer output [M, N] in f32 from already quantized activations, on the columns of
/// panels `panels` only (row-block entry point for a worker pool: each worker takes a
/// range of panels and writes an [M, cols] slab).
pub fn linear_i8_panels(
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    bias: Option<&[f32]>,
    panels: Range<usize>,
) -> Result<Vec<f32>> {
    check_k("linear", a.k, w.k)?;
    check_bias(bias, w.n)?;
    if panels.start > panels.end || panels.end > w.panels() {
        return Err(Error::Invalid(format!(
            "panels {panels:?} out of 0..{}",
            w.panels()
        )));
    }
    let col0 = panels.start * NR;
    let cols = (panels.end * NR).min(w.n).saturating_sub(col0);
    let mut out = vec![0f32; a.m * cols];
    gemm_i8_block(
        a,
        w,
        Block {
            rows: 0..a.m,
            panels,
            ld: cols,
            col0,
            sink: Sink::F32 {
                out: &mut out,
                bias,
            },
        },
    );
    Ok(out)
}

/// y = x Wᵀ + b with x [M, K] quantized per row on the fly and int8 weights; natively
/// spread over threads (rayon) when built with the `parallel` feature.
pub fn linear_i8(
    x: &[f32],
    m: usize,
    w: &PackedI8Matrix,
    bias: Option<&[f32]>,
    mode: ActQuant,
) -> Result<Vec<f32>> {
    let a = QuantizedRows::quantize(x, m, w.k, mode)?;
    check_bias(bias, w.n)?;
    let mut out = vec![0f32; m * w.n];
    par_blocks(m, w.panels(), w.n, &mut out, |rows, panels, col0, ld, o| {
        gemm_i8_block(
            &a,
            w,
            Block {
                rows,
                panels,
                ld,
                col0,
                sink: Sink::F32 { out: o, bias },
            },
        )
    });
    Ok(out)
}

/// Splits an [M, N] output into independent blocks: by rows when there are several rows,
/// by panels of columns for a single row (GEMV). Serial without `parallel`.
fn par_blocks<T: Send + Default + Copy>(
    m: usize,
    panels: usize,
    n: usize,
    out: &mut [T],
    f: impl Fn(Range<usize>, Range<usize>, usize, usize, &mut [T]) + Sync,
) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads();
        if threads > 1 && m * n >= 1 << 14 && n > 0 {
            if m >= 2 * threads {
                let rows_per = m.div_ceil(threads * 4).max(1);
                out.par_chunks_mut(rows_per * n)
                    .enumerate()
                    .for_each(|(i, o)| {
                        let r0 = i * rows_per;
                        f(r0..(r0 + rows_per).min(m), 0..panels, 0, n, o)
                    });
                return;
            }
            if m == 1 {
                let per = panels.div_ceil(threads * 4).max(1);
                out.par_chunks_mut(per * NR).enumerate().for_each(|(i, o)| {
                    let p0 = i * per;
                    f(0..1, p0..(p0 + per).min(panels), p0 * NR, o.len(), o)
                });
                return;
            }
        }
    }
    f(0..m, 0..panels, 0, n, out)
}

/// 4-bit weights [N, K] in blocks of 32 along K, panelled like the int8 ones: for each
/// panel of 4 channels and each block, 4 × 16 bytes of nibbles (byte j of a channel's
/// block holds value j in the low nibble and value j + 16 in the high one, ggml's Q4_0
/// order), codes 0..15 standing for code − 8; one f32 scale per channel per group of
/// `group` values (a multiple of 32).
#[derive(Clone, Debug)]
pub struct PackedQ4Matrix {
    pub n: usize,
    pub k: usize,
    pub group: usize,
    /// `panels * blocks * 64` bytes.
    pub nibbles: Vec<u8>,
    /// `panels * groups * 4`: for each panel and group, the 4 channels' scales.
    pub scales: Vec<f32>,
}

/// Bytes of one ggml Q4_0 block: fp16 d, then 16 bytes of nibbles.
pub const Q4_0_BYTES: usize = 18;

impl PackedQ4Matrix {
    fn check_shape(n: usize, k: usize, group: usize) -> Result<()> {
        if group == 0 || group % Q4_BLOCK != 0 || k % group != 0 {
            return Err(Error::Invalid(format!(
                "4-bit weights: K = {k} must be a multiple of the group size {group}, itself a multiple of 32"
            )));
        }
        if k > MAX_K {
            return Err(Error::Invalid(format!("K = {k} exceeds {MAX_K}")));
        }
        n.checked_mul(k)
            .map(|_| ())
            .ok_or_else(|| Error::Invalid("4-bit weights: N * K overflows".into()))
    }

    /// Packs per-channel codes 0..15 (each standing for code − 8), row-major [N, K], with
    /// scales [N, K / group].
    pub fn from_codes(
        codes: &[u8],
        n: usize,
        k: usize,
        group: usize,
        scales: &[f32],
    ) -> Result<PackedQ4Matrix> {
        Self::check_shape(n, k, group)?;
        check_len("4-bit codes", codes.len(), n, k)?;
        let groups = k / group;
        check_len("4-bit scales", scales.len(), n, groups)?;
        if let Some(c) = codes.iter().find(|&&c| c > 15) {
            return Err(Error::Invalid(format!("4-bit code {c} is above 15")));
        }
        let blocks = k / Q4_BLOCK;
        let panels = n.div_ceil(NR);
        let mut nibbles = vec![0x88u8; panels * blocks * 64];
        let mut sc = vec![0f32; panels * groups * NR];
        for row in 0..n {
            let (p, c) = (row / NR, row % NR);
            for b in 0..blocks {
                let dst = &mut nibbles[(p * blocks + b) * 64 + c * 16..][..16];
                let src = &codes[row * k + b * Q4_BLOCK..][..Q4_BLOCK];
                for j in 0..16 {
                    dst[j] = src[j] | (src[j + 16] << 4);
                }
            }
            for g in 0..groups {
                sc[(p * groups + g) * NR + c] = scales[row * groups + g];
            }
        }
        Ok(PackedQ4Matrix {
            n,
            k,
            group,
            nibbles,
            scales: sc,
        })
    }

    /// Packs raw ggml Q4_0 blocks (18 bytes each: fp16 d little-endian, 16 bytes of
    /// nibbles), N rows of K / 32 blocks.
    pub fn from_q4_0(blocks: &[u8], n: usize, k: usize) -> Result<PackedQ4Matrix> {
        Self::check_shape(n, k, Q4_BLOCK)?;
        let nb = k / Q4_BLOCK;
        let want = n * nb * Q4_0_BYTES;
        if blocks.len() != want {
            return Err(Error::Invalid(format!(
                "Q4_0: [{n}, {k}] needs {want} bytes of blocks, got {}",
                blocks.len()
            )));
        }
        let mut codes = vec![0u8; n * k];
        let mut scales = vec![0f32; n * nb];
        for (i, blk) in blocks.chunks_exact(Q4_0_BYTES).enumerate() {
            scales[i] = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
            let dst = &mut codes[i * Q4_BLOCK..][..Q4_BLOCK];
            for j in 0..16 {
                dst[j] = blk[2 + j] & 0x0F;
                dst[j + 16] = blk[2 + j] >> 4;
            }
        }
        Self::from_codes(&codes, n, k, Q4_BLOCK, &scales)
    }

    /// Quantizes f32 weights to symmetric int4 per group along K (codes -7..7, scale
    /// absmax / 7: ONNX Runtime's restricted symmetric range) and packs them.
    pub fn quantize_int4(w: &[f32], n: usize, k: usize, group: usize) -> Result<PackedQ4Matrix> {
        Self::check_shape(n, k, group)?;
        check_len("weights", w.len(), n, k)?;
        let mut codes = vec![0u8; n * k];
        let mut scales = Vec::with_capacity(n * k / group);
        let mut tmp = vec![0i8; group];
        for (src, dst) in w.chunks_exact(group).zip(codes.chunks_exact_mut(group)) {
            let (lo, hi, finite) = kernels::min_max(src);
            if !finite {
                return Err(Error::Invalid("weights hold NaN or infinite values".into()));
            }
            let p = ort::qparams(lo, hi, -7, 7, true);
            kernels::quantize_i8(src, p, &mut tmp);
            for (d, &c) in dst.iter_mut().zip(&tmp) {
                *d = (c as i32 + 8) as u8;
            }
            scales.push(p.scale);
        }
        Self::from_codes(&codes, n, k, group, &scales)
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Bytes held: half a byte per weight plus an f32 per group.
    pub fn bytes(&self) -> usize {
        self.nibbles.len() + 4 * self.scales.len()
    }
}

/// A quantized activation row widened for the Q4 kernels: codes (symmetric int8) and,
/// per 32-block, Σ codes (so the relaxed kernel can use the unsigned nibbles and take
/// 8·Σx back out).
pub struct Q4Activations {
    pub rows: QuantizedRows,
    pub block_sums: Vec<i32>,
}

impl Q4Activations {
    pub fn new(rows: QuantizedRows) -> Q4Activations {
        let block_sums = rows
            .codes
            .chunks_exact(rows.kp.max(1))
            .take(rows.m)
            .flat_map(|r| {
                r[..rows.k / Q4_BLOCK * Q4_BLOCK]
                    .chunks_exact(Q4_BLOCK)
                    .map(|b| b.iter().map(|&c| c as i32).sum::<i32>())
                    .collect::<Vec<_>>()
            })
            .collect();
        Q4Activations { rows, block_sums }
    }
}

/// 4-bit x int8 GEMV on panels `panels` of one activation row `m`:
/// y[c] = sx · Σ_groups sw[c, g] · Σ_{k in g} (q − 8)·x  + bias, sums over groups in order.
pub fn gemv_q4_block(
    x: &Q4Activations,
    m: usize,
    w: &PackedQ4Matrix,
    bias: Option<&[f32]>,
    panels: Range<usize>,
    out: &mut [f32],
) {
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        target_feature = "relaxed-simd"
    ))]
    return relaxed::gemv_q4(x, m, w, bias, panels, out);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unreachable_code)]
    return simd128::gemv_q4(x, m, w, bias, panels, out);
    #[allow(unreachable_code)]
    scalar::gemv_q4(x, m, w, bias, panels, out)
}

/// y = x Wᵀ + b for 4-bit weights, x [M, K] quantized symmetric int8 per row.
pub fn linear_q4(
    x: &[f32],
    m: usize,
    w: &PackedQ4Matrix,
    bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
    check_bias(bias, w.n)?;
    let a = Q4Activations::new(QuantizedRows::quantize(x, m, w.k, ActQuant::Sym8)?);
    let mut out = vec![0f32; m * w.n];
    for (r, o) in out.chunks_exact_mut(w.n.max(1)).enumerate().take(m) {
        par_blocks(1, w.panels(), w.n, o, |_, panels, _, _, oo| {
            gemv_q4_block(&a, r, w, bias, panels, oo)
        });
    }
    Ok(out)
}

/// f32 weights [N, K] in panels of 4 channels: for every k, the 4 channels' values.
#[derive(Clone, Debug)]
pub struct PackedF32Matrix {
    pub n: usize,
    pub k: usize,
    pub data: Vec<f32>,
}

impl PackedF32Matrix {
    pub fn pack(w: &[f32], n: usize, k: usize) -> Result<PackedF32Matrix> {
        check_len("weights", w.len(), n, k)?;
        let np = round_up(n, NR);
        let mut data = vec![0f32; np * k];
        for (row, src) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let (p, c) = (row / NR, row % NR);
            for (kk, &v) in src.iter().enumerate() {
                data[(p * k + kk) * NR + c] = v;
            }
        }
        Ok(PackedF32Matrix { n, k, data })
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// f32 product on one block: y[m, c] = Σ_k x[m, k]·w[c, k] (k in order, multiply then
/// add: no fused multiply-add, so every twin rounds alike) + bias.
#[allow(clippy::too_many_arguments)]
pub fn gemm_f32_block(
    x: &[f32],
    w: &PackedF32Matrix,
    bias: Option<&[f32]>,
    rows: Range<usize>,
    panels: Range<usize>,
    ld: usize,
    col0: usize,
    out: &mut [f32],
) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::gemm_f32(x, w, bias, rows, panels, ld, col0, out);
    #[allow(unreachable_code)]
    scalar::gemm_f32(x, w, bias, rows, panels, ld, col0, out)
}

/// y = x Wᵀ + b in f32, x [M, K].
pub fn linear_f32(
    x: &[f32],
    m: usize,
    w: &PackedF32Matrix,
    bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
    check_len("activations", x.len(), m, w.k)?;
    check_bias(bias, w.n)?;
    let mut out = vec![0f32; m * w.n];
    par_blocks(m, w.panels(), w.n, &mut out, |rows, panels, col0, ld, o| {
        let r0 = rows.start;
        gemm_f32_block(&x[r0 * w.k..], w, bias, 0..rows.len(), panels, ld, col0, o)
    });
    Ok(out)
}
