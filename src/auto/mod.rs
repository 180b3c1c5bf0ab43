//! Automatic mixed precision: the best scheme per tensor under a size budget.
//!
//! 1. The search space ([`candidates`]): per quantizable tensor, the candidate schemes
//!    (resolved for its layout) with their exact packed size, and keeping it float.
//! 2. The sensitivity table ([`Sensitivity`], [`sensitivity`]): each candidate's damage
//!    with only that tensor quantized, measured once on the chosen objective ([`measure`]:
//!    the whole model's output error from the graph run, the test accuracy of a trained
//!    model, or the weights' own error as a proxy) and kept, so that moving the budget
//!    costs no measurement.
//! 3. The choice ([`knapsack`]): an exact multiple-choice knapsack over the table whose
//!    last stage is the Pareto front (bytes vs summed damage); a budget is a lookup.
//! 4. The check: the chosen mix measured as a whole. The summed isolated damages are an
//!    estimate (they ignore how errors interact); reports carry both.

pub mod candidates;
pub mod knapsack;
pub mod measure;
pub mod policy;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::quant::Scheme;
pub use candidates::{Candidate, Layout};
pub use knapsack::{Item, Point};

/// What the search minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Test accuracy of a trained model (the training lab's digits models); damage is the
    /// drop in percentage points.
    Accuracy,
    /// The whole model's final outputs on the probe inputs; damage is the noise-to-signal
    /// power ratio Σ(y_q − y)² / Σy², averaged over the outputs; shown as SQNR in dB.
    Output,
    /// The weights themselves (a proxy, for models no graph can run); damage is each
    /// tensor's Σ(w_q − w)² over the energy of all searched weights, so the sum is the
    /// model's weight noise-to-signal ratio; shown as SQNR in dB.
    Weights,
}

impl Objective {
    pub fn parse(s: &str) -> Result<Objective> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accuracy" | "acc" => Ok(Objective::Accuracy),
            "output" | "outputs" => Ok(Objective::Output),
            "weights" | "weight" => Ok(Objective::Weights),
            _ => Err(Error::Auto(format!(
                "unknown objective `{s}`; expected output, accuracy or weights"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Objective::Accuracy => "accuracy",
            Objective::Output => "output",
            Objective::Weights => "weights",
        }
    }

    /// What [`Objective::value`] is, for people.
    pub fn label(self) -> &'static str {
        match self {
            Objective::Accuracy => "test accuracy (%)",
            Objective::Output => "output SQNR (dB) on the probe inputs",
            Objective::Weights => "weight SQNR (dB), a proxy: weight-error rankings can disagree with the model's output sensitivity",
        }
    }

    /// The objective's value for a total damage (higher is better): SQNR in dB, or the
    /// reference accuracy minus the drop.
    pub fn value(self, damage: f64, reference: f64) -> f64 {
        match self {
            Objective::Accuracy => reference - damage,
            Objective::Output | Objective::Weights => -10.0 * damage.max(0.0).log10(),
        }
    }
}

/// A size budget: bytes of the searched tensors, or bits per searched weight.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "lowercase")]
pub enum Budget {
    Bytes(u64),
    Bpw(f64),
}

impl Budget {
    /// `4.5bpw`, `4.5 bpw`, or a size: `123456`, `800kB`, `1.5MB`, `2MiB`, `1GB`, ...
    pub fn parse(s: &str) -> Result<Budget> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        let bad = || {
            Error::Auto(format!(
                "budget `{s}`: expected bits per weight (e.g. 4.5bpw) or a size (e.g. 12MB, 3MiB, 800000)"
            ))
        };
        if let Some(n) = t.strip_suffix("bpw") {
            let v: f64 = n.parse().map_err(|_| bad())?;
            if !(v.is_finite() && v > 0.0 && v <= 64.0) {
                return Err(Error::Auto(format!(
                    "budget `{s}`: bits per weight must be above 0 and at most 64"
                )));
            }
            return Ok(Budget::Bpw(v));
        }
        let units: [(&str, f64); 8] = [
            ("gib", 1024.0 * 1024.0 * 1024.0),
            ("mib", 1024.0 * 1024.0),
            ("kib", 1024.0),
            ("gb", 1e9),
            ("mb", 1e6),
            ("kb", 1e3),
            ("b", 1.0),
            ("", 1.0),
        ];
        for (u, f) in units {
            if let Some(n) = t.strip_suffix(u) {
                if n.is_empty() {
                    continue;
                }
                let v: f64 = n.parse().map_err(|_| bad())?;
                if !(v.is_finite() && v >= 0.0) || v * f > u64::MAX as f64 {
                    return Err(bad());
                }
                return Ok(Budget::Bytes((v * f).floor() as u64));
            }
        }
        Err(bad())
    }

    /// The budget in bytes for `numel` searched weights (bits per weight rounded down to
    /// whole bytes).
    pub fn bytes(self, numel: u64) -> u64 {
        match self {
            Budget::Bytes(b) => b,
            Budget::Bpw(v) => (v * numel as f64 / 8.0).floor() as u64,
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Bytes(b) => write!(f, "{b} bytes"),
            Budget::Bpw(v) => write!(f, "{v} bpw"),
        }
    }
}

/// One option of one tensor in the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionRow {
    /// The candidate's label (`float` for keeping the tensor).
    pub candidate: String,
    /// The scheme applied to this tensor (canonical string), or `float`.
    pub scheme: String,
    /// Exact stored size: the encoding's `packed_bytes`, or the float size.
    pub bytes: u64,
    /// Isolated damage (units per [`Objective`]); 0 for float.
    pub damage: f64,
}

/// A candidate a tensor cannot take, and why (e.g. rows that do not split into blocks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    pub candidate: String,
    pub reason: String,
}

/// A searched tensor and its options (float first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorOptions {
    pub name: String,
    pub shape: Vec<usize>,
    pub numel: u64,
    pub options: Vec<OptionRow>,
    pub unavailable: Vec<Unavailable>,
}

/// The measured table: everything the choice under any budget needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    pub objective: Objective,
    pub label: String,
    pub candidates: Vec<String>,
    pub tensors: Vec<TensorOptions>,
    /// The float model's accuracy (accuracy objective; 0 otherwise).
    pub reference: f64,
    /// Measurements made (model runs or tensor encodings).
    pub measurements: usize,
    pub notes: Vec<String>,
}

impl Sensitivity {
    /// Weights searched.
    pub fn numel(&self) -> u64 {
        self.tensors.iter().map(|t| t.numel).sum()
    }

    /// Bytes of the searched tensors kept float.
    pub fn float_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.options[0].bytes).sum()
    }

    pub fn bpw(&self, bytes: u64) -> f64 {
        8.0 * bytes as f64 / self.numel().max(1) as f64
    }

    /// The knapsack's items.
    pub fn items(&self) -> Vec<Vec<Item>> {
        self.tensors
            .iter()
            .map(|t| {
                t.options
                    .iter()
                    .map(|o| Item {
                        bytes: o.bytes,
                        damage: o.damage,
                    })
                    .collect()
            })
            .collect()
    }

    /// The Pareto front of the table.
    pub fn front(&self) -> Result<Vec<Point>> {
        knapsack::front(&self.items())
    }

    /// The option index per tensor of the uniform use of candidate `c` (a tensor that
    /// cannot take it stays float), and how many tensors fell back.
    pub fn uniform(&self, candidate: &str) -> (Vec<u16>, usize) {
        let mut fallbacks = 0;
        let choice = self
            .tensors
            .iter()
            .map(
                |t| match t.options.iter().position(|o| o.candidate == candidate) {
                    Some(j) => j as u16,
                    None => {
                        fallbacks += 1;
                        0
                    }
                },
            )
            .collect();
        (choice, fallbacks)
    }

    /// Bytes and summed damage of a choice.
    pub fn totals(&self, choice: &[u16]) -> (u64, f64) {
        let (mut b, mut d) = (0u64, 0f64);
        for (t, &j) in self.tensors.iter().zip(choice) {
            b += t.options[j as usize].bytes;
            d += t.options[j as usize].damage;
        }
        (b, d)
    }

    /// The schemes of a choice, by tensor name (None: float).
    pub fn schemes(&self, choice: &[u16]) -> Result<Vec<(String, Option<Scheme>)>> {
        self.tensors
            .iter()
            .zip(choice)
            .map(|(t, &j)| {
                let o = t.options.get(j as usize).ok_or_else(|| {
                    Error::Auto(format!("tensor `{}` has no option #{j}", t.name))
                })?;
                let s = if o.scheme == "float" {
                    None
                } else {
                    Some(o.scheme.parse()?)
                };
                Ok((t.name.clone(), s))
            })
            .collect()
    }
}

/// Something that measures the objective's damage of a mix (see [`measure`]).
pub trait Measurer {
    /// The searched tensors: name, shape, float bytes, layout.
    fn tensors(&self) -> Vec<SpaceTensor>;
    /// Exact stored bytes of tensor `i` under `scheme` (an error when it cannot take it).
    fn packed_bytes(&mut self, i: usize, scheme: &Scheme) -> Result<u64>;
    /// Damage with the tensors of `mix` quantized (index, scheme) and the rest float.
    fn damage(&mut self, mix: &[(usize, Scheme)]) -> Result<f64>;
    /// The table's entry: damage with only tensor `i` quantized.
    fn isolated(&mut self, i: usize, scheme: &Scheme) -> Result<f64> {
        self.damage(&[(i, scheme.clone())])
    }
    /// The float model's value of an accuracy objective (0 otherwise).
    fn reference(&self) -> f64 {
        0.0
    }
    fn objective(&self) -> Objective;
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A quantizable tensor of the search.
#[derive(Clone, Debug)]
pub struct SpaceTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub float_bytes: u64,
    pub layout: Layout,
}

/// Measures every (tensor, candidate) once: the sensitivity table. `progress(done,
/// total)` returning false cancels.
pub fn sensitivity(
    m: &mut dyn Measurer,
    candidates: &[Candidate],
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Sensitivity> {
    let space = m.tensors();
    if space.is_empty() {
        return Err(no_tensors());
    }
    let per = candidates.iter().filter(|c| c.scheme.is_some()).count();
    let total = space.len() * per;
    let mut rows = Vec::with_capacity(space.len());
    let mut measurements = 0;
    for (i, t) in space.iter().enumerate() {
        let (row, n) = sensitivity_row(m, candidates, i, t)?;
        rows.push(row);
        measurements += n;
        if !progress((i + 1) * per, total) {
            return Err(Error::Cancelled);
        }
    }
    Ok(assemble(m, candidates, rows, measurements))
}

fn no_tensors() -> Error {
    Error::Auto(
        "the model has no quantizable tensor (float tensors of two or more axes feeding MatMul/Gemm/Conv)".into(),
    )
}

/// One tensor's row of the table (float first, then each candidate it can take), and the
/// measurements it took: what [`sensitivity`] does per tensor, for callers that yield
/// between tensors (the page's worker).
pub fn sensitivity_row(
    m: &mut dyn Measurer,
    candidates: &[Candidate],
    i: usize,
    t: &SpaceTensor,
) -> Result<(TensorOptions, usize)> {
    let numel: u64 = t.shape.iter().map(|&d| d as u64).product();
    let mut options = vec![OptionRow {
        candidate: "float".into(),
        scheme: "float".into(),
        bytes: t.float_bytes,
        damage: 0.0,
    }];
    let mut unavailable = Vec::new();
    let mut measurements = 0;
    for c in candidates {
        let Some(s) = c.resolve(t.layout) else {
            continue;
        };
        match m.packed_bytes(i, &s) {
            Ok(bytes) => {
                let damage = m.isolated(i, &s)?;
                measurements += 1;
                options.push(OptionRow {
                    candidate: c.label.clone(),
                    scheme: s.to_string(),
                    bytes,
                    damage,
                });
            }
            Err(e @ (Error::Cancelled | Error::Graph(_))) => return Err(e),
            Err(e) => unavailable.push(Unavailable {
                candidate: c.label.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok((
        TensorOptions {
            name: t.name.clone(),
            shape: t.shape.clone(),
            numel,
            options,
            unavailable,
        },
        measurements,
    ))
}

/// The table from its rows.
pub fn assemble(
    m: &dyn Measurer,
    candidates: &[Candidate],
    tensors: Vec<TensorOptions>,
    measurements: usize,
) -> Sensitivity {
    let objective = m.objective();
    Sensitivity {
        objective,
        label: objective.label().into(),
        candidates: candidates.iter().map(|c| c.label.clone()).collect(),
        tensors,
        reference: m.reference(),
        measurements,
        notes: m.notes(),
    }
}

/// One tensor of a chosen mix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixRow {
    pub name: String,
    pub shape: Vec<usize>,
    pub candidate: String,
    pub scheme: String,
    pub bytes: u64,
    pub bpw: f64,
    /// Isolated damage of this choice.
    pub damage: f64,
}

/// A mix (the choice under a budget, or a uniform scheme) with its totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mix {
    pub bytes: u64,
    pub bpw: f64,
    /// Summed isolated damage, and the objective it predicts.
    pub estimated_damage: f64,
    pub estimated: f64,
    /// The mix measured as a whole (absent when not checked).
    pub measured_damage: Option<f64>,
    pub measured: Option<f64>,
    pub choice: Vec<u16>,
    pub tensors: Vec<MixRow>,
}

impl Sensitivity {
    /// The mix of `choice`, unmeasured.
    pub fn mix(&self, choice: &[u16]) -> Mix {
        let (bytes, damage) = self.totals(choice);
        Mix {
            bytes,
            bpw: self.bpw(bytes),
            estimated_damage: damage,
            estimated: self.objective.value(damage, self.reference),
            measured_damage: None,
            measured: None,
            choice: choice.to_vec(),
            tensors: self
                .tensors
                .iter()
                .zip(choice)
                .map(|(t, &j)| {
                    let o = &t.options[j as usize];
                    MixRow {
                        name: t.name.clone(),
                        shape: t.shape.clone(),
                        candidate: o.candidate.clone(),
                        scheme: o.scheme.clone(),
                        bytes: o.bytes,
                        bpw: 8.0 * o.bytes as f64 / t.numel.max(1) as f64,
                        damage: o.damage,
                    }
                })
                .collect(),
        }
    }

    /// Measures `mix` as a whole with `m` (the table's measurer).
    pub fn check(&self, m: &mut dyn Measurer, mix: &mut Mix) -> Result<()> {
        let space = m.tensors();
        let mut quantized = Vec::new();
        for (name, s) in self.schemes(&mix.choice)? {
            if let Some(s) = s {
                let i = space
                    .iter()
                    .position(|t| t.name == name)
                    .ok_or_else(|| Error::Auto(format!("tensor `{name}` is not in this model")))?;
                quantized.push((i, s));
            }
        }
        let d = m.damage(&quantized)?;
        mix.measured_damage = Some(d);
        mix.measured = Some(self.objective.value(d, self.reference));
        Ok(())
    }
}

/// A uniform scheme's point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UniformPoint {
    pub candidate: String,
    /// Tensors that cannot take it and stay float.
    pub fallbacks: usize,
    pub mix: Mix,
}

/// The choice under one budget against the uniform schemes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Choice {
    pub budget: Budget,
    pub budget_bytes: u64,
    /// None when the budget is below the smallest mix.
    pub mix: Option<Mix>,
    /// The uniform scheme with the best measured objective among those within the
    /// budget (by candidate label), and that objective.
    pub best_uniform: Option<String>,
    pub best_uniform_measured: Option<f64>,
    /// Whether the mix's measured objective is at least the best uniform's.
    pub beats_uniform: Option<bool>,
}

/// The searched front's points for charts: bytes, bits per weight, estimated objective.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FrontPoint {
    pub bytes: u64,
    pub bpw: f64,
    pub estimated: f64,
}

/// Everything `quantscope auto` prints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub objective: Objective,
    pub label: String,
    pub candidates: Vec<String>,
    /// Tensors searched, and their weights.
    pub tensors: usize,
    pub weights: u64,
    pub float_bytes: u64,
    pub reference: f64,
    pub uniform: Vec<UniformPoint>,
    pub choices: Vec<Choice>,
    pub front: Vec<FrontPoint>,
    pub sensitivity_measurements: usize,
    pub sensitivity_ms: f64,
    pub search_ms: f64,
    pub notes: Vec<String>,
    /// The measured table itself (what the page keeps, and what any other budget needs).
    pub sensitivity: Sensitivity,
}

/// The whole search on a measured table: the front, the uniform points (measured when
/// `check`), and the choice under each budget (measured when `check`).
pub fn search(
    table: &Sensitivity,
    m: Option<&mut dyn Measurer>,
    budgets: &[Budget],
    now: &dyn Fn() -> f64,
) -> Result<Report> {
    let t0 = now();
    let front = table.front()?;
    let search_ms = now() - t0;
    let mut m = m;
    let mut uniform = Vec::new();
    for c in &table.candidates {
        if c == "float" {
            continue;
        }
        let (choice, fallbacks) = table.uniform(c);
        let mut mix = table.mix(&choice);
        if let Some(m) = m.as_deref_mut() {
            table.check(m, &mut mix)?;
        }
        uniform.push(UniformPoint {
            candidate: c.clone(),
            fallbacks,
            mix,
        });
    }
    let numel = table.numel();
    let mut choices = Vec::new();
    for &b in budgets {
        let budget_bytes = b.bytes(numel);
        let mut mix = knapsack::choose(&front, budget_bytes).map(|p| table.mix(&p.choice));
        if let (Some(mix), Some(m)) = (mix.as_mut(), m.as_deref_mut()) {
            table.check(m, mix)?;
        }
        let best = uniform
            .iter()
            .filter(|u| u.mix.bytes <= budget_bytes)
            .max_by(|a, b| {
                let (x, y) = (
                    a.mix.measured.unwrap_or(a.mix.estimated),
                    b.mix.measured.unwrap_or(b.mix.estimated),
                );
                x.total_cmp(&y)
            });
        let best_val = best.map(|u| u.mix.measured.unwrap_or(u.mix.estimated));
        let beats = match (&mix, best_val) {
            (Some(x), Some(v)) => Some(x.measured.unwrap_or(x.estimated) >= v),
            _ => None,
        };
        choices.push(Choice {
            budget: b,
            budget_bytes,
            mix,
            best_uniform: best.map(|u| u.candidate.clone()),
            best_uniform_measured: best_val,
            beats_uniform: beats,
        });
    }
    Ok(Report {
        objective: table.objective,
        label: table.label.clone(),
        candidates: table.candidates.clone(),
        tensors: table.tensors.len(),
        weights: numel,
        float_bytes: table.float_bytes(),
        reference: table.reference,
        uniform,
        choices,
        front: front
            .iter()
            .map(|p| FrontPoint {
                bytes: p.bytes,
                bpw: table.bpw(p.bytes),
                estimated: table.objective.value(p.damage, table.reference),
            })
            .collect(),
        sensitivity_measurements: table.measurements,
        sensitivity_ms: 0.0,
        search_ms,
        notes: table.notes.clone(),
        sensitivity: table.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        assert_eq!(Budget::parse("4.5bpw").unwrap(), Budget::Bpw(4.5));
        assert_eq!(Budget::parse("3 BPW").unwrap(), Budget::Bpw(3.0));
        assert_eq!(Budget::parse("800000").unwrap(), Budget::Bytes(800_000));
        assert_eq!(Budget::parse("1.5MB").unwrap(), Budget::Bytes(1_500_000));
        assert_eq!(Budget::parse("2MiB").unwrap(), Budget::Bytes(2 << 20));
        assert_eq!(Budget::parse("12kB").unwrap(), Budget::Bytes(12_000));
        assert_eq!(Budget::Bpw(4.0).bytes(1000), 500);
        assert_eq!(Budget::Bpw(4.5).bytes(3), 1);
        for bad in [
            "", "bpw", "-1bpw", "0bpw", "4.5 bits", "12XB", "-5MB", "nanbpw",
        ] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn objective_values() {
        assert_eq!(Objective::Output.value(0.01, 0.0), 20.0);
        assert_eq!(Objective::Accuracy.value(1.5, 97.0), 95.5);
        assert!(Objective::Weights.value(0.0, 0.0).is_infinite());
    }
}
