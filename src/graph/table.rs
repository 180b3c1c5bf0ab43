//! Plain-text renderings of a [`RunReport`] for the command line: an aligned table and
//! CSV (one row per node output).

use std::fmt::Write as _;

use super::RunReport;
use crate::metrics::Metrics;

fn db(m: Option<&Metrics>) -> String {
    match m {
        None => "-".into(),
        Some(m) if m.sqnr_db.is_infinite() => "inf".into(),
        Some(m) => format!("{:.2}", m.sqnr_db),
    }
}

fn cos(m: Option<&Metrics>) -> String {
    m.map(|m| format!("{:.6}", m.cosine))
        .unwrap_or_else(|| "-".into())
}

fn max_err(m: Option<&Metrics>) -> String {
    m.map(|m| format!("{:.4e}", m.max_abs_error))
        .unwrap_or_else(|| "-".into())
}

/// The per-node table, then the outputs, the worst nodes and ORT's exclusion list.
pub fn table(r: &RunReport) -> String {
    let mut s = String::new();
    let nw = r
        .nodes
        .iter()
        .map(|n| n.node.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 48);
    let ow = r
        .nodes
        .iter()
        .map(|n| n.op_type.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        s,
        "{:>4}  {:<nw$}  {:<ow$}  {:>10}  {:>10}  {:>10}  {:>11}",
        "#", "node", "op", "acc SQNR", "iso SQNR", "acc cos", "acc max|e|"
    );
    for n in &r.nodes {
        let name = if n.node.len() > nw {
            format!("…{}", &n.node[n.node.len() - (nw - 1)..])
        } else {
            n.node.clone()
        };
        let _ = writeln!(
            s,
            "{:>4}  {:<nw$}  {:<ow$}  {:>10}  {:>10}  {:>10}  {:>11}{}",
            n.index,
            name,
            n.op_type,
            db(n.accumulated.as_ref()),
            db(n.isolated.as_ref()),
            cos(n.accumulated.as_ref()),
            max_err(n.accumulated.as_ref()),
            if n.excluded { "  (kept float)" } else { "" }
        );
    }
    let _ = writeln!(s, "\noutputs (float vs quantized):");
    for o in &r.outputs {
        let _ = write!(
            s,
            "  {} {:?}: SQNR {} dB, cosine {:.6}, max|e| {:.4e}",
            o.name,
            o.shape,
            db(Some(&o.metrics)),
            o.metrics.cosine,
            o.metrics.max_abs_error
        );
        if let Some(t) = o.top1_agreement {
            let _ = write!(s, ", top-1 agreement {:.2}%", t * 100.0);
        }
        if let Some(c) = o.row_cosine {
            let _ = write!(s, ", mean row cosine {c:.6}");
        }
        let _ = writeln!(s);
    }
    if !r.ranking.is_empty() {
        let _ = writeln!(s, "\nworst nodes by isolated SQNR (error born there):");
        for &i in r.ranking.iter().take(10) {
            let n = &r.nodes[i];
            let _ = writeln!(
                s,
                "  {:<nw$}  {:<ow$}  {} dB",
                n.node,
                n.op_type,
                db(n.isolated.as_ref())
            );
        }
    }
    let _ = writeln!(s, "\nnodes_to_exclude={:?}", r.nodes_to_exclude);
    for note in &r.notes {
        let _ = writeln!(s, "note: {note}");
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.is_infinite() => "inf".into(),
        Some(x) => format!("{x}"),
    }
}

/// One line per node output: index, node, op, output, shape, accumulated and isolated
/// SQNR / cosine / max error, weight, scheme, excluded.
pub fn csv(r: &RunReport) -> String {
    let mut s = String::from(
        "index,node,op_type,output,shape,acc_sqnr_db,acc_cosine,acc_max_abs_error,iso_sqnr_db,iso_cosine,iso_max_abs_error,weight,scheme,excluded\n",
    );
    for n in &r.nodes {
        let a = n.accumulated.as_ref();
        let i = n.isolated.as_ref();
        let shape = n
            .shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            n.index,
            csv_field(&n.node),
            csv_field(&n.op_type),
            csv_field(&n.output),
            shape,
            num(a.map(|m| m.sqnr_db)),
            num(a.map(|m| m.cosine)),
            num(a.map(|m| m.max_abs_error)),
            num(i.map(|m| m.sqnr_db)),
            num(i.map(|m| m.cosine)),
            num(i.map(|m| m.max_abs_error)),
            csv_field(n.weight.as_deref().unwrap_or("")),
            csv_field(n.scheme.as_deref().unwrap_or("")),
            n.excluded
        );
    }
    s
}
