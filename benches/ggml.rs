//! ggml Q8_0 / Q4_0 quantize throughput on a 4096x4096 f32 tensor, natively, against
//! the Python `gguf` package (gguf.quants.quantize) on the same tensor in the same run.
//! `cargo bench --bench ggml`; results go in docs/BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use quantscope::quant::ggml::{quantize, GgmlType};

const ROWS: usize = 4096;
const COLS: usize = 4096;
const REPS: usize = 5;

/// Seeded, roughly Gaussian weights (sum of three uniforms), scale 0.02.
fn tensor() -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut unit = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..ROWS * COLS)
        .map(|_| (unit() + unit() + unit() - 1.5) * 0.02)
        .collect()
}

fn main() {
    let x = tensor();
    let mb = (x.len() * 4) as f64 / 1e6;
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let raw = std::env::temp_dir().join("quantscope-bench-ggml.f32");
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).expect("write the bench tensor");
    let peer = if python.exists() {
        let out = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/gguf_quantize.py"))
            .args([
                raw.to_str().unwrap(),
                &ROWS.to_string(),
                &COLS.to_string(),
                "q8_0",
                "q4_0",
            ])
            .output()
            .expect("run the gguf peer");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("peer JSON"))
    } else {
        eprintln!("no .venv (scripts/setup-python.sh): skipping the gguf comparison");
        None
    };
    let _ = std::fs::remove_file(&raw);

    println!("ggml quantize, {ROWS}x{COLS} f32 ({mb:.0} MB), best of {REPS}");
    for ty in [GgmlType::Q8_0, GgmlType::Q4_0] {
        let mut best = f64::INFINITY;
        let mut len = 0;
        for _ in 0..REPS {
            let t = Instant::now();
            let q = quantize(ty, &x).expect("quantize");
            best = best.min(t.elapsed().as_secs_f64());
            len = std::hint::black_box(q).len();
        }
        let mut line = format!(
            "{ty}: quantscope native {:.1} ms ({:.2} GB/s of f32 in, {len} bytes out)",
            best * 1e3,
            mb / 1e3 / best
        );
        if let Some(p) = &peer {
            let py = p[ty.name()]["best_s"].as_f64().unwrap();
            assert_eq!(p[ty.name()]["bytes"].as_u64().unwrap() as usize, len);
            line += &format!(
                "; gguf {:.1} ms ({:.2} GB/s); {:.1}x faster",
                py * 1e3,
                mb / 1e3 / py,
                py / best
            );
        }
        println!("{line}");
    }
}
