//! WebAssembly SIMD128 GEMM/GEMV twins: the same integers as `scalar.rs`, and the same
//! f32 roundings (multiply, then add, in the same order).
//!
//! The int8 inner product is `i32x4.dot_i16x8_s` (pmaddwd on x86, 8 MACs per
//! instruction): activations are widened to i16 once per call, each 16-byte weight load
//! (4 channels x 4 k) is widened once in registers and used by every row of the tile.

use core::arch::wasm32::*;
use std::ops::Range;

use super::packed::{
    PackedF32Matrix, PackedI8Matrix, PackedQ4Matrix, Q4Activations, QuantizedRows, NR, Q4_BLOCK,
};
use super::tile::{Block, Sink, Tiles};

/// Tile shapes of the int8 kernel, chosen by the sweep of docs/BENCHMARKS.md ("Tile
/// sweep", 2026-12-01, headless Chromium 156, `node scripts/bench/gemm_tiles.mjs
/// --rounds 9 --only gemm --blocks 0,32`, fastest of 9 rounds). A tile of R rows x P
/// panels keeps 2·R·P accumulators, 2·P widened weight vectors and one activation
/// splat live; x86 V8 has 16 xmm registers and keeps xmm15 as scratch, so 6 x 1 (15
/// live) is the largest single-panel tile. 6 x 1 was fastest on both GEMM shapes:
/// 11.41 ms at 256x1024x1024 (4 x 1, the previous choice: 11.90; every 3-6 row tile
/// within 8 %) and 89.2 ms at 128x4096x4096 (4 x 1: 115.3). Blocks of 32 panels (512
/// KiB of weights, for L2) gave no consistent gain (6 x 1: 11.41 vs 11.54 ms, 97.2 vs
/// 89.2 ms), so panels are not blocked.
pub const GEMM_TILES: Tiles = Tiles {
    mr: 6,
    np: 1,
    pb: 0,
};
/// One activation row (GEMV): several panels per pass share each activation splat and
/// give the core several independent weight streams. Same sweep with `--rounds 21
/// --only gemv`: 1 x 4 took 1.175 ms at 1x4096x4096 and 6.30 ms at 1x8192x8192, against
/// 1.44 and 12.96 ms for 1 x 1 (the kernel before the sweep) and 1.205 / 6.42 for 1 x 6.
pub const GEMV_TILES: Tiles = Tiles {
    mr: 1,
    np: 4,
    pb: 0,
};
/// Rows x panels of the f32 tile: 4 x 2 panels = 8 accumulators + 2 weight + 1 splat.
pub const MR_F32: usize = 4;
pub const NP_F32: usize = 2;

/// Activations widened to i16, same layout as `QuantizedRows::codes`.
pub fn widen(a: &QuantizedRows) -> Vec<i16> {
    a.codes.iter().map(|&c| c as i16).collect()
}

/// One tile of R rows x P panels: returns, per row and panel, the 4 channels' Σ x·w.
///
/// # Safety
/// `a16` points at R rows of `kp` i16 (stride `kp`), `wp` at P consecutive panels of
/// `kp * 4` i8.
#[inline(always)]
unsafe fn tile_i8<const R: usize, const P: usize>(
    a16: *const i16,
    kp: usize,
    wp: *const i8,
) -> [[v128; P]; R] {
    let mut lo = [[i32x4_splat(0); P]; R];
    let mut hi = [[i32x4_splat(0); P]; R];
    let mut q = 0;
    while q < kp {
        let mut wl = [i32x4_splat(0); P];
        let mut wh = [i32x4_splat(0); P];
        for j in 0..P {
            let wv = v128_load(wp.add(j * kp * NR + q * 4) as *const v128);
            // Low half: channels 0 and 1, each lane a pair of k; high half: channels 2, 3.
            wl[j] = i16x8_extend_low_i8x16(wv);
            wh[j] = i16x8_extend_high_i8x16(wv);
        }
        for r in 0..R {
            // x[k..k+4] as i16, repeated twice: lanes (k, k+1), (k+2, k+3), again.
            let av = v128_load64_splat(a16.add(r * kp + q) as *const u64);
            for j in 0..P {
                lo[r][j] = i32x4_add(lo[r][j], i32x4_dot_i16x8(wl[j], av));
                hi[r][j] = i32x4_add(hi[r][j], i32x4_dot_i16x8(wh[j], av));
            }
        }
        q += 4;
    }
    let mut out = [[i32x4_splat(0); P]; R];
    for r in 0..R {
        for j in 0..P {
            // lo = (c0 p0, c0 p1, c1 p0, c1 p1), hi likewise for c2, c3: add the pairs.
            out[r][j] = i32x4_add(
                i32x4_shuffle::<0, 2, 4, 6>(lo[r][j], hi[r][j]),
                i32x4_shuffle::<1, 3, 5, 7>(lo[r][j], hi[r][j]),
            );
        }
    }
    out
}

/// Stores one row's 4 channels through the epilogue (zero-point corrections, scales,
/// bias), vectorised; the scalar `correct`/`epilogue` define it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn store4(
    acc: v128,
    a: &QuantizedRows,
    m: usize,
    w: &PackedI8Matrix,
    p: usize,
    row_off: usize,
    col0: usize,
    sink: &mut Sink<'_>,
) {
    let c = p * NR;
    // SAFETY: the parameter vectors are padded to a multiple of NR.
    let (csum, zw, sw) = unsafe {
        (
            v128_load(w.col_sums.as_ptr().add(c) as *const v128),
            v128_load(w.zero_points.as_ptr().add(c) as *const v128),
            v128_load(w.scales.as_ptr().add(c) as *const v128),
        )
    };
    let zx = i32x4_splat(a.zero_points[m]);
    let v = i32x4_sub(acc, i32x4_mul(zx, csum));
    let v = i32x4_sub(v, i32x4_mul(zw, i32x4_splat(a.row_sums[m])));
    let v = i32x4_add(v, i32x4_mul(i32x4_mul(i32x4_splat(a.k as i32), zx), zw));
    let full = c + NR <= w.n;
    match sink {
        Sink::I32(o) => {
            if full {
                // SAFETY: 4 columns c..c+4 < n exist in this output row.
                unsafe { v128_store(o.as_mut_ptr().add(row_off + c - col0) as *mut v128, v) };
            } else {
                let l = [
                    i32x4_extract_lane::<0>(v),
                    i32x4_extract_lane::<1>(v),
                    i32x4_extract_lane::<2>(v),
                ];
                for (j, &x) in l.iter().enumerate().take(w.n - c) {
                    o[row_off + c + j - col0] = x;
                }
            }
        }
        Sink::F32 { out, bias } => {
            let s = f32x4_mul(f32x4_splat(a.scales[m]), sw);
            let mut y = f32x4_mul(f32x4_convert_i32x4(v), s);
            let b = match bias {
                Some(b) if full => {
                    // SAFETY: c + 4 <= n = b.len().
                    unsafe { v128_load(b.as_ptr().add(c) as *const v128) }
                }
                Some(b) => {
                    let g = |j: usize| b.get(c + j).copied().unwrap_or(0.0);
                    f32x4(g(0), g(1), g(2), g(3))
                }
                None => f32x4_splat(0.0),
            };
            y = f32x4_add(y, b);
            if full {
                // SAFETY: as above.
                unsafe { v128_store(out.as_mut_ptr().add(row_off + c - col0) as *mut v128, y) };
            } else {
                let l = [
                    f32x4_extract_lane::<0>(y),
                    f32x4_extract_lane::<1>(y),
                    f32x4_extract_lane::<2>(y),
                ];
                for (j, &x) in l.iter().enumerate().take(w.n - c) {
                    out[row_off + c + j - col0] = x;
                }
            }
        }
    }
}

fn rows_i8<const R: usize, const P: usize>(
    a16: &[i16],
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    m0: usize,
    p0: usize,
    blk: &mut Block<'_>,
) {
    let kp = a.kp;
    // SAFETY: rows m0..m0+R and panels p0..p0+P exist (for_each_tile).
    let acc = unsafe {
        tile_i8::<R, P>(
            a16.as_ptr().add(m0 * kp),
            kp,
            w.data.as_ptr().add(p0 * kp * NR),
        )
    };
    for (r, acc) in acc.iter().enumerate() {
        let m = m0 + r;
        let off = (m - blk.rows.start) * blk.ld;
        for (j, &v) in acc.iter().enumerate() {
            store4(v, a, m, w, p0 + j, off, blk.col0, &mut blk.sink);
        }
    }
}

type TileFn = fn(&[i16], &QuantizedRows, &PackedI8Matrix, usize, usize, &mut Block<'_>);

/// The tile shapes this build has a kernel for (the sweep's candidates). Leftover rows
/// and panels need (2, P), (1, P) and (R, 1) of every listed (R, P).
pub const TILE_SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 1),
    (1, 2),
    (2, 2),
    (3, 2),
    (4, 2),
    (1, 3),
    (2, 3),
    (1, 4),
    (2, 4),
    (1, 6),
    (2, 6),
];

fn tile_fn(r: usize, p: usize) -> Option<TileFn> {
    macro_rules! table {
        ($(($r:literal, $p:literal)),*) => {
            match (r, p) {
                $(($r, $p) => Some(rows_i8::<$r, $p> as TileFn),)*
                _ => None,
            }
        };
    }
    table!(
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 1),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 2),
        (1, 3),
        (2, 3),
        (1, 4),
        (2, 4),
        (1, 6),
        (2, 6)
    )
}

/// The int8 kernel with a given tile shape; None when this build has no kernel for it.
pub fn gemm_i8_tiled(
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    mut blk: Block<'_>,
    t: Tiles,
) -> Option<()> {
    for (r, p) in [
        (t.mr, t.np),
        (2, t.np),
        (1, t.np),
        (t.mr, 1),
        (2, 1),
        (1, 1),
    ] {
        tile_fn(r, p)?;
    }
    let a16 = widen(a);
    let (rows, panels) = (blk.rows.clone(), blk.panels.clone());
    super::tile::for_each_tile(rows, panels, t, |m, r, p, q| {
        // Present: checked above for every shape for_each_tile can ask for.
        if let Some(f) = tile_fn(r, q) {
            f(&a16, a, w, m, p, &mut blk)
        }
    });
    Some(())
}

pub fn gemm_i8(a: &QuantizedRows, w: &PackedI8Matrix, blk: Block<'_>) {
    let t = if blk.rows.len() == 1 {
        GEMV_TILES
    } else {
        GEMM_TILES
    };
    gemm_i8_tiled(a, w, blk, t).expect("GEMM_TILES and GEMV_TILES have kernels");
}

/// Horizontal sums of four vectors at once: lane i of the result is Σ lanes of v[i].
#[inline(always)]
pub(super) fn hsum4(v0: v128, v1: v128, v2: v128, v3: v128) -> v128 {
    let t01 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v0, v1),
        i32x4_shuffle::<2, 6, 3, 7>(v0, v1),
    );
    let t23 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v2, v3),
        i32x4_shuffle::<2, 6, 3, 7>(v2, v3),
    );
    i32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(t01, t23),
        i32x4_shuffle::<2, 3, 6, 7>(t01, t23),
    )
}

/// Writes a panel's 4 outputs of the Q4 GEMV: acc · sx + bias.
#[inline(always)]
pub(super) fn store_q4(
    acc: v128,
    sx: f32,
    w: &PackedQ4Matrix,
    bias: Option<&[f32]>,
    p: usize,
    col0: usize,
    out: &mut [f32],
) {
    let c = p * NR;
    let b = |j: usize| bias.and_then(|b| b.get(c + j)).copied().unwrap_or(0.0);
    let y = f32x4_add(
        f32x4_mul(acc, f32x4_splat(sx)),
        f32x4(b(0), b(1), b(2), b(3)),
    );
    let l = [
        f32x4_extract_lane::<0>(y),
        f32x4_extract_lane::<1>(y),
        f32x4_extract_lane::<2>(y),
        f32x4_extract_lane::<3>(y),
    ];
    for (j, &v) in l.iter().enumerate().take(w.n.saturating_sub(c).min(NR)) {
        out[c + j - col0] = v;
    }
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
    let blocks = w.k / Q4_BLOCK;
    let per_group = w.group / Q4_BLOCK;
    let groups = w.k / w.group;
    let x16: Vec<i16> = a.codes[m * a.kp..m * a.kp + a.k]
        .iter()
        .map(|&c| c as i16)
        .collect();
    let mask = u8x16_splat(0x0F);
    let eight = i8x16_splat(8);
    let col0 = panels.start * NR;
    for p in panels {
        let mut acc = f32x4_splat(0.0);
        for g in 0..groups {
            let mut s = [i32x4_splat(0); NR];
            for b in g * per_group..(g + 1) * per_group {
                // SAFETY: block b of the row holds 32 i16; the panel slab holds 64 bytes.
                unsafe {
                    let xp = x16.as_ptr().add(b * Q4_BLOCK);
                    let x0 = v128_load(xp as *const v128);
                    let x1 = v128_load(xp.add(8) as *const v128);
                    let x2 = v128_load(xp.add(16) as *const v128);
                    let x3 = v128_load(xp.add(24) as *const v128);
                    let wp = w.nibbles.as_ptr().add((p * blocks + b) * 64);
                    for (c, s) in s.iter_mut().enumerate() {
                        let v = v128_load(wp.add(c * 16) as *const v128);
                        // Unpack in registers: low nibbles are values 0..15, high 16..31.
                        let lo = i8x16_sub(v128_and(v, mask), eight);
                        let hi = i8x16_sub(u8x16_shr(v, 4), eight);
                        let d = i32x4_add(
                            i32x4_add(
                                i32x4_dot_i16x8(i16x8_extend_low_i8x16(lo), x0),
                                i32x4_dot_i16x8(i16x8_extend_high_i8x16(lo), x1),
                            ),
                            i32x4_add(
                                i32x4_dot_i16x8(i16x8_extend_low_i8x16(hi), x2),
                                i32x4_dot_i16x8(i16x8_extend_high_i8x16(hi), x3),
                            ),
                        );
                        *s = i32x4_add(*s, d);
                    }
                }
            }
            let tot = hsum4(s[0], s[1], s[2], s[3]);
            // SAFETY: 4 scales per panel and group.
            let sc =
                unsafe { v128_load(w.scales.as_ptr().add((p * groups + g) * NR) as *const v128) };
            acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(tot), sc));
        }
        store_q4(acc, a.scales[m], w, bias, p, col0, out);
    }
}

/// MR rows x NP panels of f32: Σ_k x·w per lane, k in order, multiply then add.
///
/// # Safety
/// `x` points at MR rows of `k` f32 (stride k), `wp` at NP consecutive panels.
#[inline(always)]
unsafe fn tile_f32<const MR: usize, const NP: usize>(
    x: *const f32,
    k: usize,
    wp: *const f32,
) -> [[v128; NP]; MR] {
    let mut acc = [[f32x4_splat(0.0); NP]; MR];
    for kk in 0..k {
        let mut wv = [f32x4_splat(0.0); NP];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = v128_load(wp.add((j * k + kk) * NR) as *const v128);
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let xv = v128_load32_splat(x.add(r * k + kk) as *const u32);
            for j in 0..NP {
                acc[j] = f32x4_add(acc[j], f32x4_mul(xv, wv[j]));
            }
        }
    }
    acc
}

#[allow(clippy::too_many_arguments)]
fn rows_f32<const MR: usize, const NP: usize>(
    x: &[f32],
    w: &PackedF32Matrix,
    bias: Option<&[f32]>,
    m0: usize,
    p0: usize,
    r0: usize,
    ld: usize,
    col0: usize,
    out: &mut [f32],
) {
    let k = w.k;
    // SAFETY: rows m0..m0+MR and panels p0..p0+NP exist (caller).
    let acc =
        unsafe { tile_f32::<MR, NP>(x.as_ptr().add(m0 * k), k, w.data.as_ptr().add(p0 * k * NR)) };
    for (r, acc) in acc.iter().enumerate() {
        for (j, &v) in acc.iter().enumerate() {
            let c = (p0 + j) * NR;
            let b = |i: usize| bias.and_then(|b| b.get(c + i)).copied().unwrap_or(0.0);
            let y = f32x4_add(v, f32x4(b(0), b(1), b(2), b(3)));
            let l = [
                f32x4_extract_lane::<0>(y),
                f32x4_extract_lane::<1>(y),
                f32x4_extract_lane::<2>(y),
                f32x4_extract_lane::<3>(y),
            ];
            let off = (m0 + r - r0) * ld;
            for (i, &v) in l.iter().enumerate().take(w.n.saturating_sub(c).min(NR)) {
                out[off + c + i - col0] = v;
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
    let r0 = rows.start;
    let mut m = rows.start;
    // Row tiles of MR_F32, the last ones 2 and 1 rows; panel pairs, then a single panel.
    let mut run = |mr: usize, m: usize| {
        let mut p = panels.start;
        macro_rules! go {
            ($mr:literal, $np:literal) => {
                rows_f32::<$mr, $np>(x, w, bias, m, p, r0, ld, col0, out)
            };
        }
        while p + NP_F32 <= panels.end {
            match mr {
                4 => go!(4, 2),
                2 => go!(2, 2),
                _ => go!(1, 2),
            }
            p += NP_F32;
        }
        if p < panels.end {
            match mr {
                4 => go!(4, 1),
                2 => go!(2, 1),
                _ => go!(1, 1),
            }
        }
    };
    while m + MR_F32 <= rows.end {
        run(MR_F32, m);
        m += MR_F32;
    }
    while m + 2 <= rows.end {
        run(2, m);
        m += 2;
    }
    if m < rows.end {
        run(1, m);
    }
}
