//! The training lab's fake-quant ops and distillation loss against PyTorch 2.5
//! (tests/fixtures/train/, written by scripts/gen_train_fixtures.py):
//! - torch.fake_quantize_per_tensor_affine / _per_channel_affine: outputs bit-exact, and
//!   the clipped straight-through gradient equal, ties and clipped values included;
//! - _LearnableFakeQuantize (LSQ): outputs bit-exact, gradients for x exact and for
//!   scale and zero point within 1e-6;
//! - the survey's KD loss: value and gradient within 1e-6.

use quantscope::train::fakequant::{self, FqParams, Learnable};
use quantscope::train::kd::kd_loss_and_grad;
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/train/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        v["meta"]["torch"].as_str().unwrap().starts_with("2.5"),
        "{path}"
    );
    v["cases"].as_array().unwrap().clone()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn fake_quant_forward_and_ste_match_pytorch_exactly() {
    let cases = load("fake_quant.json");
    assert!(cases.len() >= 9);
    let mut clipped = 0;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let shape = usizes(&c["shape"]);
        let p = FqParams {
            scale: f32s(&c["scale"]),
            zero_point: c["zero_point"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap() as i32)
                .collect(),
            qmin: c["qmin"].as_i64().unwrap() as i32,
            qmax: c["qmax"].as_i64().unwrap() as i32,
            axis: c["axis"].as_u64().map(|a| a as usize),
        };
        let x = f32s(&c["x"]);
        let (y, mask) = fakequant::forward(&x, &shape, &p);
        assert_eq!(bits(&y), bits(&f32s(&c["y"])), "{name}: forward");
        let dx = fakequant::backward(&f32s(&c["dy"]), &mask);
        assert_eq!(bits(&dx), bits(&f32s(&c["dx"])), "{name}: gradient");
        clipped += mask.iter().filter(|m| !**m).count();
    }
    // The fixtures hold clipped values (zero gradient): the mask is exercised.
    assert!(clipped > 50, "{clipped}");
}

fn close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: {g} vs PyTorch {w}"
        );
    }
}

#[test]
fn lsq_gradients_match_learnable_fake_quantize() {
    for c in &load("lsq.json") {
        let name = c["name"].as_str().unwrap();
        let shape = usizes(&c["shape"]);
        let l = Learnable {
            scale: f32s(&c["scale"]),
            zero_point: f32s(&c["zero_point"]),
            qmin: c["qmin"].as_i64().unwrap() as i32,
            qmax: c["qmax"].as_i64().unwrap() as i32,
            axis: c["axis"].as_u64().map(|a| a as usize),
            grad_factor: c["grad_factor"].as_f64().unwrap() as f32,
        };
        let x = f32s(&c["x"]);
        assert_eq!(
            bits(&l.forward(&x, &shape)),
            bits(&f32s(&c["y"])),
            "{name}: forward"
        );
        let g = l.backward(&x, &shape, &f32s(&c["dy"]));
        assert_eq!(bits(&g.x), bits(&f32s(&c["dx"])), "{name}: dx");
        close(
            &g.scale,
            &f32s(&c["dscale"]),
            1e-6,
            &format!("{name}: dscale"),
        );
        close(
            &g.zero_point,
            &f32s(&c["dzero_point"]),
            1e-6,
            &format!("{name}: dzero_point"),
        );
        assert!(
            g.scale.iter().any(|v| *v != 0.0),
            "{name}: a zero scale gradient tests nothing"
        );
    }
}

#[test]
fn kd_loss_and_gradient_match_pytorch() {
    for c in &load("kd.json") {
        let name = c["name"].as_str().unwrap();
        let labels: Vec<u32> = usizes(&c["labels"]).iter().map(|&v| v as u32).collect();
        let (loss, grad) = kd_loss_and_grad(
            &f32s(&c["student"]),
            &f32s(&c["teacher"]),
            &labels,
            c["k"].as_u64().unwrap() as usize,
            c["t"].as_f64().unwrap() as f32,
            c["alpha"].as_f64().unwrap() as f32,
        )
        .unwrap();
        let want = c["loss"].as_f64().unwrap() as f32;
        assert!(
            (loss - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{name}: loss {loss} vs {want}"
        );
        close(&grad, &f32s(&c["grad"]), 1e-6, &format!("{name}: gradient"));
    }
}
