//! The memory budget's estimates held to measured peaks: every scheme family runs on a
//! few shapes under a counting global allocator, and the estimate must be at least the
//! measured peak and at most FACTOR x the peak (+ SLACK for small tensors, where fixed
//! costs dominate). One #[test] runs every case in turn so that no other test's
//! allocations mix into a peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use quantscope::analysis::{self, layer};
use quantscope::budget::{estimate, Operation};
use quantscope::kernels::gemm::ActQuant;
use quantscope::{DType, Scheme, Tensor};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = NOW.fetch_add(l.size(), Ordering::SeqCst) + l.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                // Old and new blocks may both exist during the move: count both.
                let now = NOW.fetch_add(new, Ordering::SeqCst) + new;
                PEAK.fetch_max(now, Ordering::SeqCst);
                NOW.fetch_sub(l.size(), Ordering::SeqCst);
            } else {
                NOW.fetch_sub(l.size() - new, Ordering::SeqCst);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was live when it started.
fn peak_of<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let base = NOW.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (PEAK.load(Ordering::SeqCst) - base, r)
}

/// Estimates may be at most this many times the measured peak...
const FACTOR: f64 = 4.0;
/// ...plus this much (the estimate's fixed 64 KiB and 64 KiB of histogram allowance).
const SLACK: u64 = 256 << 10;

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    // A seeded xorshift: distinct, roughly Gaussian-looking values (sum of uniforms).
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let data = (0..n)
        .map(|_| (next() + next() + next() - 1.5) * 0.1)
        .collect();
    Tensor {
        name: "w".into(),
        shape: shape.to_vec(),
        dtype: DType::F32,
        data,
    }
}

#[test]
fn estimates_bound_measured_peaks() {
    let families: &[(&str, &[&str])] = &[
        (
            "linear",
            &[
                "int8-sym",
                "int8-sym-ch0",
                "uint8-asym-ch1",
                "int4-asym-group32",
                "int3-sym-ch0",
                "int16-sym-ch0",
                "int8-sym-rna",
                "int8-sym-ch0-sr3",
                "uint8-asym-pct99.9",
                "int8-sym-ch0-mse",
                "int8-asym-kl",
                "torch-int8-sym-ch0",
                "tflite-int8-ch0",
                "tfjs-uint8",
                "ort-uint8-asym-reduced",
            ],
        ),
        ("four-bit", &["nf4", "fp4-b128"]),
        ("float", &["fp16", "bf16", "fp8-e4m3"]),
        ("log", &["pot4", "apot4"]),
        (
            "vector",
            &["kmeans16", "kmeansdp16", "pq256x8", "pq16x2", "pq16x4"],
        ),
        ("mixed", &["mixed-int8-fp16-t0.25", "mixed-int8-fp16-top1"]),
        ("ggml", &["q8_0", "q4_0", "q4_k", "q6_k"]),
    ];
    // Square, wide, 1-D (per channel falls back to per tensor) and a conv kernel, each
    // 32768 to 65536 values: large enough that fixed costs do not hide the per-value
    // ones, small enough for a debug build.
    let shapes: &[&[usize]] = &[&[256, 256], &[16, 4096], &[1 << 15], &[32, 8, 3, 3 * 32]];
    let mut worst = 0f64;
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (family, schemes) in families {
        for spec in *schemes {
            let scheme: Scheme = spec.parse().unwrap();
            // PQ with 256 centroids searches 256 codewords per sub-vector for 25
            // iterations: one small shape keeps a debug build quick.
            let shapes: &[&[usize]] = if spec.starts_with("pq256") {
                &[&[64, 128]]
            } else {
                shapes
            };
            for (i, shape) in shapes.iter().enumerate() {
                let t = tensor(shape, i as u64 + 1);
                let values = t.data.len() as u64 * 4;
                for op in [Operation::Summary, Operation::Analysis { bins: 256 }] {
                    let (peak, r) = peak_of(|| match op {
                        Operation::Summary => analysis::summarize(&t, &scheme).map(|_| ()),
                        _ => analysis::analyze(&t, &scheme, 256).map(|_| ()),
                    });
                    if r.is_err() {
                        // ggml on rows that do not split into blocks: refused before
                        // any allocation that matters.
                        continue;
                    }
                    // The values were allocated before the call; the estimate counts them.
                    let actual = peak as u64 + values;
                    let est = estimate(&t.info(), &scheme, op, 0).peak();
                    let ratio = est as f64 / actual as f64;
                    lines.push(format!(
                        "{family:8} {spec:24} {shape:?} {op}: estimate {est} actual {actual} ratio {ratio:.2}"
                    ));
                    if est < actual {
                        failures.push(format!(
                            "{spec} on {shape:?} ({op}): estimate {est} below the measured {actual}"
                        ));
                    }
                    if (est as f64) > FACTOR * actual as f64 + SLACK as f64 {
                        failures.push(format!(
                            "{spec} on {shape:?} ({op}): estimate {est} over {FACTOR} x the measured {actual}"
                        ));
                    }
                    worst = worst.max(ratio);
                }
            }
        }
    }
    // The layer report (linear schemes per tensor and per output channel).
    for spec in ["int8-sym-ch0", "uint8-asym", "int4-sym-ch0"] {
        let scheme: Scheme = spec.parse().unwrap();
        for shape in [&[256usize, 512][..], &[64, 32, 3, 3]] {
            let t = tensor(shape, 9);
            let values = t.data.len() as u64 * 4;
            let (peak, r) = peak_of(|| {
                layer::layer(
                    &t,
                    &scheme,
                    &layer::Probe::Gaussian,
                    64,
                    0,
                    ActQuant::Asym8,
                    64,
                )
            });
            r.unwrap();
            let actual = peak as u64 + values;
            let est = estimate(&t.info(), &scheme, Operation::Layer { batch: 64 }, 0).peak();
            let ratio = est as f64 / actual as f64;
            lines.push(format!(
                "layer    {spec:24} {shape:?}: estimate {est} actual {actual} ratio {ratio:.2}"
            ));
            if est < actual || (est as f64) > FACTOR * actual as f64 + SLACK as f64 {
                failures.push(format!(
                    "layer {spec} {shape:?}: estimate {est}, measured {actual}"
                ));
            }
            worst = worst.max(ratio);
        }
    }
    if std::env::var_os("BUDGET_PRINT").is_some() {
        for l in &lines {
            println!("{l}");
        }
    }
    println!(
        "{} cases, largest estimate / measured peak: {worst:.2}",
        lines.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
