//! Linear (uniform) integer quantization: 2 to 8 or 16 bits, signed or unsigned,
//! symmetric or affine, per tensor, per channel or per group, with a range estimator and a
//! rounding mode; codes packed at their bit width.
//!
//! Without a tool prefix, parameters follow ONNX Runtime's `compute_scale_zp` generalised
//! to every width: the range is widened to include zero, the scale is computed in f64 and
//! stored as f32 (a scale below the smallest normal f32 becomes 1 with zero point 0),
//! signed symmetric codes use ±(2^(b-1) - 1) (so int8 divides by 127), affine signed codes
//! [-2^(b-1), 2^(b-1) - 1], unsigned codes [0, 2^b - 1] (symmetric: zero point
//! round((qmin + qmax) / 2)), and q = clamp(round(x / scale) + zp). Tool prefixes
//! (`ort-`, `torch-`, `tflite-`, `tfjs-`) are in [`super::presets`].
//!
//! Granularity: `tensor`; `ch<axis>` (one scale per index along the axis); `group<size>`
//! (blocks of `size` consecutive indices along the last axis, or along `ax<axis>`; the last
//! block may be shorter; one scale per block and per position of the other axes, stored
//! in C order of the tensor's shape with that axis replaced by the block count, as ONNX's
//! blocked QuantizeLinear lays them out).

use std::fmt;
use std::mem::MaybeUninit;

use serde::{Deserialize, Serialize};

use super::pack;
use super::presets::{self, Convention};
use super::range::{self, RangeMethod};
use super::rounding::Rounding;
use super::{Encoded, Grid};
use crate::error::{Error, Result};
use crate::kernels::{self, LaneParams, QParams};
use crate::tensor::Tensor;

/// The smallest half-range TFLite's converter quantizes weights over: below it, the
/// scale is 5e-7 / 127 whatever the values (measured with TensorFlow 2.18).
const TFLITE_MIN_HALF_RANGE: f32 = 5e-7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Granularity {
    PerTensor,
    PerChannel {
        axis: usize,
    },
    /// Blocks of `size` along `axis` (None: the last axis).
    PerGroup {
        size: usize,
        axis: Option<usize>,
    },
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearScheme {
    /// Code width: 2 to 8, or 16.
    pub bits: u8,
    /// `int` (two's complement codes) or `uint`.
    #[serde(default = "yes")]
    pub signed: bool,
    /// Symmetric (range ±absmax, fixed zero point) or affine (min..max with a zero point).
    pub symmetric: bool,
    pub granularity: Granularity,
    #[serde(default)]
    pub range: RangeMethod,
    #[serde(default)]
    pub rounding: Rounding,
    /// Whose formulas: plain (ONNX Runtime's, generalised) or a tool preset.
    #[serde(default)]
    pub convention: Convention,
    /// ONNX Runtime's reduce_range (token `reduced`, `ort-` only).
    #[serde(default)]
    pub reduce_range: bool,
}

impl LinearScheme {
    /// A plain scheme with the default range (min-max) and rounding (half to even).
    pub fn new(bits: u8, symmetric: bool, granularity: Granularity) -> LinearScheme {
        LinearScheme {
            bits,
            signed: true,
            symmetric,
            granularity,
            range: RangeMethod::MinMax,
            rounding: Rounding::HalfEven,
            convention: Convention::Plain,
            reduce_range: false,
        }
    }
}

impl fmt::Display for LinearScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.signed { "int" } else { "uint" };
        write!(f, "{}{sign}{}", self.convention.prefix(), self.bits)?;
        if self.convention.writes_symmetry() {
            f.write_str(if self.symmetric { "-sym" } else { "-asym" })?;
        }
        match self.granularity {
            Granularity::PerTensor => {}
            Granularity::PerChannel { axis } => write!(f, "-ch{axis}")?,
            Granularity::PerGroup { size, axis } => {
                write!(f, "-group{size}")?;
                if let Some(a) = axis {
                    write!(f, "-ax{a}")?;
                }
            }
        }
        if self.reduce_range {
            f.write_str("-reduced")?;
        }
        if self.range != RangeMethod::MinMax {
            write!(f, "-{}", self.range)?;
        }
        if self.rounding != Rounding::HalfEven {
            write!(f, "-{}", self.rounding)?;
        }
        Ok(())
    }
}

/// Parses a plain linear string (`{int|uint}<bits>-...`, lower case). None when the
/// string is not of this family.
pub fn parse(s: &str) -> Option<std::result::Result<LinearScheme, String>> {
    if !(s.starts_with("int") || s.starts_with("uint")) {
        return None;
    }
    Some(parse_with(Convention::Plain, s))
}

fn number<T: std::str::FromStr>(
    tok: &str,
    digits: &str,
    want: &str,
) -> std::result::Result<T, String> {
    digits
        .parse()
        .map_err(|_| format!("`{tok}`: expected {want}"))
}

/// Parses the linear grammar under a convention (the preset prefix already removed).
pub fn parse_with(convention: Convention, s: &str) -> std::result::Result<LinearScheme, String> {
    let mut toks = s.split('-').peekable();
    let head = toks.next().unwrap_or_default();
    let (signed, digits) = if let Some(d) = head.strip_prefix("uint") {
        (false, d)
    } else if let Some(d) = head.strip_prefix("int") {
        (true, d)
    } else {
        return Err(format!(
            "`{head}`: expected int<bits> or uint<bits>, e.g. int8"
        ));
    };
    let bits: u8 = digits
        .parse()
        .map_err(|_| "bits must be a number, e.g. int8".to_string())?;
    if !(2..=8).contains(&bits) && bits != 16 {
        return Err("bits must be between 2 and 8, or 16".to_string());
    }
    let mut symmetric = None;
    let mut granularity = None;
    let mut range = None;
    let mut rounding = None;
    let mut reduce_range = false;
    fn once<T>(slot: &mut Option<T>, v: T, tok: &str) -> std::result::Result<(), String> {
        if slot.is_some() {
            return Err(format!("`{tok}`: this kind of token was already given"));
        }
        *slot = Some(v);
        Ok(())
    }
    while let Some(tok) = toks.next() {
        match tok {
            "sym" => once(&mut symmetric, true, tok)?,
            "asym" => once(&mut symmetric, false, tok)?,
            "tensor" => once(&mut granularity, Granularity::PerTensor, tok)?,
            "ch" => once(&mut granularity, Granularity::PerChannel { axis: 0 }, tok)?,
            "reduced" => reduce_range = true,
            _ if tok.starts_with("ch") => {
                let axis = number(tok, &tok[2..], "ch<axis>, e.g. ch0")?;
                once(&mut granularity, Granularity::PerChannel { axis }, tok)?
            }
            _ if tok.starts_with("group") => {
                let size: usize = number(tok, &tok[5..], "group<size>, e.g. group128")?;
                if size == 0 {
                    return Err(format!("`{tok}`: the group size must be at least 1"));
                }
                let axis = match toks.peek() {
                    Some(next) if next.starts_with("ax") => {
                        let next = toks.next().unwrap_or_default();
                        Some(number(next, &next[2..], "ax<axis>, e.g. ax0")?)
                    }
                    _ => None,
                };
                once(&mut granularity, Granularity::PerGroup { size, axis }, tok)?
            }
            _ => {
                if let Some(r) = RangeMethod::parse(tok) {
                    once(&mut range, r?, tok)?
                } else if let Some(r) = Rounding::parse(tok) {
                    once(&mut rounding, r?, tok)?
                } else if tok.starts_with("ax") {
                    return Err(format!("`{tok}`: ax<axis> only follows group<size>"));
                } else {
                    return Err(format!(
                        "`{tok}`: expected sym, asym, tensor, ch<axis>, group<size>, minmax, pct<p>, mse, kl, rne, rna or sr<seed>"
                    ));
                }
            }
        }
    }
    let scheme = LinearScheme {
        bits,
        signed,
        symmetric: symmetric.unwrap_or(convention.default_symmetric()),
        granularity: granularity.unwrap_or(Granularity::PerTensor),
        range: range.unwrap_or_default(),
        rounding: rounding.unwrap_or_default(),
        convention,
        reduce_range,
    };
    presets::validate(&scheme)?;
    Ok(scheme)
}

/// One contiguous run of elements and which parameters quantize it.
#[derive(Clone, Copy, Debug)]
enum Piece {
    /// Elements `start..start + len` all use slot `slot`.
    Single {
        start: usize,
        len: usize,
        slot: usize,
    },
    /// Element `start + j` uses slot `base + j` (scales running along the last axis).
    Lanes {
        start: usize,
        len: usize,
        base: usize,
    },
}

/// How a tensor's elements map to parameter slots.
#[derive(Clone, Copy, Debug)]
struct Layout {
    outer: usize,
    dim: usize,
    inner: usize,
    /// Some(block size) for per-group schemes.
    block: Option<usize>,
    slots: usize,
}

impl Layout {
    fn new(t: &Tensor, g: Granularity) -> Result<Layout> {
        let split = |axis: usize| -> Result<(usize, usize, usize)> {
            if axis >= t.shape.len() {
                return Err(Error::BadAxis {
                    name: t.name.clone(),
                    axis,
                    shape: t.shape.clone(),
                });
            }
            Ok((
                t.shape[..axis].iter().product(),
                t.shape[axis],
                t.shape[axis + 1..].iter().product(),
            ))
        };
        Ok(match g {
            Granularity::PerTensor => Layout {
                outer: 1,
                dim: 1,
                inner: t.numel(),
                block: None,
                slots: 1,
            },
            Granularity::PerChannel { axis } => {
                let (outer, dim, inner) = split(axis)?;
                Layout {
                    outer,
                    dim,
                    inner,
                    block: None,
                    slots: dim,
                }
            }
            Granularity::PerGroup { size, axis } => {
                let axis = axis.unwrap_or(t.shape.len().saturating_sub(1));
                let (outer, dim, inner) = split(axis)?;
                Layout {
                    outer,
                    dim,
                    inner,
                    block: Some(size),
                    slots: outer * dim.div_ceil(size) * inner,
                }
            }
        })
    }

    fn for_each_piece(&self, mut f: impl FnMut(Piece)) {
        let (outer, dim, inner) = (self.outer, self.dim, self.inner);
        match self.block {
            None if inner == 1 && dim > 1 => {
                for o in 0..outer {
                    f(Piece::Lanes {
                        start: o * dim,
                        len: dim,
                        base: 0,
                    });
                }
            }
            None => {
                for o in 0..outer {
                    for c in 0..dim {
                        f(Piece::Single {
                            start: (o * dim + c) * inner,
                            len: inner,
                            slot: c,
                        });
                    }
                }
            }
            Some(b) => {
                let groups = dim.div_ceil(b);
                for o in 0..outer {
                    if inner == 1 {
                        for g in 0..groups {
                            f(Piece::Single {
                                start: o * dim + g * b,
                                len: b.min(dim - g * b),
                                slot: o * groups + g,
                            });
                        }
                    } else {
                        for d in 0..dim {
                            f(Piece::Lanes {
                                start: (o * dim + d) * inner,
                                len: inner,
                                base: (o * groups + d / b) * inner,
                            });
                        }
                    }
                }
            }
        }
    }

    /// True when every piece is a whole slot, so range and quantization can run piece
    /// by piece while the piece is in cache.
    fn pieces_are_slots(&self) -> bool {
        match self.block {
            None => self.outer == 1 && !(self.inner == 1 && self.dim > 1),
            Some(_) => self.inner == 1,
        }
    }

    /// The values of every slot, in element order.
    fn gather(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); self.slots];
        self.for_each_piece(|p| match p {
            Piece::Single { start, len, slot } => {
                out[slot].extend_from_slice(&x[start..start + len])
            }
            Piece::Lanes { start, len, base } => {
                for (j, &v) in x[start..start + len].iter().enumerate() {
                    out[base + j].push(v);
                }
            }
        });
        out
    }

    /// min and max of every slot ((0, 0) for a slot without values), and whether every
    /// value was finite (the scan checks as it goes, so no separate pass is needed).
    fn min_max(&self, x: &[f32]) -> (Vec<(f32, f32)>, bool) {
        let mut lo = vec![f32::INFINITY; self.slots];
        let mut hi = vec![f32::NEG_INFINITY; self.slots];
        let mut finite = true;
        self.for_each_piece(|p| match p {
            Piece::Single { start, len, slot } => {
                let (l, h, ok) = kernels::min_max(&x[start..start + len]);
                lo[slot] = lo[slot].min(l);
                hi[slot] = hi[slot].max(h);
                finite &= ok;
            }
            Piece::Lanes { start, len, base } => {
                finite &= kernels::min_max_lanes(
                    &x[start..start + len],
                    &mut lo[base..base + len],
                    &mut hi[base..base + len],
                )
            }
        });
        (lo.into_iter().zip(hi).map(empty_is_zero).collect(), finite)
    }
}

fn empty_is_zero((lo, hi): (f32, f32)) -> (f32, f32) {
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}

/// Parameters of one slot (tensor, channel or group).
#[derive(Clone, Copy, Debug)]
struct Slot {
    q: QParams,
    /// The multiplier PyTorch and TFLite quantize with instead of dividing.
    inv: f32,
    /// TF.js's (scale, nudged min, nudged max), in f64 as it computes them.
    tfjs: (f64, f64, f64),
}

impl LinearScheme {
    /// The integer code range.
    pub fn qrange(&self) -> (i32, i32) {
        presets::qrange(self)
    }

    /// Whether the int8 kernels compute this scheme's codes exactly: round half to even
    /// of x / scale (ONNX Runtime, numpy) or of x * inv_scale (PyTorch), at most 8 bits.
    fn on_kernels(&self) -> bool {
        matches!(
            self.convention,
            Convention::Plain | Convention::Ort | Convention::Torch
        ) && self.rounding == Rounding::HalfEven
            && self.bits <= 8
    }

    /// PyTorch quantizes as round(x * inv_scale) with inv_scale = 1 / scale in f32.
    fn kernel_multiplies(&self) -> bool {
        self.convention == Convention::Torch
    }

    /// The kernels' parameters for one slot: codes shifted into i8, and the inverse
    /// scale where the kernel multiplies.
    fn kernel_params(&self, s: &Slot) -> QParams {
        let q = shifted(s.q, self.offset());
        if self.kernel_multiplies() {
            QParams { scale: s.inv, ..q }
        } else {
            q
        }
    }

    /// uint8 codes are kept as `code - 128` in i8 for the kernels; every other width of 8
    /// bits or fewer fits an i8 as it is.
    fn offset(&self) -> i32 {
        if !self.signed && self.bits == 8 {
            128
        } else {
            0
        }
    }

    /// Scale and zero point for values in [rmin, rmax], as this scheme's tool computes them.
    pub fn params_for_range(&self, rmin: f32, rmax: f32) -> QParams {
        self.slot(rmin, rmax).q
    }

    fn slot(&self, rmin: f32, rmax: f32) -> Slot {
        let (qmin, qmax) = self.qrange();
        let (cmin, cmax) = presets::clip_range(self);
        let plain = |scale: f32, zero_point: i32| Slot {
            q: QParams {
                scale,
                zero_point,
                qmin: cmin,
                qmax: cmax,
            },
            inv: 0.0,
            tfjs: (0.0, 0.0, 0.0),
        };
        match self.convention {
            Convention::Plain | Convention::Ort => {
                let blocked = self.convention == Convention::Ort
                    && matches!(self.granularity, Granularity::PerGroup { .. });
                let mut rmin = rmin.min(0.0);
                let mut rmax = rmax.max(0.0);
                if self.symmetric {
                    let absmax = rmin.abs().max(rmax.abs());
                    rmin = -absmax;
                    rmax = absmax;
                }
                // Widen before subtracting, as compute_scale_zp does: a finite f32 range
                // can overflow f32 when subtracted. compute_scale_zp_blocked subtracts in
                // f32 and widens after.
                let dr = if blocked {
                    (rmax - rmin) as f64
                } else {
                    rmax as f64 - rmin as f64
                };
                let scale = dr / (qmax - qmin) as f64;
                if scale.is_nan() || (scale as f32) < f32::MIN_POSITIVE {
                    return plain(1.0, 0);
                }
                let zero_point = if self.symmetric {
                    ((qmin + qmax) as f64 / 2.0).round_ties_even()
                } else if blocked {
                    // compute_scale_zp_blocked divides by the stored f32 scale and clips.
                    (qmin as f64 - rmin as f64 / (scale as f32) as f64)
                        .round_ties_even()
                        .clamp(qmin as f64, qmax as f64)
                } else {
                    (qmin as f64 - rmin as f64 / scale).round_ties_even()
                } as i32;
                plain(scale as f32, zero_point)
            }
            Convention::Torch => {
                let min_neg = rmin.min(0.0);
                let max_pos = rmax.max(0.0);
                let (scale, zero_point) = if self.symmetric {
                    let absmax = (-min_neg).max(max_pos);
                    let scale = (absmax / ((qmax - qmin) as f32 / 2.0)).max(f32::EPSILON);
                    let zp = match (self.signed, self.bits) {
                        (true, _) => 0,
                        (false, 8) => 128,
                        (false, 16) => 32768,
                        // A customised range: the down-rounded midpoint.
                        (false, _) => (qmin + qmax) / 2,
                    };
                    (scale, zp)
                } else {
                    let scale = ((max_pos - min_neg) / (qmax - qmin) as f32).max(f32::EPSILON);
                    let zp = qmin - (min_neg / scale).round_ties_even() as i32;
                    (scale, zp.clamp(qmin, qmax))
                };
                let mut s = plain(scale, zero_point);
                s.inv = 1.0 / scale;
                s
            }
            Convention::Tflite => {
                // The converter never quantizes over less than ±5e-7: a zero or nearly
                // zero channel or tensor gets scale 5e-7 / 127 (measured with TensorFlow
                // 2.18's converter; tests/fixtures/linear/tiny.npy holds the cases).
                let half_range = rmin.abs().max(rmax.abs()).max(TFLITE_MIN_HALF_RANGE);
                let mut s = plain(half_range / 127.0, 0);
                s.inv = 127.0 / half_range;
                s
            }
            Convention::Tfjs => {
                let (lo, hi) = (rmin as f64, rmax as f64);
                let qm = qmax as f64;
                let (scale, min, max) = if lo == hi {
                    (1.0, lo, hi)
                } else {
                    let scale = (hi - lo) / qm;
                    if lo <= 0.0 && 0.0 <= hi {
                        let zp = ((0.0 - lo) / scale).round_ties_even();
                        let min = -zp * scale;
                        (scale, min, qm * scale + min)
                    } else {
                        (scale, lo, hi)
                    }
                };
                let mut s = plain(scale as f32, (-min / scale).round_ties_even() as i32);
                s.tfjs = (scale, min, max);
                s
            }
        }
    }

    /// One code, by the tool's own arithmetic (the scalar path; the kernels compute the
    /// same for the schemes that run on them).
    #[inline]
    fn code(&self, x: f32, s: &Slot, index: usize) -> i32 {
        let p = &s.q;
        let lo = (p.qmin - p.zero_point) as f32;
        let hi = (p.qmax - p.zero_point) as f32;
        let r = match self.convention {
            Convention::Plain | Convention::Ort => self.rounding.round(x / p.scale, index),
            Convention::Torch => (x * s.inv).round_ties_even(),
            Convention::Tflite => (x * s.inv).round(),
            Convention::Tfjs => {
                let (scale, min, max) = s.tfjs;
                if min == max {
                    return 0;
                }
                let q = (((x as f64).max(min).min(max) - min) / scale).round_ties_even();
                return q.clamp(0.0, p.qmax as f64) as i32;
            }
        };
        r.clamp(lo, hi) as i32 + p.zero_point
    }

    #[inline]
    fn decode(&self, q: i32, s: &Slot) -> f32 {
        if self.convention == Convention::Tfjs {
            let (scale, min, _) = s.tfjs;
            return (q as f64 * scale + min) as f32;
        }
        (q - s.q.zero_point) as f32 * s.q.scale
    }

    /// The range [r * lo, r * hi] over the clip ratios of [`range::mse_ratios`] whose
    /// round-to-nearest reconstruction has the smallest squared error.
    fn mse_range(&self, x: &[f32], lo: f32, hi: f32) -> (f32, f32) {
        let mut det = *self;
        det.rounding = Rounding::HalfEven;
        let mut best = (lo, hi);
        let mut best_err = f64::INFINITY;
        for r in range::mse_ratios() {
            let (a, b) = (lo * r, hi * r);
            let s = det.slot(a, b);
            let err: f64 = x
                .iter()
                .map(|&v| {
                    let d = (det.decode(det.code(v, &s, 0), &s) - v) as f64;
                    d * d
                })
                .sum();
            if err < best_err {
                best_err = err;
                best = (a, b);
            }
        }
        best
    }

    /// The clip range of every slot, by this scheme's estimator.
    fn ranges(&self, t: &Tensor, layout: &Layout) -> Vec<(f32, f32)> {
        if self.range == RangeMethod::MinMax {
            return layout.min_max(&t.data).0;
        }
        let estimate = |x: &[f32]| -> (f32, f32) {
            match self.range {
                RangeMethod::MinMax => range::min_max(x),
                RangeMethod::Percentile { percentile } => {
                    range::percentile(x, percentile, self.symmetric)
                }
                RangeMethod::Kl => range::entropy(x),
                RangeMethod::Mse => {
                    let (lo, hi) = range::min_max(x);
                    self.mse_range(x, lo, hi)
                }
            }
        };
        if layout.slots == 1 {
            vec![estimate(&t.data)]
        } else {
            layout.gather(&t.data).iter().map(|v| estimate(v)).collect()
        }
    }

    pub fn quantize(&self, t: &Tensor) -> Result<QuantizedLinear> {
        presets::validate(self).map_err(|reason| Error::BadScheme {
            spec: self.to_string(),
            reason,
        })?;
        let layout = Layout::new(t, self.granularity)?;
        let n = t.numel();
        let x = &t.data;
        let mul = self.kernel_multiplies();
        let (ranges, slots, packed) = if self.on_kernels()
            && self.range == RangeMethod::MinMax
            && layout.pieces_are_slots()
        {
            if mul {
                self.quantize_fused::<true>(t, &layout)?
            } else {
                self.quantize_fused::<false>(t, &layout)?
            }
        } else {
            let ranges = if self.range == RangeMethod::MinMax {
                // The min-max scan reports non-finite values itself.
                let (ranges, finite) = layout.min_max(&t.data);
                if !finite {
                    check_finite(t)?;
                }
                ranges
            } else {
                check_finite(t)?;
                self.ranges(t, &layout)
            };
            let slots: Vec<Slot> = ranges.iter().map(|&(lo, hi)| self.slot(lo, hi)).collect();
            let packed = if self.on_kernels() {
                let kp: Vec<QParams> = slots.iter().map(|s| self.kernel_params(s)).collect();
                let mut work = vec![0u8; n];
                let w = as_i8_mut(&mut work);
                if mul {
                    quantize_pieces::<true>(&layout, x, &kp, w);
                } else {
                    quantize_pieces::<false>(&layout, x, &kp, w);
                }
                self.finish_i8(work)
            } else {
                let mut codes = vec![0i32; n];
                layout.for_each_piece(|p| match p {
                    Piece::Single { start, len, slot } => {
                        for i in start..start + len {
                            codes[i] = self.code(x[i], &slots[slot], i);
                        }
                    }
                    Piece::Lanes { start, len, base } => {
                        for j in 0..len {
                            codes[start + j] = self.code(x[start + j], &slots[base + j], start + j);
                        }
                    }
                });
                pack::pack(&codes, self.bits)
            };
            (ranges, slots, packed)
        };
        let axis = match self.granularity {
            Granularity::PerTensor => None,
            Granularity::PerChannel { axis } => Some(axis),
            Granularity::PerGroup { axis, .. } => {
                Some(axis.unwrap_or(t.shape.len().saturating_sub(1)))
            }
        };
        Ok(QuantizedLinear {
            scheme: *self,
            shape: t.shape.clone(),
            axis,
            block: layout.block,
            numel: n,
            packed,
            params: slots.iter().map(|s| s.q).collect(),
            ranges,
            tfjs: if self.convention == Convention::Tfjs {
                slots.iter().map(|s| (s.tfjs.0, s.tfjs.1)).collect()
            } else {
                Vec::new()
            },
        })
    }

    /// Range scan and quantization piece by piece (each piece one whole slot), so each
    /// piece is read from memory once and re-read from cache; the first non-finite value
    /// stops it. Each piece is quantized in the same kernel call that scans the next one
    /// (`kernels::quantize_i8_then_min_max`), so the scan's reads from memory overlap the
    /// quantize's arithmetic.
    #[allow(clippy::type_complexity)]
    fn quantize_fused<const MUL: bool>(
        &self,
        t: &Tensor,
        layout: &Layout,
    ) -> Result<(Vec<(f32, f32)>, Vec<Slot>, Vec<u8>)> {
        let mut ranges = vec![(0.0, 0.0); layout.slots];
        let mut slots = vec![self.slot(0.0, 0.0); layout.slots];
        // The codes buffer is not zero-filled: every byte is written by the kernel before
        // the length is set (counted below). Zero-filling it cost a 16 MiB memset per
        // 4096 x 4096 tensor (docs/BENCHMARKS.md, "Quantize throughput").
        let n = t.numel();
        let mut work: Vec<u8> = Vec::with_capacity(n);
        let w = as_i8_uninit(&mut work.spare_capacity_mut()[..n]);
        let mut written = 0;
        let mut finite = true;
        // Quantizes the piece `r` (whose scan gave `scanned`) while scanning `next`.
        let mut emit = |r: std::ops::Range<usize>,
                        slot: usize,
                        scanned: (f32, f32, bool),
                        next: &[f32]|
         -> (f32, f32, bool) {
            let (lo, hi, ok) = scanned;
            if !ok {
                finite = false;
                return (0.0, 0.0, true);
            }
            let range = empty_is_zero((lo, hi));
            let s = self.slot(range.0, range.1);
            let len = r.len();
            let next_scan = kernels::quantize_i8_then_min_max::<MUL>(
                &t.data[r.clone()],
                self.kernel_params(&s),
                &mut w[r],
                next,
            );
            written += len;
            ranges[slot] = range;
            slots[slot] = s;
            next_scan
        };
        let mut pending: Option<(std::ops::Range<usize>, usize, (f32, f32, bool))> = None;
        let mut stopped = false;
        layout.for_each_piece(|p| {
            let Piece::Single { start, len, slot } = p else {
                unreachable!("pieces_are_slots admits single pieces only")
            };
            if stopped {
                return;
            }
            let r = start..start + len;
            let scanned = match pending.take() {
                None => kernels::min_max(&t.data[r.clone()]),
                Some((pr, pslot, pscan)) => {
                    stopped = !pscan.2;
                    emit(pr, pslot, pscan, &t.data[r.clone()])
                }
            };
            pending = Some((r, slot, scanned));
        });
        if let Some((pr, pslot, pscan)) = pending.filter(|_| !stopped) {
            emit(pr, pslot, pscan, &[]);
        }
        if !finite {
            check_finite(t)?;
        }
        // Pieces that are slots tile the tensor once each; this guards `set_len`.
        assert!(
            finite && written == n,
            "fused quantize wrote {written} of {n} codes"
        );
        // SAFETY: the pieces wrote all n bytes (just checked) and n <= capacity.
        unsafe { work.set_len(n) };
        Ok((ranges, slots, self.finish_i8(work)))
    }

    /// i8 kernel output to packed bytes: in place at 8 bits, packed below.
    fn finish_i8(&self, mut work: Vec<u8>) -> Vec<u8> {
        let off = self.offset();
        if self.bits == 8 {
            if off == 128 {
                work.iter_mut().for_each(|b| *b ^= 0x80);
            }
            work
        } else {
            pack::pack_i8(as_i8_mut(&mut work), self.bits, off)
        }
    }
}

/// Quantizes every piece of `layout` with the kernels (`kp`: kernel parameters per slot).
fn quantize_pieces<const MUL: bool>(layout: &Layout, x: &[f32], kp: &[QParams], w: &mut [i8]) {
    let mut lanes: Option<LaneParams> = None;
    layout.for_each_piece(|p| match p {
        Piece::Single { start, len, slot } => {
            let r = start..start + len;
            kernels::quantize_i8_by::<MUL>(&x[r.clone()], kp[slot], &mut w[r]);
        }
        Piece::Lanes { start, len, base } => {
            let r = start..start + len;
            let lp = lanes.get_or_insert_with(|| LaneParams::new(kp));
            kernels::quantize_i8_lanes::<MUL>(&x[r.clone()], lp.slice(base, len), &mut w[r]);
        }
    });
}

/// Kernel parameters for codes stored `off` below their value.
fn shifted(p: QParams, off: i32) -> QParams {
    QParams {
        scale: p.scale,
        zero_point: p.zero_point - off,
        qmin: p.qmin - off,
        qmax: p.qmax - off,
    }
}

fn as_i8_mut(b: &mut [u8]) -> &mut [i8] {
    // SAFETY: i8 and u8 have the same size, alignment and validity (every bit pattern).
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut i8, b.len()) }
}

fn as_i8_uninit(b: &mut [MaybeUninit<u8>]) -> &mut [MaybeUninit<i8>] {
    // SAFETY: as in as_i8_mut; MaybeUninit<T> has T's layout.
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut MaybeUninit<i8>, b.len()) }
}

fn as_i8(b: &[u8]) -> &[i8] {
    // SAFETY: as in as_i8_mut.
    unsafe { std::slice::from_raw_parts(b.as_ptr() as *const i8, b.len()) }
}

pub(crate) fn check_finite(t: &Tensor) -> Result<()> {
    let (_, _, finite) = kernels::min_max(&t.data);
    if finite {
        return Ok(());
    }
    let mut bad = t.data.iter().enumerate().filter(|(_, v)| !v.is_finite());
    let first = bad.next().map(|(i, _)| i).unwrap_or(0);
    Err(Error::NonFinite {
        name: t.name.clone(),
        count: 1 + bad.count(),
        first,
    })
}

/// Codes of one tensor, packed, plus the parameters to map them back.
#[derive(Clone, Debug)]
pub struct QuantizedLinear {
    pub scheme: LinearScheme,
    pub shape: Vec<usize>,
    /// The axis scales run along (channel or group axis), None for one set per tensor.
    pub axis: Option<usize>,
    /// The group size of per-group schemes.
    pub block: Option<usize>,
    pub numel: usize,
    /// The codes at their bit width (see [`super::pack`] for the layout).
    pub packed: Vec<u8>,
    /// One entry per slot: tensor, channel, or group (groups in C order of the shape with
    /// the group axis replaced by the group count).
    pub params: Vec<QParams>,
    /// The clip range the estimator chose for each slot (before widening to zero).
    pub ranges: Vec<(f32, f32)>,
    /// TF.js's (scale, min) per slot, in f64 as it stores them; empty for other schemes.
    pub tfjs: Vec<(f64, f64)>,
}

impl Encoded for QuantizedLinear {
    fn dequantize(&self) -> Vec<f32> {
        QuantizedLinear::dequantize(self)
    }
    fn packed_bytes(&self) -> usize {
        QuantizedLinear::packed_bytes(self)
    }
    fn describe(&self) -> String {
        let (qmin, qmax) = self.scheme.qrange();
        let params = match (self.axis, self.block) {
            (None, _) => "one scale for the tensor".to_string(),
            (Some(a), None) => format!("{} scales along axis {a}", self.params.len()),
            (Some(a), Some(b)) => {
                format!("{} scales, blocks of {b} along axis {a}", self.params.len())
            }
        };
        let tool = match self.scheme.convention {
            Convention::Plain => String::new(),
            c => format!(", {c} conventions"),
        };
        let mut extra = String::new();
        if self.scheme.range != RangeMethod::MinMax {
            extra += &format!(", range {}", self.scheme.range);
        }
        if self.scheme.rounding != Rounding::HalfEven {
            extra += &format!(", rounding {}", self.scheme.rounding);
        }
        format!(
            "{}-bit codes {qmin}..{qmax}, {params}{extra}{tool}",
            self.scheme.bits
        )
    }
    fn scales(&self) -> Vec<f32> {
        QuantizedLinear::scales(self)
    }
    fn zero_points(&self) -> Vec<i32> {
        QuantizedLinear::zero_points(self)
    }
    fn axis(&self) -> Option<usize> {
        self.axis
    }
    /// The widest slot's grid: the one whose steps are coarsest. 16-bit grids show every
    /// 256th level (65 536 lines would only fill the chart).
    fn grid(&self) -> Grid {
        let widest = self
            .params
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.scale.total_cmp(&b.1.scale))
            .map(|(i, _)| i);
        let step = if self.scheme.bits > 8 { 256 } else { 1 };
        // A tensor with a zero-length channel axis has no parameters and so no grid.
        let levels = widest
            .map(|w| {
                let p = self.params[w];
                let s = self.slot_of(w);
                (p.qmin..=p.qmax)
                    .step_by(step)
                    .map(|c| self.scheme.decode(c, &s))
                    .collect()
            })
            .unwrap_or_default();
        Grid {
            channel: self.axis.and(widest),
            levels,
        }
    }
}

impl QuantizedLinear {
    pub fn scales(&self) -> Vec<f32> {
        self.params.iter().map(|p| p.scale).collect()
    }

    pub fn zero_points(&self) -> Vec<i32> {
        self.params.iter().map(|p| p.zero_point).collect()
    }

    /// The codes, one per element in C order (unpacked).
    pub fn codes(&self) -> Vec<i32> {
        pack::unpack(
            &self.packed,
            self.scheme.bits,
            self.scheme.signed,
            self.numel,
        )
    }

    fn slot_of(&self, i: usize) -> Slot {
        let (scale, min) = self.tfjs.get(i).copied().unwrap_or_default();
        Slot {
            q: self.params[i],
            inv: 0.0,
            tfjs: (scale, min, 0.0),
        }
    }

    fn layout(&self) -> Layout {
        let t = Tensor {
            name: String::new(),
            shape: self.shape.clone(),
            dtype: crate::tensor::DType::F32,
            data: Vec::new(),
        };
        let g = self.scheme.granularity;
        // The shape was checked when quantizing; an error here cannot happen.
        let mut l = Layout::new(&t, g).unwrap_or(Layout {
            outer: 1,
            dim: 1,
            inner: self.numel,
            block: None,
            slots: 1,
        });
        if g == Granularity::PerTensor {
            l.inner = self.numel;
        }
        l
    }

    pub fn dequantize(&self) -> Vec<f32> {
        let n = self.numel;
        let mut out = vec![0f32; n];
        if n == 0 {
            return out;
        }
        let layout = self.layout();
        let s = &self.scheme;
        if s.bits <= 8 && s.convention != Convention::Tfjs {
            let off = s.offset();
            let owned;
            let work: &[i8] = if s.bits == 8 && off == 0 {
                as_i8(&self.packed)
            } else {
                owned = pack::unpack_i8(&self.packed, s.bits, s.signed, off, n);
                &owned
            };
            let kp: Vec<QParams> = self.params.iter().map(|p| shifted(*p, off)).collect();
            let mut lanes: Option<LaneParams> = None;
            layout.for_each_piece(|p| match p {
                Piece::Single { start, len, slot } => {
                    let r = start..start + len;
                    kernels::dequantize_i8(&work[r.clone()], kp[slot], &mut out[r]);
                }
                Piece::Lanes { start, len, base } => {
                    let r = start..start + len;
                    let lp = lanes.get_or_insert_with(|| LaneParams::new(&kp));
                    kernels::dequantize_i8_lanes(
                        &work[r.clone()],
                        lp.slice(base, len),
                        &mut out[r],
                    );
                }
            });
        } else {
            let codes = self.codes();
            let slots: Vec<Slot> = (0..self.params.len()).map(|i| self.slot_of(i)).collect();
            layout.for_each_piece(|p| match p {
                Piece::Single { start, len, slot } => {
                    for i in start..start + len {
                        out[i] = s.decode(codes[i], &slots[slot]);
                    }
                }
                Piece::Lanes { start, len, base } => {
                    for j in 0..len {
                        out[start + j] = s.decode(codes[start + j], &slots[base + j]);
                    }
                }
            });
        }
        out
    }

    /// Bytes of the stored form: the packed codes, one f32 scale per slot, and for affine
    /// schemes one zero point per slot packed at the code width (TF.js stores an f32 min
    /// instead of a zero point).
    pub fn packed_bytes(&self) -> usize {
        let slots = self.params.len();
        let zero_points = if self.scheme.convention == Convention::Tfjs {
            4 * slots
        } else if self.scheme.symmetric {
            0
        } else {
            pack::packed_len(slots, self.scheme.bits)
        };
        self.packed.len() + 4 * slots + zero_points
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn t(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor {
            name: "t".into(),
            shape,
            dtype: DType::F32,
            data,
        }
    }

    fn s(spec: &str) -> LinearScheme {
        parse(spec)
            .or_else(|| super::super::presets::parse(spec))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn grammar_round_trips() {
        for spec in [
            "int8-sym",
            "uint8-asym-ch1",
            "int4-asym-group128",
            "int4-sym-group32-ax0-sr7",
            "uint8-asym-pct99.999",
            "int8-sym-ch0-mse",
            "int3-asym-kl-rna",
            "int16-sym-ch2",
        ] {
            assert_eq!(s(spec).to_string(), spec);
        }
        assert_eq!(s("int8").to_string(), "int8-sym");
        assert_eq!(s("int8-ch").to_string(), "int8-sym-ch0");
    }

    #[test]
    fn groups_along_the_last_axis() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let q = s("uint8-asym-group4")
            .quantize(&t(vec![2, 6], x.clone()))
            .unwrap();
        // Row of 6 in blocks of 4: two groups per row, the second of 2 elements.
        assert_eq!(q.params.len(), 4);
        assert_eq!(q.ranges[1], (4.0, 5.0));
        assert_eq!(q.ranges[3], (10.0, 11.0));
        let q = s("int8-sym-group2-ax0")
            .quantize(&t(vec![4, 3], x))
            .unwrap();
        assert_eq!(q.params.len(), 6);
        assert_eq!(q.ranges[4], (7.0, 10.0));
    }

    #[test]
    fn packed_size_follows_the_width() {
        let x: Vec<f32> = (0..10).map(|i| i as f32 - 5.0).collect();
        for (spec, codes) in [
            ("int4-sym", 5),
            ("int3-sym", 4),
            ("int8-sym", 10),
            ("int16-sym", 20),
            ("int2-sym", 3),
        ] {
            let q = s(spec).quantize(&t(vec![10], x.clone())).unwrap();
            assert_eq!(q.packed.len(), codes, "{spec}");
            assert_eq!(q.packed_bytes(), codes + 4, "{spec}");
        }
        let q = s("uint4-asym-group4").quantize(&t(vec![10], x)).unwrap();
        assert_eq!(q.packed_bytes(), 5 + 3 * 4 + 2);
    }
}
