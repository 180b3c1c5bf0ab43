"""Interop tests of `quantscope auto` (the mixed-precision search) in the real tools.

    .venv/bin/python tests/interop/auto_interop.py [path/to/quantscope]

1. GGUF: the mix searched over ggml candidates, written with `auto -o X.gguf`, opens in
   the `gguf` package (GGUFReader) with each tensor's type as the policy says (float
   kept as F32).
2. ONNX: the mix over linear candidates, written with `auto -o X.onnx` (QDQ per node),
   runs in ONNX Runtime; its output SQNR against ORT's float model equals our measured
   objective within ONNX_DB_GAP dB (output objective), and ORT's top-1 accuracy on the
   labelled inputs equals our measured accuracy within ACC_GAP points (accuracy
   objective), on the fixture classifier and on the digits MLP when setup built it.
3. The policy file: `quantize --policy` writes the same bytes as `auto -o`.

Tolerances come from measurement (printed below), with margin: our runs are tract's
f32 kernels and ORT's are its own, so the outputs differ by float rounding only.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from gguf import GGUFReader

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/release/quantscope")
MLP = ROOT / "tests/fixtures/auto/mlp.onnx"
MLP_NPZ = ROOT / "tests/fixtures/auto/mlp.npz"
MLP_LABELLED = ROOT / "tests/fixtures/auto/mlp_labelled.npz"
DIGITS = ROOT / ".cache/models/digits_mlp.onnx"
DIGITS_NPZ = ROOT / ".cache/models/digits_test.npz"
ONNX_DB_GAP = 0.05
ACC_GAP = 0.5

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def auto(*args):
    r = subprocess.run([BIN, "auto", *map(str, args), "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"quantscope auto {args} failed: {r.stderr}")
    return json.loads(r.stdout)


def sqnr(f, q):
    n = float(np.sum((q.astype(np.float64) - f) ** 2))
    return float("inf") if n == 0 else 10 * np.log10(float(np.sum(f.astype(np.float64) ** 2)) / n)


def ort_run(path, feeds):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def gguf_case(tmp):
    out = tmp / "mix.gguf"
    r = auto(MLP, "--inputs", MLP_NPZ, "--budget", "6bpw", "--candidates", "q8_0,q4_k,q4_0,float", "-o", out)
    mix = r["choices"][0]["mix"]
    reader = GGUFReader(str(out))
    types = {t.name: t for t in reader.tensors}
    for row in mix["tensors"]:
        t = types.get(row["name"])
        want = "F32" if row["scheme"] == "float" else row["scheme"].upper()
        check(t is not None and t.tensor_type.name == want, f"gguf: {row['name']} is {want} ({t.tensor_type.name if t else 'missing'})")
    check(len({row["scheme"] for row in mix["tensors"]}) >= 2, "gguf: the mix uses more than one type")


def onnx_case(tmp, model, npz, labels, candidates, budget):
    data = dict(np.load(npz))
    y = data.pop("y", None) if labels else None
    feeds = {k: v for k, v in data.items()}
    float_out = ort_run(model, feeds)
    out = tmp / f"{model.stem}.mix.onnx"
    policy = tmp / f"{model.stem}.policy.json"
    args = [model, "--inputs", npz, "--budget", budget, "--candidates", candidates, "-o", out, "--policy-out", policy]
    if labels:
        args += ["--labels", "y", "--objective", "accuracy"]
    r = auto(*args)
    mix = r["choices"][0]["mix"]
    q = ort_run(out, feeds)
    if labels:
        ours = mix["measured"]
        theirs = 100.0 * float(np.mean(q.argmax(axis=1) == y))
        print(f"     {model.name} at {budget}: accuracy ours {ours:.3f}% ORT {theirs:.3f}% (float {r['reference']:.3f}%)")
        check(abs(ours - theirs) <= ACC_GAP, f"onnx: {model.name} accuracy within {ACC_GAP} points of ORT's")
    else:
        ours = mix["measured"]
        theirs = sqnr(float_out, q)
        print(f"     {model.name} at {budget}: output SQNR ours {ours:.4f} dB ORT {theirs:.4f} dB")
        check(abs(ours - theirs) <= ONNX_DB_GAP, f"onnx: {model.name} output SQNR within {ONNX_DB_GAP} dB of ORT's")
    again = tmp / f"{model.stem}.policy.onnx"
    p = subprocess.run([BIN, "quantize", str(model), "--policy", str(policy), "-o", str(again)], capture_output=True, text=True)
    check(p.returncode == 0 and again.read_bytes() == out.read_bytes(), f"policy: {model.name} quantize --policy writes the same file")


def main():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        gguf_case(tmp)
        linear = "int8-sym-ch,int4-sym-ch,int4-asym-group128,int3-asym-group64,float"
        onnx_case(tmp, MLP, MLP_NPZ, False, linear, "4bpw")
        onnx_case(tmp, MLP, MLP_LABELLED, True, linear, "4bpw")
        if DIGITS.exists():
            onnx_case(tmp, DIGITS, DIGITS_NPZ, True, "int8-sym-ch,int4-sym-ch,int3-asym-group64,int2-asym-group64,float", "3bpw")
        else:
            print(f"\n!!!!!!!! SKIPPED: {DIGITS} missing; run bash scripts/setup-python.sh\n")
    if failures:
        raise SystemExit(f"{len(failures)} failures")
    print("auto interop: all passed")


if __name__ == "__main__":
    main()
