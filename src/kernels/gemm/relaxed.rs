//! Relaxed-SIMD twins (`+relaxed-simd` builds only), used only where
//! `i32x4.relaxed_dot_i8x16_i7x16_add_s` is exact: its second operand must be in
//! [0, 127], else engines may treat it as signed or unsigned. Here that operand is
//! either u7 activations (`ActQuant::U7`, codes 0..127) or the unsigned Q4 nibbles
//! (0..15; the −8 offset is taken back out with 8·Σx per block). On x86 without
//! AVX-VNNI, V8 lowers the instruction to pmaddubsw + pmaddwd(1) + paddd: 16 MACs in
//! three instructions, with no widening.

use core::arch::wasm32::*;
use std::ops::Range;

use super::packed::{PackedI8Matrix, PackedQ4Matrix, Q4Activations, QuantizedRows, NR, Q4_BLOCK};
use super::simd128::{hsum4, store4, store_q4};
use super::tile::{Block, Tiles};

/// Tile shapes of the relaxed int8 kernel, chosen by the sweep of docs/BENCHMARKS.md
/// ("Tile sweep", 2026-12-01, headless Chromium 156, `node scripts/bench/gemm_tiles.mjs
/// --rounds 9 --only gemm --blocks 0,32`, fastest of 9 rounds). A tile of R rows x P
/// panels keeps R·P accumulators, P weight vectors and one splat live. 6 x 2 in blocks
/// of 32 panels was fastest at 128x4096x4096 in all three sweeps of that day (here
/// 31.3 ms; 6 x 2 unblocked 36.0, 8 x 1 36.6, 4 x 2 -- the previous choice -- 43.6
/// unblocked); at 256x1024x1024 the 4-6 row x 2 panel tiles were within 12 % of each
/// other (6 x 2: 5.9-6.3 ms, 4 x 2: 6.1). The rate (up to 32 MACs per nominal cycle,
/// twice what a pmaddubsw + pmaddwd lowering can issue) says Chromium's V8 emits
/// vpdpbusd on this AVX-VNNI machine.
pub const GEMM_TILES: Tiles = Tiles {
    mr: 6,
    np: 2,
    pb: 32,
};
/// One activation row (GEMV). Same sweep with `--rounds 21 --only gemv`: 1 x 8 took
/// 0.845 ms at 1x4096x4096 and 4.11 ms at 1x8192x8192, against 0.890 / 4.63 for 1 x 4
/// and 2.29 / 10.49 for 1 x 1.
pub const GEMV_TILES: Tiles = Tiles {
    mr: 1,
    np: 8,
    pb: 0,
};

/// # Safety
/// `a` points at R rows of `kp` u7 codes (stride kp); `wp` at P consecutive panels.
#[inline(always)]
unsafe fn tile<const R: usize, const P: usize>(
    a: *const i8,
    kp: usize,
    wp: *const i8,
) -> [[v128; P]; R] {
    let mut acc = [[i32x4_splat(0); P]; R];
    let mut q = 0;
    while q < kp {
        let mut wv = [i32x4_splat(0); P];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = v128_load(wp.add(j * kp * NR + q * 4) as *const v128);
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // x[k..k+4] in every lane: lane c gets Σ_j w[c][k+j]·x[k+j].
            let av = v128_load32_splat(a.add(r * kp + q) as *const u32);
            for j in 0..P {
                acc[j] = i32x4_relaxed_dot_i8x16_i7x16_add(wv[j], av, acc[j]);
            }
        }
        q += 4;
    }
    acc
}

fn rows<const R: usize, const P: usize>(
    a: &QuantizedRows,
    w: &PackedI8Matrix,
    m0: usize,
    p0: usize,
    blk: &mut Block<'_>,
) {
    let kp = a.kp;
    // SAFETY: rows m0..m0+R and panels p0..p0+P exist (for_each_tile).
    let acc = unsafe {
        tile::<R, P>(
            a.codes.as_ptr().add(m0 * kp),
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

type TileFn = fn(&QuantizedRows, &PackedI8Matrix, usize, usize, &mut Block<'_>);

/// The tile shapes this build has a relaxed kernel for (the sweep's candidates).
/// Leftover rows and panels need (2, P), (1, P) and (R, 1) of every listed (R, P).
pub const TILE_SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 1),
    (8, 1),
    (1, 2),
    (2, 2),
    (3, 2),
    (4, 2),
    (5, 2),
    (6, 2),
    (1, 3),
    (2, 3),
    (4, 3),
    (1, 4),
    (2, 4),
    (3, 4),
    (1, 8),
    (2, 8),
];

fn tile_fn(r: usize, p: usize) -> Option<TileFn> {
    macro_rules! table {
        ($(($r:literal, $p:literal)),*) => {
            match (r, p) {
                $(($r, $p) => Some(rows::<$r, $p> as TileFn),)*
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
        (8, 1),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 2),
        (5, 2),
        (6, 2),
        (1, 3),
        (2, 3),
        (4, 3),
        (1, 4),
        (2, 4),
        (3, 4),
        (1, 8),
        (2, 8)
    )
}

/// The relaxed int8 kernel with a given tile shape; None when this build has no kernel
/// for it. u7 activations only (the caller checks).
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
    let (rows, panels) = (blk.rows.clone(), blk.panels.clone());
    super::tile::for_each_tile(rows, panels, t, |m, r, p, q| {
        // Present: checked above for every shape for_each_tile can ask for.
        if let Some(f) = tile_fn(r, q) {
            f(a, w, m, p, &mut blk)
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
    let row = &a.codes[m * a.kp..];
    let sums = &x.block_sums[m * blocks..(m + 1) * blocks];
    let mask = u8x16_splat(0x0F);
    let col0 = panels.start * NR;
    for p in panels {
        let mut acc = f32x4_splat(0.0);
        for g in 0..groups {
            let mut s = [i32x4_splat(0); NR];
            let mut xsum = 0i32;
            for (b, &bsum) in sums.iter().enumerate().skip(g * per_group).take(per_group) {
                xsum += bsum;
                // SAFETY: block b of the row holds 32 codes; the panel slab 64 bytes.
                unsafe {
                    let x0 = v128_load(row.as_ptr().add(b * Q4_BLOCK) as *const v128);
                    let x1 = v128_load(row.as_ptr().add(b * Q4_BLOCK + 16) as *const v128);
                    let wp = w.nibbles.as_ptr().add((p * blocks + b) * 64);
                    for (c, s) in s.iter_mut().enumerate() {
                        let v = v128_load(wp.add(c * 16) as *const v128);
                        // Nibbles 0..15 are the 7-bit operand: exact.
                        *s = i32x4_relaxed_dot_i8x16_i7x16_add(x0, v128_and(v, mask), *s);
                        *s = i32x4_relaxed_dot_i8x16_i7x16_add(x1, u8x16_shr(v, 4), *s);
                    }
                }
            }
            // Σ (q − 8)·x = Σ q·x − 8·Σx, per channel.
            let tot = i32x4_sub(hsum4(s[0], s[1], s[2], s[3]), i32x4_splat(8 * xsum));
            // SAFETY: 4 scales per panel and group.
            let sc =
                unsafe { v128_load(w.scales.as_ptr().add((p * groups + g) * NR) as *const v128) };
            acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(tot), sc));
        }
        store_q4(acc, a.scales[m], w, bias, p, col0, out);
    }
}
