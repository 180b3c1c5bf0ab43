//! Activation quantization for the full runs: one scale and zero point per activation
//! tensor, from the float run's values by the scheme's range estimator (min-max,
//! percentile, entropy, MSE: quant/range.rs), as ONNX Runtime's static QDQ quantizer
//! calibrates (per tensor, `compute_scale_zp`).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::quant::{Granularity, LinearScheme, Scheme};
use crate::tensor::{DType, Tensor};

/// How one activation tensor is quantized.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts-types", ts(rename = "GraphActQuant"))]
pub struct ActQuant {
    /// The ONNX value quantized (an input of a weight op).
    pub value: String,
    pub scale: f32,
    pub zero_point: i32,
    pub qmin: i32,
    pub qmax: i32,
    /// The range the estimator chose, before widening to include zero.
    pub range: (f32, f32),
}

/// The activation scheme of `--act`: a per-tensor linear scheme of 8 bits (ONNX Runtime's
/// static QDQ quantizes activations to int8 or uint8, one scale per tensor).
pub fn activation_scheme(s: &str) -> Result<LinearScheme> {
    let scheme: Scheme = s.parse()?;
    let bad = |reason: &str| Error::BadScheme {
        spec: s.to_string(),
        reason: reason.to_string(),
    };
    match scheme {
        Scheme::Linear(l) if l.granularity == Granularity::PerTensor && l.bits == 8 => Ok(l),
        Scheme::Linear(_) => Err(bad(
            "activations take one 8-bit scale per tensor (int8 or uint8, as ONNX Runtime's static QDQ): e.g. ort-uint8-asym, ort-int8-sym-pct99.999",
        )),
        _ => Err(bad("activations take a linear 8-bit scheme, e.g. ort-uint8-asym")),
    }
}

/// Scale and zero point of `value`'s float values under `l`.
pub fn calibrate(l: &LinearScheme, value: &str, data: &[f32]) -> Result<ActQuant> {
    let t = Tensor {
        name: value.to_string(),
        shape: vec![data.len()],
        dtype: DType::F32,
        data: data.to_vec(),
    };
    let q = l.quantize(&t)?;
    let p = q
        .params
        .first()
        .copied()
        .ok_or_else(|| Error::Graph(format!("activation `{value}`: no parameters")))?;
    Ok(ActQuant {
        value: value.to_string(),
        scale: p.scale,
        zero_point: p.zero_point,
        qmin: p.qmin,
        qmax: p.qmax,
        range: q.ranges.first().copied().unwrap_or((0.0, 0.0)),
    })
}

/// QuantizeLinear then DequantizeLinear of one value, in f32 as ONNX Runtime computes
/// them: a true division by the scale, rounding half to even, clamping to the codes.
#[inline]
pub fn fake_quant_one(x: f32, scale: f32, zp: f32, qmin: f32, qmax: f32) -> f32 {
    let q = ((x / scale).round_ties_even() + zp).clamp(qmin, qmax);
    (q - zp) * scale
}

impl ActQuant {
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let (zp, lo, hi) = (self.zero_point as f32, self.qmin as f32, self.qmax as f32);
        x.iter()
            .map(|&v| fake_quant_one(v, self.scale, zp, lo, hi))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_quant_rounds_half_to_even_after_a_true_division() {
        // 0.5 and 1.5 steps round to 0 and 2 (half to even), then clamp to the codes.
        let s = 0.1f32;
        assert_eq!(fake_quant_one(0.05, s, 0.0, -128.0, 127.0), 0.0);
        assert_eq!(
            fake_quant_one(0.15, s, 0.0, -128.0, 127.0),
            (0.15f32 / s).round_ties_even() * s
        );
        assert_eq!(fake_quant_one(100.0, s, 0.0, -128.0, 127.0), 127.0 * s);
        assert_eq!(
            fake_quant_one(-100.0, s, 10.0, 0.0, 255.0),
            (0.0 - 10.0) * s
        );
        // x = 1.55 - 1 ulp (bits 0x3FC6_6666) over 0.1: x / s rounds to 15 (numpy, ORT),
        // x * (1 / s) to 16 (found by scanning with numpy float32).
        let x = f32::from_bits(1_069_966_950);
        assert_eq!((x * (1.0 / s)).round_ties_even(), 16.0);
        assert_eq!(fake_quant_one(x, s, 0.0, -128.0, 127.0), 15.0 * s);
    }

    #[test]
    fn activation_schemes_are_8_bit_per_tensor() {
        assert!(activation_scheme("ort-uint8-asym").is_ok());
        assert!(activation_scheme("ort-int8-sym-pct99.99").is_ok());
        for bad in ["int8-sym-ch0", "int4-asym", "nf4"] {
            assert!(activation_scheme(bad).is_err(), "{bad}");
        }
        let l = activation_scheme("ort-uint8-asym").unwrap();
        let q = calibrate(&l, "a", &[-1.0, 0.5, 3.0]).unwrap();
        // ORT: the range widened to hold 0, scale = (max - min) / 255, zp = round(-min / scale).
        assert_eq!((q.qmin, q.qmax), (0, 255));
        assert!((q.scale - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(q.zero_point, (1.0f32 / q.scale).round_ties_even() as i32);
        let y = q.apply(&[-1.0, 0.5, 3.0]);
        assert!(y
            .iter()
            .zip([-1.0f32, 0.5, 3.0])
            .all(|(a, b)| (a - b).abs() <= q.scale / 2.0 + 1e-6));
    }
}
