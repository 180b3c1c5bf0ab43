"""Interop of the training lab: models `quantscope train -o` writes, run by the real tools.

    .venv/bin/python tests/interop/train_interop.py [path/to/quantscope]

For each run (MLP and CNN; per-tensor and per-channel; 2-, 3-, 4- and 8-bit weights;
4- and 8-bit or float activations):
  * ONNX: onnxruntime runs the exported QDQ model on the digits test split
    (www/public/digits.npz); its accuracy equals the accuracy the CLI reports (`--json`)
    within 0.5 points. The two differ only where ONNX Runtime's QuantizeLinear rounds
    x / scale and the training's fake quantization rounds x * (1 / scale), as PyTorch's
    does, for an activation that falls on a tie; and the model really is quantized: the
    weights ONNX Runtime dequantizes lie on at most 2^bits levels per channel.
  * safetensors: the file loads with safetensors; dequantized as docs/EXPORT.md says,
    the weights equal ONNX Runtime's DequantizeLinear output of the ONNX file exactly.
Run by scripts/test-all.sh after `cargo build --release`.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
from safetensors.numpy import load_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "quantscope")
DIGITS = ROOT / "www" / "public" / "digits.npz"

RUNS = [
    ["--model", "mlp", "--method", "qat", "--wbits", "4", "--abits", "8", "--per-channel"],
    ["--model", "mlp", "--method", "qat-kd", "--wbits", "2", "--abits", "4"],
    ["--model", "mlp", "--method", "ptq", "--wbits", "3", "--abits", "8", "--per-channel"],
    ["--model", "mlp", "--method", "kd", "--wbits", "8", "--abits", "float"],
    ["--model", "cnn", "--method", "qat", "--wbits", "4", "--abits", "4", "--per-channel"],
]
SHORT = ["--float-epochs", "8", "--epochs", "3", "--seed", "3"]


def dequantize(f, name, layout):
    b = layout["num_bits"]
    if name + "_packed" in f:
        shape = tuple(f[name + "_shape"])
        packed = f[name + "_packed"]
        words = packed.view(np.uint32).reshape(-1, packed.shape[-1])
        fields = np.stack([(words >> (b * i)) & ((1 << b) - 1) for i in range(32 // b)], -1)
        q = fields.reshape(len(words), -1)[:, : shape[-1]].astype(np.int64) - (1 << (b - 1))
        q = q.reshape(shape)
    else:
        q = f[name].astype(np.int64)
    scale = f[name + "_scale"]
    zp = f.get(name + "_zero_point", np.zeros(scale.shape, np.int64)).astype(np.int64)
    return (q - zp).astype(np.float32) * scale


def ort_weights(path):
    """The float weights ONNX Runtime's DequantizeLinear makes: the graph's weight
    DequantizeLinear outputs, as extra graph outputs."""
    m = onnx.load(str(path))
    names = [n.output[0] for n in m.graph.node
             if n.op_type == "DequantizeLinear" and n.output[0].endswith(".weight")]
    for n in names:
        m.graph.output.append(onnx.helper.make_value_info(n, onnx.TypeProto()))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    d = np.load(DIGITS)
    outs = s.run(names, {"input": d["x_test"][:1]})
    return dict(zip(names, outs))


def main():
    d = np.load(DIGITS)
    x, y = d["x_test"], d["y_test"]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for args in RUNS:
            label = " ".join(args)
            onnx_path = pathlib.Path(tmp) / "m.onnx"
            st_path = pathlib.Path(tmp) / "m.safetensors"
            out = subprocess.run([CLI, "train", *args, *SHORT, "--json", "-o", str(onnx_path)],
                                 check=True, capture_output=True, text=True, cwd=ROOT)
            ours = json.loads(out.stdout)
            subprocess.run([CLI, "train", *args, *SHORT, "--json", "-o", str(st_path)],
                           check=True, capture_output=True, text=True, cwd=ROOT)
            s = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            logits = s.run(["logits"], {"input": x})[0]
            acc = 100.0 * float(np.mean(logits.argmax(1) == y))
            diff = abs(acc - ours["accuracy"])
            print(f"train_interop: {label}: ORT {acc:.2f} %, quantscope {ours['accuracy']:.2f} % "
                  f"(float {ours['float_accuracy']:.2f} %)")
            if diff > 0.5:
                failures.append(f"{label}: ORT {acc} vs {ours['accuracy']}")
            bits = ours["config"]["wbits"]
            weights = ort_weights(onnx_path)
            if len(weights) != 3:
                failures.append(f"{label}: {len(weights)} QDQ weights in the ONNX file, expected 3")
            f = load_file(str(st_path))
            layout = json.loads(
                __import__("safetensors").safe_open(str(st_path), "np").metadata()["quantscope.layout"])
            for name, w in weights.items():
                rows = w.reshape(w.shape[0], -1)
                levels = max(len(np.unique(r)) for r in rows)
                if levels > 2 ** bits:
                    failures.append(f"{label}: {name} has {levels} levels in a row, more than 2^{bits}")
                st = dequantize(f, name, layout)
                if not np.array_equal(st, w):
                    failures.append(f"{label}: {name}: safetensors and ONNX weights differ")
    if failures:
        print("\n".join(["train_interop: FAILED"] + failures))
        sys.exit(1)
    print(f"train_interop: {len(RUNS)} runs: ONNX Runtime's accuracy within 0.5 points of ours; "
          "safetensors weights equal ORT's")


if __name__ == "__main__":
    main()
