#!/usr/bin/env python3
"""Writes the fixtures of quantscope's format readers with the real tools.

Run: scripts/gen_format_fixtures.sh (makes .venv from scripts/requirements.txt first).

Outputs (deterministic; seeds fixed), all under tests/fixtures/formats2/:
  safetensors/  every safetensors dtype (F8 through safetensors' own serializer, values
                through ml_dtypes), and a checkpoint sharded in two with its index
  onnx/         initializers in raw_data and in every typed field, Constant nodes (value,
                value_float(s), value_int(s)) in the main graph and inside If, Loop and
                Scan bodies, and a model whose tensors live in an external data file
  tflite/       a model built with the `tflite` package's flatbuffer builders: float32,
                float16, int8 per-axis and per-tensor quantized weights
  pytorch/      torch.save checkpoints in the zip and the legacy format (see below)
  gguf/         files written by the `gguf` package's GGUFWriter: every type quantscope
                reads (F32, F16, BF16, F64, I8..I64, Q8_0..Q5_1 quantized by
                gguf.quants.quantize, Q2_K..Q6_K blocks of seeded bytes with sane
                scales), metadata of every value type, a custom alignment, and a model
                split in three by GGUFWriter's own split_max_tensors; expected values are
                GGUFReader's tensors through gguf.quants.dequantize
  expected/     <file>.npz: what the tool's own reader returns, as float32
  manifest.json per file: tensor names, shapes, dtypes; the ONNX graph summary; the
                TFLite quantization parameters; metadata

PyTorch fixtures are written without torch (its wheel is huge). Python's own pickle
module writes them, with stand-in modules registered as `torch` and `torch._utils`
so that the GLOBAL opcodes name exactly what torch.save names
(torch._utils._rebuild_tensor_v2, torch.FloatStorage, ..., collections.OrderedDict),
and a persistent_id that returns the tuples torch.save returns:
  zip:    ('storage', torch.FloatStorage, key, 'cpu', numel)
  legacy: ('storage', torch.FloatStorage, key, 'cpu', numel, None)
The layout follows torch/serialization.py as documented: zip records
archive/data.pkl, archive/data/<key>, archive/byteorder, archive/version; legacy = magic
number, protocol version 1001, sys-info dict, object, storage key list, then per key an
int64 element count and the raw bytes. The legacy layout was checked against real
checkpoints that PyPI packages ship (lpips' weights/v0.1/*.pth, facenet-pytorch's
data/*.pt, made by torch itself): the same opcodes and persistent-id tuples (see
tests/real_models.rs). Expected values are numpy's view of each storage through the
tensor's offset, size and stride (np.lib.stride_tricks.as_strided).
"""

import io
import json
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import gguf
import ml_dtypes
import numpy as np
import onnx
import safetensors
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save as st_save

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/formats2"
MANIFEST = {}


def expected(rel: str, arrays: dict):
    """Stores what the tool's reader returned, as float32 (quantscope's f32 view)."""
    path = OUT / "expected" / (rel.replace("/", "__") + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {}
    for k, v in sorted(arrays.items()):  # what np.savez writes, with fixed zip timestamps
        b = io.BytesIO()
        np.save(b, np.asarray(v).astype(np.float32))
        members[f"{k}.npy"] = b.getvalue()
    path.write_bytes(zip_of(members))


def entry(rel: str, tensors: dict, dtypes: dict, **extra):
    MANIFEST[rel] = {
        "tensors": [
            {"name": k, "shape": list(np.asarray(v).shape), "dtype": dtypes[k]}
            for k, v in sorted(tensors.items())
        ],
        **extra,
    }
    expected(rel, tensors)


# --- safetensors ----------------------------------------------------------------------
def gen_safetensors():
    d = OUT / "safetensors"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    arrays = {
        "f64": (rng.normal(size=(3, 4)), "F64"),
        "f32": (rng.normal(size=(2, 5)).astype(np.float32), "F32"),
        "f16": (rng.normal(size=(7,)).astype(np.float16), "F16"),
        "bf16": (rng.normal(size=(2, 3)).astype(ml_dtypes.bfloat16), "BF16"),
        "i64": (rng.integers(-(2**40), 2**40, size=(4,)), "I64"),
        "i32": (rng.integers(-(2**30), 2**30, size=(4,)).astype(np.int32), "I32"),
        "i16": (rng.integers(-30000, 30000, size=(4,)).astype(np.int16), "I16"),
        "i8": (rng.integers(-128, 128, size=(2, 2)).astype(np.int8), "I8"),
        "u8": (rng.integers(0, 256, size=(5,)).astype(np.uint8), "U8"),
        "u16": (rng.integers(0, 65536, size=(3,)).astype(np.uint16), "U16"),
        "u32": (rng.integers(0, 2**32, size=(3,)).astype(np.uint32), "U32"),
        "u64": (rng.integers(0, 2**40, size=(3,)).astype(np.uint64), "U64"),
        "bool": (rng.integers(0, 2, size=(6,)).astype(bool), "BOOL"),
        # every one of the 256 codes of each 8-bit float
        "f8_e4m3": (np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).reshape(16, 16), "F8_E4M3"),
        "f8_e5m2": (np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e5m2).reshape(16, 16), "F8_E5M2"),
    }
    st_dtype = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
                "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
                "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool",
                "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
    keep = {k: np.ascontiguousarray(a) for k, (a, _) in arrays.items()}  # alive during serialize
    raw = {
        k: safetensors.TensorSpec(dtype=st_dtype[dt], shape=list(a.shape),
                                  data_ptr=keep[k].ctypes.data, data_len=keep[k].nbytes)
        for k, (a, dt) in arrays.items()
    }
    # One metadata entry: the serializer keeps metadata in a hash map, whose order varies.
    blob = safetensors.serialize(raw, metadata={"origin": "gen_format_fixtures"})
    (d / "all_dtypes.safetensors").write_bytes(blob)
    # Expected values come back through safetensors' own reader (raw bytes + dtype) and
    # ml_dtypes / numpy casts to float32.
    back = safetensors.deserialize(blob)
    np_of = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
             "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
             "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_,
             "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}
    values, dtypes = {}, {}
    for name, info in back:
        dt = info["dtype"]
        dtypes[name] = dt
        values[name] = np.frombuffer(bytes(info["data"]), dtype=np_of[dt]).reshape(info["shape"])
    entry("safetensors/all_dtypes.safetensors", values, dtypes,
          metadata={"origin": "gen_format_fixtures"})

    # A checkpoint in two shards with the index transformers writes.
    shard_dir = d / "sharded"
    shard_dir.mkdir(exist_ok=True)
    shards = [
        {"layers.0.weight": rng.normal(size=(4, 3)).astype(np.float32),
         "layers.0.bias": rng.normal(size=(4,)).astype(np.float32)},
        {"layers.1.weight": rng.normal(size=(2, 4)).astype(np.float16),
         "head.weight": rng.normal(size=(2, 2)).astype(np.float32)},
    ]
    weight_map, all_t, all_dt = {}, {}, {}
    for i, s in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        (shard_dir / fname).write_bytes(st_save(s, metadata={"format": "np"}))
        for k, v in s.items():
            weight_map[k] = fname
            all_t[k] = v
            all_dt[k] = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}[v.dtype]
    index = {"metadata": {"total_size": sum(v.nbytes for v in all_t.values())}, "weight_map": weight_map}
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    entry("safetensors/sharded", all_t, all_dt)


# --- ONNX -----------------------------------------------------------------------------
ONNX_DTYPE = {
    TensorProto.FLOAT: "F32", TensorProto.DOUBLE: "F64", TensorProto.FLOAT16: "F16",
    TensorProto.BFLOAT16: "BF16", TensorProto.INT64: "I64", TensorProto.INT32: "I32",
    TensorProto.INT16: "I16", TensorProto.INT8: "I8", TensorProto.UINT64: "U64",
    TensorProto.UINT32: "U32", TensorProto.UINT16: "U16", TensorProto.UINT8: "U8",
    TensorProto.BOOL: "BOOL", TensorProto.FLOAT8E4M3FN: "F8_E4M3", TensorProto.FLOAT8E5M2: "F8_E5M2",
}


def onnx_reference(model: onnx.ModelProto):
    """Every weight as onnx's own numpy_helper returns it, and the graph summary walked
    with the onnx Python API: node count, op types, which weight feeds which node."""
    values, dtypes = {}, {}
    summary = {"node_count": 0, "subgraph_count": 0, "op_types": {}, "consumers": []}

    def walk(g, path):
        for t in g.initializer:
            values[t.name] = numpy_helper.to_array(t)
            dtypes[t.name] = ONNX_DTYPE[t.data_type]
        for i, n in enumerate(g.node):
            summary["node_count"] += 1
            summary["op_types"][n.op_type] = summary["op_types"].get(n.op_type, 0) + 1
            name = path + (n.name or f"{n.op_type}#{i}")
            for inp in n.input:
                if inp:
                    summary["consumers"].append([inp, name, n.op_type])
            if n.op_type == "Constant":
                for a in n.attribute:
                    out = n.output[0]
                    if a.name == "value":
                        values[out] = numpy_helper.to_array(a.t)
                        dtypes[out] = ONNX_DTYPE[a.t.data_type]
                    elif a.name == "value_float":
                        values[out], dtypes[out] = np.float32(a.f), "F32"
                    elif a.name == "value_floats":
                        values[out], dtypes[out] = np.array(a.floats, np.float32), "F32"
                    elif a.name == "value_int":
                        values[out], dtypes[out] = np.int64(a.i), "I64"
                    elif a.name == "value_ints":
                        values[out], dtypes[out] = np.array(a.ints, np.int64), "I64"
            for a in n.attribute:
                sub = f"{name}/{a.name}/"
                if a.type == onnx.AttributeProto.GRAPH:
                    summary["subgraph_count"] += 1
                    walk(a.g, sub)
                for j, g2 in enumerate(a.graphs):
                    summary["subgraph_count"] += 1
                    walk(g2, f"{sub}{j}/")

    walk(model.graph, "")
    summary["consumers"] = [c for c in summary["consumers"] if c[0] in values]
    return values, dtypes, summary


def gen_onnx():
    d = OUT / "onnx"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    inits = []

    def raw(name, arr, dt):
        inits.append(numpy_helper.from_array(arr, name) if dt is None else
                     helper.make_tensor(name, dt, arr.shape, arr.tobytes(), raw=True))

    def typed(name, dt, arr):
        # helper.make_tensor with raw=False fills the typed field the spec assigns
        # (int32_data for FLOAT16/BFLOAT16/INT8/..., int64_data, double_data, ...).
        inits.append(helper.make_tensor(name, dt, arr.shape, arr.flatten().tolist()
                                        if arr.dtype.kind in "fiub" else arr, raw=False))

    raw("w.raw.f32", rng.normal(size=(4, 3)).astype(np.float32), None)
    raw("w.raw.f16", rng.normal(size=(3, 2)).astype(np.float16), None)
    raw("w.raw.bf16", rng.normal(size=(2, 2)).astype(ml_dtypes.bfloat16), TensorProto.BFLOAT16)
    raw("w.raw.i8", rng.integers(-128, 128, size=(5,)).astype(np.int8), None)
    raw("w.raw.u8", rng.integers(0, 256, size=(5,)).astype(np.uint8), None)
    raw("w.raw.i64", rng.integers(-1000, 1000, size=(3,)).astype(np.int64), None)
    raw("w.raw.f64", rng.normal(size=(2,)), None)
    raw("w.raw.bool", np.array([True, False, True]), None)
    raw("w.raw.f8e4m3", np.arange(0, 256, 7, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn), TensorProto.FLOAT8E4M3FN)
    typed("w.typed.f32", TensorProto.FLOAT, rng.normal(size=(2, 3)).astype(np.float32))
    typed("w.typed.f64", TensorProto.DOUBLE, rng.normal(size=(3,)))
    typed("w.typed.i64", TensorProto.INT64, rng.integers(-(2**40), 2**40, size=(2, 2)))
    typed("w.typed.i32", TensorProto.INT32, rng.integers(-(2**20), 2**20, size=(3,)))
    typed("w.typed.i8", TensorProto.INT8, rng.integers(-128, 128, size=(4,)))
    typed("w.typed.u16", TensorProto.UINT16, rng.integers(0, 65536, size=(3,)))
    typed("w.typed.u32", TensorProto.UINT32, rng.integers(0, 2**32, size=(2,)))
    typed("w.typed.f16", TensorProto.FLOAT16, rng.normal(size=(2, 2)).astype(np.float16))
    typed("w.typed.bf16", TensorProto.BFLOAT16, rng.normal(size=(3,)).astype(np.float32))

    X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    const = lambda out, **kw: helper.make_node("Constant", [], [out], **kw)
    then_g = helper.make_graph(
        [const("then.w", value=numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "then.w")),
         helper.make_node("MatMul", ["x", "then.w"], ["then.y"], name="then_matmul")],
        "then", [], [helper.make_tensor_value_info("then.y", TensorProto.FLOAT, [1, 3])])
    else_g = helper.make_graph(
        [const("else.w", value_floats=rng.normal(size=(3,)).astype(np.float32).tolist()),
         helper.make_node("MatMul", ["x", "w.raw.f32"], ["else.mm"], name="else_matmul"),
         helper.make_node("Add", ["else.mm", "else.w"], ["else.y"], name="else_add")],
        "else", [], [helper.make_tensor_value_info("else.y", TensorProto.FLOAT, [1, 3])])
    loop_body = helper.make_graph(
        [const("loop.scale", value_float=0.5),
         const("loop.step", value_int=3),
         helper.make_node("Identity", ["c_in"], ["c_out"], name="loop_cond"),
         helper.make_node("Mul", ["v_in", "loop.scale"], ["v_out"], name="loop_mul")],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 3])])
    scan_body = helper.make_graph(
        [const("scan.shape", value_ints=[1, 3]),
         helper.make_node("Add", ["s_in", "e_in"], ["s_out"], name="scan_add"),
         helper.make_node("Reshape", ["s_out", "scan.shape"], ["e_out"], name="scan_reshape")],
        "scan_body",
        [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("e_in", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1, 3])])
    nodes = [
        const("main.bias", value=numpy_helper.from_array(rng.normal(size=(3,)).astype(np.float32), "main.bias")),
        helper.make_node("If", ["cond"], ["if.y"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("Add", ["if.y", "main.bias"], ["add.y"], name="add_bias"),
        helper.make_node("Loop", ["", "cond", "add.y"], ["loop.y"], name="loop", body=loop_body),
        helper.make_node("Scan", ["s0", "loop.y"], ["s_final", "y"], name="scan", body=scan_body, num_scan_inputs=1),
        helper.make_node("Relu", ["w.typed.f32"], ["unused"], name=""),
    ]
    s0 = numpy_helper.from_array(np.zeros(3, np.float32), "s0")
    graph = helper.make_graph(nodes, "fixture", [X, cond], [Y], initializer=inits + [s0])
    model = helper.make_model(graph, producer_name="gen_format_fixtures",
                              opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    helper.set_model_props(model, {"purpose": "reader fixture"})
    blob = model.SerializeToString()
    (d / "weights.onnx").write_bytes(blob)
    values, dtypes, summary = onnx_reference(onnx.load_from_string(blob))
    entry("onnx/weights.onnx", values, dtypes, graph=summary, metadata={"purpose": "reader fixture"})

    # External data: onnx's own writer moves every tensor into one file.
    ext = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["x", "ext.w"], ["y"], name="mm")], "ext", [X], [Y],
        initializer=[numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "ext.w"),
                     numpy_helper.from_array(rng.normal(size=(3,)).astype(np.float16), "ext.b")]),
        producer_name="gen_format_fixtures", opset_imports=[helper.make_opsetid("", 21)])
    ext.ir_version = 10
    (d / "external.onnx.data").unlink(missing_ok=True)  # onnx appends to an existing file
    onnx.save_model(ext, str(d / "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.onnx.data", size_threshold=0)
    loaded = onnx.load(str(d / "external.onnx"))  # reads the external file back
    values, dtypes, summary = onnx_reference(loaded)
    entry("onnx/external.onnx", values, dtypes, graph=summary)

    # Its data file many times the size of the .onnx (as in real exports): the reader
    # must look for the data before measuring shapes against the bytes it has.
    big = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["x", "big.w"], ["y"], name="mm")], "big", [X], [Y],
        initializer=[numpy_helper.from_array(rng.normal(size=(64, 32)).astype(np.float32), "big.w")]),
        producer_name="gen_format_fixtures", opset_imports=[helper.make_opsetid("", 21)])
    big.ir_version = 10
    (d / "external_large.onnx.data").unlink(missing_ok=True)
    onnx.save_model(big, str(d / "external_large.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external_large.onnx.data", size_threshold=0)
    values, dtypes, summary = onnx_reference(onnx.load(str(d / "external_large.onnx")))
    entry("onnx/external_large.onnx", values, dtypes, graph=summary)


# --- TFLite ---------------------------------------------------------------------------
def build_tflite(tensors, buffer_of=None) -> bytes:
    """A one-subgraph TFLite model with the `tflite` package's builders. `tensors` are
    (name, TensorType, shape, data or None, (scales, zero points, axis) or None);
    `buffer_of` overrides tensor -> buffer indices (for broken files)."""
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(1024)

    def vec(start_fn, items, prepend):
        start_fn(b, len(items))
        for x in reversed(items):
            prepend(x)
        return b.EndVector()

    buffers = []
    tflite.BufferStart(b)
    buffers.append(tflite.BufferEnd(b))  # buffer 0: the empty sentinel
    buf_index = []
    for _, _, _, data, _ in tensors:
        if data is None:
            buf_index.append(0)
            continue
        raw = np.ascontiguousarray(data).tobytes()
        b.StartVector(1, len(raw), 16)
        b.head = b.head - len(raw)
        b.Bytes[b.head:b.head + len(raw)] = raw
        data_vec = b.EndVector()
        tflite.BufferStart(b)
        tflite.BufferAddData(b, data_vec)
        buffers.append(tflite.BufferEnd(b))
        buf_index.append(len(buffers) - 1)
    t_offsets = []
    if buffer_of:
        buf_index = [buffer_of.get(t[0], i) for t, i in zip(tensors, buf_index)]
    for (name, ttype, shape, data, q), bi in zip(tensors, buf_index):
        n = b.CreateString(name)
        shp = vec(tflite.TensorStartShapeVector, list(shape), b.PrependInt32)
        qo = None
        if q is not None:
            sc = vec(tflite.QuantizationParametersStartScaleVector, [float(x) for x in q[0]], b.PrependFloat32)
            zp = vec(tflite.QuantizationParametersStartZeroPointVector, [int(x) for x in q[1]], b.PrependInt64)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sc)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, q[2])
            qo = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shp)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddBuffer(b, bi)
        tflite.TensorAddName(b, n)
        if qo is not None:
            tflite.TensorAddQuantization(b, qo)
        t_offsets.append(tflite.TensorEnd(b))
    tv = vec(tflite.SubGraphStartTensorsVector, t_offsets, b.PrependUOffsetTRelative)
    inputs = vec(tflite.SubGraphStartInputsVector, [len(tensors) - 1], b.PrependInt32)
    sg_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tv)
    tflite.SubGraphAddInputs(b, inputs)
    tflite.SubGraphAddName(b, sg_name)
    sg = tflite.SubGraphEnd(b)
    sgs = vec(tflite.ModelStartSubgraphsVector, [sg], b.PrependUOffsetTRelative)
    bufs = vec(tflite.ModelStartBuffersVector, buffers, b.PrependUOffsetTRelative)
    desc = b.CreateString("gen_format_fixtures")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, sgs)
    tflite.ModelAddBuffers(b, bufs)
    tflite.ModelAddDescription(b, desc)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    blob = bytes(b.Output())
    return blob


def gen_tflite():
    import flatbuffers
    import tflite
    from tflite.TensorType import TensorType

    d = OUT / "tflite"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    w_f32 = rng.normal(size=(3, 4)).astype(np.float32)
    w_f16 = rng.normal(size=(4,)).astype(np.float16)
    w_i8_axis = rng.integers(-127, 128, size=(3, 4)).astype(np.int8)
    w_i8_tensor = rng.integers(-128, 128, size=(2, 5)).astype(np.int8)
    tensors = [  # name, type, shape, data or None, (scales, zero points, axis) or None
        ("dense/kernel", TensorType.FLOAT32, w_f32.shape, w_f32, None),
        ("dense/bias_f16", TensorType.FLOAT16, w_f16.shape, w_f16, None),
        ("conv/kernel_int8", TensorType.INT8, w_i8_axis.shape, w_i8_axis,
         (rng.uniform(0.001, 0.05, size=3).astype(np.float32), np.zeros(3, np.int64), 0)),
        ("fc/kernel_int8", TensorType.INT8, w_i8_tensor.shape, w_i8_tensor,
         (np.array([0.0125], np.float32), np.array([-3], np.int64), 0)),
        ("input", TensorType.FLOAT32, (1, 4), None, None),
    ]
    blob = build_tflite(tensors)
    (d / "weights.tflite").write_bytes(blob)

    # Read it back with the tflite package's reader, as a user of that package would.
    m = tflite.Model.GetRootAs(blob, 0)
    np_of = {TensorType.FLOAT32: np.float32, TensorType.FLOAT16: np.float16, TensorType.INT8: np.int8}
    name_of = {TensorType.FLOAT32: "F32", TensorType.FLOAT16: "F16", TensorType.INT8: "I8"}
    values, dtypes, quant = {}, {}, {}
    sgr = m.Subgraphs(0)
    for i in range(sgr.TensorsLength()):
        t = sgr.Tensors(i)
        buf = m.Buffers(t.Buffer())
        if buf.DataLength() == 0:
            continue
        name = t.Name().decode()
        arr = buf.DataAsNumpy().view(np_of[t.Type()]).reshape(t.ShapeAsNumpy())
        qp = t.Quantization()
        if qp is not None and qp.ScaleLength() > 0:
            scale = qp.ScaleAsNumpy().astype(np.float32)
            zp = qp.ZeroPointAsNumpy().astype(np.int64)
            axis = qp.QuantizedDimension()
            bshape = [1] * arr.ndim
            if scale.size > 1:
                bshape[axis] = scale.size
            # real = scale * (q - zero_point), in float32 as the TFLite kernels do
            arr = (arr.astype(np.float32) - zp.astype(np.float32).reshape(bshape)) * scale.reshape(bshape)
            quant[name] = {"code_dtype": "I8", "scales": [float(x) for x in scale],
                           "zero_points": [int(x) for x in zp], "quantized_dimension": axis}
        values[name], dtypes[name] = arr, name_of[t.Type()]
    entry("tflite/weights.tflite", values, dtypes, quantization=quant)


# --- PyTorch --------------------------------------------------------------------------
def zip_of(members: dict) -> bytes:
    """A stored (uncompressed) zip, as torch.save writes, with fixed timestamps so that
    the fixtures come out byte-identical on every run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for k, v in members.items():
            z.writestr(zipfile.ZipInfo(k, date_time=(2020, 1, 1, 0, 0, 0)), v)
    return buf.getvalue()


class FakeStorage:
    """Stands in for a torch storage: a key and its bytes."""

    def __init__(self, cls, key, array):
        self.cls, self.key, self.array = cls, key, array


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, proto):
        # What torch.Tensor.__reduce_ex__ returns for a plain CPU tensor.
        return (sys.modules["torch._utils"]._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, OrderedDict()))

    def value(self):
        a = self.storage.array
        view = np.lib.stride_tricks.as_strided(
            a[self.offset:], shape=self.size, strides=[s * a.itemsize for s in self.stride])
        return np.array(view, order="C")  # (ascontiguousarray would make a 0-d view 1-d)


def install_fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called: fixtures are only written")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ["FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage",
                 "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"]:
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch


def torch_checkpoint(torch):
    rng = np.random.default_rng(23)
    f32 = FakeStorage(torch.FloatStorage, "0", rng.normal(size=24).astype(np.float32))
    f16 = FakeStorage(torch.HalfStorage, "1", rng.normal(size=6).astype(np.float16))
    bf16 = FakeStorage(torch.BFloat16Storage, "2", rng.normal(size=4).astype(ml_dtypes.bfloat16))
    i64 = FakeStorage(torch.LongStorage, "3", rng.integers(-(2**40), 2**40, size=5))
    i8 = FakeStorage(torch.CharStorage, "4", rng.integers(-128, 128, size=6).astype(np.int8))
    u8 = FakeStorage(torch.ByteStorage, "5", rng.integers(0, 256, size=3).astype(np.uint8))
    bl = FakeStorage(torch.BoolStorage, "6", np.array([True, False, True, True]))
    f64 = FakeStorage(torch.DoubleStorage, "7", rng.normal(size=3))
    sd = OrderedDict()
    sd["encoder.weight"] = FakeTensor(f32, 0, [3, 4], [4, 1])
    sd["encoder.weight_t"] = FakeTensor(f32, 0, [4, 3], [1, 4])     # a transpose: same storage
    sd["encoder.bias"] = FakeTensor(f32, 12, [4], [1])              # storage offset
    sd["decoder.strided"] = FakeTensor(f32, 16, [2, 2], [4, 2])     # non-contiguous slice
    sd["decoder.weight"] = FakeTensor(f16, 0, [2, 3], [3, 1])
    sd["norm.weight"] = FakeTensor(bf16, 0, [4], [1])
    sd["steps"] = FakeTensor(i64, 0, [5], [1])
    sd["scalar"] = FakeTensor(i64, 2, [], [])
    sd["q.codes"] = FakeTensor(i8, 0, [2, 3], [3, 1])
    sd["mask.u8"] = FakeTensor(u8, 0, [3], [1])
    sd["mask.bool"] = FakeTensor(bl, 0, [2, 2], [2, 1])
    sd["stats.f64"] = FakeTensor(f64, 0, [3], [1])
    sd["empty"] = FakeTensor(f32, 0, [0, 4], [4, 1])
    ckpt = {"model": sd, "epoch": 7, "lr": 0.25, "arch": "tiny"}
    dt = {"F32": f32, "F16": f16, "BF16": bf16, "I64": i64, "I8": i8, "U8": u8, "BOOL": bl, "F64": f64}
    dtypes = {f"model.{k}": next(n for n, s in dt.items() if s is v.storage) for k, v in sd.items()}
    values = {f"model.{k}": v.value() for k, v in sd.items()}
    return ckpt, [f32, f16, bf16, i64, i8, u8, bl, f64], values, dtypes


def pickle_with_storages(obj, legacy: bool) -> bytes:
    buf = io.BytesIO()

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, FakeStorage):
                pid = ("storage", o.cls, o.key, "cpu", o.array.size)
                return pid + (None,) if legacy else pid
            return None

    P(buf, protocol=2).dump(obj)
    return buf.getvalue()


def gen_pytorch():
    d = OUT / "pytorch"
    d.mkdir(parents=True, exist_ok=True)
    torch = install_fake_torch()
    ckpt, storages, values, dtypes = torch_checkpoint(torch)
    meta = {"epoch": "7", "lr": "0.25", "arch": "tiny"}

    def write_zip(path, byteorder):
        members = {"archive/data.pkl": pickle_with_storages(ckpt, legacy=False),
                   "archive/byteorder": byteorder.encode()}
        for s in storages:
            a = s.array if byteorder == "little" else s.array.byteswap()
            members[f"archive/data/{s.key}"] = a.tobytes()
        members["archive/version"] = b"3\n"
        path.write_bytes(zip_of(members))

    write_zip(d / "checkpoint_zip.pt", "little")
    entry("pytorch/checkpoint_zip.pt", values, dtypes, metadata=meta)
    write_zip(d / "checkpoint_bigendian.pt", "big")
    entry("pytorch/checkpoint_bigendian.pt", values, dtypes, metadata=meta)

    out = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001,
                 {"protocol_version": 1001, "little_endian": True,
                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(part, out, protocol=2)
    out.write(pickle_with_storages(ckpt, legacy=True))
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", s.array.size))
        out.write(s.array.tobytes())
    (d / "checkpoint_legacy.pt").write_bytes(out.getvalue())
    entry("pytorch/checkpoint_legacy.pt", values, dtypes, metadata=meta)
    del sys.modules["torch"], sys.modules["torch._utils"]


# --- GGUF -----------------------------------------------------------------------------
# Where each K-quant block keeps its fp16 scales (ggml-common.h's block_q*_K): bytes at
# these offsets are overwritten with small finite halves so that seeded random blocks
# decode to finite values.
K_SCALE_OFFSETS = {
    gguf.GGMLQuantizationType.Q2_K: (80, 82),   # scales[16] qs[64] d dmin
    gguf.GGMLQuantizationType.Q3_K: (108,),     # hmask[32] qs[64] scales[12] d
    gguf.GGMLQuantizationType.Q4_K: (0, 2),     # d dmin scales[12] qs[128]
    gguf.GGMLQuantizationType.Q5_K: (0, 2),     # d dmin scales[12] qh[32] qs[128]
    gguf.GGMLQuantizationType.Q6_K: (208,),     # ql[128] qh[64] scales[16] d
}


def k_quant_blocks(rng, qtype, rows, cols):
    """Seeded random K-quant blocks whose fp16 scales are small and finite."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    for off in K_SCALE_OFFSETS[qtype]:
        halves = rng.uniform(0.001, 0.01, size=(rows, cols // block)).astype(np.float16)
        raw[:, :, off:off + 2] = halves.view(np.uint8).reshape(rows, cols // block, 2)
    return raw.reshape(rows, cols // block * size)


def gguf_values(t) -> np.ndarray:
    """A GGUFReader tensor as float32 in C order: gguf.quants.dequantize for the float
    and block types; the integer and F64 types are plain numpy arrays already."""
    shape = [int(d) for d in reversed(t.shape.tolist())]
    Q = gguf.GGMLQuantizationType
    if t.tensor_type in (Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):
        return np.asarray(t.data).astype(np.float32).reshape(shape)
    return gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape)


def gguf_expected(path: Path, rel: str, extra_meta: dict):
    """What GGUFReader returns for each tensor, dequantized by gguf.quants (float32),
    C-order shape (GGUFReader lists ggml's dimensions fastest first)."""
    reader = gguf.GGUFReader(path)
    values, dtypes = {}, {}
    for t in reader.tensors:
        values[t.name] = gguf_values(t)
        dtypes[t.name] = t.tensor_type.name
    meta = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if len(field.types) == 1 and field.types[0] != gguf.GGUFValueType.ARRAY:
            v = field.contents()
            meta[key] = v
    entry(rel, values, dtypes, metadata=meta, tensor_order=[t.name for t in reader.tensors],
          **extra_meta)
    return values


def gen_gguf():
    d = OUT / "gguf"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    Q = gguf.GGMLQuantizationType
    path = d / "all_types.gguf"
    w = gguf.GGUFWriter(path, "quantscope-test")
    w.add_name("reader fixture")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -5)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.25)
    w.add_uint64("test.u64", 2**40)
    w.add_int64("test.i64", -(2**40))
    w.add_float64("test.f64", 1.5)
    w.add_bool("test.bool", True)
    w.add_array("test.tokens", ["<unk>", "<s>", "</s>", "hello", "world", "a", "b", "c", "d", "e"])
    w.add_array("test.scores", [0.5, -1.0, 2.0])
    w.add_custom_alignment(64)
    w.add_tensor("f32", rng.normal(size=(3, 64)).astype(np.float32))
    w.add_tensor("f16", rng.normal(size=(2, 32)).astype(np.float16))
    w.add_tensor("f64", rng.normal(size=(5,)))
    w.add_tensor("bias", rng.normal(size=(64,)).astype(np.float32))
    w.add_tensor("i8", rng.integers(-128, 128, size=(4, 8)).astype(np.int8))
    w.add_tensor("i16", rng.integers(-30000, 30000, size=(6,)).astype(np.int16))
    w.add_tensor("i32", rng.integers(-(2**30), 2**30, size=(6,)).astype(np.int32))
    w.add_tensor("i64", rng.integers(-(2**40), 2**40, size=(3,)).astype(np.int64))
    # BF16 through gguf.quants.quantize (numpy has no bfloat16): raw_dtype BF16.
    w.add_tensor("bf16", gguf.quants.quantize(rng.normal(size=(2, 16)).astype(np.float32), Q.BF16),
                 raw_dtype=Q.BF16)
    x = (rng.standard_t(5, size=(8, 256)) * 0.02).astype(np.float32)
    for q in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1):
        w.add_tensor(f"blk.{q.name.lower()}.weight", gguf.quants.quantize(x, q), raw_dtype=q)
    # a 3-D tensor, to check the reversed dimension order beyond two axes
    w.add_tensor("conv.q8_0", gguf.quants.quantize(
        rng.normal(size=(2, 3, 64)).astype(np.float32), Q.Q8_0), raw_dtype=Q.Q8_0)
    for q in (Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K):
        w.add_tensor(f"blk.{q.name.lower()}.weight", k_quant_blocks(rng, q, 4, 512), raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    gguf_expected(path, "gguf/all_types.gguf", {})

    # A model split in three by gguf-split's rules (GGUFWriter split_max_tensors).
    split = d / "split"
    split.mkdir(exist_ok=True)
    for old in split.glob("*.gguf"):
        old.unlink()
    w = gguf.GGUFWriter(split / "tiny.gguf", "quantscope-test", split_max_tensors=2)
    w.add_name("split fixture")
    for i in range(3):
        w.add_tensor(f"blk.{i}.attn_q.weight", gguf.quants.quantize(
            rng.normal(size=(4, 32)).astype(np.float32), Q.Q8_0), raw_dtype=Q.Q8_0)
        w.add_tensor(f"blk.{i}.attn_norm.weight", rng.normal(size=(32,)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    files = sorted(split.glob("*.gguf"))
    assert len(files) == 3, files
    values, dtypes, order = {}, {}, []
    for f in files:
        reader = gguf.GGUFReader(f)
        for t in reader.tensors:
            values[t.name] = gguf_values(t)
            dtypes[t.name] = t.tensor_type.name
            order.append(t.name)
    entry("gguf/split", values, dtypes, files=[f.name for f in files], tensor_order=order)


def main():
    gen_safetensors()
    gen_onnx()
    gen_tflite()
    gen_pytorch()
    gen_gguf()
    (OUT / "manifest.json").write_text(json.dumps(MANIFEST, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(MANIFEST)} fixtures under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
