#!/usr/bin/env python3
"""TorchScript fixtures and their expected tensors, from PyTorch itself (run in
.venv-torch; scripts/gen_torchscript_fixtures.sh).

  tests/fixtures/torchscript/small.pt
      torch.jit.save of a scripted module with float32 and float16 parameters, BatchNorm
      buffers (an int64 counter among them), an int32 buffer, a parameter stored as a
      transposed (non-contiguous) view; traced (torch.jit.trace), so that a plain tensor
      attribute and a tensor built in forward become constants (constants.pkl).
  tests/fixtures/torchscript/small.npz
      Every tensor of it, in its own dtype: parameters and buffers from the loaded
      module's state_dict(), attributes by torch's getattr, constants as torch.load-free
      Python reads them (pickle restricted to torch's rebuild function, with __torch__
      classes as dicts: the same walk as the Rust reader, but Python's own unpickler).
  tests/fixtures/torchscript/expected.json
      The same for silero-vad's silero_vad.jit (from the silero-vad package in .venv):
      per tensor its shape, dtype and an FNV-1a-64 checksum of its float32 values (2 MB of
      values are not committed), names from the restricted unpickler, values from torch.

Usage: bash scripts/gen_torchscript_fixtures.sh
"""

import importlib.util
import io
import json
import pickle
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/torchscript"


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.conv = torch.nn.Conv1d(4, 8, 3)
        self.bn = torch.nn.BatchNorm1d(8)
        self.lin = torch.nn.Linear(8, 6).half()
        self.register_buffer("table", torch.arange(12, dtype=torch.int32).reshape(3, 4))
        self.proj = torch.nn.Parameter(torch.randn(6, 4, generator=g).t())
        self.state = torch.zeros(2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g).to(p.dtype))
            self.bn.running_mean.copy_(torch.randn(8, generator=g))
            self.bn.running_var.copy_(torch.rand(8, generator=g) + 0.5)
            self.bn.num_batches_tracked.fill_(7)

    def forward(self, x):
        y = self.bn(self.conv(x)).mean(-1)
        z = self.lin(y.half()).float() @ self.proj.t()
        return z * torch.tensor([1.0, 2.0, 3.0, 4.0]) + self.state.sum()


class Obj(dict):
    """A __torch__ class instance: a dict of the attributes its BUILD sets."""

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)
        else:
            self["__state__"] = state


def read_pickles(path):
    """name -> numpy array for every tensor in data.pkl and constants.pkl."""
    z = zipfile.ZipFile(path)
    pkl = min((n for n in z.namelist() if n.endswith("data.pkl")), key=len)
    prefix = pkl[: -len("data.pkl")]

    def load(member, folder):
        storages = {}

        class U(pickle.Unpickler):
            def find_class(self, module, name):
                if module.startswith("__torch__"):
                    return Obj
                if (module, name) == ("collections", "OrderedDict"):
                    return OrderedDict
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    return lambda s, off, size, stride, *r: ("tensor", s, off, tuple(size), tuple(stride))
                if module == "torch" and name.endswith("Storage"):
                    return name
                if (module, name) == ("torch.jit._pickle", "restore_type_tag"):
                    return lambda v, t: v
                if module == "torch.jit._pickle" and name.startswith("build_"):
                    return lambda v: v
                raise pickle.UnpicklingError(f"refused {module}.{name}")

            def persistent_load(self, pid):
                _, cls, key, _loc, numel = pid
                dt = {"FloatStorage": np.float32, "HalfStorage": np.float16, "LongStorage": np.int64,
                      "IntStorage": np.int32, "DoubleStorage": np.float64, "BoolStorage": np.bool_}[cls]
                storages[key] = np.frombuffer(z.read(f"{prefix}{folder}/{key}"), dtype=dt)
                return key

        obj = U(io.BytesIO(z.read(prefix + member))).load()
        out = {}

        def walk(o, path):
            if isinstance(o, tuple) and o and o[0] == "tensor":
                _, key, off, size, stride = o
                a = storages[key]
                v = np.lib.stride_tricks.as_strided(a[off:], shape=size, strides=[s * a.itemsize for s in stride])
                out[path] = np.array(v, order="C")
            elif isinstance(o, dict):
                for k, v in o.items():
                    walk(v, f"{path}.{k}" if path else str(k))
            elif isinstance(o, (list, tuple)):
                for i, v in enumerate(o):
                    walk(v, f"{path}.{i}" if path else str(i))

        walk(obj, "constants" if folder == "constants" else "")
        return out

    tensors = load("data.pkl", "data")
    if prefix + "constants.pkl" in z.namelist():
        tensors.update(load("constants.pkl", "constants"))
    return tensors


def expected(path):
    """Every tensor: from torch where torch names it (state_dict, attributes), constants
    from the restricted unpickler (torch keeps them inside its compiled code)."""
    names = read_pickles(path)
    module = torch.jit.load(str(path))
    sd = module.state_dict()
    out = {}
    for name, from_pickle in names.items():
        if name in sd:
            v = sd[name].numpy()
        elif not name.startswith("constants."):
            mod = module
            *parents, leaf = name.split(".")
            for p in parents:
                mod = getattr(mod, p)
            v = getattr(mod, leaf).numpy()
        else:
            v = from_pickle
        assert v.shape == from_pickle.shape and (v == from_pickle).all(), name
        out[name] = v
    return out


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    small = OUT / "small.pt"
    # Traced: the tensors forward builds and the plain attribute become the trace's
    # constants (constants.pkl); parameters and buffers stay module attributes.
    traced = torch.jit.trace(Small().eval(), torch.randn(2, 4, 10, generator=torch.Generator().manual_seed(1)))
    torch.jit.save(traced, str(small))
    tensors = expected(small)
    assert any(k.startswith("constants.") for k in tensors), list(tensors)
    np.savez(OUT / "small.npz", **tensors)
    print("small.pt", {k: (v.dtype.name, v.shape) for k, v in tensors.items()})

    spec = importlib.util.find_spec("silero_vad")
    if spec is None:
        sys.exit("silero-vad is not importable here: run with PYTHONPATH=.venv's site-packages")
    jit = Path(spec.submodule_search_locations[0]) / "data/silero_vad.jit"
    summary = {}
    for name, v in expected(jit).items():
        summary[name] = {"shape": list(v.shape), "dtype": v.dtype.name,
                         "fnv1a64": fnv1a64(np.ascontiguousarray(v, dtype="<f4").tobytes())}
    (OUT / "expected.json").write_text(json.dumps({"silero_vad.jit": summary}, indent=1) + "\n")
    print("silero_vad.jit", len(summary), "tensors")


if __name__ == "__main__":
    main()
