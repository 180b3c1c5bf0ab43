//! The training lab end to end on the built-in digits split (www/public/digits.npz, made
//! by scripts/digits.py, which scripts/setup.sh runs): runs are seeded and repeatable,
//! the methods do what they claim, [`evaluate`] agrees with the runs, exports write the
//! codes the forward pass used, and bad data is refused with a reason.

use std::collections::BTreeMap;
use std::io::Write;

use quantscope::export::ExportFormat;
use quantscope::train::{
    self, evaluate, Dataset, LayerScheme, Method, ModelKind, PtqRange, Session, TrainConfig,
};
use quantscope::Scheme;

fn digits() -> Dataset {
    let path = format!("{}/www/public/digits.npz", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}: run `python3 scripts/digits.py` (scripts/setup.sh does)")
    });
    Dataset::from_npz(&bytes, "digits.npz").unwrap()
}

fn quick(method: Method) -> TrainConfig {
    TrainConfig {
        method,
        float_epochs: 8,
        epochs: 3,
        ..TrainConfig::default()
    }
}

#[test]
fn digits_split_is_the_documented_one() {
    let d = digits();
    assert_eq!((d.n_train(), d.n_test(), d.classes), (1438, 359, 10));
    assert_eq!(d.sample_shape, vec![64]);
    assert_eq!(d.image_shape().unwrap(), (1, 8, 8));
    assert!(d.x_train.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let d = digits();
    let a = train::train(quick(Method::Qat), d.clone(), |_| true).unwrap();
    let b = train::train(quick(Method::Qat), d.clone(), |_| true).unwrap();
    assert_eq!(a.curve, b.curve);
    assert_eq!(a.model, b.model);
    let mut other = quick(Method::Qat);
    other.seed = 1;
    let c = train::train(other, d, |_| true).unwrap();
    assert_ne!(a.model.layers[0].weight, c.model.layers[0].weight);
}

#[test]
fn float_teacher_learns_digits_and_ptq_matches_evaluate() {
    let d = digits();
    let mut cfg = quick(Method::Ptq);
    cfg.float_epochs = 20;
    cfg.wbits = 8;
    cfg.abits = None;
    let r = train::train(cfg, d.clone(), |_| true).unwrap();
    assert!(r.float_accuracy > 94.0, "float {}", r.float_accuracy);
    // The float model's own weights, evaluated with no scheme: the teacher's accuracy.
    // PTQ keeps the float weights (quantized in the forward pass), so this is exact.
    let float = evaluate(&r.model, &d, &BTreeMap::new()).unwrap();
    assert_eq!(float, r.float_accuracy);
    // Every layer under the PTQ scheme through evaluate(): the PTQ run's accuracy.
    let all: BTreeMap<String, LayerScheme> = r
        .model
        .layers
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                LayerScheme {
                    weights: Some("torch-int8-sym".parse::<Scheme>().unwrap()),
                    activations: None,
                },
            )
        })
        .collect();
    assert_eq!(evaluate(&r.model, &d, &all).unwrap(), r.accuracy);
    assert!((r.accuracy - r.float_accuracy).abs() < 1.5);
    assert!(
        r.bytes * 3 < r.float_bytes,
        "{} vs {}",
        r.bytes,
        r.float_bytes
    );
    // A layer that does not exist is named in the error.
    let mut bad = BTreeMap::new();
    bad.insert("fc9".to_string(), LayerScheme::default());
    let e = evaluate(&r.model, &d, &bad).unwrap_err().to_string();
    assert!(e.contains("fc9") && e.contains("fc1"), "{e}");
}

#[test]
fn every_method_runs_and_qat_beats_ptq_at_two_bits() {
    let d = digits();
    let mut ptq = quick(Method::Ptq);
    ptq.wbits = 2;
    ptq.abits = Some(4);
    ptq.float_epochs = 15;
    let p = train::train(ptq.clone(), d.clone(), |_| true).unwrap();
    let mut qat = ptq.clone();
    qat.method = Method::Qat;
    qat.epochs = 6;
    let q = train::train(qat, d.clone(), |_| true).unwrap();
    assert_eq!(p.float_accuracy, q.float_accuracy, "same teacher");
    assert!(
        q.accuracy > p.accuracy,
        "QAT {} vs PTQ {}",
        q.accuracy,
        p.accuracy
    );
    for m in [Method::Lsq, Method::Kd, Method::QatKd] {
        let mut c = ptq.clone();
        c.method = m;
        c.epochs = 2;
        let r = train::train(c, d.clone(), |_| true).unwrap();
        assert_eq!(r.curve.len(), 15 + 2, "{m}");
        assert!(r.accuracy > 30.0, "{m}: {}", r.accuracy);
        assert_eq!(r.layers.len(), 3);
    }
    let mut mse = ptq;
    mse.ptq_range = PtqRange::Mse;
    let r = train::train(mse, d, |_| true).unwrap();
    assert_eq!(r.weight_scheme.as_deref(), Some("int2-sym-mse"));
}

#[test]
fn cnn_trains_and_sessions_step_and_cancel() {
    let d = digits();
    let mut cfg = quick(Method::Qat);
    cfg.model = ModelKind::Cnn;
    cfg.float_epochs = 3;
    cfg.epochs = 1;
    let mut s = Session::new(cfg.clone(), d.clone()).unwrap();
    assert_eq!(s.total_epochs(), 4);
    let mut n = 0;
    while let Some(p) = s.step().unwrap() {
        n += 1;
        assert!(p.loss.is_finite());
    }
    assert_eq!(n, 4);
    let r = s.finish().unwrap();
    assert!(r.accuracy > 50.0, "{}", r.accuracy);
    assert_eq!(r.model.layers[0].shape, vec![8, 1, 3, 3]);
    // Cancelling after the second epoch stops there.
    let mut seen = 0;
    let e = train::train(cfg, d, |_| {
        seen += 1;
        seen < 2
    })
    .unwrap_err()
    .to_string();
    assert_eq!(seen, 2);
    assert!(e.contains("cancelled"), "{e}");
}

#[test]
fn exports_hold_the_trained_codes() {
    let d = digits();
    let mut cfg = quick(Method::Qat);
    cfg.wbits = 3;
    cfg.per_channel = true;
    let r = train::train(cfg, d, |_| true).unwrap();
    for f in [ExportFormat::Onnx, ExportFormat::Safetensors] {
        let e = train::export::write(&r, f).unwrap();
        assert_eq!(e.report.bytes as usize, e.bytes.len());
        let weights: Vec<_> = e.report.tensors.iter().filter(|t| t.quantized).collect();
        assert_eq!(weights.len(), 3, "{f:?}: {:?}", e.report.tensors);
        assert_eq!(e.report.scheme, "torch-int3-sym-ch0");
    }
    // The ONNX file opens in our reader with its weights as QDQ codes.
    let onnx = train::export::write(&r, ExportFormat::Onnx).unwrap();
    quantscope::open(&onnx.bytes, "trained.onnx").unwrap();
    // LSQ and float have no scheme that reproduces their weights: refused, with why.
    let mut lsq = quick(Method::Lsq);
    lsq.float_epochs = 2;
    lsq.epochs = 1;
    let r = train::train(lsq, digits(), |_| true).unwrap();
    let e = train::export::write(&r, ExportFormat::Onnx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("LSQ"), "{e}");
}

fn npz(members: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, descr, shape, data) in members {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            let shape_s = if shape.len() == 1 {
                format!("({},)", dims[0])
            } else {
                format!("({})", dims.join(", "))
            };
            let mut h =
                format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
            while (10 + h.len() + 1) % 64 != 0 {
                h.push(' ');
            }
            h.push('\n');
            z.start_file(format!("{name}.npy"), opts).unwrap();
            z.write_all(b"\x93NUMPY\x01\x00").unwrap();
            z.write_all(&(h.len() as u16).to_le_bytes()).unwrap();
            z.write_all(h.as_bytes()).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn f32b(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64b(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn bad_data_is_refused_with_the_reason() {
    let x = f32b(&[0.5; 12]);
    let ok = |xs: &[usize], y: Vec<u8>| -> Vec<u8> {
        npz(&[
            ("x_train", "<f4", xs, x.clone()),
            ("y_train", "<i8", &[xs[0]], y.clone()),
            ("x_test", "<f4", xs, x.clone()),
            ("y_test", "<i8", &[xs[0]], y),
        ])
    };
    let good = ok(&[4, 3], i64b(&[0, 1, 2, 0]));
    let d = Dataset::from_npz(&good, "good.npz").unwrap();
    assert_eq!((d.classes, d.features()), (3, 3));
    let e = d.image_shape().unwrap_err().to_string();
    assert!(e.contains("square"), "{e}");
    // 4 values are a 2x2 image; 1 value is too small for the CNN's pool.
    let four = Dataset::from_npz(&ok(&[3, 4], i64b(&[0, 1, 2])), "four.npz").unwrap();
    assert_eq!(four.image_shape().unwrap(), (1, 2, 2));
    let one = Dataset::from_npz(
        &ok(&[12, 1], i64b(&[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])),
        "one.npz",
    )
    .unwrap();
    let e = one.image_shape().unwrap_err().to_string();
    assert!(e.contains("at least 2x2"), "{e}");
    for (bytes, needle) in [
        (
            npz(&[("x_train", "<f4", &[3, 4], x.clone())]),
            "lacks y_train, x_test, y_test",
        ),
        (ok(&[3, 4], i64b(&[0, 1, -2])), "whole numbers"),
        (ok(&[3, 4], i64b(&[0, 0, 0])), "two classes"),
        (ok(&[12], i64b(&[0; 12])), "shape [12]"),
        (
            npz(&[
                ("x_train", "<f4", &[3, 4], x.clone()),
                ("y_train", "<i8", &[3], i64b(&[0, 1, 2])),
                ("x_test", "<f4", &[4, 3], x.clone()),
                ("y_test", "<i8", &[4], i64b(&[0, 1, 2, 1])),
            ]),
            "x_test's samples have shape [3]",
        ),
        (
            npz(&[
                ("x_train", "<f4", &[3, 4], f32b(&[f32::NAN; 12])),
                ("y_train", "<i8", &[3], i64b(&[0, 1, 2])),
                ("x_test", "<f4", &[3, 4], x.clone()),
                ("y_test", "<i8", &[3], i64b(&[0, 1, 2])),
            ]),
            "non-finite",
        ),
        (
            npz(&[
                ("x_train", "|b1", &[3, 4], vec![1; 12]),
                ("y_train", "<i8", &[3], i64b(&[0, 1, 2])),
                ("x_test", "<f4", &[3, 4], x.clone()),
                ("y_test", "<i8", &[3], i64b(&[0, 1, 2])),
            ]),
            "not a number type",
        ),
        (
            npz(&[
                ("x_train", "<f4", &[1, 5000], f32b(&[0.0; 5000])),
                ("y_train", "<i8", &[1], i64b(&[1])),
                ("x_test", "<f4", &[1, 5000], f32b(&[0.0; 5000])),
                ("y_test", "<i8", &[1], i64b(&[0])),
            ]),
            "1 to 4096",
        ),
        (b"not a zip".to_vec(), "npz"),
    ] {
        let e = Dataset::from_npz(&bytes, "user.npz")
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "expected `{needle}` in: {e}");
    }
    // A config out of range names its flag.
    for (cfg, needle) in [
        (
            TrainConfig {
                wbits: 9,
                ..TrainConfig::default()
            },
            "--wbits 9",
        ),
        (
            TrainConfig {
                abits: Some(2),
                ..TrainConfig::default()
            },
            "--abits 2",
        ),
        (
            TrainConfig {
                kd_alpha: 1.5,
                ..TrainConfig::default()
            },
            "--kd-alpha",
        ),
        (
            TrainConfig {
                lr: 0.0,
                ..TrainConfig::default()
            },
            "--lr",
        ),
        (
            TrainConfig {
                batch: 0,
                ..TrainConfig::default()
            },
            "--batch",
        ),
    ] {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}
