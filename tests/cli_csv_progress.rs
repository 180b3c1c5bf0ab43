//! `--csv` wherever `--json` is (inspect, quantize, quantize -o, compare, layer), each
//! holding the same values as the JSON; and the progress bars of whole-model work: drawn
//! on a terminal (under `script`, a pseudo-terminal), absent from pipes.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::quantscope;
use serde_json::Value;

const MODEL: &str = "tests/fixtures/torchscript/small.pt";

/// A CSV line split into fields (RFC 4180 quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// Rows of a CSV output as header -> field maps.
fn rows(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header = fields(lines.next().expect("a header line"));
    lines
        .map(|l| header.iter().cloned().zip(fields(l)).collect())
        .collect()
}

fn json(args: &[&str]) -> Value {
    let (ok, out, err) = quantscope(&[args, &["--json"]].concat());
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn csv(args: &[&str]) -> Vec<std::collections::HashMap<String, String>> {
    let (ok, out, err) = quantscope(&[args, &["--csv"]].concat());
    assert!(ok, "{err}");
    // Not a terminal: no progress bar on stderr.
    assert!(err.is_empty(), "stderr: {err:?}");
    rows(&out)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::INFINITY)
}

#[test]
fn inspect_csv_equals_json() {
    let j = json(&["inspect", MODEL]);
    let c = csv(&["inspect", MODEL]);
    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(c.len(), tensors.len());
    for (r, t) in c.iter().zip(tensors) {
        assert_eq!(r["name"], t["name"].as_str().unwrap());
        let shape: Value = serde_json::from_str(&r["shape"]).unwrap();
        assert_eq!(shape, t["shape"]);
        assert_eq!(r["dtype"], t["dtype"].as_str().unwrap());
        assert_eq!(r["numel"], t["numel"].to_string());
        assert_eq!(r["size_bytes"], t["size_bytes"].to_string());
        assert_eq!(r["role"], t["role"].as_str().unwrap());
    }
}

#[test]
fn quantize_and_compare_csv_equal_json() {
    let q = ["quantize", MODEL, "--scheme", "int8-asym"];
    let (j, c) = (json(&q), csv(&q));
    let j = j.as_array().unwrap();
    assert!(j.len() > 5);
    assert_eq!(c.len(), j.len());
    for (r, t) in c.iter().zip(j) {
        assert_eq!(r["name"], t["name"].as_str().unwrap());
        for k in ["mse", "sqnr_db", "cosine", "max_abs_error"] {
            assert_eq!(r[k].parse::<f64>().unwrap(), num(&t["metrics"][k]), "{k}");
        }
        assert_eq!(r["packed_bytes"], t["packed_bytes"].to_string());
    }
    let cmp = [
        "compare",
        MODEL,
        "--schemes",
        "int8-asym,int4-asym",
        "--tensor",
        "conv.weight",
        "--tensor",
        "proj",
    ];
    let (j, c) = (json(&cmp), csv(&cmp));
    assert_eq!(c.len(), 4);
    for (r, t) in c.iter().zip(j.as_array().unwrap()) {
        assert_eq!(r["scheme"], t["scheme"].as_str().unwrap());
        assert_eq!(
            r["sqnr_db"].parse::<f64>().unwrap(),
            num(&t["metrics"]["sqnr_db"])
        );
    }
}

#[test]
fn export_report_and_layer_csv_equal_json() {
    let dir = std::env::temp_dir().join(format!("quantscope-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("q.safetensors");
    let out = out.to_str().unwrap();
    let args = ["quantize", MODEL, "--scheme", "int8-sym", "-o", out];
    let (j, c) = (json(&args), csv(&args));
    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(c.len(), tensors.len());
    for (r, t) in c.iter().zip(tensors) {
        assert_eq!(r["name"], t["name"].as_str().unwrap());
        assert_eq!(r["stored"], t["stored"].as_str().unwrap());
        assert_eq!(r["quantized"], t["quantized"].to_string());
        match t["summary"].get("metrics") {
            Some(m) => assert_eq!(r["sqnr_db"].parse::<f64>().unwrap(), num(&m["sqnr_db"])),
            None => assert_eq!(r["sqnr_db"], ""),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let l = [
        "layer",
        "tests/fixtures/tflite_sparse/pruned.tflite",
        "--tensor",
        "functional_1/dense_random_1/MatMul;functional_1/dense_random_1/BiasAdd",
    ];
    let (j, c) = (json(&l), csv(&l));
    let float = j["float_out"].as_array().unwrap();
    assert_eq!(c.len(), float.len());
    for (i, r) in c.iter().enumerate() {
        assert_eq!(r["index"], i.to_string());
        assert_eq!(r["float"].parse::<f64>().unwrap(), num(&float[i]));
        assert_eq!(r["int8"].parse::<f64>().unwrap(), num(&j["int8_out"][i]));
    }
}

#[test]
fn json_and_csv_together_are_refused() {
    let (ok, _, err) = quantscope(&["inspect", MODEL, "--json", "--csv"]);
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn whole_model_work_draws_a_progress_bar_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("\n!!!!!!!! SKIPPED: `script` (util-linux) is not installed; no pseudo-terminal to draw on\n");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_quantscope");
    let dir = std::env::temp_dir().join(format!("quantscope-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 13 tensors x 2 schemes; 13 tensors; 13 tensors written.
    let cases = [
        (
            format!("compare {MODEL} --schemes int8-asym,int4-asym --csv"),
            "comparing",
            "/26",
        ),
        (
            format!("quantize {MODEL} --scheme int8-asym --csv"),
            "quantizing",
            "/13",
        ),
        (
            format!(
                "quantize {MODEL} --scheme q8_0 -o {}/q.gguf --csv",
                dir.display()
            ),
            "writing",
            "/13",
        ),
    ];
    for (args, label, total) in cases {
        let typescript = dir.join("typescript");
        // stdout to a file, stderr on the pseudo-terminal that `script` records.
        let out = std::process::Command::new("script")
            .args(["-qec", &format!("{bin} {args} > {}/out.csv", dir.display())])
            .arg(&typescript)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tty = std::fs::read_to_string(&typescript).unwrap();
        assert!(
            tty.contains(label) && tty.contains(total),
            "{args}: {tty:?}"
        );
        let csv = std::fs::read_to_string(dir.join("out.csv")).unwrap();
        assert!(!csv.contains(label), "the bar stays off stdout");
        assert!(rows(&csv).len() >= 13);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
