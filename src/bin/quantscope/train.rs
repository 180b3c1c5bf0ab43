//! `quantscope train`: the training lab from the command line.

use std::path::PathBuf;

use clap::Args;
use quantscope::export::ExportFormat;
use quantscope::train::{self, Dataset, EpochPoint, Method, ModelKind, PtqRange, TrainConfig};
use serde::Serialize;

/// The built-in dataset, as scripts/digits.py writes it (`npm run setup` runs it).
const DIGITS: &str = "www/public/digits.npz";

#[derive(Args)]
pub struct TrainArgs {
    /// mlp (features-128-64-classes) or cnn (two 3x3 convolutions, pooling, linear).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// float, ptq, qat, lsq, kd or qat-kd.
    #[arg(long, default_value = "qat")]
    method: String,
    /// Weight bits, 2 to 8.
    #[arg(long, default_value_t = 4)]
    wbits: u8,
    /// Activation bits, 4 to 8, or `float`.
    #[arg(long, default_value = "8")]
    abits: String,
    /// One weight scale per output channel (default: one per tensor).
    #[arg(long)]
    per_channel: bool,
    /// PTQ's weight range: minmax or mse.
    #[arg(long, default_value = "minmax")]
    ptq_range: String,
    /// Distillation temperature T.
    #[arg(long, default_value_t = 4.0)]
    kd_t: f32,
    /// Weight a of the soft (teacher) term.
    #[arg(long, default_value_t = 0.7)]
    kd_alpha: f32,
    /// Epochs of the method (QAT, LSQ, KD, QAT+KD).
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    /// Adam learning rate of the method.
    #[arg(long, default_value_t = 5e-4)]
    lr: f32,
    /// Epochs of the float model (the teacher).
    #[arg(long, default_value_t = 30)]
    float_epochs: usize,
    #[arg(long, default_value_t = 1e-3)]
    float_lr: f32,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// An .npz with x_train, y_train, x_test, y_test (default: the digits file setup makes).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the quantized model (.onnx: QDQ; .safetensors: codes and scales).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print JSON (config, accuracies, sizes, curve, export report) instead of a summary.
    #[arg(long)]
    json: bool,
}

impl TrainArgs {
    fn config(&self) -> Result<TrainConfig, String> {
        let abits = match self.abits.trim().to_ascii_lowercase().as_str() {
            "float" | "f32" | "fp32" | "none" => None,
            s => Some(
                s.parse::<u8>()
                    .map_err(|_| format!("--abits {s}: expected 4 to 8, or float"))?,
            ),
        };
        let ptq_range = match self.ptq_range.to_ascii_lowercase().as_str() {
            "minmax" => PtqRange::MinMax,
            "mse" => PtqRange::Mse,
            s => return Err(format!("--ptq-range {s}: expected minmax or mse")),
        };
        let cfg = TrainConfig {
            model: self.model.parse::<ModelKind>().map_err(|e| e.to_string())?,
            method: self.method.parse::<Method>().map_err(|e| e.to_string())?,
            wbits: self.wbits,
            abits,
            per_channel: self.per_channel,
            ptq_range,
            kd_t: self.kd_t,
            kd_alpha: self.kd_alpha,
            epochs: self.epochs,
            lr: self.lr,
            float_epochs: self.float_epochs,
            float_lr: self.float_lr,
            batch: self.batch,
            seed: self.seed,
        };
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    config: &'a TrainConfig,
    float_accuracy: f32,
    accuracy: f32,
    test_samples: usize,
    float_bytes: usize,
    bytes: usize,
    weight_scheme: &'a Option<String>,
    activation_scheme: &'a Option<String>,
    curve: &'a [EpochPoint],
    notes: &'a [String],
    /// Wall time of each epoch (training pass and test evaluation), in curve order.
    epoch_seconds: &'a [f64],
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<quantscope::export::ExportReport>,
    seconds: f64,
}

pub fn run(args: TrainArgs) -> Result<(), String> {
    let cfg = args.config()?;
    // Refuse an output the run could not write before training for it.
    let format = match &args.output {
        Some(out) => {
            let f =
                ExportFormat::from_file_name(&out.to_string_lossy()).map_err(|e| e.to_string())?;
            if f == ExportFormat::Gguf {
                return Err(
                    "a trained model is written as .onnx or .safetensors, not .gguf".into(),
                );
            }
            if matches!(cfg.method, Method::Float | Method::Lsq) {
                return Err(format!(
                    "-o: --method {} has no scheme the writers reproduce (float: nothing quantized; lsq: learned steps); export ptq, qat, kd or qat-kd",
                    cfg.method
                ));
            }
            Some(f)
        }
        None => None,
    };
    let path = args.data.clone().unwrap_or_else(|| PathBuf::from(DIGITS));
    let bytes = std::fs::read(&path).map_err(|e| {
        if args.data.is_none() {
            format!(
                "{}: {e}; make it with `python3 scripts/digits.py` (npm run setup does)",
                path.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    let data = Dataset::from_npz(&bytes, &path.to_string_lossy()).map_err(|e| e.to_string())?;
    let quiet = args.json;
    let start = std::time::Instant::now();
    let mut last = start;
    let mut epoch_seconds = Vec::new();
    let result = train::train(cfg.clone(), data, |p| {
        let now = std::time::Instant::now();
        epoch_seconds.push((now - last).as_secs_f64());
        last = now;
        if !quiet {
            eprintln!(
                "{:>7} epoch {:>3}/{:<3} loss {:.4}  test accuracy {:.2} %",
                p.phase, p.epoch, p.epochs, p.loss, p.test_accuracy
            );
        }
        true
    })
    .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let export = match (format, &args.output) {
        (Some(f), Some(out)) => {
            let e = train::export::write(&result, f).map_err(|e| e.to_string())?;
            std::fs::write(out, &e.bytes).map_err(|err| format!("{}: {err}", out.display()))?;
            Some(e.report)
        }
        _ => None,
    };
    if args.json {
        let s = Summary {
            config: &result.config,
            float_accuracy: result.float_accuracy,
            accuracy: result.accuracy,
            test_samples: result.test_samples,
            float_bytes: result.float_bytes,
            bytes: result.bytes,
            weight_scheme: &result.weight_scheme,
            activation_scheme: &result.activation_scheme,
            curve: &result.curve,
            notes: &result.notes,
            epoch_seconds: &epoch_seconds,
            export,
            seconds,
        };
        let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        println!(
            "{} {} W{}A{}{}: test accuracy {:.2} % (float {:.2} %), {} bytes (float {} bytes), {:.1} s",
            cfg.model_name(),
            cfg.method,
            cfg.wbits,
            cfg.abits.map(|a| a.to_string()).unwrap_or_else(|| "float".into()),
            if cfg.per_channel { " per-channel" } else { "" },
            result.accuracy,
            result.float_accuracy,
            result.bytes,
            result.float_bytes,
            seconds
        );
        for n in &result.notes {
            println!("note: {n}");
        }
        if let (Some(out), Some(r)) = (&args.output, &export) {
            println!(
                "wrote {} ({} bytes, weights {})",
                out.display(),
                r.bytes,
                r.scheme
            );
        }
    }
    Ok(())
}
