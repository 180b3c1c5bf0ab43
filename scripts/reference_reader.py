#!/usr/bin/env python3
"""Prints what a model file holds, as the format's own Python tool reads it, for
tests/real_models.rs: {"tensors": {name: {"shape": [...], "bits": [float32 bits] | null}}}.

  .safetensors  safetensors.safe_open (numpy)
  .onnx         onnx.load + numpy_helper.to_array, initializers and Constant nodes,
                subgraphs included (the walk of scripts/gen_format_fixtures.py)
  .gguf         gguf.GGUFReader, dequantized by gguf.quants (C-order shapes)
  .pt/.pth      no torch here (its wheel is huge): Python's pickle.Unpickler restricted
                to torch's rebuild function, storage classes and OrderedDict, with
                storages read per torch/serialization.py's legacy layout, and numpy's
                as_strided view of each tensor

Usage: reference_reader.py FILE [--values]   (--values adds every value's float32 bits)
"""

import io
import json
import pickle
import struct
import sys
from collections import OrderedDict

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])

STORAGE = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class Storage:
    def __init__(self, dtype):
        self.dtype = dtype


def rebuild(storage, offset, size, stride, *rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class Restricted(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild
        if module == "torch" and name in STORAGE:
            return Storage(STORAGE[name])
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid):
        _, cls, key, _loc, numel = pid[:5]
        self.storages.setdefault(key, (cls.dtype, numel))
        return key


def load_legacy_torch(path):
    f = open(path, "rb")
    for _ in range(3):
        pickle.load(f)  # magic number, protocol version, sys info
    storages = {}
    obj = Restricted(f, storages).load()
    keys = pickle.load(f)
    data = {}
    for k in keys:
        (n,) = struct.unpack("<q", f.read(8))
        dtype = storages[k][0]
        data[k] = np.frombuffer(f.read(n * np.dtype(dtype).itemsize), dtype=dtype)
    out = {}

    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(o, (list, tuple)) and not (o and o[0] == "tensor"):
            for i, v in enumerate(o):
                walk(v, f"{path}.{i}" if path else str(i))
        elif isinstance(o, tuple):
            _, key, offset, size, stride = o
            a = data[key]
            v = np.lib.stride_tricks.as_strided(a[offset:], shape=size,
                                                strides=[s * a.itemsize for s in stride])
            out[path] = np.array(v, order="C")

    walk(obj, "")
    return out


def read(path):
    if path.endswith(".safetensors"):
        from safetensors import safe_open
        with safe_open(path, "np") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    if path.endswith(".gguf"):
        import gguf
        import gen_format_fixtures as g
        return {t.name: g.gguf_values(t) for t in gguf.GGUFReader(path).tensors}
    if path.endswith(".onnx"):
        import onnx
        import gen_format_fixtures as g
        values, _, _ = g.onnx_reference(onnx.load(path))
        return values
    return load_legacy_torch(path)


def main():
    path = sys.argv[1]
    values = "--values" in sys.argv
    tensors = {}
    for k, v in read(path).items():
        v = np.asarray(v)
        tensors[k] = {"shape": list(v.shape),
                      "bits": v.astype(np.float32).view(np.uint32).ravel().tolist() if values else None}
    json.dump({"tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main()
