//! Convention presets: the linear grammar behind a tool prefix (`ort-`, `torch-`,
//! `tflite-`, `tfjs-`), each computing parameters and codes exactly as that tool does.
//!
//! - `ort-`: onnxruntime.quantization.quant_utils (`get_qmin_qmax_for_qType`,
//!   `compute_scale_zp`, `compute_scale_zp_blocked`, `quantize_nparray`): 4, 8 or 16 bits;
//!   the restricted symmetric range only for int8 and int16 (int4 symmetric keeps
//!   [-8, 7], scale = absmax / 7.5); `reduced` is `reduce_range`; per-group zero points
//!   come from the stored f32 scale and are clipped.
//! - `torch-`: torch/ao/quantization/observer.py `_calculate_qparams` (full code range,
//!   f32 arithmetic, symmetric scale = absmax / ((qmax - qmin) / 2), so /127.5 for
//!   qint8, scale at least f32 epsilon; affine zero point qmin - round(min / scale),
//!   clamped; quint8 symmetric zero point 128) and ATen's `quantize_val`
//!   (aten/src/ATen/native/quantized/AffineQuantizerBase.cpp: zp + nearbyint(x * (1/scale))).
//! - `tflite-`: the TFLite converter's dynamic-range weight quantization (TensorFlow
//!   2.18, held to it by tests/linear_reference.rs): scale = max(max|x|, 5e-7) / 127, q =
//!   round-half-away(x * (127 / max(max|x|, 5e-7))) clamped to [-127, 127], per tensor or
//!   per output channel (other axes apply the same rule). The older
//!   tensorflow/lite/tools/optimize/quantization_utils.cc differs only for zero ranges
//!   (scale 0 per channel, 1 per tensor).
//! - `tfjs-`: tensorflowjs/quantization.py `quantize_weights` (uint8 / uint16, one scale
//!   for the tensor, in f64: scale = (max - min) / qmax, min nudged so that 0 is a code
//!   when the range spans it, q = round((clip(x, min, max) - min) / scale), x = q * scale + min).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::linear::{Granularity, LinearScheme};
use super::range::RangeMethod;
use super::rounding::Rounding;

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

impl Convention {
    pub fn prefix(self) -> &'static str {
        match self {
            Convention::Plain => "",
            Convention::Ort => "ort-",
            Convention::Torch => "torch-",
            Convention::Tflite => "tflite-",
            Convention::Tfjs => "tfjs-",
        }
    }

    /// Splits a tool prefix off a scheme string.
    pub fn strip(s: &str) -> (Convention, &str) {
        for c in [
            Convention::Ort,
            Convention::Torch,
            Convention::Tflite,
            Convention::Tfjs,
        ] {
            if let Some(rest) = s.strip_prefix(c.prefix()) {
                return (c, rest);
            }
        }
        (Convention::Plain, s)
    }

    /// Whether `sym`/`asym` is written in the canonical string (the tools with only one
    /// choice leave it out: `tflite-int8-ch0`, `tfjs-uint8`).
    pub fn writes_symmetry(self) -> bool {
        !matches!(self, Convention::Tflite | Convention::Tfjs)
    }

    /// Symmetry when the string leaves it out.
    pub fn default_symmetric(self) -> bool {
        !matches!(self, Convention::Tfjs)
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix().trim_end_matches('-'))
    }
}

/// Checks that a parsed scheme is one the convention's tool can produce.
pub fn validate(s: &LinearScheme) -> Result<(), String> {
    let c = s.convention;
    let name = match c {
        Convention::Plain => "",
        Convention::Ort => "ONNX Runtime",
        Convention::Torch => "PyTorch",
        Convention::Tflite => "TFLite",
        Convention::Tfjs => "TF.js",
    };
    if !(2..=8).contains(&s.bits) && s.bits != 16 {
        return Err("bits must be between 2 and 8, or 16".into());
    }
    if s.reduce_range && c != Convention::Ort {
        return Err("`reduced` is ONNX Runtime's reduce_range: write ort-<scheme>-reduced".into());
    }
    let fixed_rounding = || -> Result<(), String> {
        if s.rounding != Rounding::HalfEven {
            return Err(format!(
                "{name} fixes its own rounding; `{}` applies to the plain linear schemes",
                s.rounding
            ));
        }
        Ok(())
    };
    let minmax_only = || -> Result<(), String> {
        if s.range != RangeMethod::MinMax {
            return Err(format!(
                "the {name} preset takes the min-max range; `{}` applies to plain and ort- schemes",
                s.range
            ));
        }
        Ok(())
    };
    match c {
        Convention::Plain => Ok(()),
        Convention::Ort => {
            if ![4, 8, 16].contains(&s.bits) {
                return Err(format!(
                    "ONNX Runtime quantizes to 4, 8 or 16 bits, not {}",
                    s.bits
                ));
            }
            if s.range == RangeMethod::Mse {
                return Err("ONNX Runtime has no MSE calibrator: use mse without ort-".into());
            }
            if s.reduce_range && matches!(s.granularity, Granularity::PerGroup { .. }) {
                return Err("ONNX Runtime's blocked quantization ignores reduce_range".into());
            }
            fixed_rounding()
        }
        Convention::Torch => {
            fixed_rounding()?;
            minmax_only()
        }
        Convention::Tflite => {
            if s.bits != 8 || !s.signed || !s.symmetric {
                return Err("TFLite weights are symmetric int8: tflite-int8[-ch<axis>]".into());
            }
            if matches!(s.granularity, Granularity::PerGroup { .. }) {
                return Err(
                    "TFLite quantizes weights per tensor or per channel, not per group".into(),
                );
            }
            fixed_rounding()?;
            minmax_only()
        }
        Convention::Tfjs => {
            if s.signed || s.symmetric || !(s.bits == 8 || s.bits == 16) {
                return Err(
                    "TF.js quantizes weights to affine uint8 or uint16: tfjs-uint8, tfjs-uint16"
                        .into(),
                );
            }
            if s.granularity != Granularity::PerTensor {
                return Err("TF.js uses one scale per tensor".into());
            }
            fixed_rounding()?;
            minmax_only()
        }
    }
}

/// The integer code range of a scheme under its convention.
pub fn qrange(s: &LinearScheme) -> (i32, i32) {
    let b = s.bits as u32;
    let full = if s.signed {
        (-(1i32 << (b - 1)), (1i32 << (b - 1)) - 1)
    } else {
        (0, ((1i64 << b) - 1) as i32)
    };
    match s.convention {
        Convention::Plain if s.signed && s.symmetric => (-full.1, full.1),
        Convention::Plain | Convention::Torch | Convention::Tfjs => full,
        Convention::Tflite => (-127, 127),
        Convention::Ort => {
            if s.reduce_range {
                // ONNX_INT_TYPE_REDUCED_RANGE: signed [-2^(b-2), 2^(b-2)] except int4
                // [-4, 3]; unsigned [0, 2^(b-1) - 1].
                if s.signed {
                    let q = 1i32 << (b - 2);
                    if b == 4 {
                        (-q, q - 1)
                    } else {
                        (-q, q)
                    }
                } else {
                    (0, (1i32 << (b - 1)) - 1)
                }
            } else if s.signed && s.symmetric && b != 4 {
                (-full.1, full.1)
            } else {
                full
            }
        }
    }
}

/// Parses `<tool>-<linear string>`; None when the string has no tool prefix.
pub fn parse(s: &str) -> Option<Result<LinearScheme, String>> {
    let (c, rest) = Convention::strip(s);
    if c == Convention::Plain {
        return None;
    }
    Some(super::linear::parse_with(c, rest))
}

/// The range codes are clamped to when quantizing. ONNX Runtime's `quantize_nparray`
/// clips to the storage type's full range even where the parameters used a narrower one
/// (symmetric int8 [-127, 127], reduce_range): with a calibrated range that cuts values
/// off, a symmetric int8 code can be -128 there. Everyone else clamps to [`qrange`].
pub fn clip_range(s: &LinearScheme) -> (i32, i32) {
    if s.convention == Convention::Ort {
        let mut full = *s;
        full.convention = Convention::Torch; // the full range of the type
        qrange(&full)
    } else {
        qrange(s)
    }
}
