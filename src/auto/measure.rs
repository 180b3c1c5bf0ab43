//! The objectives' measurers: the whole model's output error (a graph session), and the
//! weights' own error (any model file; a proxy).

use std::collections::HashMap;

use super::{Layout, Measurer, Objective, SpaceTensor};
use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::graph::{probe::OutputPair, Choice, Mode, Policy, Session};
use crate::quant::Scheme;

/// Noise-to-signal power of one output: Σ(q − f)² / Σf² (Σ(q − f)² when the float
/// output is all zeros, so that a change still counts).
pub fn nsr(f: &[f32], q: &[f32]) -> f64 {
    let (mut s, mut n) = (0f64, 0f64);
    for (&a, &b) in f.iter().zip(q) {
        let (a, b) = (a as f64, b as f64);
        s += a * a;
        n += (b - a) * (b - a);
    }
    if s > 0.0 {
        n / s
    } else {
        n
    }
}

/// Mean noise-to-signal power over the graph's float outputs.
pub fn outputs_nsr(pairs: &[OutputPair]) -> Result<f64> {
    if pairs.is_empty() {
        return Err(Error::Auto(
            "the model has no float output to measure the error on".into(),
        ));
    }
    let d = pairs
        .iter()
        .map(|p| nsr(&p.float, &p.quantized))
        .sum::<f64>()
        / pairs.len() as f64;
    if !d.is_finite() {
        return Err(Error::Auto(format!(
            "the quantized model's outputs are not finite (noise-to-signal {d})"
        )));
    }
    Ok(d)
}

/// The whole model's output error, from a graph session (its float run cached).
pub struct OutputMeasure<'a> {
    session: &'a mut Session,
    mode: Mode,
    space: Vec<SpaceTensor>,
    /// Model runs made.
    pub runs: usize,
}

impl<'a> OutputMeasure<'a> {
    pub fn new(session: &'a mut Session, mode: Mode) -> OutputMeasure<'a> {
        let space = session
            .weights
            .iter()
            .map(|w| {
                let numel: usize = w.shape.iter().product();
                let layout = match session.output_axis(&w.name) {
                    Some(a) => Layout::for_out_axis(a, w.shape.len()),
                    None => Layout::rows(w.shape.len()),
                };
                SpaceTensor {
                    name: w.name.clone(),
                    shape: w.shape.clone(),
                    float_bytes: w.dtype.bytes_for(numel) as u64,
                    layout,
                }
            })
            .collect();
        OutputMeasure {
            session,
            mode,
            space,
            runs: 0,
        }
    }
}

impl Measurer for OutputMeasure<'_> {
    fn tensors(&self) -> Vec<SpaceTensor> {
        self.space.clone()
    }

    fn packed_bytes(&mut self, i: usize, scheme: &Scheme) -> Result<u64> {
        let t = self.session.weight_values(&self.space[i].name)?;
        Ok(scheme.encode(&t)?.packed_bytes() as u64)
    }

    fn damage(&mut self, mix: &[(usize, Scheme)]) -> Result<f64> {
        let mut p = Policy::default();
        for (i, s) in mix {
            p.weights
                .insert(self.space[*i].name.clone(), Choice::Scheme(s.clone()));
        }
        let pairs = self.session.outputs_under(&p, &self.mode)?;
        self.runs += 1;
        outputs_nsr(&pairs)
    }

    fn objective(&self) -> Objective {
        Objective::Output
    }

    fn notes(&self) -> Vec<String> {
        let mut n = vec![format!(
            "damage: the final outputs' noise-to-signal power with only that tensor quantized ({} mode), on the session's probe inputs; the mix's estimate sums them",
            match self.mode {
                Mode::Weights => "weights",
                Mode::Full { .. } => "full",
            }
        )];
        n.extend(self.session.notes.iter().cloned());
        n
    }
}

/// The weights' own error: Σ(w_q − w)² of each tensor over the energy of every searched
/// weight, so that a mix's damage is exactly the sum (the check re-encodes and agrees).
pub struct WeightsMeasure<'a> {
    store: &'a dyn TensorStore,
    space: Vec<SpaceTensor>,
    energy: f64,
    /// Noise energy per (tensor, scheme string), from the encodings made.
    cache: HashMap<(usize, String), f64>,
    pub encodings: usize,
}

impl<'a> WeightsMeasure<'a> {
    /// The searched tensors of `store`: float tensors of two or more axes (the writers'
    /// rule), with the layout `layouts` gives by name (an ONNX graph's output-channel
    /// axes) or `[out, in, ...]`.
    pub fn new(
        store: &'a dyn TensorStore,
        out_axes: &HashMap<String, usize>,
    ) -> Result<WeightsMeasure<'a>> {
        let info = store.info();
        let mut space = Vec::new();
        let mut energy = 0f64;
        for ti in &info.tensors {
            if crate::export::rules::keep_reason(ti).is_some() {
                continue;
            }
            let t = store.load(&ti.name)?;
            energy += t.data.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
            let layout = match out_axes.get(&ti.name) {
                Some(&a) => Layout::for_out_axis(a, ti.shape.len()),
                None => Layout::rows(ti.shape.len()),
            };
            space.push(SpaceTensor {
                name: ti.name.clone(),
                shape: ti.shape.clone(),
                float_bytes: ti.dtype.bytes_for(ti.numel) as u64,
                layout,
            });
        }
        Ok(WeightsMeasure {
            store,
            space,
            energy,
            cache: HashMap::new(),
            encodings: 0,
        })
    }

    fn noise(&mut self, i: usize, scheme: &Scheme) -> Result<(f64, u64)> {
        let t = self.store.load(&self.space[i].name)?;
        let e = scheme.encode(&t)?;
        self.encodings += 1;
        let y = e.dequantize();
        let n: f64 = t
            .data
            .iter()
            .zip(&y)
            .map(|(&a, &b)| {
                let d = b as f64 - a as f64;
                d * d
            })
            .sum();
        self.cache.insert((i, scheme.to_string()), n);
        Ok((n, e.packed_bytes() as u64))
    }
}

impl Measurer for WeightsMeasure<'_> {
    fn tensors(&self) -> Vec<SpaceTensor> {
        self.space.clone()
    }

    fn packed_bytes(&mut self, i: usize, scheme: &Scheme) -> Result<u64> {
        Ok(self.noise(i, scheme)?.1)
    }

    fn damage(&mut self, mix: &[(usize, Scheme)]) -> Result<f64> {
        let mut total = 0f64;
        for (i, s) in mix {
            let n = match self.cache.get(&(*i, s.to_string())) {
                Some(&n) => n,
                None => self.noise(*i, s)?.0,
            };
            total += n;
        }
        Ok(if self.energy > 0.0 {
            total / self.energy
        } else {
            total
        })
    }

    fn objective(&self) -> Objective {
        Objective::Weights
    }

    fn notes(&self) -> Vec<String> {
        vec!["weights objective (a proxy): each tensor's quantization noise energy over the energy of all searched weights; weight-error rankings can disagree with how much the model's output moves, so prefer the output or accuracy objective where the model runs".into()]
    }
}

/// Top-1 accuracy (percent) of `logits` (rows of `classes` values) against `labels`.
pub fn accuracy(logits: &[f32], classes: usize, labels: &[i64]) -> f64 {
    if classes == 0 || labels.is_empty() {
        return 0.0;
    }
    let mut right = 0usize;
    for (row, &y) in logits.chunks(classes).zip(labels) {
        let mut best = 0usize;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        right += (best as i64 == y) as usize;
    }
    100.0 * right as f64 / labels.len() as f64
}

/// A classifier's test accuracy from a graph session whose inputs are the test split:
/// the first float output's rows against `labels`; damage is the drop in points.
pub struct AccuracyMeasure<'a> {
    inner: OutputMeasure<'a>,
    output: String,
    classes: usize,
    labels: Vec<i64>,
    reference: f64,
}

impl<'a> AccuracyMeasure<'a> {
    pub fn new(
        session: &'a mut Session,
        mode: Mode,
        labels: Vec<i64>,
    ) -> Result<AccuracyMeasure<'a>> {
        let (output, shape, float) = session
            .outputs
            .iter()
            .find_map(|o| {
                session
                    .float_value(o)
                    .map(|(s, v)| (o.clone(), s.to_vec(), v.to_vec()))
            })
            .ok_or_else(|| Error::Auto("the model has no float output to classify with".into()))?;
        let classes = shape.last().copied().unwrap_or(0);
        let rows = float.len().checked_div(classes).unwrap_or(0);
        if rows != labels.len() {
            return Err(Error::Auto(format!(
                "output `{output}` {shape:?} has {rows} rows, the labels {}: the labels must give one class per row",
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&y| y < 0 || y as usize >= classes) {
            return Err(Error::Auto(format!(
                "label {bad} is not a class of output `{output}` ({classes} classes)"
            )));
        }
        let reference = accuracy(&float, classes, &labels);
        Ok(AccuracyMeasure {
            inner: OutputMeasure::new(session, mode),
            output,
            classes,
            labels,
            reference,
        })
    }
}

impl AccuracyMeasure<'_> {
    /// Model runs made.
    pub fn runs(&self) -> usize {
        self.inner.runs
    }
}

impl Measurer for AccuracyMeasure<'_> {
    fn tensors(&self) -> Vec<SpaceTensor> {
        self.inner.tensors()
    }

    fn packed_bytes(&mut self, i: usize, scheme: &Scheme) -> Result<u64> {
        self.inner.packed_bytes(i, scheme)
    }

    fn damage(&mut self, mix: &[(usize, Scheme)]) -> Result<f64> {
        let mut p = Policy::default();
        for (i, s) in mix {
            p.weights
                .insert(self.inner.space[*i].name.clone(), Choice::Scheme(s.clone()));
        }
        let pairs = self.inner.session.outputs_under(&p, &self.inner.mode)?;
        self.inner.runs += 1;
        let q = pairs
            .iter()
            .find(|o| o.name == self.output)
            .ok_or_else(|| Error::Auto(format!("output `{}` went missing", self.output)))?;
        Ok(self.reference - accuracy(&q.quantized, self.classes, &self.labels))
    }

    /// An isolated gain is chance on a finite test split: counted as no damage, or the
    /// search would buy it (and the summed estimate would promise more than float). The
    /// mix's measured check keeps the true sign.
    fn isolated(&mut self, i: usize, scheme: &Scheme) -> Result<f64> {
        Ok(self.damage(&[(i, scheme.clone())])?.max(0.0))
    }

    fn reference(&self) -> f64 {
        self.reference
    }

    fn objective(&self) -> Objective {
        Objective::Accuracy
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "damage: the drop in top-1 accuracy (points) of output `{}` on the {} labelled inputs with only that tensor quantized (a gain counts as 0); the float model scores {:.2}%; equal drops go to the smaller option",
            self.output,
            self.labels.len(),
            self.reference
        )]
    }
}
