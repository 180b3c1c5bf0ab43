//! The survey's distillation loss for a quantized student and a float teacher:
//! (1 - a) H(y, p_s) + a T^2 H(p_t^T, p_s^T), with p^T = softmax(z / T), cross-entropies
//! averaged over the batch (T^2 keeps the soft term's gradient on the hard term's scale).

use candle_core::{Device, Tensor, Var, D};
use candle_nn::ops::{log_softmax, softmax};

use super::model::CResult;

/// The loss on candle tensors: student logits `zs` (n, k), teacher logits `zt` (n, k),
/// labels `y` (n,) as u32.
pub(crate) fn kd_loss(zs: &Tensor, zt: &Tensor, y: &Tensor, t: f32, alpha: f32) -> CResult<Tensor> {
    let hard = candle_nn::loss::cross_entropy(zs, y)?;
    let pt = softmax(&zt.detach().affine(1.0 / t as f64, 0.0)?, D::Minus1)?;
    let ls = log_softmax(&zs.affine(1.0 / t as f64, 0.0)?, D::Minus1)?;
    let soft = (pt * ls)?.sum(D::Minus1)?.mean_all()?.neg()?;
    let a = alpha as f64;
    hard.affine(1.0 - a, 0.0)? + soft.affine(a * (t as f64) * (t as f64), 0.0)?
}

/// The loss and its gradient for the student's logits, on plain slices (row-major
/// (n, k)): what tests hold against PyTorch.
pub fn kd_loss_and_grad(
    student: &[f32],
    teacher: &[f32],
    labels: &[u32],
    classes: usize,
    t: f32,
    alpha: f32,
) -> crate::Result<(f32, Vec<f32>)> {
    let n = labels.len();
    let run = || -> CResult<(f32, Vec<f32>)> {
        let zs = Var::from_slice(student, (n, classes), &Device::Cpu)?;
        let zt = Tensor::from_slice(teacher, (n, classes), &Device::Cpu)?;
        let y = Tensor::from_slice(labels, n, &Device::Cpu)?;
        let loss = kd_loss(zs.as_tensor(), &zt, &y, t, alpha)?;
        let grads = loss.backward()?;
        let g = grads
            .get(zs.as_tensor())
            .ok_or_else(|| candle_core::Error::Msg("no gradient for the student".into()))?;
        Ok((loss.to_scalar::<f32>()?, g.flatten_all()?.to_vec1::<f32>()?))
    };
    run().map_err(super::error::candle_err)
}
