#!/usr/bin/env python3
"""Writes tests/fixtures/gemm/layer_stem.npz: the expected outputs of the layer report
(quantscope's `layer`, tests/layer.rs) for the demo model's stem.conv.weight [16, 3, 3, 3]
as a [16, 27] layer under int8-asym-ch0 weights and int8 asymmetric per-row activations,
computed with ONNX Runtime's own quantization helpers and numpy, not with quantscope's.

Run: .venv/bin/python scripts/gen_layer_fixtures.py (tools pinned in
scripts/requirements.txt).

- weights: onnxruntime.quantization.quant_utils.quantize_data per output channel
  (INT8, asymmetric: compute_scale_zp over [min, max] widened to 0, quantize_nparray);
- activations: the same per row of x, INT8 asymmetric (what ActQuant::Asym8 does);
- int8 output: sum_k (qw - zw)(qx - zx) in exact integers, times sw * sx, in float64;
- float output: W x in float64.
The probe x is stored, so the test feeds the layer exactly these rows.
"""

import os

import numpy as np
from onnx import TensorProto
from onnxruntime.quantization.quant_utils import quantize_data
from safetensors.numpy import load_file

root = os.path.join(os.path.dirname(__file__), "..")
w = load_file(os.path.join(root, "www", "public", "demo.safetensors"))["stem.conv.weight"].astype(np.float32)
w = w.reshape(w.shape[0], -1)  # [16, 27]
n, k = w.shape
rows = 3
x = (((np.arange(rows * k) * 37) % 101).astype(np.float32) - 50.0) / np.float32(25.0)
x = x.reshape(rows, k).astype(np.float32)


def quant_rows(a):
    out = []
    for r in a:
        zp, scale, q = quantize_data(r, TensorProto.INT8, symmetric=False)
        out.append((np.int64(zp), np.float64(np.float32(scale)), q.astype(np.int64)))
    return out


wq = quant_rows(w)
xq = quant_rows(x)
int8_out = np.zeros((rows, n))
float_out = x.astype(np.float64) @ w.astype(np.float64).T
for m, (zx, sx, qx) in enumerate(xq):
    for c, (zw, sw, qw) in enumerate(wq):
        acc = int(((qw - zw) * (qx - zx)).sum())
        int8_out[m, c] = acc * sw * sx
out = os.path.join(root, "tests", "fixtures", "gemm", "layer_stem.npz")
np.savez(out, x=x, float_out=float_out, int8_out=int8_out,
         w_scale=np.array([s for _, s, _ in wq]), w_zero_point=np.array([z for z, _, _ in wq]))
print("wrote", out)
