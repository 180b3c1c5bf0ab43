#!/usr/bin/env python3
"""Writes tests/fixtures/train/*.json from PyTorch 2.5 (run with .venv-torch/bin/python;
scripts/gen_train_fixtures.sh makes that venv): what tests/train_reference.rs holds
src/train/ to.

- fake_quant.json: torch.fake_quantize_per_tensor_affine / _per_channel_affine outputs
  and the gradients autograd gives for a random upstream gradient, on tensors that
  include exact ties (x / scale = k + 0.5) and values far outside the range (clipped);
- lsq.json: torch.ao.quantization._LearnableFakeQuantize (use_grad_scaling=True) with
  set scales and zero points: forward, and the gradients for x, scale and zero point;
- kd.json: the survey's distillation loss (1 - a) H(y, p_s) + a T^2 H(p_t/T, p_s/T), as
  F.cross_entropy and -(softmax(z_t/T) * log_softmax(z_s/T)).sum(1).mean(), and its
  gradient for the student's logits.

Floats are written with repr() of the float32 value, which parses back exactly.
"""

import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "train")
torch.manual_seed(0)


def f32(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def with_ties_and_clips(shape, scale, zp, qmin, qmax):
    """Random values over about twice the range, some exactly on half steps."""
    n = 1
    for d in shape:
        n *= d
    lo = (qmin - zp) * scale
    hi = (qmax - zp) * scale
    x = torch.empty(n).uniform_(2 * lo - scale, 2 * hi + scale)
    k = torch.randint(qmin - zp - 3, qmax - zp + 3, (n // 4,)).float()
    x[: n // 4] = (k + 0.5) * scale  # ties: half to even decides
    x[n // 4 : n // 4 + 3] = torch.tensor([lo - 100 * scale, hi + 100 * scale, 0.0])
    return x[torch.randperm(n)].reshape(shape).float()


def per_tensor_cases():
    cases = []
    for name, scale, zp, qmin, qmax in [
        ("int8_sym", 0.0213, 0, -128, 127),
        ("uint8_affine", 0.0071, 37, 0, 255),
        ("int2", 0.5, 0, -2, 1),
        ("int3_affine", 0.37, -1, -4, 3),
        ("uint4", 0.11, 3, 0, 15),
    ]:
        x = with_ties_and_clips((97,), scale, zp, qmin, qmax).requires_grad_()
        y = torch.fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax)
        dy = torch.randn_like(y)
        y.backward(dy)
        cases.append(dict(name=name, shape=[97], scale=[scale], zero_point=[zp], axis=None,
                          qmin=qmin, qmax=qmax, x=f32(x), y=f32(y), dy=f32(dy), dx=f32(x.grad)))
    return cases


def per_channel_cases():
    cases = []
    for name, shape, axis, qmin, qmax, affine in [
        ("int4_ch0", (6, 10), 0, -8, 7, False),
        ("int8_ch1_3d", (4, 3, 5), 1, -128, 127, True),
        ("uint2_ch0", (5, 8), 0, 0, 3, True),
        ("int8_ch0_conv", (4, 2, 3, 3), 0, -128, 127, False),
    ]:
        c = shape[axis]
        scale = (torch.rand(c) * 0.2 + 0.01).float()
        zp = (torch.randint(qmin, qmax + 1, (c,)) if affine else torch.zeros(c)).int()
        xs = [with_ties_and_clips((int(torch.tensor(shape).prod()) // c,), float(scale[i]),
                                  int(zp[i]), qmin, qmax) for i in range(c)]
        # Channel i's values along `axis`.
        x = torch.stack(xs, 0).reshape((c,) + tuple(s for j, s in enumerate(shape) if j != axis))
        x = x.movedim(0, axis).contiguous().requires_grad_()
        y = torch.fake_quantize_per_channel_affine(x, scale, zp, axis, qmin, qmax)
        dy = torch.randn_like(y)
        y.backward(dy)
        cases.append(dict(name=name, shape=list(shape), scale=f32(scale),
                          zero_point=[int(v) for v in zp], axis=axis, qmin=qmin, qmax=qmax,
                          x=f32(x), y=f32(y), dy=f32(dy), dx=f32(x.grad)))
    return cases


def lsq_cases():
    from torch.ao.quantization import MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
    from torch.ao.quantization._learnable_fake_quantize import _LearnableFakeQuantize

    cases = []
    for name, shape, axis, qmin, qmax, dtype, qscheme in [
        ("tensor_sym_int4", (300,), None, -8, 7, torch.qint8, torch.per_tensor_symmetric),
        ("tensor_affine_uint8", (250,), None, 0, 255, torch.quint8, torch.per_tensor_affine),
        ("tensor_affine_uint4", (200,), None, 0, 15, torch.quint8, torch.per_tensor_affine),
        ("channel_sym_int2", (6, 40), 0, -2, 1, torch.qint8, torch.per_channel_symmetric),
        ("channel_sym_int4_conv", (4, 3, 3, 3), 0, -8, 7, torch.qint8, torch.per_channel_symmetric),
    ]:
        c = 1 if axis is None else shape[axis]
        if axis is None:
            fq = _LearnableFakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=qmin,
                                        quant_max=qmax, dtype=dtype, qscheme=qscheme,
                                        use_grad_scaling=True)
        else:
            fq = _LearnableFakeQuantize(observer=MovingAveragePerChannelMinMaxObserver,
                                        quant_min=qmin, quant_max=qmax, dtype=dtype,
                                        qscheme=qscheme, ch_axis=axis, channel_len=c,
                                        use_grad_scaling=True)
        fq.toggle_observer_update(False)
        fq.toggle_qparam_learning(True)
        fq.toggle_fake_quant(True)
        scale = (torch.rand(c) * 0.3 + 0.05).float()
        sym = qscheme in (torch.per_tensor_symmetric, torch.per_channel_symmetric)
        zp = torch.zeros(c) if sym else torch.randint(qmin, qmax // 2 + 1, (c,)).float()
        fq.scale.data = scale.clone()
        fq.zero_point.data = zp.clone()
        n = int(torch.tensor(shape).prod())
        x = (torch.randn(n) * float(scale.max()) * (qmax - qmin) / 2.5).reshape(shape)
        x.view(-1)[: n // 8] = (torch.randint(qmin, qmax, (n // 8,)).float() + 0.5) * float(scale[0])
        x = x.float().requires_grad_()
        y = fq(x)
        dy = torch.randn_like(y)
        y.backward(dy)
        cases.append(dict(
            name=name, shape=list(shape), axis=axis, qmin=qmin, qmax=qmax,
            scale=f32(scale), zero_point=f32(zp),
            grad_factor=1.0 / (x.numel() * qmax) ** 0.5,
            x=f32(x), y=f32(y), dy=f32(dy), dx=f32(x.grad),
            dscale=f32(fq.scale.grad),
            dzero_point=f32(fq.zero_point.grad) if fq.zero_point.grad is not None else [0.0] * c,
        ))
    return cases


def kd_cases():
    cases = []
    for name, n, k, t, a in [("t4_a07", 16, 10, 4.0, 0.7), ("t1_a03", 9, 10, 1.0, 0.3),
                             ("t8_a1", 5, 7, 8.0, 1.0), ("t2_a0", 5, 7, 2.0, 0.0)]:
        zs = (torch.randn(n, k) * 3).float().requires_grad_()
        zt = (torch.randn(n, k) * 3).float()
        y = torch.randint(0, k, (n,))
        hard = F.cross_entropy(zs, y)
        soft = -(F.softmax(zt / t, dim=1) * F.log_softmax(zs / t, dim=1)).sum(1).mean()
        loss = (1 - a) * hard + a * t * t * soft
        loss.backward()
        cases.append(dict(name=name, n=n, k=k, t=t, alpha=a, student=f32(zs), teacher=f32(zt),
                          labels=[int(v) for v in y], loss=float(loss), grad=f32(zs.grad)))
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"torch": torch.__version__, "generator": "scripts/gen_train_fixtures.py"}
    for file, cases in [("fake_quant.json", per_tensor_cases() + per_channel_cases()),
                        ("lsq.json", lsq_cases()), ("kd.json", kd_cases())]:
        with open(os.path.join(OUT, file), "w") as f:
            json.dump({"meta": meta, "cases": cases}, f)
        print(f"gen_train_fixtures: {file}: {len(cases)} cases")


if __name__ == "__main__":
    main()
