//! The fake-quant math of [`super::fakequant`] as candle custom ops, so that candle's
//! autodiff carries PyTorch's clipped straight-through gradient (QAT) and LSQ's gradients
//! for the step size through a model.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::fakequant::{self, FqParams, Learnable};

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{op}: needs a contiguous f32 tensor"),
    }
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Fake quantization with fixed parameters; backward is the clipped STE.
pub(crate) struct FakeQuant(pub FqParams);

impl CustomOp1 for FakeQuant {
    fn name(&self) -> &'static str {
        "fake-quant"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, self.name())?;
        let (y, _) = fakequant::forward(x, l.dims(), &self.0);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (_, mask) = fakequant::forward(&values(arg)?, arg.dims(), &self.0);
        let dx = fakequant::backward(&values(grad)?, &mask);
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

/// Applies fixed fake quantization to `x` (made contiguous first).
pub(crate) fn fake_quant(x: &Tensor, p: FqParams) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(FakeQuant(p))
}

/// LSQ: fake quantization whose step sizes are the second input (a tensor of one scale
/// per slot), with fixed zero points; gradients for x and the scales.
pub(crate) struct Lsq {
    pub zero_point: Vec<f32>,
    pub qmin: i32,
    pub qmax: i32,
    pub axis: Option<usize>,
    pub grad_factor: f32,
}

impl Lsq {
    fn learnable(&self, scale: Vec<f32>) -> Learnable {
        Learnable {
            scale,
            zero_point: self.zero_point.clone(),
            qmin: self.qmin,
            qmax: self.qmax,
            axis: self.axis,
            grad_factor: self.grad_factor,
        }
    }
}

impl CustomOp2 for Lsq {
    fn name(&self) -> &'static str {
        "lsq"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, self.name())?;
        let scale = contiguous(s2, l2, self.name())?;
        let y = self.learnable(scale.to_vec()).forward(x, l1.dims());
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        scale: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = self
            .learnable(values(scale)?)
            .backward(&values(x)?, x.dims(), &values(grad)?);
        Ok((
            Some(Tensor::from_vec(g.x, x.shape(), x.device())?),
            Some(Tensor::from_vec(g.scale, scale.shape(), scale.device())?),
        ))
    }
}

/// Applies LSQ fake quantization to `x` with the learnable `scale`.
pub(crate) fn lsq(x: &Tensor, scale: &Tensor, op: Lsq) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op2(&scale.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn vals(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.031)
            .collect()
    }

    /// candle's autodiff through the op gives exactly the slice functions' gradients.
    #[test]
    fn autodiff_carries_the_ste_and_lsq_gradients() {
        let x = vals(24);
        let shape = [4usize, 6];
        let p = FqParams {
            scale: vec![0.1, 0.2, 0.05, 0.3],
            zero_point: vec![0; 4],
            qmin: -4,
            qmax: 3,
            axis: Some(0),
        };
        let v = Var::from_vec(x.clone(), &shape[..], &Device::Cpu).unwrap();
        let w: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        let wt = Tensor::from_vec(w.clone(), &shape[..], &Device::Cpu).unwrap();
        let y = fake_quant(v.as_tensor(), p.clone()).unwrap();
        let loss = (y * &wt).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        let got = g
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let (_, mask) = fakequant::forward(&x, &shape, &p);
        assert_eq!(got, fakequant::backward(&w, &mask));
        assert!(mask.iter().any(|m| !m) && mask.iter().any(|m| *m));

        let s = Var::from_vec(vec![0.1f32, 0.2, 0.05, 0.3], 4, &Device::Cpu).unwrap();
        let op = || Lsq {
            zero_point: vec![0.0; 4],
            qmin: -4,
            qmax: 3,
            axis: Some(0),
            grad_factor: 0.25,
        };
        let y = lsq(v.as_tensor(), s.as_tensor(), op()).unwrap();
        let loss = (y * &wt).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        let want = op()
            .learnable(vec![0.1, 0.2, 0.05, 0.3])
            .backward(&x, &shape, &w);
        let gx = g
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let gs = g.get(s.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(gx, want.x);
        assert_eq!(gs, want.scale);
    }
}
