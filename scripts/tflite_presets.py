#!/usr/bin/env python3
"""TFLite's own weight quantization for the tflite-* presets, run in .venv-tf (made by
scripts/gen_linear_fixtures.sh from scripts/requirements-tf.txt) by
scripts/gen_linear_fixtures.py, which cannot import TensorFlow from .venv.

  tflite_presets.py REQUEST.json OUT.npz

REQUEST: [{"key", "input": path of an .npy, "per_channel": bool}]. Each input's first
axis is the output channel (TFLite's FullyConnected weights are [out, in]; a conv kernel
is flattened to [out, rest], which leaves every channel's values, and so its scale and
codes, unchanged). A Keras Dense layer with those weights goes through
tf.lite.TFLiteConverter with Optimize.DEFAULT (dynamic-range quantization: int8
weights, symmetric, per output channel unless _experimental_disable_per_channel); the
int8 weight tensor and its scales are read back with tf.lite.Interpreter. The converter
leaves weights under 1024 values in float, so narrow inputs are tiled along the input
axis first (which keeps every channel's and the tensor's max |x|) and the codes of the
original columns are kept. OUT holds "<key>.codes", "<key>.scales".
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

MIN_QUANTIZED = 1024


def convert(w: np.ndarray, per_channel: bool):
    out, cols = w.shape
    reps = -(-MIN_QUANTIZED // w.size)
    wide = np.tile(w, (1, reps))
    model = tf.keras.Sequential([tf.keras.Input((wide.shape[1],)),
                                 tf.keras.layers.Dense(out, use_bias=False)])
    model.layers[0].set_weights([wide.T.astype(np.float32)])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if not per_channel:
        conv._experimental_disable_per_channel = True
    interp = tf.lite.Interpreter(model_content=conv.convert())
    for d in interp.get_tensor_details():
        if d["dtype"] == np.int8 and list(d["shape"]) == [out, wide.shape[1]]:
            q = interp.get_tensor(d["index"]).astype(np.int32)[:, :cols]
            p = d["quantization_parameters"]
            assert not np.any(p["zero_points"]), "TFLite weights are symmetric"
            return q, p["scales"].astype(np.float32)
    raise RuntimeError("the converter left the weights in float")


def main():
    request = json.load(open(sys.argv[1]))
    out = {}
    for r in request:
        x = np.load(r["input"])
        q, scales = convert(x.reshape(x.shape[0], -1), r["per_channel"])
        out[f"{r['key']}.codes"] = q.reshape(x.shape)
        out[f"{r['key']}.scales"] = scales
    np.savez(sys.argv[2], **out)
    print(f"tensorflow {tf.__version__}: {len(request)} presets", file=sys.stderr)


if __name__ == "__main__":
    main()
