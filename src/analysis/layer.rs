//! Float versus int8 outputs of one layer: y = W x through the f32 GEMM and the int8 GEMM.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::kernels::gemm::{self, ActQuant, PackedF32Matrix, PackedI8Matrix};
use crate::metrics::{self, Histogram, Metrics};
use crate::quant::{Granularity, Scheme};
use crate::tensor::Tensor;

/// Most probe rows a report runs (the batch is a user's number: bound what it allocates).
pub const MAX_BATCH: usize = 4096;
/// Outputs of the chosen input shown side by side, at most.
pub const MAX_SHOWN: usize = 512;

/// Where the probe inputs x come from.
#[derive(Clone, Debug)]
pub enum Probe {
    /// N(0, 1), seeded.
    Gaussian,
    /// U[-1, 1), seeded.
    Uniform,
    /// Rows of a user's array: [batch, in] or one vector [in].
    Data(Tensor),
}

impl Probe {
    pub fn name(&self) -> String {
        match self {
            Probe::Gaussian => "gaussian".into(),
            Probe::Uniform => "uniform".into(),
            Probe::Data(t) => format!("data `{}`", t.name),
        }
    }

    /// `gaussian` or `uniform`; files are opened by the caller and given as `Data`.
    pub fn parse(s: &str) -> Result<Probe> {
        match s {
            "gaussian" | "normal" => Ok(Probe::Gaussian),
            "uniform" => Ok(Probe::Uniform),
            _ => Err(Error::BadProbe(format!(
                "`{s}`: expected gaussian, uniform or an .npy file"
            ))),
        }
    }

    /// `batch` rows of `k` values (a data probe brings its own row count).
    fn rows(&self, k: usize, batch: usize, seed: u64) -> Result<(Vec<f32>, usize)> {
        let mut rng = StdRng::seed_from_u64(seed);
        match self {
            Probe::Gaussian => Ok((
                (0..batch * k)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect(),
                batch,
            )),
            Probe::Uniform => Ok((
                (0..batch * k)
                    .map(|_| rng.random_range(-1.0f32..1.0))
                    .collect(),
                batch,
            )),
            Probe::Data(t) => {
                let last = t.shape.last().copied().unwrap_or(0);
                if t.shape.is_empty() || t.shape.len() > 2 || last != k {
                    return Err(Error::BadProbe(format!(
                        "`{}` has shape {:?}; the layer takes rows of {k} values ([batch, {k}] or [{k}])",
                        t.name, t.shape
                    )));
                }
                let rows = t.data.len().checked_div(k).unwrap_or(0);
                if rows > MAX_BATCH {
                    return Err(Error::BadProbe(format!(
                        "`{}` has {rows} rows, more than {MAX_BATCH}",
                        t.name
                    )));
                }
                Ok((t.data.clone(), rows))
            }
        }
    }
}

/// What the layer panel shows.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct LayerReport {
    pub tensor: String,
    pub shape: Vec<usize>,
    /// Outputs (rows of the weight) and inputs (the other axes, flattened).
    pub n: usize,
    pub k: usize,
    pub scheme: String,
    pub activations: ActQuant,
    pub probe: String,
    pub batch: usize,
    pub seed: u64,
    /// int8 outputs against f32 outputs, over the whole batch.
    pub metrics: Metrics,
    /// Which probe row `float_out` / `int8_out` belong to.
    pub shown_row: usize,
    /// The first outputs (at most [`MAX_SHOWN`]) of that row, float and int8 paths.
    pub float_out: Vec<f32>,
    pub int8_out: Vec<f32>,
    /// Histogram of int8 minus float outputs, whole batch.
    pub error: Histogram,
}

/// Runs `batch` probe inputs through the layer `t` (weights [out, in...]) in f32 and with
/// int8 weights from `scheme` (per tensor or per output channel, any 2..8 bits) and int8
/// activations quantized per row (`act`). The outputs shown are probe row 0's.
pub fn layer(
    t: &Tensor,
    scheme: &Scheme,
    probe: &Probe,
    batch: usize,
    seed: u64,
    act: ActQuant,
    bins: usize,
) -> Result<LayerReport> {
    layer_row(t, scheme, probe, batch, seed, act, bins, 0)
}

/// [`layer`], showing the outputs of probe row `row` (0-based, below the batch); the
/// metrics and the error histogram still cover the whole batch.
#[allow(clippy::too_many_arguments)]
pub fn layer_row(
    t: &Tensor,
    scheme: &Scheme,
    probe: &Probe,
    batch: usize,
    seed: u64,
    act: ActQuant,
    bins: usize,
    row: usize,
) -> Result<LayerReport> {
    if t.shape.len() < 2 {
        return Err(Error::NotAMatrix {
            name: t.name.clone(),
            shape: t.shape.clone(),
        });
    }
    if !matches!(probe, Probe::Data(_)) && !(1..=MAX_BATCH).contains(&batch) {
        return Err(Error::BadProbe(format!(
            "batch {batch} is outside 1..={MAX_BATCH}"
        )));
    }
    let n = t.shape[0];
    let k = t.numel() / n.max(1);
    let layer_err = |reason: &str| Error::LayerScheme {
        scheme: scheme.to_string(),
        reason: reason.to_string(),
    };
    let Scheme::Linear(lin) = scheme else {
        return Err(layer_err("only linear integer schemes run on it"));
    };
    if matches!(lin.granularity, Granularity::PerChannel { axis } if axis != 0)
        || matches!(lin.granularity, Granularity::PerGroup { .. })
    {
        return Err(layer_err(
            "scales must be per tensor or per output channel (ch0)",
        ));
    }
    if lin.bits > 8 {
        return Err(layer_err(
            "codes wider than 8 bits do not fit the int8 GEMM",
        ));
    }
    let q = lin.quantize(t)?;
    let per = |f: &dyn Fn(usize) -> f32| (0..n).map(f).collect::<Vec<f32>>();
    let p = |c: usize| q.params[if q.params.len() == 1 { 0 } else { c }];
    let scales = per(&|c| p(c).scale);
    let zps: Vec<i32> = (0..n).map(|c| p(c).zero_point).collect();
    // Codes of at most 8 bits (checked above) fit i8 once unsigned ones are shifted by
    // 128 together with their zero points: (c - 128) - (zp - 128) = c - zp.
    let shift = if lin.signed { 0 } else { 128 };
    let codes: Vec<i8> = q.codes().into_iter().map(|c| (c - shift) as i8).collect();
    let zps: Vec<i32> = zps.into_iter().map(|z| z - shift).collect();
    let wq = PackedI8Matrix::from_codes(&codes, n, k, &scales, &zps)?;
    let wf = PackedF32Matrix::pack(&t.data, n, k)?;

    let (x, rows) = probe.rows(k, batch, seed)?;
    // Row 0 of an empty batch is allowed: it shows no outputs, as `layer` always did.
    if row > 0 && row >= rows {
        return Err(Error::BadProbe(format!(
            "row {row} is outside the batch: rows are 0 to {}",
            rows.saturating_sub(1)
        )));
    }
    let yf = gemm::linear_f32(&x, rows, &wf, None)?;
    let yq = gemm::linear_i8(&x, rows, &wq, None, act)?;
    let m = metrics::compare(&yf, &yq);
    let err: Vec<f32> = yq.iter().zip(&yf).map(|(a, b)| a - b).collect();
    let shown = n.min(MAX_SHOWN);
    let at = row * n..row * n + shown;
    Ok(LayerReport {
        tensor: t.name.clone(),
        shape: t.shape.clone(),
        n,
        k,
        scheme: scheme.to_string(),
        activations: act,
        probe: probe.name(),
        batch: rows,
        seed,
        metrics: m,
        shown_row: row,
        float_out: yf.get(at.clone()).unwrap_or_default().to_vec(),
        int8_out: yq.get(at).unwrap_or_default().to_vec(),
        error: metrics::histogram(&err, bins),
    })
}
