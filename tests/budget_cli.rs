//! The memory budget in the CLI, on the file of issue 14: an .npz of one deflated 1-D
//! float32 array of 268,435,456 zeros (1 GiB of values in about 1 MB), made at test time
//! by scripts/gen_zeros_npz.py with numpy.savez_compressed. Under a 2 GiB budget (the
//! page's), every scheme family is refused with a message naming the tensor, the scheme
//! and the figure, in well under a second: nothing is inflated beyond the .npy header.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/cli.rs"]
mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cli_support::quantscope;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The zeros file, made once per test run in cargo's temporary folder for tests.
fn zeros() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zeros-268435456.npz");
        if !out.is_file() {
            let tmp = out.with_extension("partial.npz");
            let python = root().join(".venv/bin/python");
            let status = Command::new(&python)
                .arg(root().join("scripts/gen_zeros_npz.py"))
                .arg(&tmp)
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {e}\n!!!!!!!! Run `bash scripts/setup-python.sh` (npm test does) for numpy.",
                        python.display()
                    )
                });
            assert!(status.success(), "gen_zeros_npz.py failed");
            std::fs::rename(&tmp, &out).unwrap();
        }
        out
    })
}

/// What a user sees for `quantize --scheme SCHEME --max-memory 2GiB` on the zeros file.
fn refused(scheme: &str, canonical: &str) {
    let file = zeros().to_string_lossy().into_owned();
    let started = Instant::now();
    let (ok, out, err) = quantscope(&[
        "quantize",
        &file,
        "--scheme",
        scheme,
        "--max-memory",
        "2GiB",
    ]);
    let took = started.elapsed();
    assert!(!ok, "{scheme}: ran under a 2 GiB budget:\n{out}");
    for needle in [
        "tensor `zeros`".to_string(),
        format!("under {canonical}:"),
        "more than the memory budget of 2.00 GiB (--max-memory)".to_string(),
        "values 1.00 GiB".to_string(),
    ] {
        assert!(
            err.contains(&needle),
            "{scheme}: `{needle}` missing from: {err}"
        );
    }
    // Listing reads the zip directory and inflates the .npy header alone; the budget
    // refuses before the member is inflated. Wall time of the whole process.
    assert!(
        took < Duration::from_secs(1),
        "{scheme}: refused after {took:?}, not well under a second"
    );
}

#[test]
fn linear_family_is_refused_before_work() {
    refused("int8-sym", "int8-sym");
    // The scheme of the issue: per channel on a 1-D tensor runs per tensor, and the
    // budget refuses that too.
    refused("int8-sym-ch0", "int8-sym-ch0");
    refused("int4-asym-group32", "int4-asym-group32");
    refused("torch-int8-sym-ch0", "torch-int8-sym-ch0");
    refused("uint8-asym-pct99.9", "uint8-asym-pct99.9");
}

#[test]
fn four_bit_family_is_refused_before_work() {
    refused("nf4", "nf4");
}

#[test]
fn float_family_is_refused_before_work() {
    refused("fp16", "fp16");
    refused("fp8-e4m3", "fp8-e4m3");
}

#[test]
fn log_family_is_refused_before_work() {
    refused("pot4", "pot4");
}

#[test]
fn vector_family_is_refused_before_work() {
    refused("kmeans16", "kmeans16");
    refused("pq256x4", "pq256x4");
}

#[test]
fn mixed_family_is_refused_before_work() {
    refused("mixed-int8-fp16-t6", "mixed-int8-fp16-t6");
}

#[test]
fn ggml_family_is_refused_before_work() {
    refused("q8_0", "q8_0");
}

#[test]
fn export_is_refused_before_anything_is_written() {
    let file = zeros().to_string_lossy().into_owned();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for out in ["zeros-q8.gguf", "zeros-int8.safetensors"] {
        let out = dir.join(out);
        let _ = std::fs::remove_file(&out);
        let started = Instant::now();
        let (ok, _, err) = quantscope(&[
            "quantize",
            &file,
            "--scheme",
            "q8_0",
            "-o",
            &out.to_string_lossy(),
            "--max-memory",
            "2GiB",
        ]);
        // 1-D tensors stay float in every writer: the F32 copy alone outweighs nothing
        // here, but reading the values to write them does.
        assert!(!ok, "{}: written under a 2 GiB budget", out.display());
        assert!(err.contains("memory budget of 2.00 GiB"), "{err}");
        assert!(!out.exists(), "{}: left behind", out.display());
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn a_budget_that_fits_lets_the_work_run() {
    // A small deflated .npz (made the same way) quantizes under the default budget and
    // under an explicit one; per channel on its 1-D array says it ran per tensor.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let small = dir.join("zeros-4096.npz");
    if !small.is_file() {
        let status = Command::new(root().join(".venv/bin/python"))
            .arg(root().join("scripts/gen_zeros_npz.py"))
            .arg(&small)
            .arg("4096")
            .status()
            .unwrap();
        assert!(status.success());
    }
    let f = small.to_string_lossy().into_owned();
    let (ok, out, err) = quantscope(&["quantize", &f, "--scheme", "int8-sym-ch0"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("note: zeros: 1-D tensor: per channel would give each of its 4096 elements its own scale; quantized per tensor instead (int8-sym)"),
        "{out}"
    );
    let (ok, _, err) = quantscope(&["quantize", &f, "--scheme", "int8-sym", "--max-memory", "1M"]);
    assert!(ok, "{err}");
    let (ok, _, err) = quantscope(&["quantize", &f, "--scheme", "int8", "--max-memory", "2X"]);
    assert!(!ok && err.contains("unknown unit `x`"), "{err}");
}
