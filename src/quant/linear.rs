//! Linear (uniform) integer quantization, symmetric or affine, per tensor or per channel.
//!
//! Parameters follow ONNX Runtime's `compute_scale_zp` exactly: the range is widened to
//! include zero, the scale is computed in f64 and stored as f32 (a scale below the
//! smallest normal f32 becomes 1 with zero point 0), symmetric codes use
//! [-(2^(b-1) - 1), 2^(b-1) - 1] (so int8 divides by 127), affine codes
//! [-2^(b-1), 2^(b-1) - 1], and q = clamp(round_half_even(x / scale) + zp).

use std::fmt;

use ndarray::{ArrayView3, ArrayViewMut3, Axis};
use serde::{Deserialize, Serialize};

use super::{Encoded, Grid};
use crate::error::{Error, Result};
use crate::kernels::{self, QParams};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Granularity {
    PerTensor,
    PerChannel { axis: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearScheme {
    /// Code width, 2 to 8.
    pub bits: u8,
    /// Symmetric (zero point 0, range ±absmax) or affine (min..max with a zero point).
    pub symmetric: bool,
    pub granularity: Granularity,
}

impl fmt::Display for LinearScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.symmetric { "sym" } else { "asym" };
        write!(f, "int{}-{kind}", self.bits)?;
        if let Granularity::PerChannel { axis } = self.granularity {
            write!(f, "-ch{axis}")?;
        }
        Ok(())
    }
}

/// Parses `int{2..8}-{sym|asym}[-{tensor|ch|ch<axis>}]` (lower case). None when the
/// string is not of this family; per-tensor when the granularity is left out, and `ch`
/// alone means axis 0 (output channels of a weight).
pub fn parse(s: &str) -> Option<std::result::Result<LinearScheme, String>> {
    let rest = s.strip_prefix("int")?;
    let mut parts = rest.split('-');
    Some((|| {
        let bits: u8 = parts
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|_| "bits must be a number, e.g. int8".to_string())?;
        if !(2..=8).contains(&bits) {
            return Err("bits must be between 2 and 8".to_string());
        }
        let symmetric = match parts.next() {
            None | Some("sym") => true,
            Some("asym") => false,
            Some(other) => return Err(format!("`{other}`: expected sym or asym")),
        };
        let granularity = match parts.next() {
            None | Some("tensor") => Granularity::PerTensor,
            Some("ch") => Granularity::PerChannel { axis: 0 },
            Some(g) if g.starts_with("ch") => Granularity::PerChannel {
                axis: g[2..]
                    .parse()
                    .map_err(|_| format!("`{g}`: expected ch<axis>, e.g. ch0"))?,
            },
            Some(other) => return Err(format!("`{other}`: expected tensor, ch or ch<axis>")),
        };
        if let Some(extra) = parts.next() {
            return Err(format!("unexpected `{extra}`"));
        }
        Ok(LinearScheme {
            bits,
            symmetric,
            granularity,
        })
    })())
}

impl LinearScheme {
    /// The integer code range.
    pub fn qrange(&self) -> (i32, i32) {
        let half = 1i32 << (self.bits - 1);
        if self.symmetric {
            (-(half - 1), half - 1)
        } else {
            (-half, half - 1)
        }
    }

    /// Scale and zero point for values in [rmin, rmax], as ONNX Runtime computes them.
    pub fn params_for_range(&self, rmin: f32, rmax: f32) -> QParams {
        let (qmin, qmax) = self.qrange();
        let mut rmin = rmin.min(0.0);
        let mut rmax = rmax.max(0.0);
        if self.symmetric {
            let absmax = rmin.abs().max(rmax.abs());
            rmin = -absmax;
            rmax = absmax;
        }
        // Widen before subtracting, as ONNX Runtime does: a finite f32 range can
        // overflow f32 when subtracted.
        let scale = (rmax as f64 - rmin as f64) / (qmax - qmin) as f64;
        if scale.is_nan() || scale < f32::MIN_POSITIVE as f64 {
            return QParams {
                scale: 1.0,
                zero_point: 0,
                qmin,
                qmax,
            };
        }
        let zero_point = if self.symmetric {
            ((qmin + qmax) as f64 / 2.0).round_ties_even()
        } else {
            (qmin as f64 - rmin as f64 / scale).round_ties_even()
        } as i32;
        QParams {
            scale: scale as f32,
            zero_point,
            qmin,
            qmax,
        }
    }

    pub fn quantize(&self, t: &Tensor) -> Result<QuantizedLinear> {
        check_finite(t)?;
        let (outer, channels, inner, axis) = match self.granularity {
            Granularity::PerTensor => (1, 1, t.numel(), None),
            Granularity::PerChannel { axis } => {
                let (o, c, i) = split_at_axis(t, axis)?;
                (o, c, i, Some(axis))
            }
        };
        let x = ArrayView3::from_shape((outer, channels, inner), &t.data)
            .map_err(|e| Error::Invalid(format!("tensor `{}`: {e}", t.name)))?;
        let mut codes = vec![0i8; t.numel()];
        let mut q = ArrayViewMut3::from_shape((outer, channels, inner), &mut codes)
            .map_err(|e| Error::Invalid(format!("tensor `{}`: {e}", t.name)))?;

        let ranges = channel_ranges(&x);
        let params: Vec<QParams> = ranges
            .iter()
            .map(|&(lo, hi)| self.params_for_range(lo, hi))
            .collect();

        if inner == 1 && channels > 1 {
            // Channels along the last axis: each row holds one value of every channel.
            for (row_x, mut row_q) in x.outer_iter().zip(q.outer_iter_mut()) {
                let src = row_x.as_slice().expect("C-order row");
                let dst = row_q.as_slice_mut().expect("C-order row");
                kernels::quantize_i8_lanes(src, &params, dst);
            }
        } else {
            for (slab_x, mut slab_q) in x.outer_iter().zip(q.outer_iter_mut()) {
                for (c, p) in params.iter().enumerate() {
                    let src = slab_x.index_axis(Axis(0), c);
                    let mut dst = slab_q.index_axis_mut(Axis(0), c);
                    kernels::quantize_i8(
                        src.as_slice().expect("C-order lane"),
                        *p,
                        dst.as_slice_mut().expect("C-order lane"),
                    );
                }
            }
        }
        Ok(QuantizedLinear {
            scheme: *self,
            shape: t.shape.clone(),
            axis,
            codes,
            params,
        })
    }
}

/// (outer, channels, inner) sizes around `axis`, so the tensor is a 3-D C-order block.
fn split_at_axis(t: &Tensor, axis: usize) -> Result<(usize, usize, usize)> {
    if axis >= t.shape.len() {
        return Err(Error::BadAxis {
            name: t.name.clone(),
            axis,
            shape: t.shape.clone(),
        });
    }
    let outer = t.shape[..axis].iter().product();
    let inner = t.shape[axis + 1..].iter().product();
    Ok((outer, t.shape[axis], inner))
}

/// min and max of every channel (the middle axis).
fn channel_ranges(x: &ArrayView3<f32>) -> Vec<(f32, f32)> {
    let (_, channels, inner) = x.dim();
    let mut ranges = vec![(f32::INFINITY, f32::NEG_INFINITY); channels];
    for slab in x.outer_iter() {
        if inner == 1 && channels > 1 {
            let row = slab.as_slice().expect("C-order row");
            for (r, &v) in ranges.iter_mut().zip(row) {
                r.0 = r.0.min(v);
                r.1 = r.1.max(v);
            }
        } else {
            for (c, r) in ranges.iter_mut().enumerate() {
                let lane = slab.index_axis(Axis(0), c);
                let (lo, hi, _) = kernels::min_max(lane.as_slice().expect("C-order lane"));
                r.0 = r.0.min(lo);
                r.1 = r.1.max(hi);
            }
        }
    }
    ranges
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

/// Codes of one tensor plus the parameters to map them back.
#[derive(Clone, Debug)]
pub struct QuantizedLinear {
    pub scheme: LinearScheme,
    pub shape: Vec<usize>,
    /// The channel axis, or None for one set of parameters for the whole tensor.
    pub axis: Option<usize>,
    /// One code per element, C order, unpacked (one i8 each).
    pub codes: Vec<i8>,
    /// One entry per channel (or exactly one).
    pub params: Vec<QParams>,
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
        let params = match self.axis {
            None => "one scale for the tensor".to_string(),
            Some(a) => format!("{} scales along axis {a}", self.params.len()),
        };
        format!("{}-bit codes {qmin}..{qmax}, {params}", self.scheme.bits)
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
    /// The widest channel's grid: the one whose steps are coarsest.
    fn grid(&self) -> Grid {
        let widest = self
            .params
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.scale.total_cmp(&b.1.scale))
            .map(|(i, _)| i);
        // A tensor with a zero-length channel axis has no parameters and so no grid.
        let levels = widest
            .map(|w| {
                let p = self.params[w];
                (p.qmin..=p.qmax)
                    .map(|c| (c - p.zero_point) as f32 * p.scale)
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

    pub fn dequantize(&self) -> Vec<f32> {
        let n = self.codes.len();
        let mut out = vec![0f32; n];
        let channels = self.params.len();
        if n == 0 {
            return out;
        }
        let inner: usize = match self.axis {
            None => n,
            Some(a) => self.shape[a + 1..].iter().product(),
        };
        if channels == 1 {
            kernels::dequantize_i8(&self.codes, self.params[0], &mut out);
        } else if inner == 1 {
            for (q, o) in self.codes.chunks(channels).zip(out.chunks_mut(channels)) {
                kernels::dequantize_i8_lanes(q, &self.params, o);
            }
        } else {
            let block = channels * inner;
            for (q, o) in self.codes.chunks(block).zip(out.chunks_mut(block)) {
                for (c, p) in self.params.iter().enumerate() {
                    let r = c * inner..(c + 1) * inner;
                    kernels::dequantize_i8(&q[r.clone()], *p, &mut o[r]);
                }
            }
        }
        out
    }

    /// Bytes to store the codes packed at their bit width plus one f32 scale and, for
    /// affine schemes, one zero point (at code width, rounded up to a byte) per channel.
    pub fn packed_bytes(&self) -> usize {
        let codes = (self.codes.len() * self.scheme.bits as usize).div_ceil(8);
        let per_param = 4 + if self.scheme.symmetric { 0 } else { 1 };
        codes + self.params.len() * per_param
    }
}
