//! Float versus int8 layer outputs: the int8 path equals dequantized weights times
//! dequantized activations, the float path equals the plain product, and bad requests
//! are refused by name.

use quantscope::analysis::layer::{layer, layer_row, Probe};
use quantscope::kernels::gemm::ActQuant;
use quantscope::{Scheme, Tensor};

fn demo() -> quantscope::Model {
    quantscope::open(
        include_bytes!("../www/public/demo.safetensors"),
        "demo.safetensors",
    )
    .unwrap()
}

/// The layer report's outputs equal what ONNX Runtime's quantization helpers and numpy
/// compute for the same weights and inputs (tests/fixtures/gemm/layer_stem.npz, by
/// scripts/gen_layer_fixtures.py): int8-asym-ch0 weights, int8 asymmetric activations
/// per row, integer products times the two scales; and the float path is W x.
#[test]
fn outputs_equal_onnx_runtime_and_numpy() {
    let model = demo();
    let t = model.tensor("stem.conv.weight").unwrap(); // [16, 3, 3, 3] -> [16, 27]
    let scheme: Scheme = "int8-asym-ch0".parse().unwrap();
    let fx = quantscope::open(
        include_bytes!("fixtures/gemm/layer_stem.npz"),
        "layer_stem.npz",
    )
    .unwrap();
    let x = fx.tensor("x").unwrap().clone();
    let (rows, n) = (x.shape[0], 16);
    let want_float = &fx.tensor("float_out").unwrap().data;
    let want_int8 = &fx.tensor("int8_out").unwrap().data;
    let probe = Probe::Data(x);
    for m in 0..rows {
        let r = layer_row(t, &scheme, &probe, 0, 0, ActQuant::Asym8, 32, m).unwrap();
        assert_eq!((r.n, r.k, r.batch, r.shown_row), (16, 27, rows, m));
        for c in 0..n {
            let (f, q) = (want_float[m * n + c], want_int8[m * n + c]);
            assert!(
                (r.float_out[c] - f).abs() < 1e-4 * (1.0 + f.abs()),
                "row {m} float {c}: {} vs {f}",
                r.float_out[c]
            );
            assert!(
                (r.int8_out[c] - q).abs() < 1e-5 * (1.0 + q.abs()),
                "row {m} int8 {c}: {} vs ONNX Runtime + numpy {q}",
                r.int8_out[c]
            );
        }
        assert_eq!(r.error.counts.iter().sum::<u32>(), (rows * n) as u32);
        assert!(
            r.metrics.sqnr_db > 30.0 && r.metrics.sqnr_db.is_finite(),
            "{:?}",
            r.metrics
        );
    }
}

#[test]
fn fewer_bits_cost_output_sqnr() {
    let model = demo();
    let t = model.tensor("layers.0.mlp.fc1.weight").unwrap();
    let run = |s: &str| {
        layer(
            t,
            &s.parse().unwrap(),
            &Probe::Gaussian,
            32,
            7,
            ActQuant::Asym8,
            64,
        )
        .unwrap()
        .metrics
        .sqnr_db
    };
    let (s8, s4) = (run("int8-sym-ch0"), run("int4-sym-ch0"));
    assert!(s8 > s4 + 10.0, "int8 {s8} dB vs int4 {s4} dB");
    // Same seed, same report; another seed, other inputs.
    let a = layer(
        t,
        &"int8-sym".parse().unwrap(),
        &Probe::Uniform,
        4,
        1,
        ActQuant::Sym8,
        16,
    )
    .unwrap();
    let b = layer(
        t,
        &"int8-sym".parse().unwrap(),
        &Probe::Uniform,
        4,
        1,
        ActQuant::Sym8,
        16,
    )
    .unwrap();
    let c = layer(
        t,
        &"int8-sym".parse().unwrap(),
        &Probe::Uniform,
        4,
        2,
        ActQuant::Sym8,
        16,
    )
    .unwrap();
    assert_eq!(a.float_out, b.float_out);
    assert_ne!(a.float_out, c.float_out);
}

#[test]
fn bad_requests_name_the_problem() {
    let model = demo();
    let s8: Scheme = "int8-sym-ch0".parse().unwrap();
    let e = layer(
        model.tensor("layers.0.norm.weight").unwrap(),
        &s8,
        &Probe::Gaussian,
        4,
        0,
        ActQuant::Asym8,
        8,
    );
    assert!(e.unwrap_err().to_string().contains("not a layer weight"));
    let t = model.tensor("layers.0.mlp.fc1.weight").unwrap();
    let e = layer(
        t,
        &"int8-sym-ch1".parse().unwrap(),
        &Probe::Gaussian,
        4,
        0,
        ActQuant::Asym8,
        8,
    );
    assert!(e.unwrap_err().to_string().contains("per output channel"));
    let e = layer(t, &s8, &Probe::Gaussian, 0, 0, ActQuant::Asym8, 8);
    assert!(e.unwrap_err().to_string().contains("batch 0"));
    let bad = Tensor {
        name: "x".into(),
        shape: vec![2, 5],
        dtype: quantscope::DType::F32,
        data: vec![0.0; 10],
    };
    let e = layer(t, &s8, &Probe::Data(bad), 0, 0, ActQuant::Asym8, 8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rows of 64 values"), "{e}");
    assert!(Probe::parse("cauchy")
        .unwrap_err()
        .to_string()
        .contains("`cauchy`"));
}

#[test]
fn a_chosen_row_shows_that_rows_outputs_with_the_same_metrics() {
    let model = demo();
    let t = model.tensor("layers.0.attn.out.weight").unwrap(); // [64, 64]
    let s: Scheme = "int8-sym-ch0".parse().unwrap();
    let x: Vec<f32> = (0..5 * 64)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 20.0)
        .collect();
    let probe = Probe::Data(Tensor {
        name: "x".into(),
        shape: vec![5, 64],
        dtype: quantscope::DType::F32,
        data: x.clone(),
    });
    let run = |row| layer_row(t, &s, &probe, 0, 0, ActQuant::Asym8, 16, row);
    let first = run(0).unwrap();
    let last = run(4).unwrap();
    assert_eq!((first.shown_row, last.shown_row), (0, 4));
    assert_eq!(last.metrics.sqnr_db, first.metrics.sqnr_db);
    assert_eq!(last.error.counts, first.error.counts);
    for c in 0..64 {
        let f: f64 = (0..64)
            .map(|i| t.data[c * 64 + i] as f64 * x[4 * 64 + i] as f64)
            .sum();
        assert!((last.float_out[c] as f64 - f).abs() < 1e-4, "float {c}");
    }
    let plain = layer(t, &s, &probe, 0, 0, ActQuant::Asym8, 16).unwrap();
    assert_eq!(plain.float_out, first.float_out, "layer shows row 0");
    assert_eq!(plain.int8_out, first.int8_out);
    let e = run(5).unwrap_err().to_string();
    assert!(e.contains("row 5 is outside the batch"), "{e}");
}
