#!/usr/bin/env python3
"""Sparse TFLite fixtures and their dense values, from TensorFlow itself (run in .venv-tf,
made by scripts/gen_tflite_sparse_fixtures.sh from scripts/requirements-tf.txt).

  tests/fixtures/tflite_sparse/pruned.tflite
      A Keras model whose Dense and Conv2D kernels are mostly zeros (random pruning, and
      1x4 blocks for one of them), converted by tf.lite.TFLiteConverter with
      Optimize.EXPERIMENTAL_SPARSITY: the converter stores those kernels sparse (CSR
      levels, block maps) behind DENSIFY operators.
  tests/fixtures/tflite_sparse/expected.json
      For that file and for the sparse models of the mediapipe 0.10.21 wheel
      (.cache/mediapipe-0.10.21, extracted by scripts/setup-model-wheels.sh): every
      sparse constant's dense values as TFLite's interpreter computes them (the output of
      the DENSIFY operator that reads it, kept with experimental_preserve_all_tensors),
      as float32: their count, nonzero count and FNV-1a-64 checksum of the float32 bytes
      (the mediapipe files' few MB of values are not committed).
  tests/fixtures/tflite_sparse/pruned_dense.npz
      The small fixture's dense values: the interpreter's, and the Keras kernels.

Usage: .venv-tf/bin/python scripts/gen_tflite_sparse_fixtures.py
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/tflite_sparse"
MEDIAPIPE = ROOT / ".cache/mediapipe-0.10.21"
MEDIAPIPE_SPARSE = ["pose_detection.tflite", "face_detection_full_range_sparse.tflite"]


def pruned_model() -> bytes:
    rng = np.random.default_rng(13)
    inp = tf.keras.Input((4, 4, 2))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(32, name="dense_random")(x)
    x = tf.keras.layers.Dense(16, name="dense_blocks")(x)
    model = tf.keras.Model(inp, x)

    def random_sparse(shape, keep):
        w = rng.normal(0, 0.1, shape).astype(np.float32)
        return w * (rng.random(shape) < keep)

    conv = model.get_layer("conv")
    kernels = {}
    kernels["conv"] = random_sparse((3, 3, 2, 8), 0.15)
    conv.set_weights([kernels["conv"], np.zeros(8, np.float32)])
    dr = model.get_layer("dense_random")
    kernels["dense_random"] = random_sparse((128, 32), 0.1)
    dr.set_weights([kernels["dense_random"], rng.normal(0, 0.1, 32).astype(np.float32)])
    # Whole 1x4 blocks (along the input axis of the [out, in] FullyConnected weight) kept.
    db = model.get_layer("dense_blocks")
    w = rng.normal(0, 0.1, (32, 16)).astype(np.float32)
    keep = rng.random((8, 16)) < 0.2
    w *= np.repeat(keep, 4, axis=0)
    kernels["dense_blocks"] = w
    db.set_weights([w, np.zeros(16, np.float32)])

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return conv.convert(), kernels


def densified(path: Path):
    """name of each sparse constant -> its dense float32 values, from the interpreter."""
    interp = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()
    details = {t["index"]: t for t in interp.get_tensor_details()}
    out = {}
    for op in interp._get_ops_details():  # noqa: SLF001: the only list of operators
        if op["op_name"] != "DENSIFY":
            continue
        src = details[op["inputs"][0]]
        dense = interp.get_tensor(op["outputs"][0])
        out[src["name"]] = np.asarray(dense).astype(np.float32)
    return out


def fnv1a64(data: bytes) -> int:
    """FNV-1a (64-bit) of the bytes: a checksum the Rust test computes without a crate."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def summary(values: np.ndarray):
    return {"shape": list(values.shape), "count": int(values.size),
            "nonzero": int(np.count_nonzero(values)),
            "fnv1a64": f"{fnv1a64(np.ascontiguousarray(values, '<f4').tobytes()):016x}"}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    fixture = OUT / "pruned.tflite"
    tflite, kernels = pruned_model()
    fixture.write_bytes(tflite)
    dense = densified(fixture)
    assert dense, "the converter wrote no sparse tensor"
    expected = {"pruned.tflite": {k: summary(v) for k, v in dense.items()}}
    # The dense values themselves: the interpreter's, and the Keras kernels the model was
    # made from (in TFLite's layouts: conv [out, h, w, in], FullyConnected [out, in]),
    # which also cover a sparse tensor that a kernel reads without a DENSIFY operator.
    np.savez(OUT / "pruned_dense.npz",
             **{f"interpreter/{k}": v for k, v in dense.items()},
             conv=kernels["conv"].transpose(3, 0, 1, 2),
             dense_random=kernels["dense_random"].T,
             dense_blocks=kernels["dense_blocks"].T)
    for name in MEDIAPIPE_SPARSE:
        path = MEDIAPIPE / name
        if not path.is_file():
            sys.exit(f"{path} is missing: run bash scripts/setup-model-wheels.sh first")
        expected[name] = {k: summary(v) for k, v in densified(path).items()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for k, v in expected.items():
        print(k, len(v), "sparse tensors")


if __name__ == "__main__":
    main()
