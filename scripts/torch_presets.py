#!/usr/bin/env python3
"""PyTorch's own weight quantization for the torch-* presets, run in .venv-torch (made by
scripts/gen_linear_fixtures.sh from scripts/requirements-torch.txt) by
scripts/gen_linear_fixtures.py, which cannot import torch from .venv.

  torch_presets.py REQUEST.json OUT.npz

REQUEST: [{"key", "input": path of an .npy, "signed", "bits", "sym", "axis"}]. For each,
the observer torch.ao.quantization users attach to weights (MinMaxObserver or
PerChannelMinMaxObserver; 8-bit ones constructed with their default range, as
torch.ao.quantization.default_*_weight_observer are; 4- and 16-bit ones with
quant_min/quant_max, the only way torch has them) computes scale and zero point; the
codes come from torch.quantize_per_tensor / quantize_per_channel (8-bit) or from
torch.fake_quantize_per_tensor_affine / per_channel_affine (other widths, which have no
quantized dtype), read back as round(fq / scale) + zero_point. OUT holds
"<key>.codes", "<key>.scales", "<key>.zero_points".
"""

import json
import sys

import numpy as np
import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver


def preset(x, signed, bits, sym, axis):
    qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    if bits == 8:
        dtype = torch.qint8 if signed else torch.quint8
        rng = {}
    else:
        dtype = {(True, 16): torch.int16, (False, 16): torch.uint16}.get(
            (signed, bits), torch.qint8 if signed else torch.quint8)
        rng = {"quant_min": qmin, "quant_max": qmax}
    if axis is None:
        qs = torch.per_tensor_symmetric if sym else torch.per_tensor_affine
        obs = MinMaxObserver(dtype=dtype, qscheme=qs, **rng)
    else:
        qs = torch.per_channel_symmetric if sym else torch.per_channel_affine
        obs = PerChannelMinMaxObserver(ch_axis=axis, dtype=dtype, qscheme=qs, **rng)
    obs(t)
    scale, zp = obs.calculate_qparams()
    if bits == 8:
        if axis is None:
            q = torch.quantize_per_tensor(t, float(scale), int(zp), dtype)
        else:
            q = torch.quantize_per_channel(t, scale.double(), zp.long(), axis, dtype)
        codes = q.int_repr().numpy().astype(np.int32)
    else:
        if axis is None:
            fq = torch.fake_quantize_per_tensor_affine(t, float(scale), int(zp), qmin, qmax)
            s, z = scale, zp
        else:
            fq = torch.fake_quantize_per_channel_affine(t, scale, zp.int(), axis, qmin, qmax)
            shape = [1] * t.ndim
            shape[axis] = -1
            s, z = scale.reshape(shape), zp.reshape(shape)
        codes = (torch.round(fq.double() / s.double()) + z.double()).numpy().astype(np.int32)
    return codes, scale.numpy().astype(np.float32).ravel(), zp.numpy().astype(np.int32).ravel()


def main():
    request = json.load(open(sys.argv[1]))
    out = {}
    for r in request:
        codes, scales, zps = preset(np.load(r["input"]), r["signed"], r["bits"], r["sym"], r["axis"])
        out[f"{r['key']}.codes"] = codes
        out[f"{r['key']}.scales"] = scales
        out[f"{r['key']}.zero_points"] = zps
    np.savez(sys.argv[2], **out)
    print(f"torch {torch.__version__}: {len(request)} presets", file=sys.stderr)


if __name__ == "__main__":
    main()
