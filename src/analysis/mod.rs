//! Reports: plain `Serialize` structs that the CLI prints and the page plots.

pub mod layer;

use serde::Serialize;

use crate::error::Result;
use crate::metrics::{self, Histogram, Metrics};
use crate::quant::{Encoded, Grid, Scheme};
use crate::tensor::{DType, Tensor, TensorInfo};

/// Everything the page shows for one tensor under one scheme.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct TensorReport {
    pub tensor: TensorInfo,
    pub scheme: String,
    /// Nominal code width.
    pub bits: u8,
    /// One line on the parameters, for people.
    pub describe: String,
    /// The axis `scales` run along (None: per tensor, or not a per-channel scheme).
    pub axis: Option<usize>,
    /// Scales per channel, group or block; empty for schemes without scales.
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
    /// What the scheme did differently on this tensor (per channel on a 1-D tensor runs
    /// per tensor), or None.
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One row of the whole-model table: metrics without histograms.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct TensorSummary {
    pub name: String,
    pub shape: Vec<usize>,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
    pub dtype: DType,
    pub numel: usize,
    pub scheme: String,
    pub metrics: Metrics,
    pub packed_bytes: usize,
    pub bits_per_weight: f64,
    /// As [`TensorReport::note`].
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What `scheme` does differently on a tensor of `shape` (see
/// [`crate::quant::LinearScheme::for_shape`]), for the reports' `note`.
pub fn scheme_note(scheme: &Scheme, shape: &[usize]) -> Option<String> {
    match scheme {
        Scheme::Linear(l) => l.for_shape(shape).1,
        _ => None,
    }
}

fn bits_per_weight(e: &dyn Encoded, numel: usize) -> f64 {
    (e.packed_bytes() * 8) as f64 / numel.max(1) as f64
}

pub fn summarize(t: &Tensor, scheme: &Scheme) -> Result<TensorSummary> {
    let e = scheme.encode(t)?;
    Ok(summary_of(t, scheme, e.as_ref()))
}

/// The row [`summarize`] returns, for an encoding already made: writers encode a tensor
/// once, store it, and report on exactly what they stored.
pub fn summary_of(t: &Tensor, scheme: &Scheme, e: &dyn Encoded) -> TensorSummary {
    let y = e.dequantize();
    TensorSummary {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype,
        numel: t.numel(),
        scheme: scheme.to_string(),
        metrics: metrics::compare(&t.data, &y),
        packed_bytes: e.packed_bytes(),
        bits_per_weight: bits_per_weight(e, t.numel()),
        note: scheme_note(scheme, &t.shape),
    }
}

pub fn analyze(t: &Tensor, scheme: &Scheme, bins: usize) -> Result<TensorReport> {
    let e = scheme.encode(t)?;
    let mut err = e.dequantize();
    let m = metrics::compare(&t.data, &err);
    // Turn the reconstruction into the error in place: no second tensor-sized buffer.
    for (d, &x) in err.iter_mut().zip(&t.data) {
        *d -= x;
    }
    Ok(TensorReport {
        tensor: t.info(),
        scheme: scheme.to_string(),
        bits: scheme.bits(),
        describe: e.describe(),
        axis: e.axis(),
        scales: e.scales(),
        zero_points: e.zero_points(),
        metrics: m,
        weights: metrics::histogram(&t.data, bins),
        error: metrics::histogram(&err, bins),
        grid: e.grid(),
        packed_bytes: e.packed_bytes(),
        bits_per_weight: bits_per_weight(e.as_ref(), t.numel()),
        note: scheme_note(scheme, &t.shape),
    })
}
