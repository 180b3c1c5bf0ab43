//! The quantscope command-line tool: inspect model files and quantize their tensors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quantscope::analysis::layer::{self, Probe};
use quantscope::analysis::{self, TensorSummary};
use quantscope::budget::{self, Budget, Operation};
use quantscope::export::policy::Pick;
use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::formats::ModelFile;
use quantscope::formats::ModelInfo;
use quantscope::kernels::gemm::ActQuant;
use quantscope::{Scheme, TensorStore};

#[path = "cli/auto.rs"]
mod auto;
// Not src/bin/train.rs: cargo would take that file for a binary of its own.
#[path = "quantscope/train.rs"]
mod train;

/// `std::println!` panics when the reader of a pipe goes away (`quantscope ... | head`);
/// this one ends the program quietly instead, as Unix tools do.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

#[derive(Parser)]
#[command(
    name = "quantscope",
    version,
    about = "Quantize neural-network weights and measure the error"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Most memory one tensor's work may take, e.g. 8G, 512MiB, 1500MB (K/M/G/T are
    /// powers of 1024, KB/MB/GB powers of 1000). Work that would need more is refused
    /// before it starts, naming the tensor, the scheme and the figure. Default: 3/4 of
    /// the memory available (MemAvailable on Linux; 4 GiB where it cannot be read).
    #[arg(long, global = true, value_parser = parse_max_memory)]
    max_memory: Option<u64>,
}

fn parse_max_memory(s: &str) -> Result<u64, String> {
    quantscope::budget::parse_size(s)
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
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print the tensor list as CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Quantize tensors with a scheme and print per-tensor error metrics; with -o, write
    /// the quantized model (.onnx: QDQ weights, from an ONNX input; .gguf; .safetensors;
    /// NAME-weights_manifest.json: TF.js weights with their .bin shards beside it).
    Quantize {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Scheme, e.g. int8-sym-ch0, int8-asym, int4-sym-ch1.
        #[arg(long, short, required_unless_present = "policy")]
        scheme: Option<String>,
        /// A per-tensor policy (JSON, as `quantscope auto --policy-out` writes it) instead
        /// of one scheme: each tensor it names gets its scheme or stays float.
        #[arg(long, conflicts_with = "scheme")]
        policy: Option<PathBuf>,
        /// Only these tensors (repeatable); all tensors by default.
        #[arg(long, short)]
        tensor: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
        /// Write the quantized model here; the format follows the name (.onnx, .gguf,
        /// .safetensors, NAME-weights_manifest.json for TF.js). See docs/EXPORT.md.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// With -o: also write the JSON report of every tensor (what was stored, metrics).
        #[arg(long, requires = "output")]
        report: Option<PathBuf>,
    },
    /// Quantize tensors with several schemes and print every tensor x scheme: MSE, SQNR,
    /// cosine, max |error|, bits per weight, packed bytes.
    Compare {
        file: PathBuf,
        /// Comma-separated schemes, e.g. int8-sym-ch0,int4-asym-group128,torch-int8-sym.
        #[arg(long, value_delimiter = ',', required = true)]
        schemes: Vec<String>,
        /// Only these tensors (repeatable); all tensors by default.
        #[arg(long, short)]
        tensor: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Run probe inputs through one layer in f32 and in int8 (the scheme's weights,
    /// activations quantized per row) and compare the outputs.
    Layer {
        file: PathBuf,
        /// The weight: [out, in] or a conv kernel [out, in, kh, kw] (flattened to [out, in*kh*kw]).
        #[arg(long, short)]
        tensor: String,
        /// Weight scheme: a linear scheme per tensor or per output channel.
        #[arg(long, short, default_value = "int8-sym-ch0")]
        scheme: String,
        /// gaussian, uniform, or an .npy file of inputs ([batch, in] or [in]).
        #[arg(long, default_value = "gaussian")]
        inputs: String,
        /// Probe rows for gaussian/uniform inputs.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The probe row whose outputs are shown (0-based); metrics cover every row.
        #[arg(long, default_value_t = 0)]
        row: usize,
        /// Activation quantization per row: asym (int8 with zero point), sym, u7.
        #[arg(long, default_value = "asym")]
        activations: String,
        /// Print JSON instead of a summary.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print every output of the shown row as CSV (index, float, int8, error).
        #[arg(long)]
        csv: bool,
    },
    /// Train a small model on digits (or an .npz) and quantize it: PTQ, QAT (STE), LSQ,
    /// distillation (KD) or QAT+KD; prints test accuracy and size, -o writes the model.
    Train(train::TrainArgs),
    /// Run an ONNX model float and quantized on the same inputs and print the error at
    /// every node: accumulated (whole model quantized) and isolated (only that node's
    /// weight). See docs/WHOLE-MODEL.md.
    Run(RunArgs),
    /// Search the best scheme per tensor under a size budget: each candidate's damage
    /// with only that tensor quantized (measured once), an exact knapsack over them (the
    /// Pareto front), and the chosen mix measured as a whole. See docs/AUTO.md.
    Auto(AutoArgs),
}

#[derive(clap::Args)]
struct AutoArgs {
    /// The model: ONNX (output objective: the whole model runs) or any file the tool
    /// reads (weights objective).
    model: PathBuf,
    /// Budgets, comma-separated: bits per searched weight (4.5bpw) or bytes of the
    /// searched tensors (800000, 1.5MB, 2MiB).
    #[arg(long, value_delimiter = ',', required = true)]
    budget: Vec<String>,
    /// Candidate schemes, comma-separated (`float` keeps a tensor; `-ch` without a number
    /// is each weight's output-channel axis, `-groupN` without `-axA` runs along its
    /// reduction axis). Default: int8-sym-ch,int4-sym-ch,int4-asym-group128,q8_0,q4_k,nf4,float.
    #[arg(long, value_delimiter = ',')]
    candidates: Vec<String>,
    /// output (the model's final outputs on the probe inputs), accuracy (a classifier's
    /// top-1 on labelled inputs: --inputs with --labels), or weights (a proxy). Default:
    /// accuracy with --labels, else output when the model runs, else weights.
    #[arg(long)]
    objective: Option<String>,
    /// Name of the labels array in --inputs (accuracy objective): class indices, one per
    /// row of the model's output.
    #[arg(long)]
    labels: Option<String>,
    /// weights or full (activations quantized too, as `quantscope run --mode full`).
    #[arg(long, default_value = "weights")]
    mode: String,
    #[arg(long, default_value = "ort-uint8-asym")]
    act: String,
    /// An .npz (or .npy) of probe inputs, matched by input name.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Fix a symbolic input dimension: NAME=N or INPUT.AXIS=N (repeatable).
    #[arg(long)]
    dim: Vec<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip measuring the chosen mixes and the uniform schemes as a whole.
    #[arg(long)]
    no_check: bool,
    /// Write the first budget's mix as a policy file (`quantscope quantize --policy`).
    #[arg(long)]
    policy_out: Option<PathBuf>,
    /// Write the first budget's mix as a model (.onnx QDQ, .gguf, .safetensors); the
    /// candidates are kept to what that format stores, as with --format.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Keep to the candidates one file of this format can store (onnx, gguf,
    /// safetensors): GGUF holds ggml types and fp16/bf16, ONNX QDQ and safetensors linear
    /// codes; a mix of both kinds has no file to go in.
    #[arg(long)]
    format: Option<String>,
    /// Also print the first budget's mix as llama.cpp --tensor-type lines and ONNX
    /// Runtime's nodes_to_exclude and TensorQuantOverrides.
    #[arg(long)]
    recipes: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The ONNX model (external data files are read from beside it).
    model: PathBuf,
    /// Weight scheme for every MatMul/Gemm/Conv weight, e.g. int8-sym-ch0, int4-asym-group32.
    #[arg(long, short)]
    scheme: String,
    /// weights: only weights quantized; full: also the activation inputs of those ops.
    #[arg(long, default_value = "weights")]
    mode: String,
    /// Activation scheme of the full mode (8-bit, per tensor), e.g. ort-uint8-asym,
    /// ort-int8-asym-pct99.999, ort-uint8-asym-kl.
    #[arg(long, default_value = "ort-uint8-asym")]
    act: String,
    /// An .npz (or .npy for a one-input model) of inputs, matched by input name; inputs
    /// it lacks are generated.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Nodes to keep float (comma-separated node names).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Fix a symbolic input dimension: NAME=N or INPUT.AXIS=N (repeatable).
    #[arg(long)]
    dim: Vec<String>,
    /// Seed of the generated inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip the isolated (per-node) runs.
    #[arg(long)]
    no_isolated: bool,
    /// Write the quantized model as ONNX QDQ (weights, and activations in the full mode;
    /// excluded nodes stay float).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write the graph's outputs, float and quantized, whole, as JSON
    /// ({name: {shape, float, quantized}}), for comparing with another runtime.
    #[arg(long)]
    dump_outputs: Option<PathBuf>,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
}

/// How a command prints its result.
#[derive(Clone, Copy)]
enum Output {
    Table,
    Json,
    Csv,
}

/// A progress bar on stderr for work over `len` items (tensors, or tensor x scheme
/// pairs). indicatif draws nothing when stderr is not a terminal, so pipes, files and
/// the tests see only the result; one item needs no bar.
fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    if len < 2 {
        return indicatif::ProgressBar::hidden();
    }
    // Cleared when dropped too: an error then prints on a clean line.
    let bar =
        indicatif::ProgressBar::new(len as u64).with_finish(indicatif::ProgressFinish::AndClear);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}} {{wide_msg}}"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// A progress bar for work in stages whose lengths are known only as each starts
/// (`quantscope run`: float run, quantized run, isolated runs); labelled by its prefix.
fn stage_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0).with_finish(indicatif::ProgressFinish::AndClear);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// A model whose tensor reads advance a progress bar: the writers read each tensor
/// once, in order, so this shows their progress without their knowing of it.
struct Progress<'a> {
    inner: &'a ModelFile,
    bar: indicatif::ProgressBar,
}

impl<'a> Progress<'a> {
    fn new(inner: &'a ModelFile, what: &str) -> Self {
        let bar = progress(inner.info().tensors.len(), what);
        Progress { inner, bar }
    }
}

impl TensorStore for Progress<'_> {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    fn load(&self, name: &str) -> quantscope::Result<std::borrow::Cow<'_, quantscope::Tensor>> {
        self.bar.set_message(name.to_string());
        let t = self.inner.load(name);
        self.bar.inc(1);
        t
    }

    fn gguf_metadata(&self) -> &[quantscope::formats::RawKv] {
        self.inner.gguf_metadata()
    }

    fn onnx_source(&self) -> quantscope::Result<Option<quantscope::formats::OnnxSource<'_>>> {
        self.inner.onnx_source()
    }
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

/// Memory-maps a file: tensors are then read from the map as they are needed, so a
/// large model costs the memory of the tensors in use, not of the file.
fn map(path: &Path) -> Result<(String, Box<dyn ByteSource>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.to_string_lossy().into_owned();
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        // Mapping an empty file fails on some systems; let the reader say "empty file".
        return Ok((name, Box::new(InMemory(Vec::new()))));
    }
    // SAFETY: the map is only read. If another program truncates the file while it is
    // mapped, reads of the lost pages fault, as with every tool that maps model files
    // (safetensors, llama.cpp); the CLI is short-lived and maps read-only.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((name, Box::new(InMemory(map))))
}

fn load(files: &[PathBuf]) -> Result<ModelFile, String> {
    let mut paths: Vec<PathBuf> = files.to_vec();
    loop {
        let sources = paths
            .iter()
            .map(|p| map(p))
            .collect::<Result<Vec<_>, String>>()?;
        match ModelFile::open(sources) {
            // A lone ONNX model whose tensors live in a file beside it: read that file
            // from the model's folder (by its file name only) and try again.
            Err(quantscope::Error::MissingExternalData { location, .. }) if files.len() == 1 => {
                let base = quantscope::formats::base_name(&location).to_string();
                let beside = files[0].with_file_name(&base);
                if paths.iter().any(|p| p.to_string_lossy().ends_with(&base)) || !beside.is_file() {
                    return Err(format!(
                        "ONNX tensors keep their data in `{location}`, not found beside {}; give it as another file",
                        files[0].display()
                    ));
                }
                paths.push(beside);
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

/// The tensors to work on: those named, or every tensor of the model in its order.
fn tensor_names(model: &ModelFile, named: Vec<String>) -> Vec<String> {
    if named.is_empty() {
        model.info().tensors.into_iter().map(|t| t.name).collect()
    } else {
        named
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let budget = match cli.max_memory {
        Some(b) => Budget::new(b, "--max-memory"),
        None => Budget::from_available_memory(),
    };
    let fits = |model: &ModelFile, name: &str, scheme: &Scheme, op: Operation| {
        budget::check_tensor(&budget, model, name, scheme, op).map_err(|e| e.to_string())
    };
    match cli.command {
        Command::Train(args) => train::run(args)?,
        Command::Inspect { files, json, csv } => {
            let info = load(&files)?.info();
            if json {
                print_json(&info)?;
            } else if csv {
                print_inspect_csv(&info);
            } else {
                print_inspect(&info);
            }
        }
        Command::Quantize {
            files,
            scheme,
            policy,
            tensor,
            json,
            csv,
            output,
            report,
        } => {
            use quantscope::export::policy::{Assign, TensorPolicy};
            let scheme: Option<Scheme> = scheme
                .map(|s| s.parse().map_err(|e| format!("{e}")))
                .transpose()?;
            let policy = match &policy {
                Some(p) => Some(
                    TensorPolicy::from_json(
                        &std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
                    )
                    .map_err(|e| e.to_string())?,
                ),
                None => None,
            };
            let assign = match (&scheme, &policy) {
                (Some(s), _) => Assign::All(s),
                (None, Some(p)) => Assign::PerTensor(p),
                (None, None) => return Err("give --scheme or --policy".into()),
            };
            if let Some(out) = output {
                if !tensor.is_empty() {
                    return Err(
                        "-o writes the whole model; --tensor cannot be combined with it".into(),
                    );
                }
                let style = if json {
                    Output::Json
                } else if csv {
                    Output::Csv
                } else {
                    Output::Table
                };
                return export_model(&files, assign, &out, report.as_deref(), style, &budget);
            }
            let model = load(&files)?;
            assign
                .check(&model.info().tensors)
                .map_err(|e| e.to_string())?;
            let names = match &policy {
                Some(p) if tensor.is_empty() => p.tensors.keys().cloned().collect(),
                _ => tensor_names(&model, tensor),
            };
            let bar = progress(names.len(), "quantizing");
            let mut rows = Vec::new();
            for n in &names {
                bar.set_message(n.clone());
                bar.inc(1);
                let Pick::Quantize(s) = assign.pick(n) else {
                    continue;
                };
                fits(&model, n, s, Operation::Summary)?;
                let t = model.load(n).map_err(|e| e.to_string())?;
                rows.push(analysis::summarize(&t, s).map_err(|e| e.to_string())?);
            }
            bar.finish_and_clear();
            if json {
                print_json(&rows)?;
            } else if csv {
                print_csv(&rows);
            } else {
                print_summary(&rows);
                print_notes(&rows);
            }
        }
        Command::Compare {
            file,
            schemes,
            tensor,
            json,
            csv,
        } => {
            // Parse every scheme before reading the file: a typo fails fast.
            let schemes = schemes
                .iter()
                .map(|s| s.parse::<Scheme>().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let model = load(std::slice::from_ref(&file))?;
            let names = tensor_names(&model, tensor);
            let mut rows = Vec::with_capacity(names.len() * schemes.len());
            let bar = progress(names.len() * schemes.len(), "comparing");
            for n in &names {
                bar.set_message(n.clone());
                for s in &schemes {
                    fits(&model, n, s, Operation::Summary)?;
                }
                let t = model.load(n).map_err(|e| e.to_string())?;
                for s in &schemes {
                    rows.push(analysis::summarize(&t, s).map_err(|e| e.to_string())?);
                    bar.inc(1);
                }
            }
            bar.finish_and_clear();
            if json {
                print_json(&rows)?;
            } else if csv {
                print_csv(&rows);
            } else {
                print_compare(&rows);
                print_notes(&rows);
            }
        }
        Command::Layer {
            file,
            tensor,
            scheme,
            inputs,
            batch,
            seed,
            row,
            activations,
            json,
            csv,
        } => {
            let scheme: Scheme = scheme.parse().map_err(|e| format!("{e}"))?;
            let act = ActQuant::parse(&activations).map_err(|e| e.to_string())?;
            let probe = if inputs.ends_with(".npy") {
                let m = load(&[PathBuf::from(&inputs)])?;
                let first = m.info().tensors.into_iter().next().ok_or("empty .npy")?;
                Probe::Data(m.load(&first.name).map_err(|e| e.to_string())?.into_owned())
            } else {
                Probe::parse(&inputs).map_err(|e| e.to_string())?
            };
            let model = load(std::slice::from_ref(&file))?;
            let rows = match &probe {
                Probe::Data(d) => d.numel() / d.shape.last().copied().unwrap_or(1).max(1),
                _ => batch,
            };
            fits(&model, &tensor, &scheme, Operation::Layer { batch: rows })?;
            let t = model.load(&tensor).map_err(|e| e.to_string())?;
            let r = layer::layer_row(&t, &scheme, &probe, batch, seed, act, 64, row)
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&r)?;
            } else if csv {
                println!("index,float,int8,error");
                for (i, (f, q)) in r.float_out.iter().zip(&r.int8_out).enumerate() {
                    println!("{i},{f},{q},{}", q - f);
                }
            } else {
                print_layer(&r);
            }
        }
        Command::Run(args) => run_model(args)?,
        Command::Auto(args) => auto::run(args, &budget)?,
    }
    Ok(())
}

/// `quantscope run`: the whole model, float against quantized.
fn run_model(a: RunArgs) -> Result<(), String> {
    use quantscope::graph;
    let scheme: Scheme = a.scheme.parse().map_err(|e| format!("{e}"))?;
    let mode = graph::parse_mode(&a.mode, &a.act).map_err(|e| e.to_string())?;
    let dims = graph::parse_dims(&a.dim).map_err(|e| e.to_string())?;
    let (bytes, external) = onnx_files(&a.model)?;
    let given = match &a.inputs {
        None => Vec::new(),
        Some(p) => graph::read_inputs(
            &std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
            &p.to_string_lossy(),
        )
        .map_err(|e| e.to_string())?,
    };
    let ext: Vec<(&str, &[u8])> = external
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let options = graph::Options {
        dims,
        seed: a.seed,
        given,
    };
    // One bar through the run's stages (float run, quantized run, isolated runs).
    let bar = stage_bar();
    let mut step = |s: graph::Step| {
        if bar.prefix() != s.stage {
            bar.set_prefix(s.stage);
            bar.reset();
        }
        bar.set_length(s.total as u64);
        bar.set_position(s.done as u64);
        true
    };
    let mut session =
        graph::Session::open_with(&bytes, &ext, &options, &mut step).map_err(|e| e.to_string())?;
    let policy = session
        .uniform_policy(&scheme, &a.exclude)
        .map_err(|e| e.to_string())?;
    let report = session
        .run_with(&policy, &mode, !a.no_isolated, &mut step)
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if let Some(out) = &a.output {
        let written = graph::export::write_qdq(&bytes, &ext, &session, &scheme, &report)
            .map_err(|e| e.to_string())?;
        std::fs::write(out, &written).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("wrote {} ({} bytes)", out.display(), written.len());
    }
    if let Some(p) = &a.dump_outputs {
        let values = session.output_values();
        let text = serde_json::to_string(&values).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if a.json {
        print_json(&report)?;
    } else if a.csv {
        println!("{}", graph::table::csv(&report).trim_end());
    } else {
        println!("{}", graph::table::table(&report).trim_end());
    }
    Ok(())
}

/// An ONNX model and the external data files it names, read from beside it.
#[allow(clippy::type_complexity)]
fn onnx_files(path: &Path) -> Result<(Vec<u8>, Vec<(String, Vec<u8>)>), String> {
    let read = |f: &Path| std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()));
    let bytes = read(path)?;
    let mut external = Vec::new();
    for loc in quantscope::export::onnx::external_locations(&bytes).map_err(|e| e.to_string())? {
        let base = quantscope::formats::base_name(&loc).to_string();
        external.push((base.clone(), read(&path.with_file_name(&base))?));
    }
    Ok((bytes, external))
}

/// `quantize -o OUT`: writes the model in OUT's format and prints what each tensor became.
fn export_model(
    files: &[PathBuf],
    assign: quantscope::export::policy::Assign<'_>,
    out: &std::path::Path,
    report_path: Option<&std::path::Path>,
    style: Output,
    budget: &Budget,
) -> Result<(), String> {
    let report = write_model(files, assign, out, budget)?;
    if let Some(p) = report_path {
        let s = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(p, s + "\n").map_err(|e| format!("{}: {e}", p.display()))?;
    }
    print_export(&report, out, style)
}

/// Writes the model in OUT's format (nothing left behind on failure).
fn write_model(
    files: &[PathBuf],
    assign: quantscope::export::policy::Assign<'_>,
    out: &std::path::Path,
    budget: &Budget,
) -> Result<quantscope::export::ExportReport, String> {
    use quantscope::export::{self, ExportFormat};
    let format = ExportFormat::from_file_name(&out.to_string_lossy()).map_err(|e| e.to_string())?;
    let loaded = load(files)?;
    // Streamed: the GGUF writer sends each tensor to the file as it goes.
    export::check_budget(
        &loaded,
        format,
        assign,
        budget,
        format == ExportFormat::Gguf,
    )
    .map_err(|e| e.to_string())?;
    let model = Progress::new(&loaded, "writing");
    let report = match format {
        ExportFormat::Tfjs => {
            // The manifest is the file named; its shards go beside it.
            let name = out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name
                .strip_suffix("-weights_manifest.json")
                .or_else(|| name.strip_suffix(".weights_manifest.json"))
                .or_else(|| name.strip_suffix("weights_manifest.json"))
                .filter(|s| !s.is_empty())
                .unwrap_or("model");
            let quantscope::export::policy::Assign::All(scheme) = assign else {
                return Err("TF.js weights take one --scheme for every tensor; a per-tensor policy cannot be written as TF.js".into());
            };
            export::tfjs::write(&model, scheme, stem, export::tfjs::DEFAULT_SHARD_BYTES).and_then(
                |files| {
                    let write = |n: &str, b: &[u8]| {
                        let p = out.with_file_name(n);
                        std::fs::write(&p, b).map_err(|e| {
                            quantscope::Error::Invalid(format!("{}: {e}", p.display()))
                        })
                    };
                    std::fs::write(out, &files.manifest.1).map_err(|e| {
                        quantscope::Error::Invalid(format!("{}: {e}", out.display()))
                    })?;
                    for (n, b) in &files.shards {
                        write(n, b)?;
                    }
                    Ok(files.report)
                },
            )
        }
        ExportFormat::Gguf => {
            // Streamed: one tensor at a time goes to the file.
            let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            export::gguf::write_with(&model, assign, &mut w)
        }
        _ => {
            // The ONNX writer rewrites the files the model was opened from.
            export::export_with(&model, format, assign).and_then(|e| {
                std::fs::write(out, &e.bytes).map_err(|err| {
                    quantscope::Error::Invalid(format!("{}: {err}", out.display()))
                })?;
                Ok(e.report)
            })
        }
    };
    model.bar.finish_and_clear();
    match report {
        Ok(r) => Ok(r),
        Err(e) => {
            // Leave no half-written file behind.
            let _ = std::fs::remove_file(out);
            Err(e.to_string())
        }
    }
}

fn print_export(
    report: &quantscope::export::ExportReport,
    out: &std::path::Path,
    style: Output,
) -> Result<(), String> {
    match style {
        Output::Json => return print_json(&report),
        Output::Csv => {
            println!("name,dtype,shape,stored,quantized,sqnr_db,bits_per_weight,note");
            for t in &report.tensors {
                let (sqnr, bpw) = match &t.summary {
                    Some(s) => (s.metrics.sqnr_db.to_string(), s.bits_per_weight.to_string()),
                    None => (String::new(), String::new()),
                };
                println!(
                    "{},{},{},{},{},{sqnr},{bpw},{}",
                    csv_field(&t.name),
                    t.dtype,
                    csv_field(&shape(&t.shape)),
                    csv_field(&t.stored),
                    t.quantized,
                    csv_field(t.note.as_deref().unwrap_or(""))
                );
            }
            return Ok(());
        }
        Output::Table => {}
    }
    let w = report
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:<w$}  {:>9}  {:>8}  stored", "name", "SQNR dB", "bits/w");
    for t in &report.tensors {
        let (sqnr, bpw) = match &t.summary {
            Some(s) => (
                format!("{:.3}", s.metrics.sqnr_db),
                format!("{:.3}", s.bits_per_weight),
            ),
            None => ("exact".into(), "-".into()),
        };
        println!("{:<w$}  {sqnr:>9}  {bpw:>8}  {}", t.name, t.stored);
        if let Some(n) = &t.note {
            println!("{:<w$}  {:>9}  {:>8}  ({n})", "", "", "");
        }
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!(
        "wrote {} ({} bytes, {} of {} tensors quantized with {})",
        out.display(),
        report.bytes,
        report.tensors.iter().filter(|t| t.quantized).count(),
        report.tensors.len(),
        report.scheme
    );
    Ok(())
}

fn print_compare(rows: &[TensorSummary]) {
    let w = rows.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let sw = rows
        .iter()
        .map(|t| t.scheme.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<w$}  {:<sw$}  {:>12}  {:>9}  {:>10}  {:>11}  {:>8}  {:>12}",
        "name", "scheme", "MSE", "SQNR dB", "cosine", "max |err|", "bits/w", "packed bytes"
    );
    for r in rows {
        println!(
            "{:<w$}  {:<sw$}  {:>12.5e}  {:>9.3}  {:>10.7}  {:>11.5e}  {:>8.3}  {:>12}",
            r.name,
            r.scheme,
            r.metrics.mse,
            r.metrics.sqnr_db,
            r.metrics.cosine,
            r.metrics.max_abs_error,
            r.bits_per_weight,
            r.packed_bytes
        );
    }
}

/// One CSV field: quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The tensor list as CSV: shape as its JSON array, sizes in elements and bytes.
fn print_inspect_csv(info: &ModelInfo) {
    println!("name,shape,dtype,numel,size_bytes,role");
    for t in &info.tensors {
        let role = serde_json::to_value(t.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "{},{},{},{},{},{role}",
            csv_field(&t.name),
            csv_field(&format!("{:?}", t.shape).replace(' ', "")),
            t.dtype,
            t.numel,
            t.size_bytes
        );
    }
}

/// CSV with full-precision numbers (Rust's shortest round-trip form); names are quoted
/// when they hold a comma or quote.
fn print_csv(rows: &[TensorSummary]) {
    let quote = |s: &str| csv_field(s);
    println!("name,scheme,numel,mse,sqnr_db,cosine,max_abs_error,bits_per_weight,packed_bytes");
    for r in rows {
        println!(
            "{},{},{},{},{},{},{},{},{}",
            quote(&r.name),
            quote(&r.scheme),
            r.numel,
            r.metrics.mse,
            r.metrics.sqnr_db,
            r.metrics.cosine,
            r.metrics.max_abs_error,
            r.bits_per_weight,
            r.packed_bytes
        );
    }
}

fn print_layer(r: &layer::LayerReport) {
    println!(
        "{} [{} outputs x {} inputs], weights {}, activations {:?}, {} x {} (seed {})",
        r.tensor, r.n, r.k, r.scheme, r.activations, r.batch, r.probe, r.seed
    );
    println!(
        "output SQNR {:.3} dB, cosine {:.7}, MSE {:.5e}, max |err| {:.5e}",
        r.metrics.sqnr_db, r.metrics.cosine, r.metrics.mse, r.metrics.max_abs_error
    );
    println!(
        "row {}: {:>6}  {:>14}  {:>14}  {:>11}",
        r.shown_row, "out", "float", "int8", "error"
    );
    for (i, (f, q)) in r.float_out.iter().zip(&r.int8_out).take(16).enumerate() {
        println!("       {i:>6}  {f:>14.6}  {q:>14.6}  {:>11.3e}", q - f);
    }
    if r.float_out.len() > 16 {
        println!(
            "       ... {} more (--json for all)",
            r.float_out.len() - 16
        );
    }
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

/// The rows' notes (what a scheme did differently on a tensor), one line each.
fn print_notes(rows: &[TensorSummary]) {
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        if let Some(n) = &r.note {
            if seen.insert((r.name.as_str(), n.as_str())) {
                println!("note: {}: {n}", r.name);
            }
        }
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
