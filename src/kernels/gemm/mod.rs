//! Matrix products for a layer y = x Wᵀ + b: int8 x int8 -> int32 GEMM/GEMV on weights
//! packed once, 4-bit (int4 groups, ggml Q4_0) x int8 GEMV, and f32 GEMM/GEMV.
//!
//! Where things live:
//! - this file: the public entry points and the compile-time choice of kernels;
//! - `packed.rs`: the packed types ([`PackedI8Matrix`], [`PackedQ4Matrix`],
//!   [`PackedF32Matrix`]) and dynamic activation quantization ([`QuantizedRows`]);
//! - `tile.rs`: what the int8 twins share (output blocks, zero-point correction,
//!   epilogue, tile order);
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

pub mod packed;
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
))]
pub mod relaxed;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
pub mod tile;

use std::ops::Range;

use crate::error::{Error, Result};
pub use crate::kernels::RELAXED_SIMD;
use packed::check_len;
pub use packed::{
    ActQuant, PackedF32Matrix, PackedI8Matrix, PackedQ4Matrix, Q4Activations, QuantizedRows, MAX_K,
    NR, Q4_0_BYTES, Q4_BLOCK,
};
pub use tile::{correct, epilogue, Block, Sink, Tiles};

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
