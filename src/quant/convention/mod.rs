//! Tool conventions of the linear family, one file per tool, each computing parameters
//! and codes exactly as that tool does: [`plain`] (no prefix: ONNX Runtime's formulas
//! generalised), [`ort`] (`ort-`), [`torch`] (`torch-`), [`tflite`] (`tflite-`),
//! [`tfjs`] (`tfjs-`). This file names the prefixes and sends each question to the
//! scheme's tool.

pub mod ort;
pub mod plain;
mod rules;
pub mod tfjs;
pub mod tflite;
pub mod torch;

use std::fmt;

pub use crate::quant::linear::spec::Convention;
use crate::quant::linear::spec::{LinearScheme, Slot};

impl Convention {
    pub const TOOLS: [Convention; 4] = [
        Convention::Ort,
        Convention::Torch,
        Convention::Tflite,
        Convention::Tfjs,
    ];

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
        for c in Self::TOOLS {
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

/// Checks that a scheme is one its convention's tool can produce.
pub fn validate(s: &LinearScheme) -> Result<(), String> {
    if !(2..=8).contains(&s.bits) && s.bits != 16 {
        return Err("bits must be between 2 and 8, or 16".into());
    }
    if s.reduce_range && s.convention != Convention::Ort {
        return Err("`reduced` is ONNX Runtime's reduce_range: write ort-<scheme>-reduced".into());
    }
    match s.convention {
        Convention::Plain => Ok(()),
        Convention::Ort => ort::validate(s),
        Convention::Torch => torch::validate(s),
        Convention::Tflite => tflite::validate(s),
        Convention::Tfjs => tfjs::validate(s),
    }
}

/// The integer code range of a scheme under its convention.
pub fn qrange(s: &LinearScheme) -> (i32, i32) {
    match s.convention {
        Convention::Plain => plain::qrange(s),
        Convention::Ort => ort::qrange(s),
        Convention::Torch | Convention::Tfjs => s.full_range(),
        Convention::Tflite => tflite::QRANGE,
    }
}

/// The range codes are clamped to when quantizing: [`qrange`], except ONNX Runtime's
/// (see [`ort::clip_range`]).
pub fn clip_range(s: &LinearScheme) -> (i32, i32) {
    match s.convention {
        Convention::Ort => ort::clip_range(s),
        _ => qrange(s),
    }
}

/// The parameters of one slot whose values span [rmin, rmax], as the tool computes them.
pub(crate) fn slot(s: &LinearScheme, rmin: f32, rmax: f32) -> Slot {
    match s.convention {
        Convention::Plain => plain::slot(s, rmin, rmax),
        Convention::Ort => ort::slot(s, rmin, rmax),
        Convention::Torch => torch::slot(s, rmin, rmax),
        Convention::Tflite => tflite::slot(rmin, rmax),
        Convention::Tfjs => tfjs::slot(s, rmin, rmax),
    }
}

/// One code, by the tool's own arithmetic (the scalar path; the kernels compute the
/// same for the schemes that run on them). `index` seeds stochastic rounding.
#[inline]
pub(crate) fn code(s: &LinearScheme, x: f32, slot: &Slot, index: usize) -> i32 {
    let p = &slot.q;
    let lo = (p.qmin - p.zero_point) as f32;
    let hi = (p.qmax - p.zero_point) as f32;
    let r = match s.convention {
        Convention::Plain | Convention::Ort => s.rounding.round(x / p.scale, index),
        Convention::Torch => torch::round(x, slot),
        Convention::Tflite => tflite::round(x, slot),
        Convention::Tfjs => return tfjs::code(x, slot),
    };
    r.clamp(lo, hi) as i32 + p.zero_point
}

/// The value a code stands for.
#[inline]
pub(crate) fn decode(s: &LinearScheme, q: i32, slot: &Slot) -> f32 {
    if s.convention == Convention::Tfjs {
        return tfjs::decode(q, slot);
    }
    (q - slot.q.zero_point) as f32 * slot.q.scale
}
