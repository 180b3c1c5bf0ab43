#!/usr/bin/env python3
"""Writes tests/fixtures/formats2/pytorch/torch_saved.pt with torch.save itself (PyTorch
2.5.1 from scripts/requirements-torch.txt, run in .venv-torch), and beside it
torch_saved.expected.npz: every tensor's values as torch hands them to numpy (bfloat16
widened to float32 by torch), for tests/formats_pytorch.rs.

Run: .venv-torch/bin/python scripts/gen_torch_fixtures.py

The state dict holds what real checkpoints hold: float32/float16/bfloat16 weights,
integer buffers (int64 counters, int8, uint8, bool masks), a 0-dim scalar, a transposed
view and a slice that share another tensor's storage (saved as views of one storage),
in a nested OrderedDict as nn.Module.state_dict() makes it.
"""

import collections
import os

import numpy as np
import torch

torch.manual_seed(7)
here = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "formats2", "pytorch")
base = torch.randn(6, 5)
state = collections.OrderedDict()
state["encoder.weight"] = base
state["encoder.weight_t"] = base.t()  # a view: strides (1, 5) over base's storage
state["encoder.rows"] = base[2:4]  # a view with a storage offset
state["encoder.bias"] = torch.randn(6)
state["head.weight"] = torch.randn(3, 4).to(torch.float16)
state["head.weight_bf16"] = torch.randn(2, 8).to(torch.bfloat16)
state["norm.num_batches_tracked"] = torch.tensor(17, dtype=torch.int64)
state["codes.int8"] = torch.randint(-128, 128, (4, 4), dtype=torch.int8)
state["codes.uint8"] = torch.randint(0, 256, (9,), dtype=torch.uint8)
state["mask"] = torch.rand(5) > 0.5
state["scale"] = torch.tensor(0.125)
path = os.path.join(here, "torch_saved.pt")
torch.save(state, path)

# Expected values straight from torch, read back from the file torch wrote.
loaded = torch.load(path, weights_only=True)
expected = {}
for name, t in loaded.items():
    v = t.float() if t.dtype == torch.bfloat16 else t
    expected[name] = v.numpy().astype(np.float32)
np.savez(os.path.join(here, "torch_saved.expected.npz"), **expected)
with open(os.path.join(here, "torch_saved.dtypes.txt"), "w") as f:
    for name, t in loaded.items():
        f.write(f"{name} {str(t.dtype).removeprefix('torch.')} {list(t.shape)}\n")
print("wrote", path)
