//! Quantize throughput on a 4096 x 4096 f32 tensor, natively: `cargo bench --bench quantize`.
//! Plain timing loop: one warm-up, then the median of RUNS runs; GB/s of f32 input (1e9
//! bytes). In the same run, numpy's per-channel int8 (scripts/bench/numpy_quant.py, the
//! same formula) when .venv exists. Extra schemes: `cargo bench --bench quantize -- q8_0`.

use std::process::Command;
use std::time::Instant;

use quantscope::quant::Scheme;
use quantscope::{DType, Tensor};

const ROWS: usize = 4096;
const COLS: usize = 4096;
const RUNS: usize = 7;

/// The linear schemes measured; other families append theirs on the command line.
const SCHEMES: &[&str] = &[
    "int8-sym-ch0",
    "int8-asym-ch0",
    "uint8-asym-ch0",
    "int8-sym",
    "int8-sym-ch1",
    "int4-sym-group128",
    "int4-asym-ch0",
    "int3-sym-ch0",
    "int16-sym-ch0",
    "ort-int8-asym-reduced",
    "torch-int8-sym-ch0",
    "tflite-int8-ch0",
    "tfjs-uint8",
    "int8-sym-ch0-rna",
    "int8-sym-ch0-sr1",
    "int8-sym-ch0-pct99.999",
];

fn tensor() -> Tensor {
    // xorshift64*, sum of three uniforms: deterministic, roughly Gaussian, no dependency.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut u = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    let data = (0..ROWS * COLS)
        .map(|_| (u() + u() + u() - 1.5) * 0.03)
        .collect();
    Tensor {
        name: "bench".into(),
        shape: vec![ROWS, COLS],
        dtype: DType::F32,
        data,
    }
}

fn main() {
    let t = tensor();
    let bytes = (ROWS * COLS * 4) as f64;
    let extra: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!(
        "quantize {ROWS}x{COLS} f32 ({} MiB), median of {RUNS}",
        (ROWS * COLS * 4) >> 20
    );
    println!("{:<28} {:>10} {:>8}", "scheme", "ms", "GB/s");
    for spec in SCHEMES.iter().map(|s| s.to_string()).chain(extra) {
        let scheme: Scheme = match spec.parse() {
            Ok(s) => s,
            Err(e) => {
                println!("{spec:<28} skipped: {e}");
                continue;
            }
        };
        std::hint::black_box(scheme.encode(&t).unwrap().packed_bytes());
        let mut times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let e = scheme.encode(&t).unwrap();
                std::hint::black_box(e.packed_bytes());
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let med = times[RUNS / 2];
        println!("{spec:<28} {:>10.2} {:>8.2}", med * 1e3, bytes / med / 1e9);
    }
    page_probes(&t.data);
    let py = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    match Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/bench/numpy_quant.py"
        ))
        .args([ROWS.to_string(), COLS.to_string(), RUNS.to_string()])
        .output()
    {
        Ok(out) if out.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            println!(
                "{:<28} {:>10.2} {:>8.2}   (numpy {})",
                v["peer"].as_str().unwrap_or("numpy"),
                v["median_s"].as_f64().unwrap_or(0.0) * 1e3,
                v["gbps"].as_f64().unwrap_or(0.0),
                v["numpy"].as_str().unwrap_or("?")
            );
        }
        _ => println!("numpy peer skipped: run bash scripts/setup-python.sh"),
    }
}

/// The floor under any quantize of this tensor: reading its 64 MiB once, from memory
/// mapped in 4 KiB pages (as V8 maps wasm memory: it does not ask for huge pages, and
/// Linux's transparent huge pages are often `madvise`-only, as on the machine of
/// docs/BENCHMARKS.md) and in 2 MiB pages (madvise(MADV_HUGEPAGE)).
#[cfg(target_os = "linux")]
fn page_probes(data: &[f32]) {
    use memmap2::{Advice, MmapMut};
    let len = std::mem::size_of_val(data);
    for (label, advice) in [
        ("probe: read, 4 KiB pages", Advice::NoHugePage),
        ("probe: read, 2 MiB pages", Advice::HugePage),
    ] {
        let mut map = MmapMut::map_anon(len).expect("anonymous map");
        if let Err(e) = map.advise(advice) {
            println!("{label:<28} skipped: {e}");
            continue;
        }
        for (dst, v) in map.chunks_exact_mut(4).zip(data) {
            dst.copy_from_slice(&v.to_ne_bytes());
        }
        // SAFETY: the map is page-aligned (so aligned for f32) and holds len bytes.
        let x: &[f32] = unsafe { std::slice::from_raw_parts(map.as_ptr().cast(), data.len()) };
        std::hint::black_box(quantscope::kernels::read_probe(x));
        let mut times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(quantscope::kernels::read_probe(x));
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let med = times[RUNS / 2];
        println!(
            "{label:<28} {:>10.2} {:>8.2}",
            med * 1e3,
            len as f64 / med / 1e9
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn page_probes(_: &[f32]) {}
