#!/usr/bin/env python3
"""Times gguf.quants.quantize (the `gguf` package) on a raw little-endian f32 file.

Usage: gguf_quantize.py FILE ROWS COLS TYPE [TYPE...] [--reps N]
Prints one JSON object: {"q8_0": {"best_s": ..., "bytes": ...}, ...}. The benchmarks
(benches/ggml.rs natively, scripts/bench/ggml.mjs in Node) call it on the same tensor
they quantize themselves, so both sides run in one session on one machine.
"""

import json
import sys
import time

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import quantize

args = sys.argv[1:]
reps = 3
if "--reps" in args:
    i = args.index("--reps")
    reps = int(args[i + 1])
    del args[i : i + 2]
path, rows, cols, *types = args
x = np.fromfile(path, dtype="<f4").reshape(int(rows), int(cols))
result = {}
for t in types:
    qt = GGMLQuantizationType[t.upper()]
    best, out = float("inf"), None
    for _ in range(reps):
        start = time.perf_counter()
        out = quantize(x, qt)
        best = min(best, time.perf_counter() - start)
    result[t] = {"best_s": best, "bytes": int(out.nbytes)}
print(json.dumps(result))
