#!/usr/bin/env python3
"""Lists the constant tensors of a .tflite file as the `tflite` package (TFLite's
flatbuffer schema, generated for Python) reads them, for tests/formats_tflite_sparse.rs:
{"tensors": [{"name", "shape": [...], "type": TensorType name, "sparse": bool}]}
in file order.

A constant is a tensor whose buffer (not the empty buffer 0) holds data; tensors of
subgraph i > 0 are named "subgraph<i>/<name>", unnamed ones "tensor<index>", as
quantscope names them. A sparse tensor's shape is that of its dense form.

Usage: tflite_reference.py FILE
"""

import json
import sys

import tflite

TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}


def main():
    buf = open(sys.argv[1], "rb").read()
    model = tflite.Model.GetRootAsModel(buf, 0)
    out = []
    for si in range(model.SubgraphsLength()):
        g = model.Subgraphs(si)
        for ti in range(g.TensorsLength()):
            t = g.Tensors(ti)
            if t.Buffer() == 0 or model.Buffers(t.Buffer()).DataLength() == 0:
                continue
            name = t.Name().decode() or f"tensor{ti}"
            if si > 0:
                name = f"subgraph{si}/{name}"
            out.append({"name": name,
                        "shape": t.ShapeAsNumpy().tolist() if t.ShapeLength() else [],
                        "type": TYPES[t.Type()], "sparse": t.Sparsity() is not None})
    json.dump({"tensors": out}, sys.stdout)


if __name__ == "__main__":
    main()
