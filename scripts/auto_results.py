#!/usr/bin/env python3
"""Measures docs/AUTO.md's table: on each model, `quantscope auto --json` at 3, 4 and 5
bits per searched weight; for each budget the searched mix (its size and its measured
objective) against the best uniform scheme that fits the same budget (the CLI measures
both as whole models). Standard library only; the models are the ones setup fetches.

    python3 scripts/auto_results.py [--cli target/release/quantscope] [--json out.json]
"""

import argparse
import glob
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The CLI's default list plus 3- and 2-bit linear schemes: the default's smallest
# candidate (4-bit with its scales) is above 4 bits per weight, so without these no
# mix fits the 3 and 4 bpw budgets.
CANDIDATES = "int8-sym-ch,int4-sym-ch,int4-asym-group128,int3-sym-ch,int3-asym-group32,int2-asym-group32,int2-sym-ch,q8_0,q4_k,nf4,float"


def site_file(rel):
    hits = sorted(glob.glob(str(ROOT / ".venv/lib/python*/site-packages" / rel)))
    return pathlib.Path(hits[0]) if hits else None


def models():
    """(label, path, extra CLI arguments)."""
    out = []
    digits = ROOT / ".cache/models/digits_mlp.onnx"
    if digits.is_file():
        out.append(("digits MLP (accuracy, %)", digits, ["--inputs", str(ROOT / ".cache/models/digits_test.npz"), "--labels", "y"]))
    for name, dims in [("ch_ppocr_mobile_v2.0_cls_infer.onnx", ["x.2=48", "x.3=192"]), ("ch_PP-OCRv4_rec_infer.onnx", ["x.2=48", "x.3=320"])]:
        p = site_file("rapidocr_onnxruntime/models/" + name)
        if p:
            args = []
            for d in dims:
                args += ["--dim", d]
            out.append((f"PaddleOCR {name.removesuffix('.onnx')} (output SQNR, dB)", p, args))
    minilm = ROOT / ".cache/models/all-MiniLM-L6-v2.onnx"
    if minilm.is_file():
        out.append(("all-MiniLM-L6-v2 (output SQNR, dB)", minilm, ["--dim", "sequence=16"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "target/release/quantscope"))
    ap.add_argument("--json")
    a = ap.parse_args()
    rows, raw = [], {}
    for label, path, extra in models():
        t = time.time()
        r = subprocess.run([a.cli, "auto", str(path), "--budget", "3bpw,4bpw,5bpw", "--candidates", CANDIDATES, "--json", *extra], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{label}: quantscope auto failed:\n{r.stderr}", file=sys.stderr)
            sys.exit(1)
        rep = json.loads(r.stdout)
        rep = rep.get("report", rep)
        raw[label] = rep
        wall = time.time() - t
        print(f"{label}: {rep['tensors']} tensors, {rep['sensitivity_measurements']} measurements, sensitivity {rep['sensitivity_ms'] / 1000:.1f} s, search {rep['search_ms']:.1f} ms, wall {wall:.0f} s", file=sys.stderr)
        for c in rep["choices"]:
            m = c.get("mix") or {}
            rows.append(
                (
                    label,
                    c["budget"],
                    m.get("bpw"),
                    m.get("measured"),
                    m.get("estimated"),
                    c.get("best_uniform"),
                    c.get("best_uniform_measured"),
                    c.get("beats_uniform"),
                )
            )
    f = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"
    print("| model (objective) | budget | mix bpw | mix measured | mix estimated | best uniform in budget | its measured | mix beats it |")
    print("|---|---|---:|---:|---:|---|---:|---|")
    for label, b, bpw, meas, est, uni, umeas, beats in rows:
        budget = f"{b['value']:g} {b['unit']}" if isinstance(b, dict) else str(b)
        print(f"| {label} | {budget} | {f(bpw)} | {f(meas)} | {f(est)} | {uni or '-'} | {f(umeas)} | {'-' if beats is None else ('yes' if beats else 'no')} |")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
