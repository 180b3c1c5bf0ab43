//! The training lab: post-training quantization against quantization-aware training
//! (PyTorch's FakeQuantize STE, and LSQ), distillation into a quantized student, and
//! both together, on small models and datasets, natively and in the page's worker.
//!
//! candle (autodiff, optimizers) stays inside this folder: the CLI, the binding and other
//! core parts see the plain types here ([`TrainConfig`], [`Dataset`], [`TrainedModel`],
//! [`TrainResult`]) and [`evaluate`], which scores a trained model under any per-layer
//! scheme map of the catalogue.

pub mod data;
mod error;
pub mod export;
pub mod fakequant;
pub mod kd;
mod model;
mod ops;
pub mod weights;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, TensorReport};
use crate::error::{Error, Result};
use crate::quant::{LinearScheme, Scheme};
use crate::tensor::DType;
pub use data::Dataset;
use error::candle_err;
use model::{Net, Quantizer};
pub use weights::{LayerWeights, ModelKind};

trait Ctx<T> {
    fn ctx(self) -> Result<T>;
}

impl<T> Ctx<T> for candle_core::Result<T> {
    fn ctx(self) -> Result<T> {
        self.map_err(candle_err)
    }
}

/// What produces the quantized model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The float model alone (the teacher).
    Float,
    /// Post-training quantization of the float model (no training).
    Ptq,
    /// Quantization-aware training from the float model: fake quantization in the
    /// forward pass, PyTorch's clipped straight-through estimator in the backward.
    Qat,
    /// QAT with learned step sizes (LSQ, PyTorch's _LearnableFakeQuantize gradients).
    Lsq,
    /// A quantized student trained from scratch on the distillation loss of the float
    /// teacher.
    Kd,
    /// QAT from the float model on the distillation loss.
    QatKd,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Float,
        Method::Ptq,
        Method::Qat,
        Method::Lsq,
        Method::Kd,
        Method::QatKd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Float => "float",
            Method::Ptq => "ptq",
            Method::Qat => "qat",
            Method::Lsq => "lsq",
            Method::Kd => "kd",
            Method::QatKd => "qat-kd",
        }
    }

    fn trains(self) -> bool {
        matches!(self, Method::Qat | Method::Lsq | Method::Kd | Method::QatKd)
    }

    fn distills(self) -> bool {
        matches!(self, Method::Kd | Method::QatKd)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method> {
        let l = s.trim().to_ascii_lowercase().replace('_', "-");
        Method::ALL
            .into_iter()
            .find(|m| m.name() == l || (l == "qatkd" && *m == Method::QatKd))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown method `{s}`; expected float, ptq, qat, lsq, kd or qat-kd"
                ))
            })
    }
}

/// The PTQ baseline's weight range estimator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PtqRange {
    /// Min-max under the `torch-` scheme QAT starts from.
    #[default]
    MinMax,
    /// The catalogue's MSE clip search (`int<b>-sym[-ch0]-mse`, plain convention: the
    /// `torch-` presets compute PyTorch's min-max observer only).
    Mse,
}

/// One training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub method: Method,
    /// Weight bits, 2 to 8.
    pub wbits: u8,
    /// Activation (layer input) bits, 4 to 8, or None for float activations.
    pub abits: Option<u8>,
    /// One weight scale per output channel (else one per tensor).
    pub per_channel: bool,
    pub ptq_range: PtqRange,
    /// Distillation temperature T (> 0) and weight a of the soft term (0..1).
    pub kd_t: f32,
    pub kd_alpha: f32,
    /// Epochs and Adam learning rate of the method's phase (QAT, LSQ, KD, QAT+KD).
    pub epochs: usize,
    pub lr: f32,
    /// Epochs and learning rate of the float model (the teacher).
    pub float_epochs: usize,
    pub float_lr: f32,
    pub batch: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::Mlp,
            method: Method::Qat,
            wbits: 4,
            abits: Some(8),
            per_channel: false,
            ptq_range: PtqRange::MinMax,
            kd_t: 4.0,
            kd_alpha: 0.7,
            epochs: 15,
            lr: 5e-4,
            float_epochs: 30,
            float_lr: 1e-3,
            batch: 32,
            seed: 0,
        }
    }
}

/// Most epochs per phase and the largest batch the lab accepts.
pub const MAX_EPOCHS: usize = 1000;
pub const MAX_BATCH: usize = 4096;

impl TrainConfig {
    /// Checks every field, naming the one that is out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if !(2..=8).contains(&self.wbits) {
            return bad(format!("--wbits {}: weights take 2 to 8 bits", self.wbits));
        }
        if let Some(a) = self.abits {
            if !(4..=8).contains(&a) {
                return bad(format!(
                    "--abits {a}: activations take 4 to 8 bits, or float"
                ));
            }
        }
        if !(self.kd_t.is_finite() && self.kd_t > 0.0 && self.kd_t <= 100.0) {
            return bad(format!(
                "--kd-t {}: the temperature must be in (0, 100]",
                self.kd_t
            ));
        }
        if !(0.0..=1.0).contains(&self.kd_alpha) {
            return bad(format!(
                "--kd-alpha {}: the weight must be in [0, 1]",
                self.kd_alpha
            ));
        }
        for (name, lr) in [("--lr", self.lr), ("--float-lr", self.float_lr)] {
            if !(lr.is_finite() && lr > 0.0 && lr <= 1.0) {
                return bad(format!("{name} {lr}: the learning rate must be in (0, 1]"));
            }
        }
        for (name, e) in [
            ("--epochs", self.epochs),
            ("--float-epochs", self.float_epochs),
        ] {
            if e > MAX_EPOCHS {
                return bad(format!("{name} {e}: at most {MAX_EPOCHS}"));
            }
        }
        if self.float_epochs == 0 {
            return bad("--float-epochs 0: the float model (the teacher) needs training".into());
        }
        if self.method.trains() && self.epochs == 0 {
            return bad(format!(
                "--epochs 0: {} trains for at least one epoch",
                self.method
            ));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return bad(format!("--batch {}: 1 to {MAX_BATCH}", self.batch));
        }
        Ok(())
    }

    /// `mlp` or `cnn`.
    pub fn model_name(&self) -> &'static str {
        match self.model {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
        }
    }

    /// The catalogue scheme the trained weights follow (and export with), or None for
    /// float and LSQ (whose learned steps are no scheme's min-max).
    pub fn weight_scheme(&self) -> Option<Scheme> {
        match self.method {
            Method::Float | Method::Lsq => None,
            Method::Ptq if self.ptq_range == PtqRange::Mse => {
                Some(Scheme::Linear(mse_scheme(self.wbits, self.per_channel)))
            }
            _ => Some(Scheme::Linear(model::weight_scheme(
                self.wbits,
                self.per_channel,
            ))),
        }
    }

    /// The scheme of every quantized layer input, or None for float activations.
    pub fn activation_scheme(&self) -> Option<Scheme> {
        match (self.method, self.abits) {
            (Method::Float, _) | (_, None) => None,
            (_, Some(a)) => Some(Scheme::Linear(model::activation_scheme(a))),
        }
    }
}

fn mse_scheme(bits: u8, per_channel: bool) -> LinearScheme {
    let s = format!("int{bits}-sym{}-mse", if per_channel { "-ch0" } else { "" });
    match s.parse::<Scheme>() {
        Ok(Scheme::Linear(l)) => l,
        _ => unreachable!("int2..8-sym-mse parses"),
    }
}

/// A trained model in plain form: what export, evaluation and the page use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    pub kind: ModelKind,
    pub sample_shape: Vec<usize>,
    pub classes: usize,
    pub layers: Vec<LayerWeights>,
    /// Each layer input's (min, max): the float model's over the training split, or the
    /// range the quantized model's observers ended with.
    pub input_ranges: Vec<(f32, f32)>,
    /// Learned LSQ steps per layer (weights, input), where the method learned them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lsq_steps: Vec<(Vec<f32>, f32)>,
}

/// One point of a training curve: after `epoch` (1-based) of `phase`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochPoint {
    /// `float` for the teacher's phase, else the method's name.
    pub phase: String,
    pub epoch: usize,
    /// Epochs of this phase.
    pub epochs: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f32,
    /// Accuracy on the test split, percent.
    pub test_accuracy: f32,
}

/// What a run produced.
#[derive(Clone, Debug, Serialize)]
pub struct TrainResult {
    pub config: TrainConfig,
    pub float_accuracy: f32,
    /// Test accuracy of the method's (quantized) model, percent.
    pub accuracy: f32,
    /// Test samples and classes.
    pub test_samples: usize,
    pub classes: usize,
    /// Bytes of the float model (f32 weights and biases) and of the quantized one (codes
    /// at their width with their scales and zero points, as the catalogue packs them,
    /// plus f32 biases).
    pub float_bytes: usize,
    pub bytes: usize,
    pub weight_scheme: Option<String>,
    pub activation_scheme: Option<String>,
    pub curve: Vec<EpochPoint>,
    /// Each trained layer's weights under the weight scheme (histogram, grid, metrics).
    pub layers: Vec<TensorReport>,
    pub model: TrainedModel,
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Teacher,
    Method,
    Done,
}

/// A run, one epoch at a time (the page's worker yields between epochs, so a cancel
/// message gets through).
pub struct Session {
    cfg: TrainConfig,
    data: Dataset,
    image: Option<(usize, usize, usize)>,
    phase: Phase,
    net: Net,
    teacher: Option<Net>,
    teacher_ranges: Vec<(f32, f32)>,
    opt: Option<AdamW>,
    epoch: usize,
    rng: ChaCha8Rng,
    curve: Vec<EpochPoint>,
    float_accuracy: f32,
    given_teacher: bool,
}

fn percent(right: usize, n: usize) -> f32 {
    (100.0 * right as f64 / n.max(1) as f64) as f32
}

impl Session {
    /// Starts a run: the float model first, then the method.
    pub fn new(cfg: TrainConfig, data: Dataset) -> Result<Session> {
        cfg.validate()?;
        let image = match cfg.model {
            ModelKind::Cnn => Some(data.image_shape()?),
            ModelKind::Mlp => None,
        };
        if let Some((_, h, w)) = image {
            if h < 2 || w < 2 {
                return Err(Error::Invalid(format!(
                    "training data: {h}x{w} images are too small for the CNN's 2x2 pooling"
                )));
            }
        }
        let net = Net::new(cfg.model, data.features(), image, data.classes, cfg.seed).ctx()?;
        let opt = Some(adam(&net, cfg.float_lr)?);
        Ok(Session {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005E_ED0F_DA7A),
            cfg,
            data,
            image,
            phase: Phase::Teacher,
            net,
            teacher: None,
            teacher_ranges: Vec::new(),
            opt,
            epoch: 0,
            curve: Vec::new(),
            float_accuracy: 0.0,
            given_teacher: false,
        })
    }

    /// Starts a run from an already trained float model (the page trains the teacher
    /// once and runs every method from it).
    pub fn with_teacher(
        cfg: TrainConfig,
        data: Dataset,
        teacher: &TrainedModel,
    ) -> Result<Session> {
        let mut s = Session::new(cfg, data)?;
        if teacher.kind != s.cfg.model
            || teacher.sample_shape != s.data.sample_shape
            || teacher.classes != s.data.classes
        {
            return Err(Error::Invalid(format!(
                "the float model is a {:?} for samples {:?} and {} classes; this run needs a {:?} for {:?} and {}",
                teacher.kind, teacher.sample_shape, teacher.classes,
                s.cfg.model, s.data.sample_shape, s.data.classes
            )));
        }
        s.net = Net::from_weights(teacher.kind, s.image, &teacher.layers).ctx()?;
        s.float_accuracy = s.accuracy()?;
        s.given_teacher = true;
        s.start_method()?;
        Ok(s)
    }

    /// Epochs this session trains: the float phase (unless it was given the float model)
    /// and the method's.
    pub fn total_epochs(&self) -> usize {
        let float = if self.given_teacher {
            0
        } else {
            self.cfg.float_epochs
        };
        float
            + if self.cfg.method.trains() {
                self.cfg.epochs
            } else {
                0
            }
    }

    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn accuracy(&mut self) -> Result<f32> {
        let f = self.data.features();
        let right = self
            .net
            .correct(&self.data.x_test, &self.data.y_test, f)
            .ctx()?;
        Ok(percent(right, self.data.n_test()))
    }

    /// Trains one epoch; None once the run is done.
    pub fn step(&mut self) -> Result<Option<EpochPoint>> {
        let (phase, epochs, name) = match self.phase {
            Phase::Done => return Ok(None),
            Phase::Teacher => (Phase::Teacher, self.cfg.float_epochs, "float".to_string()),
            Phase::Method => (Phase::Method, self.cfg.epochs, self.cfg.method.to_string()),
        };
        let loss = self.epoch_pass(phase)?;
        self.epoch += 1;
        let acc = self.accuracy()?;
        let point = EpochPoint {
            phase: name,
            epoch: self.epoch,
            epochs,
            loss,
            test_accuracy: acc,
        };
        self.curve.push(point.clone());
        if self.epoch == epochs {
            match phase {
                Phase::Teacher => {
                    self.float_accuracy = acc;
                    self.start_method()?;
                }
                _ => self.phase = Phase::Done,
            }
        }
        Ok(Some(point))
    }

    /// The teacher's weights, once trained.
    pub fn teacher(&self) -> Result<Option<TrainedModel>> {
        match &self.teacher {
            None => Ok(None),
            Some(t) => Ok(Some(TrainedModel {
                kind: self.cfg.model,
                sample_shape: self.data.sample_shape.clone(),
                classes: self.data.classes,
                layers: t.weights().ctx()?,
                input_ranges: self.teacher_ranges.clone(),
                lsq_steps: Vec::new(),
            })),
        }
    }

    /// Each layer input's (min, max) over the training split, by the current model.
    fn calibrate(&mut self) -> Result<Vec<(f32, f32)>> {
        let f = self.data.features();
        let n = self.data.n_train();
        let mut ranges: Vec<(f32, f32)> = Vec::new();
        let mut start = 0;
        while start < n {
            let m = 256.min(n - start);
            let xb = Tensor::from_slice(
                &self.data.x_train[start * f..(start + m) * f],
                (m, f),
                &Device::Cpu,
            )
            .ctx()?;
            let mut r = Vec::new();
            self.net.forward(&xb, false, Some(&mut r)).ctx()?;
            if ranges.is_empty() {
                ranges = r;
            } else {
                for (a, b) in ranges.iter_mut().zip(r) {
                    *a = (a.0.min(b.0), a.1.max(b.1));
                }
            }
            start += m;
        }
        Ok(ranges)
    }

    /// After the teacher: set the model up for the method (or finish).
    fn start_method(&mut self) -> Result<()> {
        let cfg = self.cfg.clone();
        self.epoch = 0;
        self.teacher_ranges = self.calibrate()?;
        let weights = self.net.weights().ctx()?;
        self.teacher = Some(Net::from_weights(cfg.model, self.image, &weights).ctx()?);
        if cfg.method == Method::Float {
            self.phase = Phase::Done;
            return Ok(());
        }
        if cfg.method == Method::Kd {
            // The student starts from its own initialisation, not from the teacher.
            self.net = Net::new(
                cfg.model,
                self.data.features(),
                self.image,
                self.data.classes,
                cfg.seed.wrapping_add(1),
            )
            .ctx()?;
        }
        let ranges = if cfg.method == Method::Kd {
            self.calibrate()?
        } else {
            self.teacher_ranges.clone()
        };
        let wscheme = model::weight_scheme(cfg.wbits, cfg.per_channel);
        for (i, l) in self.net.layers.iter_mut().enumerate() {
            let (lo, hi) = ranges[i];
            l.xq = match cfg.abits {
                None => Quantizer::Float,
                Some(a) => match cfg.method {
                    Method::Lsq => lsq_input(a, lo, hi).ctx()?,
                    m => Quantizer::Observed {
                        scheme: model::activation_scheme(a),
                        lo,
                        hi,
                        track: m.trains(),
                        momentum: 0.01,
                    },
                },
            };
            match cfg.method {
                Method::Ptq => {
                    // The catalogue's PTQ path: codes and back, once.
                    let scheme = cfg.weight_scheme().unwrap_or(Scheme::Linear(wscheme));
                    let t = crate::Tensor {
                        name: l.name.clone(),
                        shape: l.w.dims().to_vec(),
                        dtype: DType::F32,
                        data: l.w.flatten_all().ctx()?.to_vec1::<f32>().ctx()?,
                    };
                    let deq = scheme.encode(&t)?.dequantize();
                    l.wq = Quantizer::Fixed(Tensor::from_vec(deq, l.w.dims(), &Device::Cpu).ctx()?);
                }
                Method::Lsq => l.wq = lsq_weight(&l.w, cfg.wbits, cfg.per_channel).ctx()?,
                _ => l.wq = Quantizer::MinMax(wscheme),
            }
        }
        if cfg.method.trains() {
            self.opt = Some(adam(&self.net, cfg.lr)?);
            self.phase = Phase::Method;
        } else {
            self.phase = Phase::Done;
        }
        Ok(())
    }

    fn epoch_pass(&mut self, phase: Phase) -> Result<f32> {
        let f = self.data.features();
        let n = self.data.n_train();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut self.rng);
        let distill = phase == Phase::Method && self.cfg.method.distills();
        let (t, a) = (self.cfg.kd_t, self.cfg.kd_alpha);
        let mut total = 0f64;
        let mut batches = 0usize;
        let mut xb = Vec::with_capacity(self.cfg.batch * f);
        let mut yb = Vec::with_capacity(self.cfg.batch);
        for chunk in order.chunks(self.cfg.batch) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                xb.extend_from_slice(&self.data.x_train[i * f..(i + 1) * f]);
                yb.push(self.data.y_train[i]);
            }
            let m = chunk.len();
            let x = Tensor::from_slice(&xb, (m, f), &Device::Cpu).ctx()?;
            let y = Tensor::from_slice(&yb, m, &Device::Cpu).ctx()?;
            let logits = self.net.forward(&x, true, None).ctx()?;
            let loss = if distill {
                let teacher = self
                    .teacher
                    .as_mut()
                    .ok_or_else(|| Error::Invalid("training: no teacher".into()))?;
                let zt = teacher.forward(&x, false, None).ctx()?;
                kd::kd_loss(&logits, &zt, &y, t, a).ctx()?
            } else {
                candle_nn::loss::cross_entropy(&logits, &y).ctx()?
            };
            let opt = self
                .opt
                .as_mut()
                .ok_or_else(|| Error::Invalid("training: no optimizer".into()))?;
            opt.backward_step(&loss).ctx()?;
            // LSQ steps stay positive (PyTorch clamps them to eps before each use).
            for l in &self.net.layers {
                for q in [&l.wq, &l.xq] {
                    if let Quantizer::Lsq { scale, .. } = q {
                        scale
                            .set(&scale.as_tensor().clamp(f32::EPSILON, f32::MAX).ctx()?)
                            .ctx()?;
                    }
                }
            }
            total += loss.to_scalar::<f32>().ctx()? as f64;
            batches += 1;
        }
        let mean = (total / batches.max(1) as f64) as f32;
        if !mean.is_finite() {
            return Err(Error::Invalid(format!(
                "training diverged (loss {mean}): lower the learning rate"
            )));
        }
        Ok(mean)
    }

    /// The run's result (trains what is left first).
    pub fn finish(mut self) -> Result<TrainResult> {
        while self.step()?.is_some() {}
        let cfg = self.cfg.clone();
        let accuracy = if cfg.method == Method::Float {
            self.float_accuracy
        } else {
            self.accuracy()?
        };
        let layers_w = self.net.weights().ctx()?;
        let input_ranges: Vec<(f32, f32)> = match cfg.method {
            Method::Float => self.teacher_ranges.clone(),
            _ => self
                .net
                .layers
                .iter()
                .zip(&self.teacher_ranges)
                .map(|(l, &r)| match &l.xq {
                    Quantizer::Observed { lo, hi, .. } => (*lo, *hi),
                    _ => r,
                })
                .collect(),
        };
        let mut lsq_steps = Vec::new();
        for l in &self.net.layers {
            if let Quantizer::Lsq { scale, .. } = &l.wq {
                let xs = match &l.xq {
                    Quantizer::Lsq { scale, .. } => scale
                        .as_tensor()
                        .to_vec1::<f32>()
                        .ctx()?
                        .first()
                        .copied()
                        .unwrap_or(0.0),
                    _ => 0.0,
                };
                lsq_steps.push((scale.as_tensor().to_vec1::<f32>().ctx()?, xs));
            }
        }
        let model = TrainedModel {
            kind: cfg.model,
            sample_shape: self.data.sample_shape.clone(),
            classes: self.data.classes,
            layers: layers_w,
            input_ranges,
            lsq_steps,
        };
        let wscheme = cfg.weight_scheme();
        let mut layers = Vec::new();
        let mut bytes = 0;
        let mut float_bytes = 0;
        let report_scheme = wscheme
            .clone()
            .unwrap_or(Scheme::Linear(model::weight_scheme(
                cfg.wbits,
                cfg.per_channel,
            )));
        for l in &model.layers {
            let t = crate::Tensor {
                name: format!("{}.weight", l.name),
                shape: l.shape.clone(),
                dtype: DType::F32,
                data: l.weight.clone(),
            };
            float_bytes += 4 * (l.weight.len() + l.bias.len());
            bytes += 4 * l.bias.len()
                + match cfg.method {
                    Method::Float => 4 * l.weight.len(),
                    _ => report_scheme.encode(&t)?.packed_bytes(),
                };
            if cfg.method != Method::Float {
                layers.push(analysis::analyze(&t, &report_scheme, 64)?);
            }
        }
        let mut notes = Vec::new();
        if cfg.method == Method::Lsq {
            notes.push(format!(
                "LSQ learned its own steps: the histograms show the weights under {report_scheme} (min-max), and the model is not exported (no scheme string holds learned steps)"
            ));
        }
        Ok(TrainResult {
            float_accuracy: self.float_accuracy,
            accuracy,
            test_samples: self.data.n_test(),
            classes: self.data.classes,
            float_bytes,
            bytes,
            weight_scheme: wscheme.map(|s| s.to_string()),
            activation_scheme: cfg.activation_scheme().map(|s| s.to_string()),
            curve: self.curve,
            layers,
            model,
            notes,
            config: cfg,
        })
    }
}

fn adam(net: &Net, lr: f32) -> Result<AdamW> {
    AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: lr as f64,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
    .ctx()
}

/// LSQ for a layer's weights: symmetric signed codes, steps initialised at the `torch-`
/// min-max scale (what _LearnableFakeQuantize's observer gives on its first step).
fn lsq_weight(w: &candle_core::Var, bits: u8, per_channel: bool) -> candle_core::Result<Quantizer> {
    let s = model::weight_scheme(bits, per_channel);
    let data = w.flatten_all()?.to_vec1::<f32>()?;
    let rows = if per_channel { w.dims()[0] } else { 1 };
    let per = data.len() / rows.max(1);
    let ranges: Vec<(f32, f32)> = data
        .chunks(per.max(1))
        .map(crate::quant::range::min_max)
        .collect();
    let p = fakequant::FqParams::from_ranges(&s, &ranges);
    Ok(Quantizer::Lsq {
        scale: candle_core::Var::from_vec(p.scale, rows, &Device::Cpu)?,
        qmin: p.qmin,
        qmax: p.qmax,
        axis: per_channel.then_some(0),
    })
}

/// LSQ for a layer's input: unsigned codes from 0 for non-negative inputs (post-ReLU,
/// pixels), signed otherwise; zero point 0; the step from the calibrated range.
fn lsq_input(bits: u8, lo: f32, hi: f32) -> candle_core::Result<Quantizer> {
    let (qmin, qmax) = if lo >= 0.0 {
        (0, (1i32 << bits) - 1)
    } else {
        (-(1i32 << (bits - 1)), (1i32 << (bits - 1)) - 1)
    };
    let absmax = lo.abs().max(hi.abs());
    let step = (absmax / qmax as f32).max(f32::EPSILON);
    Ok(Quantizer::Lsq {
        scale: candle_core::Var::from_vec(vec![step], 1, &Device::Cpu)?,
        qmin,
        qmax,
        axis: None,
    })
}

/// Trains `cfg` on `data`, calling `on_epoch` after every epoch; it returns false to
/// cancel, and the run then ends with an error saying so.
pub fn train(
    cfg: TrainConfig,
    data: Dataset,
    mut on_epoch: impl FnMut(&EpochPoint) -> bool,
) -> Result<TrainResult> {
    let mut s = Session::new(cfg, data)?;
    while let Some(p) = s.step()? {
        if !on_epoch(&p) {
            return Err(Error::Invalid(format!(
                "training cancelled after epoch {} of {}",
                p.epoch, p.phase
            )));
        }
    }
    s.finish()
}

/// How one layer is quantized when scoring a trained model ([`evaluate`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerScheme {
    /// Any catalogue scheme for the weights (None: float).
    pub weights: Option<Scheme>,
    /// Bits of the layer's input, 4 to 8 (`torch-uint<b>-asym` over the model's recorded
    /// input range), or None for float.
    pub activations: Option<u8>,
}

/// Test accuracy (percent) of `model` with each named layer quantized as `schemes` says
/// (layers not named stay float). Weights go through the scheme's encode and
/// dequantize; inputs through fake quantization over `model.input_ranges`.
pub fn evaluate(
    model: &TrainedModel,
    data: &Dataset,
    schemes: &BTreeMap<String, LayerScheme>,
) -> Result<f32> {
    if model.sample_shape != data.sample_shape || model.classes < data.classes {
        return Err(Error::Invalid(format!(
            "the model takes samples {:?} and {} classes; the data has {:?} and {}",
            model.sample_shape, model.classes, data.sample_shape, data.classes
        )));
    }
    for name in schemes.keys() {
        if !model.layers.iter().any(|l| &l.name == name) {
            return Err(Error::Invalid(format!(
                "no layer `{name}`; the model's layers are {}",
                model
                    .layers
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let image = match model.kind {
        ModelKind::Cnn => Some(data.image_shape()?),
        ModelKind::Mlp => None,
    };
    let mut layers = model.layers.clone();
    for l in &mut layers {
        if let Some(Some(s)) = schemes.get(&l.name).map(|s| s.weights.as_ref()) {
            let t = crate::Tensor {
                name: format!("{}.weight", l.name),
                shape: l.shape.clone(),
                dtype: DType::F32,
                data: std::mem::take(&mut l.weight),
            };
            l.weight = s.encode(&t)?.dequantize();
        }
    }
    let mut net = Net::from_weights(model.kind, image, &layers).ctx()?;
    for (i, l) in net.layers.iter_mut().enumerate() {
        if let Some(Some(a)) = schemes.get(&l.name).map(|s| s.activations) {
            if !(4..=8).contains(&a) {
                return Err(Error::Invalid(format!(
                    "layer `{}`: activations take 4 to 8 bits, not {a}",
                    l.name
                )));
            }
            let (lo, hi) = model.input_ranges.get(i).copied().unwrap_or((0.0, 0.0));
            l.xq = Quantizer::Observed {
                scheme: model::activation_scheme(a),
                lo,
                hi,
                track: false,
                momentum: 0.0,
            };
        }
    }
    let right = net
        .correct(&data.x_test, &data.y_test, data.features())
        .ctx()?;
    Ok(percent(right, data.n_test()))
}
