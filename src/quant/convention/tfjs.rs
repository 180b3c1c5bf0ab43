//! `tfjs-`: tensorflowjs/quantization.py `quantize_weights` (uint8 / uint16, one scale
//! for the tensor, in f64: scale = (max - min) / qmax, min nudged so that 0 is a code
//! when the range spans it, q = round((clip(x, min, max) - min) / scale), x = q * scale + min).

use super::rules::{fixed_rounding, minmax_only};
use crate::quant::linear::spec::{Granularity, LinearScheme, Slot};

const TOOL: &str = "TF.js";

pub(crate) fn validate(s: &LinearScheme) -> Result<(), String> {
    if s.signed || s.symmetric || !(s.bits == 8 || s.bits == 16) {
        return Err(
            "TF.js quantizes weights to affine uint8 or uint16: tfjs-uint8, tfjs-uint16".into(),
        );
    }
    if s.granularity != Granularity::PerTensor {
        return Err("TF.js uses one scale per tensor".into());
    }
    fixed_rounding(s, TOOL)?;
    minmax_only(s, TOOL)
}

pub(crate) fn slot(s: &LinearScheme, rmin: f32, rmax: f32) -> Slot {
    let qrange = s.full_range();
    let (lo, hi) = (rmin as f64, rmax as f64);
    let qm = qrange.1 as f64;
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
    let mut slot = Slot::plain(
        scale as f32,
        (-min / scale).round_ties_even() as i32,
        qrange,
    );
    slot.tfjs = (scale, min, max);
    slot
}

/// One code: round((clip(x, min, max) - min) / scale) in f64, clamped to [0, qmax].
#[inline]
pub(crate) fn code(x: f32, slot: &Slot) -> i32 {
    let (scale, min, max) = slot.tfjs;
    if min == max {
        return 0;
    }
    let q = (((x as f64).max(min).min(max) - min) / scale).round_ties_even();
    q.clamp(0.0, slot.q.qmax as f64) as i32
}

/// x = q * scale + min, in f64.
#[inline]
pub(crate) fn decode(q: i32, slot: &Slot) -> f32 {
    let (scale, min, _) = slot.tfjs;
    (q as f64 * scale + min) as f32
}
