//! The quantscope command-line tool: inspect model files and quantize their tensors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quantscope::analysis::{self, TensorSummary};
use quantscope::formats::ModelInfo;
use quantscope::{Model, Scheme};

#[derive(Parser)]
#[command(
    name = "quantscope",
    version,
    about = "Quantize neural-network weights and measure the error"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the tensors of a model: name, shape, dtype, size; metadata, the graph
    /// summary (ONNX) and stored quantization parameters (TFLite).
    /// Several files open as one model: checkpoint shards (with their
    /// model.safetensors.index.json), or an ONNX model with its external data files.
    Inspect {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Quantize tensors with a scheme and print per-tensor error metrics.
    Quantize {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Scheme, e.g. int8-sym-ch0, int8-asym, int4-sym-ch1.
        #[arg(long, short)]
        scheme: String,
        /// Only these tensors (repeatable); all tensors by default.
        #[arg(long, short)]
        tensor: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quantscope: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load(files: &[PathBuf]) -> Result<Model, String> {
    let mut named: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            Ok((f.to_string_lossy().into_owned(), bytes))
        })
        .collect::<Result<_, String>>()?;
    loop {
        let refs: Vec<(&str, &[u8])> = named
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        match quantscope::formats::open_many(&refs) {
            // A lone ONNX model whose tensors live in a file beside it: read that file
            // from the model's folder (by its file name only) and try again.
            Err(quantscope::Error::MissingExternalData { location, .. }) if files.len() == 1 => {
                let base = quantscope::formats::base_name(&location).to_string();
                let beside = files[0].with_file_name(&base);
                if named.iter().any(|(n, _)| n.ends_with(&base)) || !beside.is_file() {
                    return Err(format!(
                        "ONNX tensors keep their data in `{location}`, not found beside {}; give it as another file",
                        files[0].display()
                    ));
                }
                let bytes =
                    std::fs::read(&beside).map_err(|e| format!("{}: {e}", beside.display()))?;
                named.push((beside.to_string_lossy().into_owned(), bytes));
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Inspect { files, json } => {
            let info = load(&files)?.info();
            if json {
                print_json(&info)?;
            } else {
                print_inspect(&info);
            }
        }
        Command::Quantize {
            files,
            scheme,
            tensor,
            json,
        } => {
            let scheme: Scheme = scheme.parse().map_err(|e| format!("{e}"))?;
            let model = load(&files)?;
            let names: Vec<String> = if tensor.is_empty() {
                model.tensors.iter().map(|t| t.name.clone()).collect()
            } else {
                tensor
            };
            let rows = names
                .iter()
                .map(|n| {
                    let t = model.tensor(n).map_err(|e| e.to_string())?;
                    analysis::summarize(t, &scheme).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            if json {
                print_json(&rows)?;
            } else {
                print_summary(&rows);
            }
        }
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), String> {
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}

fn shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

fn print_inspect(info: &ModelInfo) {
    println!(
        "{:?}: {} tensors, {} parameters, {} bytes",
        info.format,
        info.tensors.len(),
        info.total_params,
        info.total_bytes
    );
    let w = info
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<w$}  {:<20}  {:<5}  {:>12}",
        "name", "shape", "dtype", "bytes"
    );
    for t in &info.tensors {
        println!(
            "{:<w$}  {:<20}  {:<5}  {:>12}",
            t.name,
            shape(&t.shape),
            t.dtype.name(),
            t.size_bytes
        );
    }
    for (k, v) in &info.metadata {
        println!("metadata {k} = {v}");
    }
    for (name, q) in &info.quantization {
        let axis = if q.scales.len() > 1 {
            format!(" along dimension {}", q.quantized_dimension)
        } else {
            String::new()
        };
        println!(
            "quantized {name}: {} codes, {} scale(s){axis}, scales {}, zero points {:?}",
            q.code_dtype,
            q.scales.len(),
            abbreviate(&q.scales),
            &q.zero_points[..q.zero_points.len().min(8)]
        );
    }
    if let Some(g) = &info.graph {
        println!(
            "graph: {} nodes ({} subgraphs)",
            g.node_count, g.subgraph_count
        );
        let ops: Vec<String> = g.op_types.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("ops: {}", ops.join(", "));
        for (w, nodes) in &g.weight_consumers {
            let n: Vec<String> = nodes
                .iter()
                .map(|n| format!("{} ({})", n.node, n.op_type))
                .collect();
            println!("feeds {w} -> {}", n.join(", "));
        }
    }
}

fn abbreviate(v: &[f32]) -> String {
    let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:e}")).collect();
    if v.len() > 4 {
        format!("[{}, ...]", head.join(", "))
    } else {
        format!("[{}]", head.join(", "))
    }
}

fn print_summary(rows: &[TensorSummary]) {
    let w = rows.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<w$}  {:<14}  {:>9}  {:>10}  {:>12}  {:>11}  {:>8}",
        "name", "scheme", "SQNR dB", "cosine", "MSE", "max |err|", "bits/w"
    );
    for r in rows {
        println!(
            "{:<w$}  {:<14}  {:>9.3}  {:>10.7}  {:>12.5e}  {:>11.5e}  {:>8.3}",
            r.name,
            r.scheme,
            r.metrics.sqnr_db,
            r.metrics.cosine,
            r.metrics.mse,
            r.metrics.max_abs_error,
            r.bits_per_weight
        );
    }
}
