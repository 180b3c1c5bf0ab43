//! `ort-`: onnxruntime.quantization.quant_utils (`get_qmin_qmax_for_qType`,
//! `compute_scale_zp`, `compute_scale_zp_blocked`, `quantize_nparray`): 4, 8 or 16 bits;
//! the restricted symmetric range only for int8 and int16 (int4 symmetric keeps
//! [-8, 7], scale = absmax / 7.5); `reduced` is `reduce_range`; per-group zero points
//! come from the stored f32 scale and are clipped.
//!
//! [`compute_scale_zp`] is also the plain schemes' formula and the GEMM's activation
//! quantization (kernels/gemm): the one home of ONNX Runtime's scale and zero point.

use super::rules::fixed_rounding;
use crate::kernels::QParams;
use crate::quant::linear::spec::{Granularity, LinearScheme, Slot};
use crate::quant::range::RangeMethod;

const TOOL: &str = "ONNX Runtime";

/// ONNX Runtime's `compute_scale_zp` for f32 values in [rmin, rmax] and codes in
/// [qmin, qmax]: the range widened to include zero (and made ±absmax when symmetric),
/// scale = (rmax - rmin) / (qmax - qmin) in f64, stored as f32; a scale below f32's
/// smallest normal, compared in f64 as ORT does for f32 data (`scale < finfo.tiny`),
/// becomes 1 with zero point 0. Zero point round((qmin + qmax) / 2) when symmetric,
/// else round(qmin - rmin / scale), half to even.
pub fn compute_scale_zp(rmin: f32, rmax: f32, qmin: i32, qmax: i32, symmetric: bool) -> (f32, i32) {
    let (rmin, rmax) = widen(rmin, rmax, symmetric);
    // Widen before subtracting, as compute_scale_zp does: a finite f32 range can
    // overflow f32 when subtracted.
    let scale = (rmax as f64 - rmin as f64) / (qmax - qmin) as f64;
    if scale.is_nan() || scale < f32::MIN_POSITIVE as f64 {
        return (1.0, 0);
    }
    let zero_point = if symmetric {
        ((qmin + qmax) as f64 / 2.0).round_ties_even()
    } else {
        (qmin as f64 - rmin as f64 / scale).round_ties_even()
    } as i32;
    (scale as f32, zero_point)
}

/// [`compute_scale_zp`] as kernel parameters, clamping codes to [qmin, qmax].
pub fn qparams(rmin: f32, rmax: f32, qmin: i32, qmax: i32, symmetric: bool) -> QParams {
    let (scale, zero_point) = compute_scale_zp(rmin, rmax, qmin, qmax, symmetric);
    QParams {
        scale,
        zero_point,
        qmin,
        qmax,
    }
}

/// ONNX Runtime's `compute_scale_zp_blocked` (per-group weights): the range subtracted
/// in f32 and widened after, the f32 scale compared with the smallest normal, and the
/// zero point computed from the stored f32 scale and clipped to [qmin, qmax].
pub fn compute_scale_zp_blocked(
    rmin: f32,
    rmax: f32,
    qmin: i32,
    qmax: i32,
    symmetric: bool,
) -> (f32, i32) {
    let (rmin, rmax) = widen(rmin, rmax, symmetric);
    let scale = (rmax - rmin) as f64 / (qmax - qmin) as f64;
    if scale.is_nan() || (scale as f32) < f32::MIN_POSITIVE {
        return (1.0, 0);
    }
    let zero_point = if symmetric {
        ((qmin + qmax) as f64 / 2.0).round_ties_even()
    } else {
        (qmin as f64 - rmin as f64 / (scale as f32) as f64)
            .round_ties_even()
            .clamp(qmin as f64, qmax as f64)
    } as i32;
    (scale as f32, zero_point)
}

/// The range widened to include zero, and made ±absmax when symmetric.
fn widen(rmin: f32, rmax: f32, symmetric: bool) -> (f32, f32) {
    let (rmin, rmax) = (rmin.min(0.0), rmax.max(0.0));
    if symmetric {
        let absmax = rmin.abs().max(rmax.abs());
        (-absmax, absmax)
    } else {
        (rmin, rmax)
    }
}

/// `get_qmin_qmax_for_qType`, with `reduce_range` (ONNX_INT_TYPE_REDUCED_RANGE: signed
/// [-2^(b-2), 2^(b-2)] except int4 [-4, 3]; unsigned [0, 2^(b-1) - 1]).
pub(crate) fn qrange(s: &LinearScheme) -> (i32, i32) {
    let b = s.bits as u32;
    let full = s.full_range();
    if s.reduce_range {
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

/// The range codes are clamped to: `quantize_nparray` clips to the storage type's full
/// range even where the parameters used a narrower one (symmetric int8 [-127, 127],
/// reduce_range), so with a calibrated range that cuts values off a symmetric int8
/// code can be -128.
pub(crate) fn clip_range(s: &LinearScheme) -> (i32, i32) {
    s.full_range()
}

pub(crate) fn validate(s: &LinearScheme) -> Result<(), String> {
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
    fixed_rounding(s, TOOL)
}

/// The parameters of a slot over [rmin, rmax]: per-group schemes by the blocked formula.
pub(crate) fn slot(s: &LinearScheme, rmin: f32, rmax: f32) -> Slot {
    let (qmin, qmax) = qrange(s);
    let (scale, zp) = if matches!(s.granularity, Granularity::PerGroup { .. }) {
        compute_scale_zp_blocked(rmin, rmax, qmin, qmax, s.symmetric)
    } else {
        compute_scale_zp(rmin, rmax, qmin, qmax, s.symmetric)
    };
    Slot::plain(scale, zp, clip_range(s))
}
