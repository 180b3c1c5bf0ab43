//! The lab's two models on candle tensors, with a quantizer in front of every layer's
//! weights and inputs: an MLP (features-128-64-classes, ReLU) and a small CNN
//! (conv 3x3 to 8 channels, ReLU, conv 3x3 to 16, ReLU, 2x2 max-pool, linear).

use candle_core::{Device, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fakequant::FqParams;
use super::ops::{self, Lsq};
use super::weights::{LayerWeights, ModelKind};
use crate::quant::{Granularity, LinearScheme, Scheme};

pub(crate) type CResult<T> = candle_core::Result<T>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Linear,
    /// 3x3 convolution, padding 1, stride 1.
    Conv,
}

/// How a tensor (a layer's weights or its input) is quantized in the forward pass.
pub(crate) enum Quantizer {
    Float,
    /// Values fixed once (PTQ: the catalogue's codes, dequantized); the float weights
    /// stay as they were, for export.
    Fixed(Tensor),
    /// Parameters from the tensor's own min-max under a `torch-` scheme, every call
    /// (weights in QAT: what a FakeQuantize observer sees on its first step, and what the
    /// export writers recompute from the final weights).
    MinMax(LinearScheme),
    /// Parameters from a tracked range: PyTorch's MovingAverageMinMaxObserver (averaging
    /// constant `momentum`) when `track`, else fixed (calibrated PTQ ranges).
    Observed {
        scheme: LinearScheme,
        lo: f32,
        hi: f32,
        track: bool,
        momentum: f32,
    },
    /// LSQ: a learned step per slot, fixed zero point 0 (symmetric weights, and unsigned
    /// codes for post-ReLU inputs).
    Lsq {
        scale: Var,
        qmin: i32,
        qmax: i32,
        axis: Option<usize>,
    },
}

/// A 3x3 convolution, padding 1, stride 1, of `x` (n, c, h, w) by `k` (o, c, 3, 3).
///
/// candle 0.9.2's CPU conv2d (`conv2d_tiled`) takes an input whose strides equal
/// NHWC-contiguous ones for NHWC data; when `c == h == w` (the CNN's second layer on
/// digits: 8 channels of 8x8) NCHW-contiguous strides are numerically the same and the
/// NCHW data is read as NHWC: wrong outputs (huggingface/candle#3404, fixed after 0.9.2;
/// 0.10+ pull in the `tokenizers` crate natively, see Cargo.toml). There, the same
/// values are handed over as a strided view (one padding column, narrowed off), whose
/// strides match neither layout, so candle copies it to NCHW itself. Checked against a
/// direct loop, forward and kernel gradient, in the tests below.
pub(crate) fn conv3x3(x: &Tensor, k: &Tensor) -> CResult<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    if c == h && h == w {
        let view = x.pad_with_zeros(3, 0, 1)?.narrow(3, 0, w)?;
        view.conv2d(k, 1, 1, 1, 1)
    } else {
        x.conv2d(k, 1, 1, 1, 1)
    }
}

fn ranges_along0(t: &Tensor, per_channel: bool) -> CResult<Vec<(f32, f32)>> {
    if per_channel {
        let rows = t.flatten_from(1)?;
        let lo = rows.min(1)?.to_vec1::<f32>()?;
        let hi = rows.max(1)?.to_vec1::<f32>()?;
        Ok(lo.into_iter().zip(hi).collect())
    } else {
        let v = t.flatten_all()?;
        Ok(vec![(
            v.min(0)?.to_scalar::<f32>()?,
            v.max(0)?.to_scalar::<f32>()?,
        )])
    }
}

impl Quantizer {
    /// Quantizes `x` (training: observers update first, as FakeQuantize's do).
    pub(crate) fn apply(&mut self, x: &Tensor, training: bool) -> CResult<Tensor> {
        match self {
            Quantizer::Float => Ok(x.clone()),
            Quantizer::Fixed(t) => Ok(t.clone()),
            Quantizer::MinMax(s) => {
                let per_channel = matches!(s.granularity, Granularity::PerChannel { .. });
                let r = ranges_along0(&x.detach(), per_channel)?;
                ops::fake_quant(x, FqParams::from_ranges(s, &r))
            }
            Quantizer::Observed {
                scheme,
                lo,
                hi,
                track,
                momentum,
            } => {
                if training && *track {
                    let r = ranges_along0(&x.detach(), false)?[0];
                    *lo += *momentum * (r.0 - *lo);
                    *hi += *momentum * (r.1 - *hi);
                }
                ops::fake_quant(x, FqParams::from_ranges(scheme, &[(*lo, *hi)]))
            }
            Quantizer::Lsq {
                scale,
                qmin,
                qmax,
                axis,
            } => {
                let slots = scale.dims()[0];
                // LSQ's gradient scale g = 1 / sqrt(numel * qmax), in f64 as PyTorch's
                // _LearnableFakeQuantize computes it.
                let g = 1.0 / ((x.elem_count() as f64) * (*qmax as f64)).sqrt();
                ops::lsq(
                    x,
                    scale.as_tensor(),
                    Lsq {
                        zero_point: vec![0.0; slots],
                        qmin: *qmin,
                        qmax: *qmax,
                        axis: *axis,
                        grad_factor: g as f32,
                    },
                )
            }
        }
    }
}

pub(crate) struct Layer {
    pub name: String,
    pub op: Op,
    pub w: Var,
    pub b: Var,
    pub wq: Quantizer,
    pub xq: Quantizer,
}

pub(crate) struct Net {
    pub kind: ModelKind,
    pub layers: Vec<Layer>,
    /// (c, h, w) of the CNN's input.
    pub image: Option<(usize, usize, usize)>,
}

/// PyTorch's default initialisation of nn.Linear / nn.Conv2d: weights and biases uniform
/// in ±1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5) gives the same bound).
fn init(rng: &mut ChaCha8Rng, shape: &[usize], fan_in: usize) -> Vec<f32> {
    let b = 1.0 / (fan_in as f32).sqrt();
    (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-b..b))
        .collect()
}

impl Net {
    /// A freshly initialised model for samples of `features` values (`image` for the CNN).
    pub(crate) fn new(
        kind: ModelKind,
        features: usize,
        image: Option<(usize, usize, usize)>,
        classes: usize,
        seed: u64,
    ) -> CResult<Net> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shapes: Vec<(&str, Op, Vec<usize>)> = match kind {
            ModelKind::Mlp => vec![
                ("fc1", Op::Linear, vec![128, features]),
                ("fc2", Op::Linear, vec![64, 128]),
                ("fc3", Op::Linear, vec![classes, 64]),
            ],
            ModelKind::Cnn => {
                let (c, h, w) =
                    image.ok_or_else(|| candle_core::Error::Msg("the CNN needs images".into()))?;
                vec![
                    ("conv1", Op::Conv, vec![8, c, 3, 3]),
                    ("conv2", Op::Conv, vec![16, 8, 3, 3]),
                    ("fc", Op::Linear, vec![classes, 16 * (h / 2) * (w / 2)]),
                ]
            }
        };
        let mut layers = Vec::new();
        for (name, op, shape) in shapes {
            let fan_in: usize = shape[1..].iter().product();
            let w = init(&mut rng, &shape, fan_in);
            let b = init(&mut rng, &[shape[0]], fan_in);
            layers.push(Layer {
                name: name.to_string(),
                op,
                w: Var::from_vec(w, shape.as_slice(), &Device::Cpu)?,
                b: Var::from_vec(b, shape[0], &Device::Cpu)?,
                wq: Quantizer::Float,
                xq: Quantizer::Float,
            });
        }
        Ok(Net {
            kind,
            layers,
            image,
        })
    }

    /// A model holding `weights` (from [`Net::weights`]), all quantizers float.
    pub(crate) fn from_weights(
        kind: ModelKind,
        image: Option<(usize, usize, usize)>,
        weights: &[LayerWeights],
    ) -> CResult<Net> {
        let layers = weights
            .iter()
            .map(|l| {
                Ok(Layer {
                    name: l.name.clone(),
                    op: if l.shape.len() == 4 {
                        Op::Conv
                    } else {
                        Op::Linear
                    },
                    w: Var::from_vec(l.weight.clone(), l.shape.as_slice(), &Device::Cpu)?,
                    b: Var::from_vec(l.bias.clone(), l.bias.len(), &Device::Cpu)?,
                    wq: Quantizer::Float,
                    xq: Quantizer::Float,
                })
            })
            .collect::<CResult<Vec<_>>>()?;
        Ok(Net {
            kind,
            layers,
            image,
        })
    }

    /// The trainable variables: weights and biases, then LSQ steps.
    pub(crate) fn vars(&self) -> Vec<Var> {
        let mut v = Vec::new();
        for l in &self.layers {
            v.push(l.w.clone());
            v.push(l.b.clone());
        }
        for l in &self.layers {
            for q in [&l.wq, &l.xq] {
                if let Quantizer::Lsq { scale, .. } = q {
                    v.push(scale.clone());
                }
            }
        }
        v
    }

    /// Plain copies of the float weights.
    pub(crate) fn weights(&self) -> CResult<Vec<LayerWeights>> {
        self.layers
            .iter()
            .map(|l| {
                Ok(LayerWeights {
                    name: l.name.clone(),
                    shape: l.w.dims().to_vec(),
                    weight: l.w.flatten_all()?.to_vec1::<f32>()?,
                    bias: l.b.to_vec1::<f32>()?,
                })
            })
            .collect()
    }

    /// Logits for a batch `x` of shape (n, features). With `record`, each layer's input
    /// (after its own quantizer would see it) min and max are pushed there, in order.
    pub(crate) fn forward(
        &mut self,
        x: &Tensor,
        training: bool,
        mut record: Option<&mut Vec<(f32, f32)>>,
    ) -> CResult<Tensor> {
        let n = x.dims()[0];
        let mut h = match self.image {
            Some((c, hh, ww)) if self.kind == ModelKind::Cnn => x.reshape((n, c, hh, ww))?,
            _ => x.clone(),
        };
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter_mut().enumerate() {
            if l.op == Op::Linear && h.rank() > 2 {
                // Pool, then flatten before the classifier.
                h = h.max_pool2d(2)?.flatten_from(1)?;
            }
            if let Some(r) = record.as_deref_mut() {
                let v = h.detach().flatten_all()?;
                r.push((v.min(0)?.to_scalar::<f32>()?, v.max(0)?.to_scalar::<f32>()?));
            }
            let xin = l.xq.apply(&h, training)?;
            let w = l.wq.apply(l.w.as_tensor(), training)?;
            h = match l.op {
                Op::Linear => xin.matmul(&w.t()?)?.broadcast_add(l.b.as_tensor())?,
                Op::Conv => {
                    let b = l.b.as_tensor().reshape((1, l.b.dims()[0], 1, 1))?;
                    conv3x3(&xin, &w)?.broadcast_add(&b)?
                }
            };
            if i < last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Count of correct argmax predictions over (x, y), in batches.
    pub(crate) fn correct(&mut self, x: &[f32], y: &[u32], features: usize) -> CResult<usize> {
        let mut right = 0;
        let n = y.len();
        let step = 256;
        let mut start = 0;
        while start < n {
            let m = step.min(n - start);
            let xb = Tensor::from_slice(
                &x[start * features..(start + m) * features],
                (m, features),
                &Device::Cpu,
            )?;
            let pred = self
                .forward(&xb, false, None)?
                .argmax(D::Minus1)?
                .to_vec1::<u32>()?;
            right += pred
                .iter()
                .zip(&y[start..start + m])
                .filter(|(p, t)| p == t)
                .count();
            start += m;
        }
        Ok(right)
    }
}

/// The catalogue's scheme for a layer's weights in the lab: `torch-int<b>-sym`, per
/// output channel (axis 0) or per tensor.
pub(crate) fn weight_scheme(bits: u8, per_channel: bool) -> LinearScheme {
    let s = format!(
        "torch-int{bits}-sym{}",
        if per_channel { "-ch0" } else { "" }
    );
    match s.parse::<Scheme>() {
        Ok(Scheme::Linear(l)) => l,
        _ => unreachable!("torch-int2..8-sym parse"),
    }
}

/// The scheme for a layer's input: `torch-uint<b>-asym` per tensor (PyTorch's quint8
/// activations, at any width).
pub(crate) fn activation_scheme(bits: u8) -> LinearScheme {
    match format!("torch-uint{bits}-asym").parse::<Scheme>() {
        Ok(Scheme::Linear(l)) => l,
        _ => unreachable!("torch-uint2..8-asym parse"),
    }
}

#[cfg(test)]
mod conv_tests {
    use super::conv3x3;
    use candle_core::{Device, Tensor, Var};

    /// `conv3x3` and its kernel gradient (for upstream gradient `g`) against direct loops,
    /// on small integers (exact in f32), including c == h == w.
    fn check(n: usize, c: usize, h: usize, w: usize, o: usize) {
        let d = Device::Cpu;
        let x: Vec<f32> = (0..n * c * h * w)
            .map(|i| (i * 37 % 11) as f32 - 5.0)
            .collect();
        let k: Vec<f32> = (0..o * c * 9).map(|i| (i * 13 % 7) as f32 - 3.0).collect();
        let g: Vec<f32> = (0..n * o * h * w)
            .map(|i| (i * 7 % 5) as f32 - 2.0)
            .collect();
        let xt = Tensor::from_slice(&x, (n, c, h, w), &d).unwrap();
        let kv = Var::from_tensor(&Tensor::from_slice(&k, (o, c, 3, 3), &d).unwrap()).unwrap();
        let gt = Tensor::from_slice(&g, (n, o, h, w), &d).unwrap();
        let y = conv3x3(&xt, kv.as_tensor()).unwrap();
        let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
        let dk: Vec<f32> = grads
            .get(&kv)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let y: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        let mut want_dk = vec![0f32; k.len()];
        for b in 0..n {
            for oc in 0..o {
                for i in 0..h {
                    for j in 0..w {
                        let mut s = 0.0;
                        let gi = g[((b * o + oc) * h + i) * w + j];
                        for ic in 0..c {
                            for di in 0..3 {
                                for dj in 0..3 {
                                    let (ii, jj) = ((i + di) as i64 - 1, (j + dj) as i64 - 1);
                                    if ii < 0 || jj < 0 || ii >= h as i64 || jj >= w as i64 {
                                        continue;
                                    }
                                    let xv = x[((b * c + ic) * h + ii as usize) * w + jj as usize];
                                    let ki = ((oc * c + ic) * 3 + di) * 3 + dj;
                                    s += xv * k[ki];
                                    want_dk[ki] += xv * gi;
                                }
                            }
                        }
                        let got = y[((b * o + oc) * h + i) * w + j];
                        assert_eq!(
                            got, s,
                            "output ({b},{oc},{i},{j}) of {n}x{c}x{h}x{w} -> {o}"
                        );
                    }
                }
            }
        }
        assert_eq!(dk, want_dk, "kernel gradient of {n}x{c}x{h}x{w} -> {o}");
    }

    #[test]
    fn conv3x3_equals_direct_loops_including_c_eq_h_eq_w() {
        check(2, 3, 5, 5, 4);
        check(3, 1, 8, 8, 8);
        check(4, 8, 8, 8, 16); // the CNN's second layer on digits: candle#3404's case
        check(2, 4, 4, 4, 2);
        check(2, 2, 6, 5, 3);
    }
}
