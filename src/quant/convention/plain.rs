//! No prefix: ONNX Runtime's `compute_scale_zp` generalised to every width from 2 to 8
//! bits and 16: the range widened to include zero, the scale in f64 stored as f32 (a
//! scale below the smallest normal f32 becomes 1 with zero point 0), signed symmetric
//! codes ±(2^(b-1) - 1) (so int8 divides by 127), affine signed codes [-2^(b-1),
//! 2^(b-1) - 1], unsigned codes [0, 2^b - 1] (symmetric: zero point round((qmin +
//! qmax) / 2)), and q = clamp(round(x / scale) + zp), with any range estimator and
//! rounding mode.

use super::ort::compute_scale_zp;
use crate::quant::linear::spec::{LinearScheme, Slot};

pub(crate) fn qrange(s: &LinearScheme) -> (i32, i32) {
    let full = s.full_range();
    if s.signed && s.symmetric {
        (-full.1, full.1)
    } else {
        full
    }
}

pub(crate) fn slot(s: &LinearScheme, rmin: f32, rmax: f32) -> Slot {
    let (qmin, qmax) = qrange(s);
    let (scale, zp) = compute_scale_zp(rmin, rmax, qmin, qmax, s.symmetric);
    Slot::plain(scale, zp, (qmin, qmax))
}
