"""Interop tests: files written by `quantscope quantize -o`, read back by the real tools.

    .venv/bin/python tests/interop/interop.py [path/to/quantscope]

Run by scripts/test-all.sh after `cargo build --release` (the venv is the one
scripts/setup-python.sh makes from scripts/requirements.txt). Inputs are the committed
fixtures (www/public/demo.safetensors, tests/fixtures/formats2/onnx/) and models made in a
temporary folder with onnx / safetensors themselves. Every expected value comes from
onnxruntime, onnx, gguf or safetensors, or from the CLI's own JSON; nothing is typed in.

ONNX (a) - onnxruntime loads and runs each exported QDQ model:
  * exactness: the weights ONNX Runtime's DequantizeLinear produces have exactly the
    metrics the core reports for its own reconstruction (max |error| equal, MSE to 1e-9
    relative), so codes, scales, zero points, axis and block layout are all as the core
    meant them;
  * closeness: the output SQNR against the float model is within 3 dB of the first-order
    prediction from the weights' SQNRs. A chain of linear layers with independent
    weight errors has relative output noise close to the sum of its weights' relative
    noises, i.e. SQNR_out ~= -10 log10(sum 10^(-SQNR_w/10)); measured deviations are
    under 1 dB, so 3 dB fails on any real mistake (a wrong axis or a transposed block
    layout costs tens of dB) without being fragile. And SQNR_out < 100 dB proves the
    weights really changed.
GGUF (b) - gguf.GGUFReader reads each file; every tensor's bytes equal
  gguf.quants.quantize of the source floats (K types, which gguf cannot quantize:
  gguf.quants.dequantize of the bytes has the core's metrics); shapes, types, offsets,
  metadata as GGUF and llama.cpp's converter define them.
safetensors (c) - safetensors loads each file; dequantizing per docs/EXPORT.md gives the
  metrics the core reports, and the report JSON rows equal `quantize --json` rows.
"""

import importlib.metadata
import json
import math
import pathlib
import subprocess
import sys
import tempfile

import gguf
import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import safetensors
from gguf import GGUFReader
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/release/quantscope"
DEMO = ROOT / "www/public/demo.safetensors"
ort.set_default_logger_severity(3)
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def cli(*args, ok=True):
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise AssertionError(f"quantscope {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r


def export(src, scheme, out, *extra):
    """Runs quantize -o and returns the report, by tensor name."""
    rep = out.with_suffix(out.suffix + ".json")
    cli("quantize", *src, "--scheme", scheme, "-o", out, "--report", rep, *extra)
    report = json.loads(rep.read_text())
    check(report["scheme"] == scheme, f"report scheme {report['scheme']}")
    return report, {t["name"]: t for t in report["tensors"]}


def cli_rows(src, scheme, names):
    args = [a for n in names for a in ("--tensor", n)]
    rows = json.loads(cli("quantize", *src, "--scheme", scheme, *args, "--json").stdout)
    return {r["name"]: r for r in rows}


def metrics(x, y):
    """The core's metrics (src/metrics.rs) in f64."""
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    e = y - x
    see = float((e * e).sum())
    return {
        "mse": see / max(len(x), 1),
        "sqnr_db": math.inf if see == 0 else 10 * math.log10(float((x * x).sum()) / see),
        "max_abs_error": float(np.abs(e).max()) if len(e) else 0.0,
    }


def same_metrics(got, want, what):
    check(got["max_abs_error"] == want["max_abs_error"],
          f"{what}: max |error| {got['max_abs_error']} vs the core's {want['max_abs_error']}")
    check(math.isclose(got["mse"], want["mse"], rel_tol=1e-9, abs_tol=1e-30),
          f"{what}: MSE {got['mse']} vs the core's {want['mse']}")


def sqnr(a, b):
    a = np.asarray(a, np.float64)
    return 10 * math.log10(float((a * a).sum()) / float(((a - b) ** 2).sum()))


def summaries_match_cli(src, report):
    """Every stored tensor's report row is the CLI's `quantize --json` row."""
    by_scheme = {}
    for t in report["tensors"]:
        if "summary" in t:
            by_scheme.setdefault(t["summary"]["scheme"], []).append(t)
    for scheme, ts in by_scheme.items():
        rows = cli_rows(src, scheme, [t["name"] for t in ts])
        for t in ts:
            check(t["summary"] == rows[t["name"]],
                  f"{t['name']}: report row {t['summary']} != CLI row {rows[t['name']]}")


# --- ONNX ----------------------------------------------------------------------------

def make_mlp(path):
    """fc1 (MatMul) -> Relu -> fc2 (Gemm, transB) -> Relu -> Reshape -> Conv, plus an
    FP16 MatMul branch; opset 17 as torch.onnx exports it."""
    rng = np.random.default_rng(0)
    w = {
        "fc1.weight": rng.standard_normal((64, 96)).astype(np.float32) * 0.1,
        "fc1.bias": rng.standard_normal(96).astype(np.float32) * 0.01,
        "fc2.weight": rng.standard_normal((32, 96)).astype(np.float32) * 0.1,
        "fc2.bias": rng.standard_normal(32).astype(np.float32) * 0.01,
        "conv.weight": rng.standard_normal((8, 2, 3, 3)).astype(np.float32) * 0.3,
        "head16.weight": (rng.standard_normal((64, 16)) * 0.1).astype(np.float16),
        "shape": np.array([-1, 2, 4, 4], dtype=np.int64),
    }
    nodes = [
        helper.make_node("MatMul", ["X", "fc1.weight"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "fc1.bias"], ["h1b"]),
        helper.make_node("Relu", ["h1b"], ["a1"]),
        helper.make_node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["h2"], transB=1, name="fc2"),
        helper.make_node("Relu", ["h2"], ["a2"]),
        helper.make_node("Reshape", ["a2", "shape"], ["img"]),
        helper.make_node("Conv", ["img", "conv.weight"], ["Y"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Cast", ["X"], ["X16"], to=TensorProto.FLOAT16),
        helper.make_node("MatMul", ["X16", "head16.weight"], ["h3"], name="head16"),
        helper.make_node("Cast", ["h3"], ["Z"], to=TensorProto.FLOAT),
    ]
    g = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["B", 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["B", 8, 4, 4]),
         helper.make_tensor_value_info("Z", TensorProto.FLOAT, ["B", 16])],
        [numpy_helper.from_array(a, n) for n, a in w.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return w


# Which weights each output goes through.
MLP_PATHS = {"Y": ["fc1.weight", "fc2.weight", "conv.weight"], "Z": ["head16.weight"]}

# scheme, codes' ONNX type, expected opset, attributes of DequantizeLinear
ONNX_SCHEMES = [
    ("int8-sym", TensorProto.INT8, 17, lambda t: {}),
    ("uint8-asym-ch1", TensorProto.UINT8, 17, lambda t: {"axis": 1}),
    ("torch-int8-sym-ch0", TensorProto.INT8, 17, lambda t: {"axis": 0}),
    ("int4-sym-ch0", TensorProto.INT4, 21, lambda t: {"axis": 0}),
    ("int4-asym-group32", TensorProto.INT4, 21,
     lambda t: {"axis": len(t.dims) - 1, "block_size": 32}),
    ("int8-sym-group16", TensorProto.INT8, 21,
     lambda t: {"axis": len(t.dims) - 1, "block_size": 16}),
    ("uint4-asym-group16-ax0", TensorProto.UINT4, 21, lambda t: {"axis": 0, "block_size": 16}),
    ("int3-sym-ch0", TensorProto.INT4, 21, lambda t: {"axis": 0}),
    ("int16-sym-ch0", TensorProto.INT16, 21, lambda t: {"axis": 0}),
]


def dq_chain(graph):
    """weight name -> (DequantizeLinear node, name of its output)."""
    out = {}
    casts = {n.input[0]: n.output[0] for n in graph.node if n.op_type == "Cast"}
    for n in graph.node:
        if n.op_type == "DequantizeLinear":
            out[casts.get(n.output[0], n.output[0])] = (n, n.output[0])
    return out


def run_with_outputs(model, feeds, extra):
    """Runs `model` in ONNX Runtime with `extra` values added as graph outputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra:
        m.graph.output.append(helper.make_empty_tensor_value_info(name))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feeds)))


def onnx_tests(tmp):
    src = tmp / "mlp.onnx"
    weights = make_mlp(src)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 64)).astype(np.float32)
    ref = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"X": X})
    for scheme, elem, opset, want_attrs in ONNX_SCHEMES:
        out = tmp / f"mlp-{scheme}.onnx"
        report, rep = export([src], scheme, out)
        m = onnx.load(out)
        onnx.checker.check_model(m, full_check=True)
        check(m.opset_import[0].version == opset, f"{scheme}: opset {m.opset_import[0].version}")
        chain = dq_chain(m.graph)
        inits = {t.name: t for t in m.graph.initializer}
        quantized = [n for n, t in rep.items() if t["quantized"]]
        check(sorted(quantized) == sorted(chain), f"{scheme}: DQ for {sorted(chain)}, report {quantized}")
        check(sorted(quantized) == sorted(n for n, a in weights.items() if a.ndim >= 2),
              f"{scheme}: quantized {quantized}")
        for name, (node, _) in chain.items():
            codes = inits[node.input[0]]
            check(codes.data_type == elem, f"{scheme} {name}: codes type {codes.data_type}")
            attrs = {a.name: a.i for a in node.attribute}
            check(attrs == want_attrs(codes), f"{scheme} {name}: attributes {attrs}")
        # Exactness: ONNX Runtime's dequantized weights have the core's metrics.
        dq = run_with_outputs(m, {"X": X}, [o for _, o in chain.values()])
        for name, (_, o) in chain.items():
            same_metrics(metrics(weights[name].astype(np.float32), dq[o]),
                         rep[name]["summary"]["metrics"], f"{scheme} {name}")
        # Closeness of the outputs to the float model's.
        got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"X": X})
        line = []
        for (y, path), a, b in zip(MLP_PATHS.items(), ref, got):
            s = sqnr(a, b)
            pred = -10 * math.log10(sum(10 ** (-rep[n]["summary"]["metrics"]["sqnr_db"] / 10) for n in path))
            check(abs(s - pred) <= 3.0 and s < 100, f"{scheme} {y}: output SQNR {s:.2f} dB, predicted {pred:.2f}")
            line.append(f"{y} {s:6.2f} dB (predicted {pred:6.2f})")
        summaries_match_cli([src], report)
        print(f"  onnx {scheme:24} opset {opset}  " + "  ".join(line))

    # External data in, one self-contained file out.
    ext_dir = tmp / "ext"
    ext_dir.mkdir()
    onnx.save_model(onnx.load(src), ext_dir / "mlp.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="mlp.onnx.data", size_threshold=0)
    out = tmp / "mlp-ext-int8.onnx"
    # Both files given: a lone .onnx whose data file is larger than itself is refused by
    # the reader's size check before the CLI looks beside it (a reader issue, not the
    # writer's).
    export([ext_dir / "mlp.onnx", ext_dir / "mlp.onnx.data"], "int8-sym-ch0", out)
    m = onnx.load(out, load_external_data=False)
    check(all(t.data_location != TensorProto.EXTERNAL for t in m.graph.initializer), "external data left")
    a = ort.InferenceSession(str(out)).run(None, {"X": X})
    export([src], "int8-sym-ch0", tmp / "mlp-int8.onnx")
    b = ort.InferenceSession(str(tmp / "mlp-int8.onnx")).run(None, {"X": X})
    check(all(np.array_equal(p, q) for p, q in zip(a, b)), "external-data export differs")
    print("  onnx external data: inlined, outputs identical to the inline model's")

    # The reader fixture: weights in If/Loop/Scan subgraphs and Constant nodes.
    fx = ROOT / "tests/fixtures/formats2/onnx/weights.onnx"
    out = tmp / "weights-int8.onnx"
    report, rep = export([fx], "int8-sym-ch0", out)
    m = onnx.load(out)
    onnx.checker.check_model(m)  # full_check fails on the fixture itself (its Scan output shape)
    sub = [n for n in m.graph.node if n.op_type == "If"][0]
    then = [a.g for a in sub.attribute if a.name == "then_branch"][0]
    check(any(n.op_type == "DequantizeLinear" for n in then.node), "then-branch weight not rewritten")
    s0 = ort.InferenceSession(str(fx))
    s1 = ort.InferenceSession(str(out))
    # cond=True would loop forever (the fixture's Loop passes its condition through), so
    # the run takes the else-branch; the then-branch is checked above and by ORT's load.
    for cond in (False,):
        feeds = {}
        for i in s0.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            feeds[i.name] = (np.array(cond) if i.type == "tensor(bool)"
                             else rng.standard_normal(shape).astype(np.float32))
        for a, b in zip(s0.run(None, feeds), s1.run(None, feeds)):
            check(sqnr(a, b) > 25, f"weights.onnx cond={cond}: output SQNR {sqnr(a, b):.1f} dB")
    summaries_match_cli([fx], report)
    print(f"  onnx subgraph fixture: {sum(t['quantized'] for t in report['tensors'])} weights rewritten, runs")

    # Refusals, with the reason.
    old = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["h"]), helper.make_node("Squeeze", ["h"], ["Y"])], "old",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((4, 3), np.float32), "W")]),
        opset_imports=[helper.make_opsetid("", 11)], ir_version=6)
    onnx.save(old, tmp / "old.onnx")
    r = cli("quantize", tmp / "old.onnx", "--scheme", "int4-sym", "-o", tmp / "x.onnx", ok=False)
    check(r.returncode == 1 and "Squeeze" in r.stderr and not (tmp / "x.onnx").exists(), r.stderr)
    r = cli("quantize", src, "--scheme", "q4_0", "-o", tmp / "x.onnx", ok=False)
    check(r.returncode == 1 and "`q4_0`" in r.stderr, r.stderr)
    r = cli("quantize", DEMO, "--scheme", "int8-sym", "-o", tmp / "x.onnx", ok=False)
    check(r.returncode == 1 and "ONNX" in r.stderr, r.stderr)
    print("  onnx refusals: old opset with Squeeze, ggml scheme, non-ONNX input")


# --- GGUF ----------------------------------------------------------------------------

def make_odd(path):
    """Shapes the fallbacks are for: rows that do not split into blocks, 1-D, a scalar,
    3-D, an integer tensor, an F16 weight."""
    rng = np.random.default_rng(2)
    t = {
        "blk.odd.weight": rng.standard_normal((5, 40)).astype(np.float32),
        "blk.cube.weight": rng.standard_normal((2, 3, 256)).astype(np.float32),
        "blk.half.weight": rng.standard_normal((4, 512)).astype(np.float16),
        "blk.norm.weight": rng.standard_normal(7).astype(np.float16),
        "blk.scalar": np.array(0.5, dtype=np.float32),
        "blk.ids": np.arange(6, dtype=np.int32).reshape(2, 3),
    }
    save_file(t, path, metadata={"general.architecture": "quantscope-test", "note": "made by safetensors"})
    return t


GGUF_TYPES = {
    "q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
    "q4_1": gguf.GGMLQuantizationType.Q4_1, "q5_0": gguf.GGMLQuantizationType.Q5_0,
    "q5_1": gguf.GGMLQuantizationType.Q5_1, "q4_k": gguf.GGMLQuantizationType.Q4_K,
    "q6_k": gguf.GGMLQuantizationType.Q6_K, "fp16": gguf.GGMLQuantizationType.F16,
    "bf16": gguf.GGMLQuantizationType.BF16,
}
FILE_TYPES = {
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1, "q5_0": gguf.LlamaFileType.MOSTLY_Q5_0,
    "q5_1": gguf.LlamaFileType.MOSTLY_Q5_1, "q4_k": gguf.LlamaFileType.MOSTLY_Q4_K_S,
    "q6_k": gguf.LlamaFileType.MOSTLY_Q6_K, "fp16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16,
}


INT_TYPES = {np.dtype(np.int8): gguf.GGMLQuantizationType.I8,
             np.dtype(np.uint8): gguf.GGMLQuantizationType.I16,
             np.dtype(np.int16): gguf.GGMLQuantizationType.I16,
             np.dtype(np.uint16): gguf.GGMLQuantizationType.I32,
             np.dtype(np.int32): gguf.GGMLQuantizationType.I32}
INT_NP = {gguf.GGMLQuantizationType.I8: np.int8, gguf.GGMLQuantizationType.I16: np.int16,
          gguf.GGMLQuantizationType.I32: np.int32, gguf.GGMLQuantizationType.I64: np.int64}


def expected_type(a, want):
    """llama.cpp's convert_hf_to_gguf rules: 1-D -> F32; rows not a whole number of
    blocks -> F16 (gguf.quants raises QuantError and the converter falls back).
    Integer tensors: GGUF's integer type that holds them (docs/EXPORT.md)."""
    if a.dtype.kind in "iu":
        return INT_TYPES.get(a.dtype, gguf.GGMLQuantizationType.I64)
    if a.ndim <= 1:
        return gguf.GGMLQuantizationType.F32
    block, _ = gguf.GGML_QUANT_SIZES[want]
    return want if a.shape[-1] % block == 0 else gguf.GGMLQuantizationType.F16


def field(reader, key):
    f = reader.fields[key]
    return f.contents(), f.types[0]


def load_gguf(path):
    """A GGUF file's tensors as gguf reads them: C-order shapes, block types dequantized
    by gguf.quants (what quantscope's reader decodes them to)."""
    out = {}
    for t in GGUFReader(path).tensors:
        shape = [int(d) for d in reversed(t.shape)]
        if t.tensor_type in INT_NP:
            out[t.name] = np.array(t.data).reshape(shape)
        elif t.tensor_type == gguf.GGMLQuantizationType.F64:
            out[t.name] = np.array(t.data, np.float64).reshape(shape)
        else:
            out[t.name] = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape)
    return out


def gguf_tests(tmp):
    odd = tmp / "odd.safetensors"
    make_odd(odd)
    # A file the gguf package wrote, with every type quantscope reads: re-quantized from
    # its decoded values.
    all_types = ROOT / "tests/fixtures/formats2/gguf/all_types.gguf"
    for src_path in (DEMO, odd, all_types):
        if src_path.suffix == ".gguf":
            src = load_gguf(src_path)
            r0 = GGUFReader(src_path)
            meta = {k: r0.fields[k].contents() for k in ("general.architecture", "general.name")}
        else:
            src = load_file(src_path)
            meta = safetensors.safe_open(src_path, "np").metadata() or {}
        for scheme, want in GGUF_TYPES.items():
            out = tmp / f"{src_path.stem}-{scheme}.gguf"
            report, rep = export([src_path], scheme, out)
            r = GGUFReader(out)
            check(sorted(t.name for t in r.tensors) == sorted(src), f"{scheme}: tensor names")
            counts = {}
            for t in r.tensors:
                a = src[t.name]
                ty = expected_type(a, want)
                check(t.tensor_type == ty, f"{scheme} {t.name}: {t.tensor_type.name}, want {ty.name}")
                shape = list(a.shape) or [1]
                check([int(d) for d in reversed(t.shape)] == shape, f"{scheme} {t.name}: shape {t.shape}")
                check(t.data_offset % 32 == 0, f"{t.name}: offset {t.data_offset}")
                stored = t.data.tobytes()
                x = a.astype(np.float32)
                if ty in INT_NP:
                    # quantscope decodes every tensor to f32: integers beyond 2^24 come
                    # out rounded, and the report says so.
                    check(stored == a.astype(np.float32).astype(INT_NP[ty]).tobytes(), f"{t.name}: {ty.name} bytes")
                    big = np.abs(a.astype(np.float64)) > 2 ** 24
                    check(big.any() == ("2^24" in rep[t.name].get("note", "")), f"{t.name}: rounding note")
                elif ty in (gguf.GGMLQuantizationType.Q4_K, gguf.GGMLQuantizationType.Q6_K):
                    # gguf can dequantize K types but not make them: compare what it reads.
                    y = gguf.quants.dequantize(t.data, ty).reshape(x.shape)
                    same_metrics(metrics(x, y), rep[t.name]["summary"]["metrics"], f"{scheme} {t.name}")
                else:
                    check(stored == gguf.quants.quantize(x, ty).tobytes(),
                          f"{scheme} {t.name}: bytes differ from gguf.quants.quantize")
                counts[ty.name] = counts.get(ty.name, 0) + 1
                note = rep[t.name].get("note", "")
                if ty != want and ty != gguf.GGMLQuantizationType.F32 and ty not in INT_NP:
                    check("do not split" in note, f"{t.name}: fallback not reported ({note})")
            check(field(r, "general.alignment") == (32, gguf.GGUFValueType.UINT32), "alignment")
            check(field(r, "general.file_type")[0] == FILE_TYPES[scheme].value, "file_type")
            check(field(r, "quantscope.scheme")[0] == scheme, "scheme key")
            if scheme.startswith("q"):
                check(field(r, "general.quantization_version")[0] == gguf.GGML_QUANT_VERSION, "qnt version")
            if src_path.suffix == ".gguf":
                # A GGUF source's entries come over as they were, types and all (arrays
                # included), but for the keys the writer sets itself.
                ours = {"general.alignment", "general.file_type", "general.quantization_version"}
                for k, f in r0.fields.items():
                    if k.startswith("GGUF.") or k in ours or k.startswith("split."):
                        continue
                    g = r.fields.get(k)
                    check(g is not None, f"{scheme}: source key {k} carried over")
                    if g is not None:
                        check(g.types == f.types and g.contents() == f.contents(),
                              f"{scheme}: {k} = {g.contents()!r} ({g.types}), source {f.contents()!r} ({f.types})")
            else:
                for k, v in meta.items():
                    key = k if k.startswith("general.") else f"source.{k}"
                    check(field(r, key) == (v, gguf.GGUFValueType.STRING), f"metadata {key}")
            check(report["bytes"] == out.stat().st_size, "report bytes")
            summaries_match_cli([src_path], report)
            print(f"  gguf {src_path.name:18} {scheme:5}  {dict(sorted(counts.items()))}")


# --- safetensors -----------------------------------------------------------------------

# numpy has no FP8 or BF16 dtypes: those tensors' bytes, as safetensors parses them, are
# viewed with ml_dtypes.
RAW_DTYPES = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
              "BF16": ml_dtypes.bfloat16}


def load_any(path):
    """Every tensor of a file as numpy, through the safetensors package."""
    out = {}
    with safetensors.safe_open(path, "np") as f:
        for name, t in safetensors.deserialize(path.read_bytes()):
            if t["dtype"] in RAW_DTYPES:
                out[name] = np.frombuffer(bytes(t["data"]), RAW_DTYPES[t["dtype"]]).reshape(t["shape"])
            else:
                out[name] = f.get_tensor(name)
    return out


def dequantize(f, name, layout):
    """docs/EXPORT.md: W ~= (q - zero_point) * scale, the scale repeated group_size times
    along the group axis; packed codes are 32/b b-bit fields per int32, lowest first,
    each code plus 2^(b-1)."""
    bits = layout["num_bits"]
    if layout["type"] == "float":
        w = f[name].astype(np.float32)
        return w * f[name + "_scale"] if name + "_scale" in f else w
    if name + "_packed" in f:
        shape = tuple(int(d) for d in f[name + "_shape"])
        words = f[name + "_packed"].view(np.uint32).reshape(-1, f[name + "_packed"].shape[-1])
        per = 32 // bits
        fields = np.stack([(words >> (bits * i)) & ((1 << bits) - 1) for i in range(per)], axis=-1)
        q = fields.reshape(words.shape[0], -1)[:, : shape[-1]].astype(np.int64) - (1 << (bits - 1))
        q = q.reshape(shape)
    else:
        q = f[name].astype(np.int64)
    scale = f[name + "_scale"]
    zp = f[name + "_zero_point"].astype(np.int64) if name + "_zero_point" in f else np.zeros(scale.shape, np.int64)
    if layout["strategy"] == "group":
        axis = layout["axis"] if layout["axis"] is not None else q.ndim - 1
        g = layout["group_size"]
        scale = np.repeat(scale, g, axis=axis).take(range(q.shape[axis]), axis=axis)
        zp = np.repeat(zp, g, axis=axis).take(range(q.shape[axis]), axis=axis)
    return (q - zp).astype(np.float32) * scale


ST_SCHEMES = ["int8-sym-ch0", "uint8-asym", "int4-asym-group32", "uint4-sym-ch1", "int3-asym-ch0",
              "int2-sym-group16-ax0", "int16-asym", "torch-uint4-sym", "ort-int8-asym-reduced",
              "fp8-e4m3", "bf16"]


def safetensors_tests(tmp):
    odd = tmp / "odd.safetensors"
    for src_path in (DEMO, odd):
        src = load_file(src_path)
        for scheme in ST_SCHEMES:
            out = tmp / f"{src_path.stem}-{scheme}.safetensors"
            report, rep = export([src_path], scheme, out)
            f = load_any(out)
            with safetensors.safe_open(out, "np") as h:
                meta = h.metadata()
            check(meta["quantscope.scheme"] == scheme, "metadata scheme")
            layout = json.loads(meta["quantscope.layout"])
            check(sorted(layout["quantized"] + layout["kept"]) == sorted(src), "layout lists")
            for name, a in src.items():
                t = rep[name]
                if not t["quantized"]:
                    check(f[name].dtype == a.dtype and np.array_equal(f[name], a), f"{name} kept as it was")
                    continue
                check(a.ndim >= 2, f"{name} quantized")
                w = dequantize(f, name, layout)
                check(w.shape == a.shape, f"{name}: shape {w.shape}")
                same_metrics(metrics(a.astype(np.float32), w), t["summary"]["metrics"], f"{scheme} {name}")
            summaries_match_cli([src_path], report)
            nq = sum(t["quantized"] for t in report["tensors"])
            print(f"  safetensors {src_path.name:18} {scheme:22} {nq} quantized, {len(f)} tensors in the file")


def main():
    print(f"interop: {CLI}; onnxruntime {ort.__version__}, onnx {onnx.__version__}, "
          f"gguf {importlib.metadata.version('gguf')}, safetensors {safetensors.__version__}")
    with tempfile.TemporaryDirectory(prefix="quantscope-interop-") as d:
        tmp = pathlib.Path(d)
        onnx_tests(tmp)
        gguf_tests(tmp)
        safetensors_tests(tmp)
    print(f"interop: {checks} checks passed")


if __name__ == "__main__":
    main()
