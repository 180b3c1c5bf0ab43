#!/usr/bin/env python3
"""Writes the fixtures of the non-linear scheme families (tests/fixtures/schemes/).

Run: scripts/gen_scheme_fixtures.sh (makes .venv, fetches the bitsandbytes wheel with
`pip download --no-deps`, then runs this with BNB_DIR pointing at the unpacked wheel).

Where each expected value comes from:
- NF4 / FP4: the 16-level tables are read out of the bitsandbytes package's own source
  (bitsandbytes/functional.py, get_4bit_type) with `ast`, not typed here. Codes and
  absmax are computed in numpy by bitsandbytes' reference rule (backends/default/ops.py,
  the `quantize_4bit` that its CPU backend runs): flatten, per-block absmax in f32,
  multiply by the f32 reciprocal of max(absmax, 1e-38) (the short tail block divides
  instead), clamp to [-1, 1], `bucketize` against the f32 midpoints of the sorted levels
  (np.searchsorted side="left" is torch.bucketize right=False: a value on a midpoint
  takes the lower level), FP4 codes mapped back through a stable argsort, two codes per
  byte with the first in the high nibble, an odd count padded with the code of 0.0.
  That numpy rule is a second implementation: the committed codes and absmax are
  bitsandbytes' own quantize_4bit (0.50.2 on torch 2.5.1's CPU, scripts/bnb_presets.py
  run in .venv-torch), and the generator stops if the two disagree; where bitsandbytes
  refuses a request the numpy rule's answer is kept and the case says so.
  One corner of bitsandbytes' CPU library depends on the CPU: FP4's code 8 (-0.0) times a
  subnormal absmax comes out -0.0 from the AVX2 build of its kernel (which wrote the
  committed fixtures, and which quantscope matches) but +0.0 on a machine with AVX-512;
  regenerating there rewrites those zeros' sign in five fp4 files, nothing else.
  Dequantization is also bitsandbytes' own: its CPU library
  (libbitsandbytes_cpu.so, cdequantize_blockwise_cpu_{nf4,fp4}_fp32, called by ctypes;
  it needs no torch) turns our codes and absmax back into values.
- FP8: ONNX's reference evaluator, Cast with saturate=1 (ml_dtypes' own cast does not
  saturate: it overflows to NaN for E4M3FN and Inf for E5M2). FP16: numpy's astype,
  BF16: ml_dtypes' astype, then +-Inf replaced by +-max finite (the saturation rule
  quant/float.rs documents).
- Powers of two / APoT: numpy, from the level sets and the top-exponent rule of
  quant/log.rs written out independently here (itertools over the terms, argmin of the
  distance with ties to the larger level).
- Mixed INT8 + FP16: numpy for the outlier columns and FP16 values; onnxruntime's
  compute_scale_zp / quantize_nparray for the int8 rows.
"""

import ast
import ctypes
import itertools
import json
import os
from pathlib import Path

import ml_dtypes
import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from onnxruntime.quantization.quant_utils import (
    compute_scale_zp,
    get_qmin_qmax_for_qType,
    quantize_nparray,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/schemes"
BNB = Path(os.environ["BNB_DIR"]) / "bitsandbytes"


# ---------------------------------------------------------------- NF4 / FP4

def bnb_tables():
    """The `data = [...]` lists of get_4bit_type for "nf4" and "fp4", as written in the
    installed bitsandbytes source."""
    tree = ast.parse((BNB / "functional.py").read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "get_4bit_type")
    tables = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            c = node.test.comparators[0]
            if isinstance(c, ast.Constant) and c.value in ("nf4", "fp4"):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and stmt.targets[0].id == "data":
                        tables[c.value] = ast.literal_eval(stmt.value)
    assert set(tables) == {"nf4", "fp4"}, tables.keys()
    out = {}
    for name, data in tables.items():
        # torch.tensor(list) is float32; then data.div_(data.abs().max()) in float32.
        code = np.array(data, dtype=np.float32)
        out[name] = (code / np.abs(code).max()).astype(np.float32)
    return out


def bnb_quantize(x, code, block):
    """bitsandbytes' reference quantize_4bit, in numpy (see the module docstring)."""
    order = np.argsort(code, kind="stable")
    mids = ((code[order[:-1]] + code[order[1:]]) / np.float32(2)).astype(np.float32)
    flat = x.reshape(-1).astype(np.float32)
    n = flat.size
    full = n - n % block
    floor = np.float32(1e-38)
    absmax, scaled = [], []
    for s in range(0, n, block):
        b = flat[s:s + block]
        am = np.abs(b).max()
        absmax.append(am)
        d = np.maximum(am, floor)
        if s < full:
            scaled.append(np.clip(b * (np.float32(1) / d), -1, 1))
        else:
            scaled.append(np.clip(b / d, -1, 1))
    scaled = np.concatenate(scaled).astype(np.float32) if scaled else np.zeros(0, np.float32)
    if scaled.size % 2:
        scaled = np.concatenate([scaled, np.zeros(1, np.float32)])
    q = order[np.searchsorted(mids, scaled, side="left")].astype(np.uint8)
    packed = (q[::2] << 4) | q[1::2]
    return packed.astype(np.uint8), np.array(absmax, dtype=np.float32)


def bnb_dequantize(packed, absmax, n, block, kind):
    """bitsandbytes' own CPU kernel (needs an even count: one row of n values)."""
    lib = ctypes.CDLL(str(BNB / "libbitsandbytes_cpu.so"))
    fn = getattr(lib, f"cdequantize_blockwise_cpu_{kind}_fp32")
    a = np.ascontiguousarray(packed, dtype=np.uint8)
    am = np.ascontiguousarray(absmax, dtype=np.float32)
    out = np.zeros(n, dtype=np.float32)
    ptr = lambda arr: ctypes.c_void_p(arr.ctypes.data)
    fn(ptr(a), ptr(am), ptr(out), ctypes.c_longlong(block), ctypes.c_longlong(1), ctypes.c_longlong(n))
    return out


def bnb_presets(requests):
    """bitsandbytes' quantize_4bit for each request, in .venv-torch (bnb_presets.py)."""
    import subprocess
    import sys
    import tempfile
    python = os.environ.get("TORCH_PYTHON", str(ROOT / ".venv-torch/bin/python"))
    if not Path(python).exists():
        sys.exit(f"{python} is missing: run scripts/gen_scheme_fixtures.sh, which makes it")
    with tempfile.TemporaryDirectory() as tmp:
        req, out = Path(tmp) / "request.json", Path(tmp) / "out.npz"
        req.write_text(json.dumps(requests))
        subprocess.run([python, str(ROOT / "scripts/bnb_presets.py"), str(req), str(out)], check=True)
        with np.load(out) as z:
            return {k: z[k] for k in z.files}


def four_bit(cases):
    tables = bnb_tables()
    np.savez(OUT / "bnb_tables.npz", nf4=tables["nf4"], fp4=tables["fp4"])
    rng = np.random.default_rng(4)
    inputs = {
        "gauss": rng.normal(0, 0.05, (3, 100)).astype(np.float32),
        "odd": rng.standard_t(3, 37).astype(np.float32),
        "blocks": np.concatenate([
            np.zeros(64, np.float32),  # a zero block: absmax 0
            (rng.normal(size=64) * 1e-39).astype(np.float32),  # subnormal absmax
            rng.laplace(0, 2.0, 128).astype(np.float32),
        ]).reshape(4, 64),
    }
    for kind in ("nf4", "fp4"):
        # A block whose absmax is 1.0, so scaled == x: every midpoint exactly (a tie),
        # and the f32 neighbours on either side.
        code = tables[kind]
        order = np.argsort(code, kind="stable")
        mids = ((code[order[:-1]] + code[order[1:]]) / np.float32(2)).astype(np.float32)
        vals = np.concatenate([[1.0, -1.0], mids, np.nextafter(mids, np.float32(2)),
                               np.nextafter(mids, np.float32(-2))]).astype(np.float32)
        vals = np.concatenate([vals, np.zeros(64 - vals.size % 64, np.float32)])
        inputs[f"ties_{kind}"] = vals
    for name, x in inputs.items():
        np.save(OUT / f"fourbit_in_{name}.npy", x)
    from safetensors.numpy import load_file
    demo = load_file(str(ROOT / "www/public/demo.safetensors"))["layers.0.attn.qkv.weight"]
    import tempfile
    scratch = Path(tempfile.mkdtemp())
    np.save(scratch / "demo_qkv.npy", demo)  # the demo model is committed already
    jobs = []
    for name, x in inputs.items():
        for scheme, kind, block in [("nf4", "nf4", 64), ("fp4", "fp4", 64), ("nf4-b32", "nf4", 32), ("fp4-b128", "fp4", 128)]:
            if name.startswith("ties_") and not name.endswith(kind):
                continue
            jobs.append((name, x, scheme, kind, block, f"fourbit_in_{name}.npy"))
    for scheme, kind, block in [("nf4", "nf4", 64), ("fp4", "fp4", 64)]:
        jobs.append(("demo_qkv", demo, scheme, kind, block, "demo:layers.0.attn.qkv.weight"))
    got = bnb_presets([{"key": f"{j[0]}/{j[2]}",
                        "input": str(scratch / "demo_qkv.npy" if j[0] == "demo_qkv" else OUT / f"fourbit_in_{j[0]}.npy"),
                        "kind": j[3], "block": j[4]} for j in jobs])
    for name, x, scheme, kind, block, input_ref in jobs:
        packed, absmax = bnb_quantize(x, tables[kind], block)
        key = f"{name}/{scheme}"
        if f"{key}.packed" in got:
            for a, b, what in [(got[f"{key}.packed"], packed, "codes"), (got[f"{key}.absmax"], absmax, "absmax")]:
                if not np.array_equal(a, b):
                    raise SystemExit(f"{key}: bitsandbytes' {what} differ from the numpy rule")
            packed, absmax = got[f"{key}.packed"], got[f"{key}.absmax"]
            quantized_by = "bitsandbytes quantize_4bit"
        else:
            quantized_by = "numpy (bitsandbytes refused this request)"
        n = x.size
        if n % 2 == 0:
            deq = bnb_dequantize(packed, absmax, n, block, kind)
            deq_by = "libbitsandbytes_cpu"
        else:
            q = np.stack([packed >> 4, packed & 15], 1).reshape(-1)[:n]
            deq = (tables[kind][q] * np.repeat(absmax, block)[:n]).astype(np.float32)
            deq_by = "numpy"
        out = f"fourbit_{name}.{scheme}.npz"
        save = np.savez_compressed if name == "demo_qkv" else np.savez
        save(OUT / out, packed=packed, absmax=absmax, dequantized=deq)
        cases["fourbit"].append({"input": input_ref, "scheme": scheme, "expected": out,
                                 "quantized_by": quantized_by, "dequantized_by": deq_by})


# ---------------------------------------------------------------- floats

def onnx_cast(x, to):
    node = helper.make_node("Cast", ["x"], ["y"], to=to, saturate=1)
    graph = helper.make_graph(
        [node], "cast", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", to, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def representable(kind):
    """Every finite value of a format, ascending (from its bit patterns)."""
    if kind in ("fp8-e4m3", "fp8-e5m2"):
        dt = ml_dtypes.float8_e4m3fn if kind == "fp8-e4m3" else ml_dtypes.float8_e5m2
        v = np.arange(256, dtype=np.uint8).view(dt).astype(np.float64)
    elif kind == "fp16":
        v = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
    else:
        with np.errstate(invalid="ignore"):
            v = np.arange(65536, dtype=np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)
    return np.unique(v[np.isfinite(v)])


def cast_bits(x, kind):
    if kind == "fp8-e4m3":
        return onnx_cast(x, TensorProto.FLOAT8E4M3FN).view(np.uint8).astype(np.uint16)
    if kind == "fp8-e5m2":
        return onnx_cast(x, TensorProto.FLOAT8E5M2).view(np.uint8).astype(np.uint16)
    if kind == "fp16":
        with np.errstate(over="ignore"):
            y = x.astype(np.float16)
        top = np.finfo(np.float16).max
    else:
        y, top = x.astype(ml_dtypes.bfloat16), ml_dtypes.finfo(ml_dtypes.bfloat16).max
    y = np.where(np.isinf(y), np.copysign(top, x).astype(y.dtype), y)
    return y.view(np.uint16)


def floats(cases):
    rng = np.random.default_rng(16)
    for kind in ("fp16", "bf16", "fp8-e4m3", "fp8-e5m2"):
        rep = representable(kind)
        mids = ((rep[:-1] + rep[1:]) / 2)
        mids = mids[np.abs(mids) < 3e38].astype(np.float32)
        pick = mids if mids.size <= 600 else rng.choice(mids, 600, replace=False)
        top = rep[-1]
        sub = rep[(rep > 0)][:8]  # the smallest values: subnormals first
        x = np.concatenate([
            pick,  # exact ties between neighbours: round to even
            np.nextafter(pick, np.float32(np.inf)), np.nextafter(pick, np.float32(-np.inf)),
            sub, -sub, sub / 2, sub * 1.5, sub / 3,
            [top, -top, top * 1.01, top * 2, -top * 4, 3e38, -3e38, 1e-45, -1e-45, 0.0, -0.0],
            (rng.normal(size=400) * 10.0 ** rng.uniform(-9, 6, 400)),
        ])
        with np.errstate(over="ignore"):
            x = x.astype(np.float32)
        x = x[np.isfinite(x)]  # BF16's max * 2 is beyond f32: tensors hold finite values
        name = kind.replace("-", "_")
        np.save(OUT / f"float_in_{name}.npy", x)
        np.savez(OUT / f"float_{name}.npz", bits=cast_bits(x, kind))
        special = np.array([np.nan, np.inf, -np.inf], dtype=np.float32)
        y = cast_bits(special, kind)
        cases["float"].append({"input": f"float_in_{name}.npy", "scheme": kind,
                               "expected": f"float_{name}.npz",
                               "special": {"inputs": ["nan", "inf", "-inf"],
                                           "bits": [int(b) for b in y]}})


# ---------------------------------------------------------------- powers of two

def log_levels(additive, bits, e, lo):
    """Magnitudes of pot/apot (quant/log.rs module docs), ascending."""
    m = bits - 1
    if additive:
        m0, m1 = (m + 1) // 2, m // 2
        p0 = [0.0] + [2.0 ** (e - 2 * i) for i in range(2 ** m0 - 1) if e - 2 * i >= lo]
        p1 = [0.0] + [2.0 ** (e - 1 - 2 * i) for i in range(2 ** m1 - 1) if e - 1 - 2 * i >= lo]
        mags = {a + b for a, b in itertools.product(p0, p1)}
    else:
        mags = {0.0} | {2.0 ** (e - i) for i in range(2 ** m - 1) if e - i >= lo}
    return np.array(sorted(mags), dtype=np.float64)


def log_top(additive, bits, absmax):
    """Top exponent: the E whose top level t * 2^E is nearest absmax, ties to the larger."""
    t = 1.5 if additive and (bits - 1) // 2 > 0 else 1.0
    if absmax == 0:
        return 0
    guess = int(np.floor(np.log2(absmax / t)))
    cands = [e for e in range(guess - 2, guess + 3) if -126 <= e <= 127]
    dist = [abs(t * 2.0 ** e - float(absmax)) for e in cands]
    best = min(dist)
    return max(e for e, d in zip(cands, dist) if d == best)


def log_reference(x, additive, bits, rng_e):
    absmax = float(np.abs(x).max()) if x.size else 0.0
    e = rng_e[1] if rng_e else log_top(additive, bits, absmax)
    lo = rng_e[0] if rng_e else -126
    mags = log_levels(additive, bits, e, lo)
    a = np.abs(x.astype(np.float64))
    dist = np.abs(a[:, None] - mags[None, :])
    # argmin over reversed levels: a tie picks the larger magnitude.
    idx = mags.size - 1 - np.argmin(dist[:, ::-1], axis=1)
    codes = np.where((x < 0) & (idx > 0), idx | (1 << (bits - 1)), idx).astype(np.uint8)
    values = (np.where(x < 0, -1.0, 1.0) * mags[idx]).astype(np.float32)
    values[idx == 0] = 0.0
    return e, mags, codes, values


def log_schemes(cases):
    rng = np.random.default_rng(2)
    schemes = [("pot4", False, 4, None), ("pot3", False, 3, None), ("pot8", False, 8, None),
               ("apot4", True, 4, None), ("apot5", True, 5, None), ("apot6", True, 6, None),
               ("pot5-e-8_0", False, 5, (-8, 0)), ("apot4-e-5_-1", True, 4, (-5, -1))]
    base = {
        "gauss": rng.normal(0, 0.1, 500).astype(np.float32),
        "laplace": rng.laplace(0, 3.0, (10, 30)).astype(np.float32),
    }
    for scheme, additive, bits, rng_e in schemes:
        inputs = dict(base)
        # Ties: the absmax fixes E; then every midpoint between levels below it.
        e = rng_e[1] if rng_e else log_top(additive, bits, 1.0)
        mags = log_levels(additive, bits, e, rng_e[0] if rng_e else -126)
        mids = ((mags[:-1] + mags[1:]) / 2).astype(np.float32)
        inputs["ties"] = np.concatenate([[1.0], mids[mids < 1.0], -mids[mids < 1.0]]).astype(np.float32)
        for name, x in inputs.items():
            e, mags, codes, values = log_reference(x.reshape(-1), additive, bits, rng_e)
            inp = f"log_in_{name}.npy" if name != "ties" else f"log_in_ties.{scheme}.npy"
            np.save(OUT / inp, x)
            out = f"log_{name}.{scheme}.npz"
            np.savez(OUT / out, codes=codes, values=values, magnitudes=mags.astype(np.float32),
                     top_exponent=np.array([e], dtype=np.int32))
            cases["log"].append({"input": inp, "scheme": scheme, "expected": out})


# ---------------------------------------------------------------- mixed

def mixed(cases):
    rng = np.random.default_rng(8)
    w = rng.normal(0, 0.125, (48, 40)).astype(np.float32)
    w[:, [5, 31]] *= 12.0
    w[:, 17] = 0.0  # an all-zero column
    np.save(OUT / "mixed_in.npy", w)
    colmax = np.abs(w).max(axis=0)
    qmin, qmax = get_qmin_qmax_for_qType(TensorProto.INT8, symmetric=True)
    for scheme, rule, value in [("mixed-int8-fp16-t1", "t", 1.0), ("mixed-int8-fp16-top5", "top", 5.0),
                                ("mixed-int8-fp16-top50", "top", 50.0)]:
        if rule == "t":
            out_cols = np.nonzero(colmax >= value)[0]
        else:
            n = int(np.ceil(value / 100 * w.shape[1]))
            out_cols = np.sort(np.argsort(-colmax, kind="stable")[:n])
        rest = w.copy()
        rest[:, out_cols] = 0.0
        scales, codes = [], []
        for row in rest:
            rmin, rmax = min(row.min(), 0.0), max(row.max(), 0.0)
            zp, scale = compute_scale_zp(np.array(rmin, np.float32), np.array(rmax, np.float32),
                                         qmin, qmax, symmetric=True)
            scales.append(np.float32(scale))
            codes.append(quantize_nparray(TensorProto.INT8, row, scale, zp))
        scales = np.array(scales, dtype=np.float32)
        codes = np.stack(codes).astype(np.int8)
        deq = (codes.astype(np.float32) * scales[:, None]).astype(np.float32)
        deq[:, out_cols] = w[:, out_cols].astype(np.float16).astype(np.float32)
        out = f"mixed.{scheme}.npz"
        np.savez(OUT / out, outlier_cols=out_cols.astype(np.int32), scales=scales, codes=codes,
                 dequantized=deq)
        cases["mixed"].append({"input": "mixed_in.npy", "scheme": scheme, "expected": out})


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    cases = {"fourbit": [], "float": [], "log": [], "mixed": []}
    four_bit(cases)
    floats(cases)
    log_schemes(cases)
    mixed(cases)
    (OUT / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
