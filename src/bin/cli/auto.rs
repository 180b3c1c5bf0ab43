//! `quantscope auto`: the best scheme per tensor under size budgets.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use quantscope::auto::{self, measure, Budget, Candidate, Measurer, Objective, Report};
use quantscope::export::policy::Assign;
use quantscope::export::ExportFormat;
use quantscope::graph;

use super::{onnx_files, print_json, write_model, AutoArgs};

/// What the CLI prints with --json: the report, and the first budget's recipes.
#[derive(serde::Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    llama_cpp: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    onnxruntime: Option<auto::policy::OrtRecipe>,
}

/// `memory`: the global --max-memory budget, for the -o export.
pub fn run(a: AutoArgs, memory: &quantscope::budget::Budget) -> Result<(), String> {
    let s = |e: quantscope::Error| e.to_string();
    let budgets = a
        .budget
        .iter()
        .map(|b| Budget::parse(b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(s)?;
    let mut candidates = if a.candidates.is_empty() {
        Candidate::defaults()
    } else {
        Candidate::parse_list(&a.candidates).map_err(s)?
    };
    // The file the mix is for: --format, else -o's extension.
    let format = match (&a.format, &a.output) {
        (Some(f), _) => Some(ExportFormat::parse(f).map_err(s)?),
        (None, Some(o)) => Some(ExportFormat::from_file_name(&o.to_string_lossy()).map_err(s)?),
        (None, None) => None,
    };
    let mut format_note = None;
    if let Some(f) = format {
        let (kept, note) = Candidate::for_format(candidates, f).map_err(s)?;
        candidates = kept;
        format_note = note;
    }
    let mut objective = a
        .objective
        .as_deref()
        .map(Objective::parse)
        .transpose()
        .map_err(s)?;
    if objective.is_none() && a.labels.is_some() {
        objective = Some(Objective::Accuracy);
    }
    let mode = graph::parse_mode(&a.mode, &a.act).map_err(s)?;
    let bytes = std::fs::read(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let is_onnx = quantscope::formats::detect(&bytes) == Some(quantscope::Format::Onnx);
    if matches!(objective, Some(Objective::Output | Objective::Accuracy)) && !is_onnx {
        return Err(format!(
            "--objective {}: the model must run, and {} is not ONNX; use --objective weights (a proxy)",
            objective.map(|o| o.name()).unwrap_or_default(),
            a.model.display()
        ));
    }
    if objective == Some(Objective::Accuracy) && a.labels.is_none() {
        return Err(
            "--objective accuracy needs --inputs X.npz with --labels NAME (the class of each row)"
                .into(),
        );
    }
    let mut notes: Vec<String> = format_note.into_iter().collect();
    let mut session = None;
    let mut labels = None;
    if is_onnx && objective != Some(Objective::Weights) {
        let (b, ext) = onnx_files(&a.model)?;
        let ext_refs: Vec<(&str, &[u8])> = ext
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let mut given = match &a.inputs {
            None => Vec::new(),
            Some(p) => graph::read_inputs(
                &std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
                &p.to_string_lossy(),
            )
            .map_err(s)?,
        };
        if let Some(l) = &a.labels {
            let i = given
                .iter()
                .position(|t| &t.name == l)
                .ok_or_else(|| format!("--labels {l}: no array of that name in --inputs"))?;
            let t = given.remove(i);
            labels = Some(t.data.iter().map(|&v| v as i64).collect::<Vec<i64>>());
        }
        let options = graph::Options {
            dims: graph::parse_dims(&a.dim).map_err(s)?,
            seed: a.seed,
            given,
        };
        match graph::Session::open(&b, &ext_refs, &options) {
            Ok(sess) => session = Some(sess),
            Err(e @ quantscope::Error::UnsupportedOps { .. }) if objective.is_none() => notes.push(
                format!("the model cannot run ({e}); searching on the weights objective, a proxy"),
            ),
            Err(e) => return Err(e.to_string()),
        }
    }
    let store;
    let t0 = Instant::now();
    let mut progress = |done: usize, total: usize| {
        if !a.json && (done % 10 == 0 || done == total) {
            eprint!("\rmeasuring {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
        true
    };
    let now = {
        let start = Instant::now();
        move || start.elapsed().as_secs_f64() * 1000.0
    };
    let check = !a.no_check;
    let (table, mut report, nodes_of): (_, _, HashMap<String, Vec<String>>) = match session.as_mut()
    {
        Some(sess) => {
            let nodes_of = sess
                .weights
                .iter()
                .map(|w| {
                    (
                        w.name.clone(),
                        w.nodes
                            .iter()
                            .map(|&i| sess.nodes[i].name.clone())
                            .collect(),
                    )
                })
                .collect();
            let accuracy = objective == Some(Objective::Accuracy);
            let mut m: Box<dyn Measurer + '_> = match labels.filter(|_| accuracy) {
                Some(l) => Box::new(measure::AccuracyMeasure::new(sess, mode, l).map_err(s)?),
                None => Box::new(measure::OutputMeasure::new(sess, mode)),
            };
            let table = auto::sensitivity(m.as_mut(), &candidates, &mut progress).map_err(s)?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let mut r = auto::search(
                &table,
                check.then_some(m.as_mut() as &mut dyn Measurer),
                &budgets,
                &now,
            )
            .map_err(s)?;
            r.sensitivity_ms = ms;
            (table, r, nodes_of)
        }
        None => {
            store = super::load(std::slice::from_ref(&a.model))?;
            let out_axes = if is_onnx {
                graph::probe::output_axes(&bytes).unwrap_or_default()
            } else {
                HashMap::new()
            };
            let mut m = measure::WeightsMeasure::new(&store, &out_axes).map_err(s)?;
            let table = auto::sensitivity(&mut m, &candidates, &mut progress).map_err(s)?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let mut r = auto::search(
                &table,
                check.then_some(&mut m as &mut dyn Measurer),
                &budgets,
                &now,
            )
            .map_err(s)?;
            r.sensitivity_ms = ms;
            (table, r, HashMap::new())
        }
    };
    report.notes.extend(notes);
    let first = report.choices.first().and_then(|c| c.mix.clone());
    if let Some(p) = &a.policy_out {
        let mix = first
            .as_ref()
            .ok_or("--policy-out: the first budget has no mix")?;
        let text = auto::policy::policy_json(&table, mix).map_err(s)?;
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(out) = &a.output {
        let mix = first.as_ref().ok_or("-o: the first budget has no mix")?;
        let policy = auto::policy::tensor_policy(&table, mix).map_err(s)?;
        let r = write_model(
            std::slice::from_ref(&a.model),
            Assign::PerTensor(&policy),
            out,
            memory,
        )?;
        eprintln!(
            "wrote {} ({} bytes, {} of {} tensors quantized)",
            out.display(),
            r.bytes,
            r.tensors.iter().filter(|t| t.quantized).count(),
            r.tensors.len()
        );
    }
    let (llama, ort) = match (&first, a.recipes) {
        (Some(mix), true) => {
            let lookup = |w: &str| nodes_of.get(w).cloned().unwrap_or_default();
            (
                Some(auto::policy::llama_cpp_lines(&table, mix).map_err(s)?),
                Some(auto::policy::ort_recipe(&table, mix, &lookup).map_err(s)?),
            )
        }
        _ => (None, None),
    };
    if a.json {
        return print_json(&Printed {
            report: &report,
            llama_cpp: llama,
            onnxruntime: ort,
        });
    }
    print_report(&report, &a.model);
    if let Some(lines) = llama {
        println!("\nllama.cpp (llama-quantize --allow-requantize ... plus):");
        for l in lines {
            println!("  {l}");
        }
    }
    if let Some(r) = ort {
        println!("\nONNX Runtime:\n{}", r.python.trim_end());
        if !r.matmul_nbits.is_empty() {
            println!(
                "4-bit blocks (MatMulNBitsQuantizer, nodes_to_include): {}",
                serde_json::Value::Array(r.matmul_nbits.clone())
            );
        }
        for u in &r.unsupported {
            println!("  # {u}");
        }
    }
    Ok(())
}

fn fmt_value(o: Objective, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_infinite() => "exact".into(),
        Some(v) => match o {
            Objective::Accuracy => format!("{v:.2}%"),
            _ => format!("{v:.2} dB"),
        },
    }
}

fn print_report(r: &Report, model: &Path) {
    let o = r.objective;
    println!(
        "{}: {} searched tensors, {} weights, {} bytes float; objective: {}",
        model.display(),
        r.tensors,
        r.weights,
        r.float_bytes,
        r.label
    );
    println!(
        "sensitivity: {} measurements in {:.0} ms; front: {} mixes in {:.1} ms",
        r.sensitivity_measurements,
        r.sensitivity_ms,
        r.front.len(),
        r.search_ms
    );
    println!("\nuniform schemes:");
    println!(
        "  {:<22} {:>12} {:>7} {:>12} {:>12}",
        "scheme", "bytes", "bpw", "estimated", "measured"
    );
    for u in &r.uniform {
        println!(
            "  {:<22} {:>12} {:>7.3} {:>12} {:>12}{}",
            u.candidate,
            u.mix.bytes,
            u.mix.bpw,
            fmt_value(o, Some(u.mix.estimated)),
            fmt_value(o, u.mix.measured),
            if u.fallbacks > 0 {
                format!("  ({} tensors cannot take it: float)", u.fallbacks)
            } else {
                String::new()
            }
        );
    }
    for c in &r.choices {
        println!("\nbudget {} = {} bytes:", c.budget, c.budget_bytes);
        let Some(m) = &c.mix else {
            println!(
                "  no mix fits: the smallest mix is {} bytes",
                r.front.first().map(|p| p.bytes).unwrap_or(0)
            );
            continue;
        };
        let w = m
            .tensors
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        println!(
            "  {:<w$}  {:<26} {:>10} {:>7} {:>12}",
            "tensor", "scheme", "bytes", "bpw", "damage"
        );
        for t in &m.tensors {
            println!(
                "  {:<w$}  {:<26} {:>10} {:>7.3} {:>12.4e}",
                t.name, t.scheme, t.bytes, t.bpw, t.damage
            );
        }
        println!(
            "  mix: {} bytes, {:.3} bpw; estimated {} (sum of isolated damages), measured {}",
            m.bytes,
            m.bpw,
            fmt_value(o, Some(m.estimated)),
            fmt_value(o, m.measured)
        );
        match (&c.best_uniform, c.beats_uniform) {
            (Some(u), Some(b)) => println!(
                "  best uniform within the budget: {u} ({}); the mix {}",
                fmt_value(o, c.best_uniform_measured),
                if b { "is at least as good" } else { "is worse" }
            ),
            _ => println!("  no uniform scheme fits the budget"),
        }
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
