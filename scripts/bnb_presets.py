#!/usr/bin/env python3
"""bitsandbytes' own 4-bit quantization (quantize_4bit, on the CPU through torch) for the
NF4 / FP4 fixtures, run in .venv-torch by scripts/gen_scheme_fixtures.py, which cannot
import torch from .venv.

  bnb_presets.py REQUEST.json OUT.npz

REQUEST: [{"key", "input": path of an .npy, "kind": "nf4" | "fp4", "block"}]. OUT holds
"<key>.packed" (the uint8 codes, two per byte, as quantize_4bit returns them, flattened)
and "<key>.absmax"; a request bitsandbytes refuses (a block size it does not offer)
is left out, and the generator says so.
"""

import json
import sys

import numpy as np
import torch
import bitsandbytes
import bitsandbytes.functional as F


def main():
    request = json.load(open(sys.argv[1]))
    out = {}
    for r in request:
        x = torch.from_numpy(np.ascontiguousarray(np.load(r["input"]), np.float32))
        try:
            q, state = F.quantize_4bit(x, blocksize=r["block"], quant_type=r["kind"])
        except Exception as e:  # noqa: BLE001 - reported, the generator decides
            print(f"{r['key']}: bitsandbytes refused: {e}", file=sys.stderr)
            continue
        out[f"{r['key']}.packed"] = q.reshape(-1).numpy().astype(np.uint8)
        out[f"{r['key']}.absmax"] = state.absmax.numpy().astype(np.float32)
    np.savez(sys.argv[2], **out)
    print(f"bitsandbytes {bitsandbytes.__version__}, torch {torch.__version__}: "
          f"{len(out) // 2} of {len(request)}", file=sys.stderr)


if __name__ == "__main__":
    main()
