#!/usr/bin/env python3
"""The numpy peer of the quantize benchmarks: per-channel (axis 0) symmetric int8 with
ONNX Runtime's formula (scale = absmax / 127 computed in f64 and stored in f32;
q = clip(rint(x / scale), -127, 127)), on a ROWS x COLS f32 tensor. Prints one JSON line:
{"peer", "numpy", "seconds": [...], "median_s", "gbps"} (GB/s of f32 input, 1e9 bytes).

Usage: .venv/bin/python scripts/bench/numpy_quant.py [ROWS COLS RUNS]
A hook for other peers (e.g. gguf.quants for Q8_0/Q4_0): add a function to PEERS and
pass its name with --peer NAME.
"""

import json
import sys
import time

import numpy as np


def int8_per_channel(x):
    absmax = np.maximum(np.abs(x.min(axis=1)), np.abs(x.max(axis=1)))
    scale = (absmax.astype(np.float64) * 2 / 254).astype(np.float32)
    scale[scale < np.finfo(np.float32).tiny] = 1.0
    q = np.rint(x / scale[:, None])
    np.clip(q, -127, 127, out=q)
    return q.astype(np.int8), scale


PEERS = {"numpy-int8-sym-ch0": int8_per_channel}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    peer = "numpy-int8-sym-ch0"
    if "--peer" in sys.argv:
        peer = sys.argv[sys.argv.index("--peer") + 1]
        args = [a for a in args if a != peer]
    rows, cols, runs = (int(a) for a in (args + ["4096", "4096", "7"])[:3])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
    fn = PEERS[peer]
    fn(x)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({"peer": peer, "numpy": np.__version__, "seconds": times, "median_s": med,
                      "gbps": x.nbytes / med / 1e9}))


if __name__ == "__main__":
    main()
