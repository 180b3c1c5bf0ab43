//! The operands of the matrix products: activations quantized per row
//! ([`QuantizedRows`], [`Q4Activations`]) and weights packed once into panels
//! ([`PackedI8Matrix`], [`PackedQ4Matrix`], [`PackedF32Matrix`]; layout in the module
//! docs of [`super`]).

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

/// How a row of activations is quantized on the fly, one scale per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
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

pub(super) fn check_len(what: &str, len: usize, m: usize, k: usize) -> Result<()> {
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
