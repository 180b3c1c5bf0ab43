#!/usr/bin/env python3
"""Writes tests/fixtures/gemm/: integer matrix products computed by numpy, and ggml Q4_0
blocks written by the `gguf` package, for the GEMM/GEMV kernels' reference tests.

Run: bash scripts/setup-python.sh && .venv/bin/python scripts/gen_gemm_fixtures.py

Each case_*.npz holds
  a    int8  [M, K]  activation codes (u7 cases: 0..127)
  w    int8  [N, K]  weight codes (output channels in rows)
  za   int32 [M]     activation zero points
  zw   int32 [N]     weight zero points
  y    int32 [M, N]  numpy: (a - za) @ (w - zw).T in int64, checked to fit int32
q4_0.npz holds
  blocks uint8 [N, K/32*18]  gguf.quants.quantize(W, Q4_0) (fp16 d, then 16 nibble bytes)
  deq    f32   [N, K]        gguf.quants.dequantize of those blocks
  x      int8  [K]           activation codes
  y      f32   [N]           Σ over blocks, in order, of f32(Σ (q - 8)·x) · d, f32 arithmetic
"""

from pathlib import Path

import gguf
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests/fixtures/gemm"

CASES = [  # (name, M, K, N, u7, asymmetric)
    ("tiny", 1, 1, 1, False, False),
    ("odd", 5, 33, 7, False, True),
    ("tails", 17, 31, 9, False, False),
    ("gemv", 1, 100, 13, False, True),
    ("u7", 6, 64, 10, True, True),
    ("emptyk", 3, 0, 5, False, False),
    ("wide", 9, 257, 33, False, True),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261125)
    for name, m, k, n, u7, asym in CASES:
        lo = 0 if u7 else -128
        a = rng.integers(lo, 128, size=(m, k)).astype(np.int8)
        w = rng.integers(-127, 128, size=(n, k)).astype(np.int8)
        za = rng.integers(lo, 128, size=m).astype(np.int32) if asym else np.zeros(m, np.int32)
        zw = rng.integers(-20, 21, size=n).astype(np.int32) if asym else np.zeros(n, np.int32)
        y = (a.astype(np.int64) - za[:, None]) @ (w.astype(np.int64) - zw[:, None]).T
        assert np.abs(y).max(initial=0) < 2**31
        np.savez(OUT / f"case_{name}.npz", a=a, w=w, za=za, zw=zw, y=y.astype(np.int32))

    n, k = 6, 96
    wf = rng.standard_normal((n, k)).astype(np.float32)
    blocks = gguf.quants.quantize(wf, gguf.GGMLQuantizationType.Q4_0)
    deq = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType.Q4_0).astype(np.float32)
    x = rng.integers(-127, 128, size=k).astype(np.int8)
    raw = blocks.reshape(n, k // 32, 18)
    d = raw[:, :, :2].copy().view(np.float16)[:, :, 0].astype(np.float32)
    nib = raw[:, :, 2:]
    q = np.concatenate([nib & 0x0F, nib >> 4], axis=2).astype(np.int64) - 8  # [n, b, 32]
    isum = (q * x.reshape(k // 32, 32).astype(np.int64)).sum(axis=2)
    assert np.array_equal(q * d[:, :, None].astype(np.float32) == deq.reshape(n, k // 32, 32), np.ones_like(q, bool))
    y = np.zeros(n, np.float32)
    for b in range(k // 32):
        y = (y + isum[:, b].astype(np.float32) * d[:, b]).astype(np.float32)
    np.savez(OUT / "q4_0.npz", blocks=blocks.reshape(n, -1), deq=deq, x=x, y=y)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
