//! [`QuantizedLinear`]: a tensor's packed codes and the parameters that map them back,
//! with dequantization on the int8 kernels; and the byte views the quantizer shares.

use std::mem::MaybeUninit;

use super::layout::{Layout, Piece};
use super::spec::{Granularity, LinearScheme, Slot};
use crate::kernels::{self, LaneParams, QParams};
use crate::quant::convention::{self, Convention};
use crate::quant::encoded::{Encoded, Grid};
use crate::quant::pack;
use crate::quant::range::RangeMethod;
use crate::quant::rounding::Rounding;
use crate::tensor::{DType, Tensor};

impl LinearScheme {
    /// uint8 codes are kept as `code - 128` in i8 for the kernels; every other width of 8
    /// bits or fewer fits an i8 as it is.
    pub(super) fn offset(&self) -> i32 {
        if !self.signed && self.bits == 8 {
            128
        } else {
            0
        }
    }

    #[inline]
    pub(super) fn decode(&self, q: i32, s: &Slot) -> f32 {
        convention::decode(self, q, s)
    }
}

/// Kernel parameters for codes stored `off` below their value.
pub(super) fn shifted(p: QParams, off: i32) -> QParams {
    QParams {
        scale: p.scale,
        zero_point: p.zero_point - off,
        qmin: p.qmin - off,
        qmax: p.qmax - off,
    }
}

pub(super) fn as_i8_mut(b: &mut [u8]) -> &mut [i8] {
    // SAFETY: i8 and u8 have the same size, alignment and validity (every bit pattern).
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut i8, b.len()) }
}

pub(super) fn as_i8_uninit(b: &mut [MaybeUninit<u8>]) -> &mut [MaybeUninit<i8>] {
    // SAFETY: as in as_i8_mut; MaybeUninit<T> has T's layout.
    unsafe { std::slice::from_raw_parts_mut(b.as_mut_ptr() as *mut MaybeUninit<i8>, b.len()) }
}

pub(super) fn as_i8(b: &[u8]) -> &[i8] {
    // SAFETY: as in as_i8_mut.
    unsafe { std::slice::from_raw_parts(b.as_ptr() as *const i8, b.len()) }
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
    /// The codes at their bit width (see [`crate::quant::pack`] for the layout).
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
        let (qmin, qmax) = convention::qrange(&self.scheme);
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
            dtype: DType::F32,
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
