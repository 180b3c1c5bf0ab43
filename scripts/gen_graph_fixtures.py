"""Small ONNX models for tests/graph_run.rs (whole-model runs), written with onnx.helper,
with their inputs and onnxruntime's float outputs:

  tests/fixtures/graph/convnet.onnx      x [batch, 2, 6, 6] -> Conv -> Relu -> Flatten
                                          -> Gemm (transB) -> Relu -> MatMul -> Softmax
  tests/fixtures/graph/convnet.npz       x (seeded), the inputs file of the tests
  tests/fixtures/graph/convnet.ort.json  onnxruntime's outputs on those inputs
  tests/fixtures/graph/det_op.onnx       a Det node (an operator tract has no translator
                                          for): the run must name it

Usage: .venv/bin/python scripts/gen_graph_fixtures.py
"""

import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/graph"


def convnet(rng):
    w_conv = rng.standard_normal((3, 2, 3, 3)).astype(np.float32) * 0.5
    b_conv = rng.standard_normal(3).astype(np.float32) * 0.1
    w_fc = rng.standard_normal((16, 48)).astype(np.float32) * 0.2  # Gemm transB: [out, in]
    b_fc = rng.standard_normal(16).astype(np.float32) * 0.1
    w_out = rng.standard_normal((16, 5)).astype(np.float32) * 0.3  # MatMul: [in, out]
    inits = [
        numpy_helper.from_array(w_conv, "conv.weight"),
        numpy_helper.from_array(b_conv, "conv.bias"),
        numpy_helper.from_array(w_fc, "fc.weight"),
        numpy_helper.from_array(b_fc, "fc.bias"),
        numpy_helper.from_array(w_out, "out.weight"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["conv"], name="conv", pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["conv"], ["relu1"], name="relu1"),
        helper.make_node("Flatten", ["relu1"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["fc"], name="fc", transB=1),
        helper.make_node("Relu", ["fc"], ["relu2"], name="relu2"),
        helper.make_node("MatMul", ["relu2", "out.weight"], ["logits"], name="out"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    g = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 6, 6])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 5])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="gen_graph_fixtures.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def det_op():
    g = helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"], name="det")],
        "det",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(10)
    m = convnet(rng)
    onnx.save(m, OUT / "convnet.onnx")
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    np.savez(OUT / "convnet.npz", x=x)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (probs,) = s.run(None, {"x": x})
    (OUT / "convnet.ort.json").write_text(json.dumps({"probs": {"shape": list(probs.shape), "values": [float(v) for v in probs.ravel()]}}))
    onnx.save(det_op(), OUT / "det_op.onnx")


if __name__ == "__main__":
    main()
