//! `quantscope compare`, run as a user runs it.
#![cfg(not(target_arch = "wasm32"))] // spawns the CLI: native only

use quantscope::analysis;

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::quantscope;

const DEMO: &str = "www/public/demo.safetensors";
const SCHEMES: &str = "int8-sym-ch0,int4-asym-group16,torch-int8-sym,tfjs-uint8";

fn demo() -> quantscope::Model {
    quantscope::open(&std::fs::read(DEMO).unwrap(), "demo").unwrap()
}

#[test]
fn json_has_every_tensor_times_scheme_as_the_library_computes_it() {
    let (ok, out, err) = quantscope(&[
        "compare",
        DEMO,
        "--schemes",
        SCHEMES,
        "--tensor",
        "layers.0.mlp.fc2.weight",
        "--tensor",
        "stem.conv.weight",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), 2 * 4);
    let model = demo();
    for (i, row) in v.iter().enumerate() {
        let name = ["layers.0.mlp.fc2.weight", "stem.conv.weight"][i / 4];
        let scheme = SCHEMES.split(',').nth(i % 4).unwrap();
        assert_eq!(row["name"], name);
        assert_eq!(row["scheme"], scheme);
        let direct =
            analysis::summarize(model.tensor(name).unwrap(), &scheme.parse().unwrap()).unwrap();
        // serde_json parses floats to within an ulp (no float_roundtrip feature).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs();
        assert!(
            close(row["metrics"]["mse"].as_f64().unwrap(), direct.metrics.mse),
            "{row}"
        );
        assert!(
            close(
                row["metrics"]["sqnr_db"].as_f64().unwrap(),
                direct.metrics.sqnr_db
            ),
            "{row}"
        );
        assert_eq!(
            row["packed_bytes"].as_u64().unwrap() as usize,
            direct.packed_bytes
        );
    }
    // 4-bit groups cost fewer bits than 8-bit per-channel codes, and lose more SQNR.
    let sqnr = |i: usize| v[i]["metrics"]["sqnr_db"].as_f64().unwrap();
    let bpw = |i: usize| v[i]["bits_per_weight"].as_f64().unwrap();
    assert!(bpw(1) < bpw(0) && sqnr(1) < sqnr(0));
}

#[test]
fn table_and_csv_cover_all_tensors() {
    let model = demo();
    let (ok, out, err) = quantscope(&["compare", DEMO, "--schemes", "int8-sym,int4-sym"]);
    assert!(ok, "{err}");
    for h in [
        "MSE",
        "SQNR dB",
        "cosine",
        "max |err|",
        "bits/w",
        "packed bytes",
    ] {
        assert!(out.lines().next().unwrap().contains(h), "{out}");
    }
    assert_eq!(out.lines().count(), 1 + 2 * model.tensors.len());
    let (ok, out, _) = quantscope(&["compare", DEMO, "--schemes", "int8-sym,int4-sym", "--csv"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "name,scheme,numel,mse,sqnr_db,cosine,max_abs_error,bits_per_weight,packed_bytes"
    );
    assert_eq!(lines.len(), 1 + 2 * model.tensors.len());
    let first = &model.tensors[0];
    let direct = analysis::summarize(first, &"int4-sym".parse().unwrap()).unwrap();
    let row: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(row[0], first.name);
    assert_eq!(row[3].parse::<f64>().unwrap(), direct.metrics.mse);
    assert_eq!(row[8].parse::<usize>().unwrap(), direct.packed_bytes);
}

#[test]
fn a_bad_scheme_or_tensor_is_named() {
    let (ok, _, err) = quantscope(&["compare", DEMO, "--schemes", "int8-sym,int9-sym"]);
    assert!(!ok);
    assert!(
        err.contains("int9-sym") && err.contains("between 2 and 8"),
        "{err}"
    );
    let (ok, _, err) = quantscope(&["compare", DEMO, "--schemes", "int8-sym", "--tensor", "nope"]);
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
}
