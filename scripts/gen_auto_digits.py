"""The digits MLP for docs/AUTO.md's accuracy objective: scikit-learn's digits (the
copy its wheel ships, BSD-3), split train/test with a fixed seed, a 64-128-64-10 MLP
trained by scikit-learn's MLPClassifier (seeded), written as ONNX with onnx.helper
(MatMul + Add + Relu), and the test split as an .npz with labels:

  OUT/digits_mlp.onnx   x [batch, 64] (pixels / 16) -> logits [batch, 10]
  OUT/digits_test.npz   x [n_test, 64] float32, y [n_test] int64

onnxruntime checks that the ONNX model scores what scikit-learn's predict does.
Not committed (made at setup time, like the MiniLM ONNX): .cache/models/.

Usage: .venv/bin/python scripts/gen_auto_digits.py [OUT_DIR]
"""

import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/models")
    out.mkdir(parents=True, exist_ok=True)
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=400, random_state=0)
    clf.fit(x_tr, y_tr)
    inits, nodes, prev = [], [], "x"
    n = len(clf.coefs_)
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        wn, bn = f"fc{i + 1}.weight", f"fc{i + 1}.bias"
        inits += [numpy_helper.from_array(w.astype(np.float32), wn), numpy_helper.from_array(b.astype(np.float32), bn)]
        nodes.append(helper.make_node("MatMul", [prev, wn], [f"mm{i + 1}"], name=f"fc{i + 1}"))
        last = i == n - 1
        add_out = "logits" if last else f"a{i + 1}"
        nodes.append(helper.make_node("Add", [f"mm{i + 1}", bn], [add_out], name=f"fc{i + 1}_bias"))
        if not last:
            nodes.append(helper.make_node("Relu", [add_out], [f"r{i + 1}"], name=f"relu{i + 1}"))
            prev = f"r{i + 1}"
    g = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="gen_auto_digits.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (logits,) = s.run(None, {"x": x_te})
    ours = logits.argmax(axis=1)
    assert (ours == clf.predict(x_te)).all(), "the ONNX model disagrees with scikit-learn"
    onnx.save(m, out / "digits_mlp.onnx")
    np.savez(out / "digits_test.npz", x=x_te, y=y_te)
    print(f"gen_auto_digits: test accuracy {100 * (ours == y_te).mean():.2f}% on {len(y_te)} samples -> {out}")


if __name__ == "__main__":
    main()
