#!/usr/bin/env python3
"""Writes quantscope's committed fixtures with the real reference tools.

Run: scripts/gen_fixtures.sh (makes .venv from scripts/requirements.txt, then runs this).

Outputs (all deterministic; seeds are fixed):
  www/public/demo.safetensors      the playground's built-in demo model
  tests/fixtures/formats/          model files written by numpy / safetensors, their
                                   expected f32 values (expected/*.npz), broken files,
                                   and manifest.json describing all of them
  tests/fixtures/quant/            inputs and ONNX Runtime's quantization of them
                                   (codes, scales, zero points), cases.json

Expected values come from the tools themselves (numpy's casts, onnxruntime's
compute_scale_zp / quantize_nparray); nothing here is typed by hand except the
error-message fragments the corrupt files must produce, which are quantscope's own words.
"""

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
from safetensors.numpy import save as st_save
from onnx import TensorProto
from onnxruntime.quantization.quant_utils import (
    compute_scale_zp,
    get_qmin_qmax_for_qType,
    quantize_nparray,
)

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "tests/fixtures/formats"
QUANT = ROOT / "tests/fixtures/quant"


def demo_model() -> bytes:
    """A small transformer-block-shaped model whose tensors show the distributions
    people meet in practice: Gaussian projections, a few outlier channels, heavy-tailed
    MLP weights, a near-constant norm scale, a conv kernel, an F16 head."""
    rng = np.random.default_rng(20261125)
    d, h, vocab = 64, 256, 512
    t = {}
    t["embed.weight"] = rng.normal(0, 0.02, (vocab, d)).astype(np.float32)
    qkv = rng.normal(0, d**-0.5, (3 * d, d)).astype(np.float32)
    qkv[:, [5, 37]] *= 12.0  # outlier input columns, as LLM.int8 found them
    t["layers.0.attn.qkv.weight"] = qkv
    t["layers.0.attn.out.weight"] = rng.normal(0, d**-0.5, (d, d)).astype(np.float32)
    bound = (6 / d) ** 0.5
    t["layers.0.mlp.fc1.weight"] = rng.uniform(-bound, bound, (h, d)).astype(np.float32)
    t["layers.0.mlp.fc1.bias"] = rng.normal(0, 0.01, (h,)).astype(np.float32)
    t["layers.0.mlp.fc2.weight"] = rng.laplace(0, 0.03, (d, h)).astype(np.float32)
    t["layers.0.norm.weight"] = (1.0 + rng.normal(0, 0.05, (d,))).astype(np.float32)
    t["stem.conv.weight"] = rng.normal(0, 0.1, (16, 3, 3, 3)).astype(np.float32)
    t["head.weight"] = rng.normal(0, 0.05, (10, d)).astype(np.float16)
    return st_save(t, metadata={"generator": "scripts/gen_fixtures.py", "model": "quantscope demo"})


def formats():
    FORMATS.mkdir(parents=True, exist_ok=True)
    (FORMATS / "expected").mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    manifest = {"files": [], "corrupt": []}

    def record(file, tensors, expected):
        manifest["files"].append({"file": file, "tensors": tensors})
        np.savez(FORMATS / "expected" / f"{file}.npz", **expected)

    # safetensors with several dtypes, written by the safetensors package (bf16 from
    # ml_dtypes, whose cast to f32 gives the expected values).
    st = {
        "a.f32": rng.normal(size=(4, 8)).astype(np.float32),
        "b.f16": rng.normal(size=(3, 5)).astype(np.float16),
        "c.bf16": rng.normal(size=(2, 3, 4)).astype(ml_dtypes.bfloat16),
        "d.i8": rng.integers(-128, 128, size=(6,)).astype(np.int8),
        "e.f64": rng.normal(size=(5,)).astype(np.float64),
    }
    small = st_save(st, metadata={"origin": "gen_fixtures"})
    (FORMATS / "small.safetensors").write_bytes(small)
    st_names = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "int8": "I8",
                "float64": "F64"}
    record(
        "small.safetensors",
        [{"name": k, "shape": list(v.shape), "dtype": st_names[v.dtype.name]}
         for k, v in sorted(st.items())],
        {k: v.astype(np.float32) for k, v in st.items()},
    )

    # .npy in the layouts numpy writes: C order, Fortran order, big-endian, f16, ints.
    npys = {
        "small.npy": rng.normal(size=(5, 7)).astype(np.float32),
        "fortran.npy": np.asfortranarray(rng.normal(size=(3, 4, 2)).astype(np.float32)),
        "bigendian.npy": rng.normal(size=(6,)).astype(">f4"),
        "half.npy": rng.normal(size=(4, 4)).astype(np.float16),
        "ints.npy": rng.integers(-1000, 1000, size=(3, 3)).astype(np.int32),
    }
    dtype_name = {"f4": "F32", "f2": "F16", "i4": "I32"}
    for file, arr in npys.items():
        np.save(FORMATS / file, arr)
        name = file[:-4]
        record(file, [{"name": name, "shape": list(arr.shape),
                       "dtype": dtype_name[arr.dtype.str[1:]]}],
               {name: arr.astype(np.float32)})

    # .npz, stored and deflated.
    z = {"w1": rng.normal(size=(8, 4)).astype(np.float32),
         "w2": rng.normal(size=(3,)).astype(np.float16)}
    np.savez(FORMATS / "arrays.npz", **z)
    np.savez_compressed(FORMATS / "arrays_deflated.npz", **z)
    for file in ["arrays.npz", "arrays_deflated.npz"]:
        record(file, [{"name": "w1", "shape": [8, 4], "dtype": "F32"},
                      {"name": "w2", "shape": [3], "dtype": "F16"}],
               {k: v.astype(np.float32) for k, v in z.items()})

    # Broken files: each must give an error containing `error` (quantscope's wording).
    def corrupt(file, data, error):
        (FORMATS / file).write_bytes(data)
        manifest["corrupt"].append({"file": file, "error": error})

    corrupt("truncated.safetensors", small[: len(small) // 2], "bytes follow")
    lying = struct.pack("<Q", 10**15) + small[8:]
    corrupt("lying_header.safetensors", lying, "header length field says 1000000000000000 bytes")
    hdr = json.dumps({"x": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 2]}}).encode()
    corrupt("unknown_dtype.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0\0", "Q7")
    hdr = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1600]}}).encode()
    corrupt("offsets_past_end.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(16),
            "`x`")
    small_npy = (FORMATS / "small.npy").read_bytes()
    corrupt("truncated.npy", small_npy[:-9], "needs 140 bytes, the file has 131")
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"
    hdr = hdr + b" " * (118 - len(hdr)) + b"\n"
    corrupt("absurd_shape.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + bytes(64),
            "more than 2^64")
    corrupt("not_a_model.txt", b"hello, I am not a model\n", "unrecognised file format")
    (FORMATS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def quant_reference():
    """ONNX Runtime's weight quantization of a few tensors: int8 symmetric ([-127, 127],
    scale = absmax / 127) and asymmetric ([-128, 127]), per tensor and per channel."""
    QUANT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    inputs = {
        "gauss": rng.normal(0, 0.05, (64, 48)).astype(np.float32),
        "outliers": np.concatenate(
            [rng.normal(0, 0.02, (16, 30)), rng.normal(0, 2.0, (16, 2))], axis=1
        ).astype(np.float32),
        "positive": rng.uniform(0.5, 3.0, (12, 20)).astype(np.float32),
        "conv": rng.normal(0, 0.2, (8, 3, 3, 5)).astype(np.float32),
        "zero_channel": np.vstack([rng.normal(size=(3, 9)), np.zeros((1, 9))]).astype(np.float32),
        # absmax 63.5 makes the symmetric scale exactly 0.5, so odd multiples of 0.25
        # land on x / scale = k + 0.5: every rounding tie appears.
        "ties": (np.arange(-254, 255, dtype=np.float32) * 0.25)[:500].reshape(20, 25),
    }
    cases = []
    for name, x in inputs.items():
        np.save(QUANT / f"{name}.npy", x)
        for sym in (True, False):
            axes = [None] + list(range(x.ndim))
            for axis in axes:
                scheme = "int8-" + ("sym" if sym else "asym") + ("" if axis is None else f"-ch{axis}")
                codes, scales, zps = ort_quantize(x, sym, axis)
                out = f"{name}.{scheme}.npz"
                np.savez(QUANT / out, codes=codes, scales=scales, zero_points=zps)
                cases.append({"input": f"{name}.npy", "scheme": scheme, "expected": out})
    (QUANT / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")


def ort_quantize(x, symmetric, axis):
    qmin, qmax = get_qmin_qmax_for_qType(TensorProto.INT8, symmetric=symmetric)
    if axis is None:
        slices = [x]
        moved = x[None]
    else:
        moved = np.moveaxis(x, axis, 0)
        slices = list(moved)
    codes, scales, zps = [], [], []
    for s in slices:
        zp, scale = compute_scale_zp(np.array(s.min(), np.float32), np.array(s.max(), np.float32),
                                     qmin, qmax, symmetric=symmetric)
        codes.append(quantize_nparray(TensorProto.INT8, s, scale, zp))
        scales.append(np.float32(scale))
        zps.append(int(zp))
    q = np.stack(codes)
    q = q[0] if axis is None else np.moveaxis(q, 0, axis)
    return q.astype(np.int8), np.array(scales, np.float32), np.array(zps, np.int32)


if __name__ == "__main__":
    (ROOT / "www/public").mkdir(parents=True, exist_ok=True)
    (ROOT / "www/public/demo.safetensors").write_bytes(demo_model())
    formats()
    quant_reference()
    print("fixtures written")
