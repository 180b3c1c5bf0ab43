//! Native GEMM/GEMV timings (`cargo bench --bench gemm`): the same shapes as
//! `npm run bench`, with this build's kernels (scalar code compiled for the host,
//! rayon over all cores with the default `parallel` feature). Prints ms and GOPS.

use std::time::Instant;

use quantscope::kernels::gemm::{self, ActQuant, PackedF32Matrix, PackedI8Matrix};

fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut ts = Vec::new();
    let start = Instant::now();
    while ts.len() < 3 || (start.elapsed().as_secs_f64() < 1.0 && ts.len() < 100) {
        let t = Instant::now();
        f();
        ts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let shapes: &[(usize, usize, usize)] = if quick {
        &[(64, 512, 512), (1, 1024, 1024)]
    } else {
        &[
            (256, 1024, 1024),
            (128, 4096, 4096),
            (1, 4096, 4096),
            (1, 8192, 8192),
        ]
    };
    println!("kernels: {}", quantscope::kernels::KERNELS);
    for &(m, k, n) in shapes {
        let w = values(n * k, 1);
        let x = values(m * k, 2);
        let ops = 2.0 * (m * k * n) as f64;
        let pf = PackedF32Matrix::pack(&w, n, k).unwrap();
        let tf = time(|| {
            gemm::linear_f32(&x, m, &pf, None).unwrap();
        });
        drop(pf);
        let pq = PackedI8Matrix::quantize(&w, n, k).unwrap();
        let tq = time(|| {
            gemm::linear_i8(&x, m, &pq, None, ActQuant::Sym8).unwrap();
        });
        for (name, t) in [("f32", tf), ("int8 (dyn. quant sym)", tq)] {
            println!(
                "{name:<24} {m}x{k}x{n}: {t:>10.3} ms {:>8.2} GOPS",
                ops / (t * 1e6)
            );
        }
    }
}
