//! `tflite-`: the TFLite converter's dynamic-range weight quantization (TensorFlow
//! 2.18, held to it by tests/linear_reference.rs): scale = max(max|x|, 5e-7) / 127, q =
//! round-half-away(x * (127 / max(max|x|, 5e-7))) clamped to [-127, 127], per tensor or
//! per output channel (other axes apply the same rule). The older
//! tensorflow/lite/tools/optimize/quantization_utils.cc differs only for zero ranges
//! (scale 0 per channel, 1 per tensor).

use super::rules::{fixed_rounding, minmax_only};
use crate::quant::linear::spec::{Granularity, LinearScheme, Slot};

const TOOL: &str = "TFLite";

/// The smallest half-range TFLite's converter quantizes weights over: below it, the
/// scale is 5e-7 / 127 whatever the values (measured with TensorFlow 2.18).
const MIN_HALF_RANGE: f32 = 5e-7;

/// Symmetric int8 weights use [-127, 127].
pub(crate) const QRANGE: (i32, i32) = (-127, 127);

pub(crate) fn validate(s: &LinearScheme) -> Result<(), String> {
    if s.bits != 8 || !s.signed || !s.symmetric {
        return Err("TFLite weights are symmetric int8: tflite-int8[-ch<axis>]".into());
    }
    if matches!(s.granularity, Granularity::PerGroup { .. }) {
        return Err("TFLite quantizes weights per tensor or per channel, not per group".into());
    }
    fixed_rounding(s, TOOL)?;
    minmax_only(s, TOOL)
}

pub(crate) fn slot(rmin: f32, rmax: f32) -> Slot {
    // The converter never quantizes over less than ±5e-7: a zero or nearly zero channel
    // or tensor gets scale 5e-7 / 127 (measured with TensorFlow 2.18's converter;
    // tests/fixtures/linear/tiny.npy holds the cases).
    let half_range = rmin.abs().max(rmax.abs()).max(MIN_HALF_RANGE);
    let mut slot = Slot::plain(half_range / 127.0, 0, QRANGE);
    slot.inv = 127.0 / half_range;
    slot
}

/// Round half away from zero of x * (127 / half range).
#[inline]
pub(crate) fn round(x: f32, slot: &Slot) -> f32 {
    (x * slot.inv).round()
}
