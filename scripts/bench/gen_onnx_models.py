"""Writes the tiny ONNX models that `npm run bench` runs in onnxruntime-web.

For each shape M x K x N (y[M, N] = x[M, K] @ W[K, N]):
  matmulinteger_MxKxN.onnx  MatMulInteger(A uint8 [M, K], B int8 [K, N] constant, a_zero_point)
  matmul_MxKxN.onnx         MatMul(A f32 [M, K], B f32 [K, N] constant)
  dynq_MxKxN.onnx           a float MatMul + Add passed through onnxruntime's own
                            quantize_dynamic (int8 weights per channel, activations
                            quantized at run time: DynamicQuantizeLinear + MatMulInteger
                            + Mul/Add, or whatever ORT emits for it)
Weights are seeded random values; the files are large (up to 256 MiB) and go to a cache
directory, never into git. Usage: gen_onnx_models.py OUT_DIR M,K,N [M,K,N ...]
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    model.opset_import[0].version = 17
    model.ir_version = 8
    onnx.save(model, path)


def matmulinteger(m, k, n, rng):
    b = rng.integers(-127, 128, size=(k, n), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B", "a_zp"], ["Y"])],
        "mmi",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])],
        [numpy_helper.from_array(b, "B"), numpy_helper.from_array(np.uint8(128), "a_zp")],
    )
    return helper.make_model(graph)


def matmul(m, k, n, rng, bias=False):
    w = (rng.standard_normal((k, n), dtype=np.float32) * 0.02).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["A", "W"], ["Y" if not bias else "T"])]
    inits = [numpy_helper.from_array(w, "W")]
    if bias:
        nodes.append(helper.make_node("Add", ["T", "bias"], ["Y"]))
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "bias"))
    graph = helper.make_graph(
        nodes,
        "mm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])],
        inits,
    )
    return helper.make_model(graph)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for spec in sys.argv[2:]:
        m, k, n = (int(v) for v in spec.split(","))
        rng = np.random.default_rng(m * 1_000_003 + k * 1009 + n)
        tag = f"{m}x{k}x{n}"
        paths = {
            "matmulinteger": os.path.join(out, f"matmulinteger_{tag}.onnx"),
            "matmul": os.path.join(out, f"matmul_{tag}.onnx"),
            "dynq": os.path.join(out, f"dynq_{tag}.onnx"),
        }
        if not os.path.exists(paths["matmulinteger"]):
            save(matmulinteger(m, k, n, rng), paths["matmulinteger"])
        if not os.path.exists(paths["matmul"]):
            save(matmul(m, k, n, rng), paths["matmul"])
        if not os.path.exists(paths["dynq"]):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp = os.path.join(out, f"float_bias_{tag}.onnx")
            save(matmul(m, k, n, rng, bias=True), fp)
            quantize_dynamic(fp, paths["dynq"], per_channel=True, weight_type=QuantType.QInt8)
            os.remove(fp)
        print("models:", tag)


if __name__ == "__main__":
    main()
