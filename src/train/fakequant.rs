//! Fake quantization (quantize, then dequantize, in f32) and its gradients, with
//! PyTorch's arithmetic: the forward and the clipped straight-through estimator of
//! `torch.fake_quantize_per_tensor_affine` / `_per_channel_affine` (what
//! `torch.ao.quantization.FakeQuantize` calls), and the learned-step-size (LSQ) gradients
//! of `torch._fake_quantize_learnable_per_*_affine` (what `_LearnableFakeQuantize` calls).
//!
//! The scale and zero point come from the catalogue's `torch-` linear schemes
//! ([`crate::quant::LinearScheme::params_for_range`], PyTorch's `_calculate_qparams`), and a
//! code is the `torch-` convention's: zp + nearbyint(x * (1 / scale)), clamped. Written by
//! hand because these few lines are the product (the tools' exact rounding), not
//! something candle offers. Plain slices in and out: `ops.rs` wraps them for autodiff.

use crate::quant::{Granularity, LinearScheme};

/// Parameters of one fake-quantizer: a scale and an integer zero point per slot (one slot
/// per tensor, or per index along `axis`), and the code range.
#[derive(Clone, Debug, PartialEq)]
pub struct FqParams {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i32>,
    pub qmin: i32,
    pub qmax: i32,
    /// None: one slot for the whole tensor.
    pub axis: Option<usize>,
}

impl FqParams {
    /// One scale and zero point for the whole tensor.
    pub fn per_tensor(scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> FqParams {
        FqParams {
            scale: vec![scale],
            zero_point: vec![zero_point],
            qmin,
            qmax,
            axis: None,
        }
    }

    /// The parameters the catalogue's `scheme` gives values spanning `ranges` (one
    /// (min, max) per slot): the same scale and zero point its PTQ path and the export
    /// writers compute.
    pub fn from_ranges(scheme: &LinearScheme, ranges: &[(f32, f32)]) -> FqParams {
        let mut scale = Vec::with_capacity(ranges.len());
        let mut zero_point = Vec::with_capacity(ranges.len());
        let (mut qmin, mut qmax) = scheme.qrange();
        for &(lo, hi) in ranges {
            let p = scheme.params_for_range(lo, hi);
            scale.push(p.scale);
            zero_point.push(p.zero_point);
            (qmin, qmax) = (p.qmin, p.qmax);
        }
        let axis = match scheme.granularity {
            Granularity::PerChannel { axis } => Some(axis),
            _ => None,
        };
        FqParams {
            scale,
            zero_point,
            qmin,
            qmax,
            axis,
        }
    }
}

/// How elements map to slots: element i uses slot (i / inner) % dim.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slots {
    inner: usize,
    dim: usize,
}

impl Slots {
    pub(crate) fn new(shape: &[usize], axis: Option<usize>, n_slots: usize) -> Slots {
        match axis {
            None => Slots {
                inner: shape.iter().product::<usize>().max(1),
                dim: 1,
            },
            Some(a) => {
                debug_assert_eq!(shape.get(a).copied(), Some(n_slots));
                Slots {
                    inner: shape[a + 1..].iter().product::<usize>().max(1),
                    dim: n_slots.max(1),
                }
            }
        }
    }

    #[inline]
    pub(crate) fn of(&self, i: usize) -> usize {
        (i / self.inner) % self.dim
    }
}

/// The integer PyTorch's kernels compute before clamping: zp + nearbyint(x * inv_scale),
/// as i64 (a value beyond i64 saturates; NaN becomes 0 here, where C++ is undefined).
#[inline]
fn unclamped_code(x: f32, inv_scale: f32, zero_point: i32) -> i64 {
    (zero_point as f32 + (x * inv_scale).round_ties_even()) as i64
}

/// Fake-quantized values and the straight-through mask (1 where the unclamped code lay in
/// [qmin, qmax], so the gradient passes; 0 where the value clipped).
pub fn forward(x: &[f32], shape: &[usize], p: &FqParams) -> (Vec<f32>, Vec<bool>) {
    let slots = Slots::new(shape, p.axis, p.scale.len());
    let inv: Vec<f32> = p.scale.iter().map(|s| 1.0 / s).collect();
    let (lo, hi) = (p.qmin as i64, p.qmax as i64);
    let mut y = Vec::with_capacity(x.len());
    let mut mask = Vec::with_capacity(x.len());
    for (i, &v) in x.iter().enumerate() {
        let c = slots.of(i);
        let zp = p.zero_point[c];
        let q = unclamped_code(v, inv[c], zp);
        mask.push(lo <= q && q <= hi);
        y.push((q.clamp(lo, hi) - zp as i64) as f32 * p.scale[c]);
    }
    (y, mask)
}

/// The clipped straight-through gradient: dy where the mask is set, else 0.
pub fn backward(dy: &[f32], mask: &[bool]) -> Vec<f32> {
    dy.iter()
        .zip(mask)
        // PyTorch multiplies by the mask: a negative gradient masked is -0.0.
        .map(|(&g, &m)| if m { g } else { g * 0.0 })
        .collect()
}

/// A learnable fake-quantizer's state: float scales and zero points, as the parameters of
/// `_LearnableFakeQuantize` are.
#[derive(Clone, Debug, PartialEq)]
pub struct Learnable {
    pub scale: Vec<f32>,
    pub zero_point: Vec<f32>,
    pub qmin: i32,
    pub qmax: i32,
    pub axis: Option<usize>,
    /// LSQ's gradient scale, 1 / sqrt(numel * qmax) with `use_grad_scaling`.
    pub grad_factor: f32,
}

/// Gradients of a learnable fake-quantizer.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnableGrads {
    pub x: Vec<f32>,
    pub scale: Vec<f32>,
    pub zero_point: Vec<f32>,
}

impl Learnable {
    /// The forward zero point: nearbyint, clamped (`_get_zero_point_from_tensor`, forward).
    fn forward_zero_point(&self, c: usize) -> i32 {
        self.zero_point[c]
            .round_ties_even()
            .clamp(self.qmin as f32, self.qmax as f32) as i32
    }

    /// The backward zero point: per tensor trunc(zp + 0.5) clamped
    /// (`_get_zero_point_from_tensor` with is_forward false), per channel the forward's
    /// (`_get_rounded_zero_point`). They differ only for a zero point ending in .5.
    fn backward_zero_point(&self, c: usize) -> i32 {
        if self.axis.is_some() {
            return self.forward_zero_point(c);
        }
        (self.zero_point[c] + 0.5).clamp(self.qmin as f32, self.qmax as f32) as i32
    }

    /// The fake-quantized values (PyTorch's fake_quantize with the rounded zero points).
    pub fn forward(&self, x: &[f32], shape: &[usize]) -> Vec<f32> {
        let p = FqParams {
            scale: self.scale.clone(),
            zero_point: (0..self.scale.len())
                .map(|c| self.forward_zero_point(c))
                .collect(),
            qmin: self.qmin,
            qmax: self.qmax,
            axis: self.axis,
        };
        forward(x, shape, &p).0
    }

    /// Gradients for x, the scales and the zero points, by PyTorch's CPU kernels
    /// (`fake_quantize_learnable_*_grad_kernel_cpu`): inside the range dx = dy and
    /// dscale = dy (x_fq - x) / scale; below or above it dx = 0, dscale = dy (qmin - zp) or
    /// dy (qmax - zp), dzp = -dy scale; dscale and dzp scaled by `grad_factor` and summed
    /// per slot (in f64 here; PyTorch sums in f32, within rounding of this).
    pub fn backward(&self, x: &[f32], shape: &[usize], dy: &[f32]) -> LearnableGrads {
        let slots = Slots::new(shape, self.axis, self.scale.len());
        let n = self.scale.len();
        let mut ds = vec![0f64; n];
        let mut dz = vec![0f64; n];
        let mut dx = Vec::with_capacity(x.len());
        let (qmin, qmax) = (self.qmin as i64, self.qmax as i64);
        let g = self.grad_factor;
        for (i, (&v, &d)) in x.iter().zip(dy).enumerate() {
            let c = slots.of(i);
            let scale = self.scale[c];
            let inv = 1.0 / scale;
            let zp = self.backward_zero_point(c);
            let xq = (zp as f32 + v * inv).round_ties_even() as i64;
            let inside = qmin <= xq && xq <= qmax;
            dx.push(if inside { d } else { d * 0.0 });
            if inside {
                let xfq = (xq - zp as i64) as f32 * scale;
                ds[c] += (d * (xfq - v) * inv * g) as f64;
            } else {
                let edge = if xq < qmin { self.qmin } else { self.qmax };
                ds[c] += (d * (edge - zp) as f32 * g) as f64;
                dz[c] += (-d * scale * g) as f64;
            }
        }
        LearnableGrads {
            x: dx,
            scale: ds.into_iter().map(|v| v as f32).collect(),
            zero_point: dz.into_iter().map(|v| v as f32).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_values_stop_the_gradient() {
        let p = FqParams::per_tensor(0.5, 0, -2, 1);
        let (y, m) = forward(&[0.24, 0.26, 0.5, 0.75, 1.0, -1.0, -1.3], &[7], &p);
        // 0.26 / 0.5 = 0.52 -> 1; 0.75 -> 1.5 -> 2 (half to even) clips to 1.
        assert_eq!(y, vec![0.0, 0.5, 0.5, 0.5, 0.5, -1.0, -1.0]);
        assert_eq!(m, vec![true, true, true, false, false, true, false]);
        assert_eq!(
            backward(&[1.0; 7], &m),
            vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn per_channel_uses_its_slot() {
        let p = FqParams {
            scale: vec![1.0, 0.25],
            zero_point: vec![0, 1],
            qmin: 0,
            qmax: 3,
            axis: Some(0),
        };
        let (y, _) = forward(&[1.2, 2.6, 0.1, 0.3], &[2, 2], &p);
        assert_eq!(y, vec![1.0, 3.0, 0.0, 0.25]);
    }
}
