//! The data of a linear scheme: its width, symmetry, granularity, range estimator,
//! rounding and tool convention, and the parameters of one slot. Plain types that the
//! grammar, the tool conventions and the quantizer all read; this file computes nothing
//! that depends on a tool.

use serde::{Deserialize, Serialize};

use crate::kernels::QParams;
use crate::quant::range::RangeMethod;
use crate::quant::rounding::Rounding;

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

/// Whose formulas a linear scheme follows: plain (ONNX Runtime's, generalised to every
/// width) or a tool's exactly (quant/convention/, one file per tool).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    /// No prefix: ONNX Runtime's formulas generalised to every width (the symmetric range
    /// is ±(2^(b-1) - 1) for every signed width).
    #[default]
    Plain,
    Ort,
    Torch,
    Tflite,
    Tfjs,
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

    /// The scheme this one applies to a tensor of `shape`, and a note when it differs.
    /// Per channel on a 1-D tensor would give every element its own scale (parameters
    /// 5 to 60 times the codes, and an error of nearly zero that says nothing about the
    /// scheme); no tool does that to a bias or a norm's scale: PyTorch keeps biases in
    /// float, ONNX Runtime and TFLite quantize a bias with input scale x weight scale
    /// rather than its own range, and ONNX Runtime's quantizer falls back to per tensor
    /// (with a warning) when a per-channel axis does not fit the weight. So such a
    /// tensor is quantized per tensor, and the note says so; the writers keep 1-D
    /// tensors in float (docs/EXPORT.md), so no path stores per-element scales.
    pub fn for_shape(&self, shape: &[usize]) -> (LinearScheme, Option<String>) {
        match self.granularity {
            Granularity::PerChannel { axis } if shape.len() == 1 && axis == 0 => {
                let mut per_tensor = *self;
                per_tensor.granularity = Granularity::PerTensor;
                (
                    per_tensor,
                    Some(format!(
                        "1-D tensor: per channel would give each of its {} elements its own scale; quantized per tensor instead ({per_tensor})",
                        shape[0]
                    )),
                )
            }
            _ => (*self, None),
        }
    }

    /// The full code range of the storage type: [-2^(b-1), 2^(b-1) - 1] or [0, 2^b - 1].
    pub fn full_range(&self) -> (i32, i32) {
        let b = self.bits as u32;
        if self.signed {
            (-(1i32 << (b - 1)), (1i32 << (b - 1)) - 1)
        } else {
            (0, ((1i64 << b) - 1) as i32)
        }
    }
}

/// Parameters of one slot (tensor, channel or group), as its convention computed them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub q: QParams,
    /// The multiplier PyTorch and TFLite quantize with instead of dividing.
    pub inv: f32,
    /// TF.js's (scale, nudged min, nudged max), in f64 as it computes them.
    pub tfjs: (f64, f64, f64),
}

impl Slot {
    /// A slot whose codes are x / scale + zero point, clamped to [qmin, qmax].
    pub fn plain(scale: f32, zero_point: i32, (qmin, qmax): (i32, i32)) -> Slot {
        Slot {
            q: QParams {
                scale,
                zero_point,
                qmin,
                qmax,
            },
            inv: 0.0,
            tfjs: (0.0, 0.0, 0.0),
        }
    }
}
