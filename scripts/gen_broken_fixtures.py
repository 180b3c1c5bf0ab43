#!/usr/bin/env python3
"""Writes tests/fixtures/broken/: model files broken in one specific way each.

Run: scripts/gen_format_fixtures.sh (it runs this after gen_format_fixtures.py).

Every file starts from a valid file made by the real tool (safetensors, onnx, the
`tflite` builders, pickle with torch's globals) and is then damaged in one place, so
that each exercises one rejection path. tests/broken_files.rs has one test per file,
naming the error it must give; none may panic or allocate more than the file justifies.
"""

import io
import json
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import gguf
import numpy as np
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save as st_save

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_format_fixtures as g  # noqa: E402

OUT = g.ROOT / "tests/fixtures/broken"


def put(name: str, blob: bytes):
    (OUT / name).write_bytes(blob)


def st_with_header(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_cases():
    good = st_save({"w": np.arange(12, dtype=np.float32).reshape(3, 4)})
    put("safetensors_truncated.safetensors", good[: len(good) - 10])
    put("safetensors_absurd_header_length.safetensors", struct.pack("<Q", 2**62) + b"{}")
    put("safetensors_offsets_past_end.safetensors",
        st_with_header({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8))
    put("safetensors_overlapping.safetensors",
        st_with_header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24))
    put("safetensors_shape_overflow.safetensors",
        st_with_header({"w": {"dtype": "F32", "shape": [2**32, 2**32, 16], "data_offsets": [0, 16]}},
                       b"\0" * 16))
    put("safetensors_unknown_dtype.safetensors",
        st_with_header({"w": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4))
    put("safetensors_header_not_json.safetensors", struct.pack("<Q", 6) + b"{oops}")


zip_of = g.zip_of


def npy_bytes(a) -> bytes:
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def deflated_zip(members: dict) -> bytes:
    """A zip whose members are deflated (as np.savez_compressed writes), fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in members.items():
            z.writestr(zipfile.ZipInfo(k, date_time=(2020, 1, 1, 0, 0, 0)), v, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def declare_size(blob: bytes, member: str, size: int) -> bytes:
    """The zip `blob` with `member`'s uncompressed size set to `size` in its local header
    and its central directory entry (a lying header: the data is unchanged)."""
    b = bytearray(blob)
    name = member.encode()
    at = b.find(b"PK\x03\x04")
    while at >= 0:
        n, e = struct.unpack_from("<HH", b, at + 26)
        if bytes(b[at + 30:at + 30 + n]) == name:
            struct.pack_into("<I", b, at + 22, size)
        at = b.find(b"PK\x03\x04", at + 4)
    at = b.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", b, at + 28)[0]
        if bytes(b[at + 46:at + 46 + n]) == name:
            struct.pack_into("<I", b, at + 24, size)
        at = b.find(b"PK\x01\x02", at + 4)
    return bytes(b)


def archive_cases():
    # A deflated member declaring about 4 GB from a few hundred compressed bytes: more
    # than deflate can produce (1032:1), refused before anything is inflated.
    member = npy_bytes(np.arange(100, dtype=np.float32))
    put("npz_ratio_lie.npz", declare_size(deflated_zip({"w.npy": member}), "w.npy", 0xFFFFFF00))
    # One declaring twice what it inflates to (a ratio deflate can reach): it must
    # inflate to exactly what it declares.
    zeros = npy_bytes(np.zeros(1000, dtype=np.float32))
    put("npz_inflates_short.npz",
        declare_size(deflated_zip({"w.npy": zeros}), "w.npy", 2 * len(zeros)))

    inner = zip_of({"a.npy": npy_bytes(np.zeros(3, np.float32))})
    put("npz_nested_zip.npz", zip_of({"inner.npz": inner}))
    put("pytorch_nested_zip.pt", zip_of({"archive/data.pkl": inner}))
    put("zip_truncated.pt", zip_of({"archive/data.pkl": b"\x80\x02}q\x00."})[:-30])
    # Found by fuzzing: npyz's header parser takes minutes on deeply nested brackets.
    header = ("{'descr': " + "[" * 59 + "'<f4'" + "]" * 59 + ", 'fortran_order': False, 'shape': (1,), }").encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    put("npy_deep_nesting.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 4)
    put("empty.bin", b"")


def good_gguf() -> bytes:
    """A small valid GGUF written by the gguf package: two Q8_0 tensors and one F32."""
    import tempfile
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "good.gguf"
        w = gguf.GGUFWriter(path, "broken-test")
        w.add_array("tokenizer.tokens", ["a", "b", "c"])
        q = gguf.GGMLQuantizationType.Q8_0
        w.add_tensor("tensor_one", gguf.quants.quantize(
            rng.normal(size=(2, 64)).astype(np.float32), q), raw_dtype=q)
        w.add_tensor("tensor_two", gguf.quants.quantize(
            rng.normal(size=(2, 64)).astype(np.float32), q), raw_dtype=q)
        w.add_tensor("norm_three", rng.normal(size=(64,)).astype(np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path.read_bytes()


def patch(blob: bytes, at: int, fmt: str, *values) -> bytes:
    b = bytearray(blob)
    struct.pack_into(fmt, b, at, *values)
    return bytes(b)


def tensor_info_at(blob: bytes, name: str) -> dict:
    """Byte offsets of one tensor info's fields (ggml's docs/gguf.md layout), found by
    its length-prefixed name."""
    key = struct.pack("<Q", len(name)) + name.encode()
    start = blob.index(key)
    n_dims_at = start + len(key)
    (n_dims,) = struct.unpack_from("<I", blob, n_dims_at)
    dims_at = n_dims_at + 4
    type_at = dims_at + 8 * n_dims
    return {"n_dims": n_dims_at, "dims": dims_at, "type": type_at, "offset": type_at + 4}


def gguf_cases():
    good = good_gguf()
    one = tensor_info_at(good, "tensor_one")
    two = tensor_info_at(good, "tensor_two")
    put("gguf_truncated.gguf", good[:-40])
    put("gguf_version_1.gguf", patch(good, 4, "<I", 1))
    put("gguf_tensor_count_absurd.gguf", patch(good, 8, "<Q", 2**60))
    key = b"tokenizer.tokens"
    put("gguf_string_length_absurd.gguf",
        patch(good, good.index(key) - 8, "<Q", 2**40))
    # the array's element count follows its key, its type (9) and its element type (8)
    put("gguf_array_count_absurd.gguf",
        patch(good, good.index(key) + len(key) + 8, "<Q", 2**50))
    put("gguf_unknown_type.gguf", patch(good, one["type"], "<I", 99))
    put("gguf_unsupported_type.gguf", patch(good, one["type"], "<I", 16))  # IQ2_XXS
    put("gguf_offset_past_end.gguf", patch(good, two["offset"], "<Q", 2**20))
    put("gguf_overlapping.gguf", patch(good, two["offset"], "<Q", 0))
    put("gguf_misaligned_offset.gguf", patch(good, two["offset"], "<Q", 4))
    put("gguf_shape_overflow.gguf", patch(good, one["dims"], "<QQ", 2**40, 2**40))
    put("gguf_row_not_blocks.gguf", patch(good, one["dims"], "<Q", 48))
    put("gguf_too_many_dims.gguf", patch(good, one["n_dims"], "<I", 7))
    # general.alignment must be a power of two: a file that says 3
    rng = np.random.default_rng(4)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.gguf"
        w = gguf.GGUFWriter(path, "broken-test")
        w.add_custom_alignment(64)
        w.add_tensor("w", rng.normal(size=(8,)).astype(np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        aligned = path.read_bytes()
    k = b"general.alignment"
    put("gguf_bad_alignment.gguf", patch(aligned, aligned.index(k) + len(k) + 4, "<I", 3))
    # arrays of arrays, nested 10 deep (the gguf writer cannot nest; written by hand
    # after a valid header)
    nested = struct.pack("<I", 9)  # value type: array
    for _ in range(10):
        nested += struct.pack("<IQ", 9, 1)  # an array of one array
    nested += struct.pack("<IQ", 4, 0)
    name = b"deep"
    put("gguf_deep_arrays.gguf",
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(name)) + name + nested)


class Evil:
    """What an attacker's checkpoint does: make unpickling call os.system."""

    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def pickle_cases():
    torch = g.install_fake_torch()
    try:
        evil = pickle.dumps({"w": Evil()}, protocol=2)
        put("pickle_os_system.pt", zip_of({"archive/data.pkl": evil, "archive/byteorder": b"little"}))
        # Protocol 4 names globals with STACK_GLOBAL instead of GLOBAL.
        evil4 = pickle.dumps(OrderedDict(w=Evil()), protocol=4)
        put("pickle_stack_global.pt", zip_of({"archive/data.pkl": evil4}))
        # The legacy stream format with a payload in the object pickle.
        head = io.BytesIO()
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(part, head, protocol=2)
        put("pickle_legacy_eval.pt", head.getvalue() + pickle.dumps([eval], protocol=2))

        s = g.FakeStorage(torch.FloatStorage, "0", np.arange(6, dtype=np.float32))
        ok = OrderedDict(w=g.FakeTensor(s, 0, [2, 3], [3, 1]))
        pkl = g.pickle_with_storages(ok, legacy=False)
        put("pytorch_missing_storage.pt", zip_of({"archive/data.pkl": pkl}))
        put("pytorch_truncated_pickle.pt",
            zip_of({"archive/data.pkl": pkl[: len(pkl) // 2], "archive/data/0": s.array.tobytes()}))
        big = OrderedDict(w=g.FakeTensor(s, 2, [3, 3], [3, 1]))  # reaches element 10 of 6
        put("pytorch_storage_out_of_range.pt",
            zip_of({"archive/data.pkl": g.pickle_with_storages(big, legacy=False),
                    "archive/data/0": s.array.tobytes()}))
        huge = OrderedDict(w=g.FakeTensor(s, 0, [2**40, 2**40], [0, 0]))  # stride 0: 2^80 values
        put("pytorch_shape_overflow.pt",
            zip_of({"archive/data.pkl": g.pickle_with_storages(huge, legacy=False),
                    "archive/data/0": s.array.tobytes()}))
        neg = OrderedDict(w=g.FakeTensor(s, 0, [-1, 3], [3, 1]))
        # A deflated storage record declaring about 4 GB from a few dozen bytes.
        put("pytorch_record_ratio_lie.pt",
            declare_size(deflated_zip({"archive/data.pkl": pkl, "archive/data/0": s.array.tobytes()}),
                         "archive/data/0", 0xFFFFFF00))
        put("pytorch_negative_size.pt",
            zip_of({"archive/data.pkl": g.pickle_with_storages(neg, legacy=False),
                    "archive/data/0": s.array.tobytes()}))
        # Legacy file whose storage section claims more elements than the file has.
        body = io.BytesIO()
        body.write(head.getvalue())
        body.write(g.pickle_with_storages(ok, legacy=True))
        pickle.dump(["0"], body, protocol=2)
        body.write(struct.pack("<q", 2**61))
        body.write(s.array.tobytes())
        put("pytorch_legacy_storage_too_long.pt", body.getvalue())
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]


def onnx_model(inits, nodes=()) -> bytes:
    X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph(list(nodes) or [helper.make_node("Identity", ["x"], ["y"])], "broken",
                              [X], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m.SerializeToString()


def onnx_cases():
    short = numpy_helper.from_array(np.zeros((4, 4), np.float32), "w")
    short.raw_data = b"\0" * 12  # dims say 64 bytes
    put("onnx_raw_data_short.onnx", onnx_model([short]))
    t = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    del t.float_data[2]
    put("onnx_typed_count.onnx", onnx_model([t]))
    neg = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    neg.dims[0] = -2
    put("onnx_negative_dim.onnx", onnx_model([neg]))
    huge = helper.make_tensor("w", TensorProto.FLOAT, [1], b"\0" * 4, raw=True)
    huge.dims[:] = [2**31, 2**31, 2**31]
    put("onnx_shape_overflow.onnx", onnx_model([huge]))
    odd = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    odd.data_type = 99
    put("onnx_unknown_data_type.onnx", onnx_model([odd]))
    good = onnx_model([numpy_helper.from_array(np.arange(64, dtype=np.float32), "w")])
    put("onnx_truncated.onnx", good[: len(good) - 100])
    ext = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "8"), ("length", "16")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    put("onnx_external_outside.onnx", onnx_model([ext]))
    put("weights.bin", b"\0" * 16)  # the external file: 16 bytes, the tensor wants [8, 24)
    ext.external_data[0].value = "../../etc/passwd"
    put("onnx_external_traversal.onnx", onnx_model([ext]))


def tflite_cases():
    from tflite.TensorType import TensorType
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    q = np.arange(6, dtype=np.int8).reshape(3, 2)
    base = [("w", TensorType.FLOAT32, w.shape, w, None), ("in", TensorType.FLOAT32, (1,), None, None)]
    put("tflite_buffer_index.tflite", g.build_tflite(base, buffer_of={"w": 99}))
    good = g.build_tflite(base)
    put("tflite_truncated.tflite", good[: len(good) // 2])
    put("tflite_shape_larger_than_buffer.tflite",
        g.build_tflite([("w", TensorType.FLOAT32, (4, 3), w, None)] + base[1:]))
    scales = (np.array([0.1, 0.2], np.float32), np.zeros(2, np.int64), 0)
    put("tflite_scales_mismatch.tflite",
        g.build_tflite([("q", TensorType.INT8, q.shape, q, scales)] + base[1:]))
    axis = (np.array([0.1, 0.2], np.float32), np.zeros(2, np.int64), 5)
    put("tflite_quantized_dimension.tflite",
        g.build_tflite([("q", TensorType.INT8, q.shape, q, axis)] + base[1:]))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    safetensors_cases()
    archive_cases()
    gguf_cases()
    pickle_cases()
    onnx_cases()
    tflite_cases()
    print(f"wrote {len(list(OUT.iterdir()))} files under {OUT.relative_to(g.ROOT)}")


if __name__ == "__main__":
    main()
