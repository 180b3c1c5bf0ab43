//! Reports: plain `Serialize` structs that the CLI prints and the page plots.

use serde::Serialize;

use crate::error::Result;
use crate::metrics::{self, Histogram, Metrics};
use crate::quant::{QuantizedLinear, Scheme};
use crate::tensor::{DType, Tensor, TensorInfo};

/// The quantization grid drawn over a weight histogram: the values codes map back to.
#[derive(Clone, Debug, Serialize)]
pub struct Grid {
    /// For per-channel schemes, the channel whose grid this is (the widest one).
    pub channel: Option<usize>,
    pub levels: Vec<f32>,
}

/// Everything the page shows for one tensor under one scheme.
#[derive(Clone, Debug, Serialize)]
pub struct TensorReport {
    pub tensor: TensorInfo,
    pub scheme: String,
    pub bits: u8,
    pub qmin: i32,
    pub qmax: i32,
    pub axis: Option<usize>,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i32>,
    pub metrics: Metrics,
    /// Histogram of the original weights.
    pub weights: Histogram,
    /// Histogram of dequantized minus original.
    pub error: Histogram,
    pub grid: Grid,
    /// Codes packed at their bit width plus parameters.
    pub packed_bytes: usize,
    pub bits_per_weight: f64,
}

/// One row of the whole-model table: metrics without histograms.
#[derive(Clone, Debug, Serialize)]
pub struct TensorSummary {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub numel: usize,
    pub scheme: String,
    pub metrics: Metrics,
    pub packed_bytes: usize,
    pub bits_per_weight: f64,
}

fn quantize(t: &Tensor, scheme: &Scheme) -> Result<QuantizedLinear> {
    match scheme {
        Scheme::Linear(l) => l.quantize(t),
    }
}

fn bits_per_weight(q: &QuantizedLinear) -> f64 {
    (q.packed_bytes() * 8) as f64 / q.codes.len().max(1) as f64
}

pub fn summarize(t: &Tensor, scheme: &Scheme) -> Result<TensorSummary> {
    let q = quantize(t, scheme)?;
    let y = q.dequantize();
    Ok(TensorSummary {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype,
        numel: t.numel(),
        scheme: scheme.to_string(),
        metrics: metrics::compare(&t.data, &y),
        packed_bytes: q.packed_bytes(),
        bits_per_weight: bits_per_weight(&q),
    })
}

pub fn analyze(t: &Tensor, scheme: &Scheme, bins: usize) -> Result<TensorReport> {
    let q = quantize(t, scheme)?;
    let mut err = q.dequantize();
    let m = metrics::compare(&t.data, &err);
    // Turn the reconstruction into the error in place: no second tensor-sized buffer.
    for (e, &x) in err.iter_mut().zip(&t.data) {
        *e -= x;
    }
    let widest = q
        .params
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.scale.total_cmp(&b.1.scale))
        .map(|(i, _)| i)
        .unwrap_or(0);
    // A tensor with a zero-length channel axis has no parameters and so no grid.
    let levels = q
        .params
        .get(widest)
        .map(|p| {
            (p.qmin..=p.qmax)
                .map(|c| (c - p.zero_point) as f32 * p.scale)
                .collect()
        })
        .unwrap_or_default();
    let (qmin, qmax) = q.scheme.qrange();
    Ok(TensorReport {
        tensor: t.info(),
        scheme: scheme.to_string(),
        bits: q.scheme.bits,
        qmin,
        qmax,
        axis: q.axis,
        scales: q.scales(),
        zero_points: q.zero_points(),
        metrics: m,
        weights: metrics::histogram(&t.data, bins),
        error: metrics::histogram(&err, bins),
        grid: Grid {
            channel: q.axis.map(|_| widest),
            levels,
        },
        packed_bytes: q.packed_bytes(),
        bits_per_weight: bits_per_weight(&q),
    })
}
