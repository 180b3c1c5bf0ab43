//! `quantscope auto`: the mixed-precision search under a budget, as a user runs it, on
//! the classifier of scripts/gen_auto_fixtures.py (onnx.helper model, numpy inputs and
//! labels, onnxruntime's logits and accuracy).
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/cli.rs"]
mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::quantscope;

const MLP: &str = "tests/fixtures/auto/mlp.onnx";
const MLP_NPZ: &str = "tests/fixtures/auto/mlp.npz";
const MLP_LABELLED: &str = "tests/fixtures/auto/mlp_labelled.npz";

fn run_json(args: &[&str]) -> Value {
    let (ok, out, err) = quantscope(args);
    assert!(ok, "quantscope {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quantscope-auto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::INFINITY)
}

/// (bytes, damage) per option, per tensor, from the report's table.
fn table(r: &Value) -> Vec<Vec<(u64, f64)>> {
    r["sensitivity"]["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["bytes"].as_u64().unwrap(), o["damage"].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

/// The test's own exhaustive search: least summed damage within the budget, ties to the
/// fewest bytes (sums in tensor order, as the search adds them).
fn exhaustive(t: &[Vec<(u64, f64)>], budget: u64) -> Option<(u64, f64)> {
    let mut best: Option<(u64, f64)> = None;
    let mut idx = vec![0usize; t.len()];
    loop {
        let (mut b, mut d) = (0u64, 0f64);
        for (k, &j) in idx.iter().enumerate() {
            b += t[k][j].0;
            d += t[k][j].1;
        }
        if b <= budget && best.is_none_or(|(bb, bd)| d < bd || (d == bd && b < bb)) {
            best = Some((b, d));
        }
        let mut k = 0;
        loop {
            if k == t.len() {
                return best;
            }
            idx[k] += 1;
            if idx[k] < t[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

const BUDGETS: &str =
    "1bpw,2.5bpw,3bpw,4bpw,4.25bpw,4.5bpw,5bpw,6bpw,8.5bpw,12bpw,40bpw,30000,60000";

#[test]
fn the_choice_equals_an_exhaustive_search_of_the_measured_table() {
    let r = run_json(&[
        "auto",
        MLP,
        "--inputs",
        MLP_NPZ,
        "--budget",
        BUDGETS,
        "--candidates",
        "int8-sym-ch,int4-sym-ch,int4-asym-group128,int3-asym-group64,q8_0,q4_k,nf4,float",
        "--json",
    ]);
    assert_eq!(r["objective"], "output");
    let t = table(&r);
    assert_eq!(t.len(), 3, "fc1, fc2, head");
    // Ggml blocks run along the last axis: head [32, 10] takes none of them.
    let head = &r["sensitivity"]["tensors"][2];
    assert_eq!(head["name"], "head.weight");
    let unavailable: Vec<&str> = head["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["candidate"].as_str().unwrap())
        .collect();
    assert!(unavailable.contains(&"q8_0") && unavailable.contains(&"q4_k"));
    // The resolved schemes: MatMul's B per output column (axis 1), Gemm transB per row.
    let schemes = |i: usize| -> Vec<String> {
        r["sensitivity"]["tensors"][i]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["scheme"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(schemes(0).contains(&"int8-sym-ch1".to_string()));
    assert!(schemes(0).contains(&"int4-asym-group128-ax0".to_string()));
    assert!(schemes(1).contains(&"int8-sym-ch0".to_string()));
    assert!(schemes(1).contains(&"int4-asym-group128-ax1".to_string()));
    let numel = r["weights"].as_u64().unwrap();
    assert_eq!(numel, 64 * 256 + 32 * 256 + 32 * 10);
    let mut infeasible = 0;
    for c in r["choices"].as_array().unwrap() {
        let budget = c["budget_bytes"].as_u64().unwrap();
        let want = exhaustive(&t, budget);
        match (&c["mix"], want) {
            (Value::Null, None) => infeasible += 1,
            (m, Some((b, d))) if !m.is_null() => {
                assert_eq!(m["bytes"].as_u64().unwrap(), b, "budget {budget}");
                assert_eq!(
                    m["estimated_damage"].as_f64().unwrap(),
                    d,
                    "budget {budget}"
                );
                assert!(b <= budget);
                // Each tensor's row matches its option in the table.
                let rows = m["tensors"].as_array().unwrap();
                let sum: u64 = rows.iter().map(|x| x["bytes"].as_u64().unwrap()).sum();
                assert_eq!(sum, b);
            }
            (m, w) => panic!("budget {budget}: search {m} vs exhaustive {w:?}"),
        }
    }
    assert!(infeasible >= 1, "1 bpw is below every mix");
    // The front: increasing bytes, strictly better estimates.
    let front = r["front"].as_array().unwrap();
    for w in front.windows(2) {
        assert!(w[0]["bytes"].as_u64() < w[1]["bytes"].as_u64());
        assert!(f(&w[0]["estimated"]) < f(&w[1]["estimated"]));
    }
}

#[test]
fn mixes_are_measured_and_uniform_points_equal_quantscope_run() {
    let r = run_json(&[
        "auto",
        MLP,
        "--inputs",
        MLP_NPZ,
        "--budget",
        "4.5bpw",
        "--candidates",
        "int8-sym,int4-sym-ch,q4_k,float",
        "--json",
    ]);
    let c = &r["choices"][0];
    let m = &c["mix"];
    assert!(m["measured"].is_number() && m["estimated"].is_number());
    assert!(m["bpw"].as_f64().unwrap() <= 4.5);
    // Uniform int8-sym (one scheme for every tensor) measured = `run`'s output SQNR.
    let u = r["uniform"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["candidate"] == "int8-sym")
        .unwrap();
    assert_eq!(u["fallbacks"], 0);
    let run = run_json(&[
        "run",
        MLP,
        "--scheme",
        "int8-sym",
        "--inputs",
        MLP_NPZ,
        "--no-isolated",
        "--json",
    ]);
    let want = f(&run["outputs"][0]["metrics"]["sqnr_db"]);
    let got = f(&u["mix"]["measured"]);
    assert!((got - want).abs() < 1e-9, "auto {got} vs run {want}");
    // A mix's measured and estimated figures are close but not equal (errors interact).
    let (est, meas) = (f(&m["estimated"]), f(&m["measured"]));
    assert!(
        (est - meas).abs() < 6.0,
        "estimated {est} vs measured {meas}"
    );
    // The best uniform scheme within 4.5 bpw is named with its measured objective.
    assert!(c["best_uniform"].is_string());
    assert_eq!(
        c["beats_uniform"].as_bool().unwrap(),
        meas >= f(&c["best_uniform_measured"])
    );
}

#[test]
fn weights_objective_is_exactly_additive_and_labelled_a_proxy() {
    let r = run_json(&[
        "auto",
        MLP,
        "--objective",
        "weights",
        "--budget",
        "5bpw,6bpw",
        "--json",
    ]);
    assert_eq!(r["objective"], "weights");
    assert!(r["label"].as_str().unwrap().contains("proxy"));
    assert!(r["label"].as_str().unwrap().contains("disagree"));
    for c in r["choices"].as_array().unwrap() {
        let m = &c["mix"];
        let (e, d) = (
            m["estimated_damage"].as_f64().unwrap(),
            m["measured_damage"].as_f64().unwrap(),
        );
        assert!((e - d).abs() <= 1e-12 * e.abs().max(1e-30), "{e} vs {d}");
    }
}

#[test]
fn accuracy_objective_starts_from_onnxruntimes_float_accuracy() {
    let ort: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/auto/mlp.ort.json").unwrap())
            .unwrap();
    let r = run_json(&[
        "auto",
        MLP,
        "--inputs",
        MLP_LABELLED,
        "--labels",
        "y",
        "--objective",
        "accuracy",
        "--budget",
        "3bpw,4bpw,5bpw",
        "--candidates",
        "int8-sym-ch,int4-sym-ch,int3-asym-group64,int2-asym-group64,float",
        "--json",
    ]);
    assert_eq!(r["objective"], "accuracy");
    assert_eq!(f(&r["reference"]), f(&ort["accuracy"]));
    for c in r["choices"].as_array().unwrap() {
        let m = &c["mix"];
        // Gains on the labelled rows count as no damage (they are noise the search
        // would otherwise chase).
        for t in m["tensors"].as_array().unwrap() {
            assert!(t["damage"].as_f64().unwrap() >= 0.0);
        }
        let acc = f(&m["measured"]);
        assert!((0.0..=100.0).contains(&acc));
        // 48 rows: every accuracy is a multiple of 100/48.
        let k = acc * 48.0 / 100.0;
        assert!((k - k.round()).abs() < 1e-9, "{acc}");
    }
}

#[test]
fn the_policy_file_reads_back_into_the_same_export() {
    let p = tmp("mlp.policy.json");
    let a = tmp("mlp.auto.onnx");
    let b = tmp("mlp.policy.onnx");
    let (ps, a_s, b_s) = (
        p.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    );
    let r = run_json(&[
        "auto",
        MLP,
        "--inputs",
        MLP_NPZ,
        "--budget",
        "5bpw",
        "--candidates",
        "int8-sym-ch,int4-sym-ch,int4-asym-group128,float",
        "--policy-out",
        ps,
        "-o",
        a_s,
        "--recipes",
        "--json",
    ]);
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(policy["format"], "quantscope-policy");
    let mix = &r["choices"][0]["mix"];
    for t in mix["tensors"].as_array().unwrap() {
        assert_eq!(
            policy["tensors"][t["name"].as_str().unwrap()],
            t["scheme"],
            "{t}"
        );
    }
    let (ok, _, err) = quantscope(&["quantize", MLP, "--policy", ps, "-o", b_s]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // The recipes: one llama.cpp line per tensor (comments for schemes it lacks), and
    // ONNX Runtime's form of each linear scheme.
    let lines = r["llama_cpp"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for l in lines {
        let l = l.as_str().unwrap();
        assert!(
            l.starts_with("# ") && l.contains("no llama.cpp type")
                || l.starts_with("--tensor-type '^"),
            "{l}"
        );
    }
    let ort = &r["onnxruntime"];
    let excluded = ort["nodes_to_exclude"].as_array().unwrap().len();
    let overrides = ort["tensor_quant_overrides"].as_object().unwrap().len();
    let blocks = ort["matmul_nbits"].as_array().unwrap().len();
    assert_eq!(excluded + overrides + blocks, 3, "{ort}");
}

#[test]
fn gguf_export_takes_a_type_per_tensor() {
    let out = tmp("mlp.auto.gguf");
    let o = out.to_str().unwrap();
    let r = run_json(&[
        "auto",
        MLP,
        "--inputs",
        MLP_NPZ,
        "--budget",
        "6bpw",
        "--candidates",
        "q8_0,q4_k,q4_0,float",
        "-o",
        o,
        "--json",
    ]);
    let mix = &r["choices"][0]["mix"];
    let listed = run_json(&["inspect", o, "--json"]);
    for t in mix["tensors"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let stored = listed["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {listed}"));
        let want = match t["scheme"].as_str().unwrap() {
            "float" => "F32".to_string(),
            s => s.to_ascii_uppercase(),
        };
        assert_eq!(
            stored["dtype"].as_str().unwrap().to_ascii_uppercase(),
            want,
            "{name}"
        );
    }
}

/// The default candidates mix ggml types with linear codes; for one file the search keeps
/// to what that file stores (-o's extension, or --format), so the mix it writes is its
/// choice rather than a refusal at the end.
#[test]
fn the_output_format_keeps_the_search_to_what_it_stores() {
    let out = tmp("mlp.default.gguf");
    let o = out.to_str().unwrap();
    let r = run_json(&[
        "auto", MLP, "--inputs", MLP_NPZ, "--budget", "7bpw", "-o", o, "--json",
    ]);
    let candidates: Vec<&str> = r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(candidates, ["q8_0", "q4_k", "float"]);
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("left out because GGUF cannot store them: int8-sym-ch"),
        "{notes}"
    );
    assert!(out.is_file());
    let onnx = run_json(&[
        "auto", MLP, "--inputs", MLP_NPZ, "--budget", "5bpw", "--format", "onnx", "--json",
    ]);
    for t in onnx["choices"][0]["mix"]["tensors"].as_array().unwrap() {
        let s = t["scheme"].as_str().unwrap();
        assert!(
            s == "float" || s.starts_with("int"),
            "{s} in an ONNX-bound mix"
        );
    }
    let (ok, _, err) = quantscope(&[
        "auto",
        MLP,
        "--budget",
        "4bpw",
        "--candidates",
        "nf4,float",
        "--format",
        "gguf",
    ]);
    assert!(!ok);
    assert!(
        err.contains("no candidate can be written as GGUF: nf4"),
        "{err}"
    );
}

#[test]
fn bad_requests_name_the_problem() {
    for (args, needle) in [
        (vec!["auto", MLP, "--budget", "4.5bits"], "budget `4.5bits`"),
        (
            vec!["auto", MLP, "--budget", "4bpw", "--candidates", "int9"],
            "between 2 and 8",
        ),
        (
            vec!["auto", MLP, "--budget", "4bpw", "--candidates", "q4_k,q4_k"],
            "twice",
        ),
        (
            vec!["auto", MLP, "--budget", "4bpw", "--objective", "loss"],
            "unknown objective",
        ),
        (
            vec!["auto", MLP, "--budget", "4bpw", "--objective", "accuracy"],
            "--labels",
        ),
        (
            vec![
                "auto",
                MLP,
                "--budget",
                "4bpw",
                "--inputs",
                MLP_LABELLED,
                "--labels",
                "z",
            ],
            "--labels z",
        ),
        (
            vec![
                "auto",
                "tests/fixtures/auto/mlp.npz",
                "--budget",
                "4bpw",
                "--objective",
                "output",
            ],
            "not ONNX",
        ),
    ] {
        let (ok, _, err) = quantscope(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A policy made for another model.
    let p = tmp("other.policy.json");
    std::fs::write(
        &p,
        r#"{"format":"quantscope-policy","version":1,"tensors":{"nope.weight":"int8-sym-ch0"}}"#,
    )
    .unwrap();
    let out = tmp("other.onnx");
    let (ok, _, err) = quantscope(&[
        "quantize",
        MLP,
        "--policy",
        p.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("nope.weight"), "{err}");
    assert!(!out.exists(), "no half-written file");
    // A budget below every mix is no error: the choice says so.
    let r = run_json(&[
        "auto", MLP, "--inputs", MLP_NPZ, "--budget", "100", "--json",
    ]);
    assert!(r["choices"][0]["mix"].is_null());
}
