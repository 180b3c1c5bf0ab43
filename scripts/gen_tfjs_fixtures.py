#!/usr/bin/env python3
"""TF.js fixtures written by the `tensorflowjs` package itself (run in .venv-tf, made by
scripts/gen_tfjs_fixtures.sh; tensorflowjs 4.22.0 is installed there without its
dependencies, see scripts/requirements-tfjs.txt).

The weights and shards come from tensorflowjs.write_weights.write_weights, the function
the converter writes every model's shards with, including its weight quantization
(quantization_dtype_map: float16, or affine uint8/uint16 with its nudged min):

  tests/fixtures/tfjs/layers/     a layers model (Keras Conv2D + Dense + BatchNorm), two
                                  groups, shards cut at 1 KiB so weights span shards;
                                  kernels uint8, biases uint16, one float16, the rest float32
  tests/fixtures/tfjs/graph/      a graph model: the frozen GraphDef of a tf.function as
                                  JSON (what the converter emits), its Const weights, an
                                  int32 shape constant (uint16 codes of an int32), uint8
                                  and float16 matmul weights

The package's converters need jax, TensorFlow Decision Forests and tf_keras, none of which
these weights need, so its modules quantization, read_weights and write_weights are
loaded on their own (a bare `tensorflowjs` package object stands in for its __init__,
which imports the converters). Expected values are not committed: the tests decode the
shards with TensorFlow.js itself (scripts/tfjs_reference.mjs) and, here, the package's
read_weights must give back what was written.

Usage: bash scripts/gen_tfjs_fixtures.sh
"""

import importlib.util
import json
import os
import shutil
import sys
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/tfjs"


def tfjs_modules():
    spec = importlib.util.find_spec("tensorflowjs")
    pkg_dir = Path(spec.submodule_search_locations[0])
    pkg = types.ModuleType("tensorflowjs")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["tensorflowjs"] = pkg
    mods = {}
    for name in ["quantization", "read_weights", "write_weights"]:
        s = importlib.util.spec_from_file_location(f"tensorflowjs.{name}", pkg_dir / f"{name}.py")
        m = importlib.util.module_from_spec(s)
        sys.modules[f"tensorflowjs.{name}"] = m
        s.loader.exec_module(m)
        setattr(pkg, name, m)
        mods[name] = m
    from importlib.metadata import version
    return mods, version("tensorflowjs")


def write_model(directory, fmt, topology, groups, qmap, shard_size, tfjs, tfjs_version):
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    manifest = tfjs["write_weights"].write_weights(
        groups, str(directory), shard_size_bytes=shard_size, write_manifest=False,
        quantization_dtype_map=qmap)
    model = {"format": fmt, "generatedBy": f"TensorFlow {tf.__version__}",
             "convertedBy": f"TensorFlow.js Converter v{tfjs_version} (write_weights)",
             "modelTopology": topology, "weightsManifest": manifest}
    (directory / "model.json").write_text(json.dumps(model))
    # The package's own reader gives back what was written (dequantized).
    back = tfjs["read_weights"].read_weights(manifest, str(directory))
    for group, read in zip(groups, back):
        for w, r in zip(group, read):
            assert w["name"] == r["name"] and r["data"].shape == w["data"].shape, w["name"]
    return manifest


def layers_model(tfjs, version):
    rng = np.random.default_rng(7)
    model = tf.keras.Sequential([
        tf.keras.Input((6, 6, 3)),
        tf.keras.layers.Conv2D(8, 3, name="conv"),
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(10, name="dense"),
        tf.keras.layers.Dense(4, name="head"),
    ])
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) + (1.0 if "variance" in w.name else 0.0)
                           for w in layer.weights])
    body, head = [], []
    for layer in model.layers:
        for w in layer.weights:
            entry = {"name": f"{layer.name}/{w.name}", "data": w.numpy()}
            (head if layer.name == "head" else body).append(entry)
    qmap = {"uint8": ["*/kernel"], "uint16": ["*/bias"], "float16": ["bn/gamma"]}
    topology = {"class_name": "Sequential", "keras_version": tf.keras.__version__,
                "backend": "tensorflow", "model_config": json.loads(model.to_json())}
    write_model(OUT / "layers", "layers-model", topology, [body, head], qmap, 1024, tfjs, version)


def graph_model(tfjs, version):
    from tensorflow.python.framework import convert_to_constants
    from google.protobuf.json_format import MessageToDict
    rng = np.random.default_rng(11)
    w1 = tf.constant(rng.normal(0, 0.2, (16, 12)).astype(np.float32), name="w1")
    b1 = tf.constant(rng.normal(0, 0.2, (12,)).astype(np.float32), name="b1")
    w2 = tf.constant(rng.normal(0, 0.2, (12, 3)).astype(np.float32), name="w2")

    @tf.function(input_signature=[tf.TensorSpec((None, 4, 4), tf.float32)])
    def f(x):
        x = tf.reshape(x, [-1, 16])
        return tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2)

    frozen = convert_to_constants.convert_variables_to_constants_v2(f.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    weights = []
    for node in graph_def.node:
        if node.op == "Const":
            value = tf.make_ndarray(node.attr["value"].tensor)
            weights.append({"name": node.name, "data": value})
            node.attr.pop("value")  # the converter moves Const values into the shards
    topology = MessageToDict(graph_def)
    names = [w["name"] for w in weights]
    assert any(w["data"].dtype == np.int32 for w in weights), names
    qmap = {"uint8": ["MatMul/b"], "float16": ["MatMul_1/b"], "uint16": ["Reshape/shape"]}
    write_model(OUT / "graph", "graph-model", topology, [weights], qmap, 4 << 20, tfjs, version)


def main():
    tfjs, version = tfjs_modules()
    layers_model(tfjs, version)
    graph_model(tfjs, version)
    for d in ["layers", "graph"]:
        print(d, sorted(p.name for p in (OUT / d).iterdir()))


if __name__ == "__main__":
    main()
