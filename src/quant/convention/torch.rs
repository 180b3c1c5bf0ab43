//! `torch-`: torch/ao/quantization/observer.py `_calculate_qparams` (full code range,
//! f32 arithmetic, symmetric scale = absmax / ((qmax - qmin) / 2), so /127.5 for
//! qint8, scale at least f32 epsilon; affine zero point qmin - round(min / scale),
//! clamped; quint8 symmetric zero point 128) and ATen's `quantize_val`
//! (aten/src/ATen/native/quantized/AffineQuantizerBase.cpp: zp + nearbyint(x * (1/scale))).

use super::rules::{fixed_rounding, minmax_only};
use crate::quant::linear::spec::{LinearScheme, Slot};

const TOOL: &str = "PyTorch";

pub(crate) fn validate(s: &LinearScheme) -> Result<(), String> {
    fixed_rounding(s, TOOL)?;
    minmax_only(s, TOOL)
}

pub(crate) fn slot(s: &LinearScheme, rmin: f32, rmax: f32) -> Slot {
    let (qmin, qmax) = s.full_range();
    let min_neg = rmin.min(0.0);
    let max_pos = rmax.max(0.0);
    let (scale, zero_point) = if s.symmetric {
        let absmax = (-min_neg).max(max_pos);
        let scale = (absmax / ((qmax - qmin) as f32 / 2.0)).max(f32::EPSILON);
        let zp = match (s.signed, s.bits) {
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
    let mut slot = Slot::plain(scale, zero_point, (qmin, qmax));
    slot.inv = 1.0 / scale;
    slot
}

/// `quantize_val` before the zero point and clamp: nearbyint(x * inv_scale).
#[inline]
pub(crate) fn round(x: f32, slot: &Slot) -> f32 {
    (x * slot.inv).round_ties_even()
}
