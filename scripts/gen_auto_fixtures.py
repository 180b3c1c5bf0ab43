"""A small classifier for tests/auto.rs (the automatic mixed-precision search), written
with onnx.helper, with labelled inputs and onnxruntime's float outputs:

  tests/fixtures/auto/mlp.onnx      x [batch, 64] -> MatMul [64, 256] -> Relu
                                     -> Gemm (transB) [32, 256] -> Relu -> MatMul [32, 10]
                                     (the last axes take q8_0 and q4_k blocks where they
                                     split: 256 does, 32 only into Q8_0/Q4_0 blocks)
  tests/fixtures/auto/mlp.npz       x (seeded, 48 rows): probe inputs
  tests/fixtures/auto/mlp_labelled.npz  x and y (labels: the float model's class for most
                                     rows, the runner-up for the closest calls, so the
                                     float accuracy is below 100% and quantization can
                                     move it either way)
  tests/fixtures/auto/mlp.ort.json  onnxruntime's float logits and its top-1 accuracy

The weights have columns of very different scales, so that per-tensor sensitivities
differ and a mix has something to find.

Usage: .venv/bin/python scripts/gen_auto_fixtures.py
"""

import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/auto"


def mlp(rng):
    w1 = (rng.standard_normal((64, 256)) * 0.15).astype(np.float32)
    w1[:, :8] *= 6.0  # a few wide output channels
    b1 = (rng.standard_normal(256) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((32, 256)) * 0.08).astype(np.float32)  # Gemm transB: [out, in]
    w2[:, rng.integers(0, 256, 6)] *= 10.0  # outlier input columns
    b2 = (rng.standard_normal(32) * 0.05).astype(np.float32)
    w3 = (rng.standard_normal((32, 10)) * 0.4).astype(np.float32)  # MatMul: [in, out]
    inits = [
        numpy_helper.from_array(w1, "fc1.weight"),
        numpy_helper.from_array(b1, "fc1.bias"),
        numpy_helper.from_array(w2, "fc2.weight"),
        numpy_helper.from_array(b2, "fc2.bias"),
        numpy_helper.from_array(w3, "head.weight"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.weight"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "fc1.bias"], ["a1"], name="fc1_bias"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["r1", "fc2.weight", "fc2.bias"], ["h2"], name="fc2", transB=1),
        helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
        helper.make_node("MatMul", ["r2", "head.weight"], ["logits"], name="head"),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="gen_auto_fixtures.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    m = mlp(rng)
    onnx.save(m, OUT / "mlp.onnx")
    x = rng.standard_normal((48, 64)).astype(np.float32)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (logits,) = s.run(None, {"x": x})
    y = logits.argmax(axis=1).astype(np.int64)
    # Rows whose top two logits are close get the runner-up as their label: the float
    # model misses them, and a little quantization noise can flip them.
    top2 = np.argsort(logits, axis=1)[:, -2:]
    gap = np.take_along_axis(logits, top2[:, 1:], 1)[:, 0] - np.take_along_axis(logits, top2[:, :1], 1)[:, 0]
    close = np.argsort(gap)[:6]
    y[close] = top2[close, 0]
    np.savez(OUT / "mlp.npz", x=x)
    np.savez(OUT / "mlp_labelled.npz", x=x, y=y)
    acc = float((logits.argmax(axis=1) == y).mean() * 100.0)
    (OUT / "mlp.ort.json").write_text(
        json.dumps(
            {
                "logits": {"shape": list(logits.shape), "values": [float(v) for v in logits.ravel()]},
                "accuracy": acc,
            }
        )
    )


if __name__ == "__main__":
    main()
