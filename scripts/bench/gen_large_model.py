#!/usr/bin/env python3
"""Large model files for the open/read benchmark (issue 5), and the Python peers.

  gen_large_model.py DIR [--huge]  writes DIR/large.safetensors (60 F16 tensors of
                                   2048 x 2048, 503 MB) and DIR/large-q8_0.gguf (112
                                   Q8_0 tensors of 2048 x 2048, 499 MB), unless present;
                                   --huge adds DIR/huge.safetensors (256 F16 tensors of
                                   2048 x 2048, 2.1 GB)
  gen_large_model.py --peer FILE   times the format's own Python reader on FILE and
                                   prints JSON {list_ms, read_ms}: safetensors'
                                   safe_open (numpy) with every tensor cast to float32,
                                   or gguf's GGUFReader with gguf.quants.dequantize

Written with the real tools (safetensors, gguf), seeded; not committed (target/).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

SIDE = 2048


def tensors(count, seed):
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield f"layers.{i}.weight", (rng.standard_normal((SIDE, SIDE), dtype=np.float32) * 0.02)


def write(out: Path, huge: bool):
    out.mkdir(parents=True, exist_ok=True)
    files = []
    st = out / "large.safetensors"
    if not st.exists():
        from safetensors.numpy import save_file
        save_file({k: v.astype(np.float16) for k, v in tensors(60, 1)}, str(st) + ".tmp")
        Path(str(st) + ".tmp").rename(st)
    files.append(str(st))
    gg = out / "large-q8_0.gguf"
    if not gg.exists():
        import gguf
        w = gguf.GGUFWriter(str(gg) + ".tmp", "bench")
        q = gguf.GGMLQuantizationType.Q8_0
        for k, v in tensors(112, 2):
            w.add_tensor(k, gguf.quants.quantize(v, q), raw_dtype=q)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        Path(str(gg) + ".tmp").rename(gg)
    files.append(str(gg))
    if huge:
        big = out / "huge.safetensors"
        if not big.exists():
            # Written tensor by tensor (the safetensors package wants every array at
            # once, 2 GB of them): the header first, then each F16 array's bytes.
            names = [f"layers.{i}.weight" for i in range(256)]
            size = SIDE * SIDE * 2
            header = {n: {"dtype": "F16", "shape": [SIDE, SIDE],
                          "data_offsets": [i * size, (i + 1) * size]} for i, n in enumerate(names)}
            h = json.dumps(header, separators=(",", ":")).encode()
            h += b" " * (-len(h) % 8)
            with open(str(big) + ".tmp", "wb") as f:
                f.write(len(h).to_bytes(8, "little") + h)
                for _, v in tensors(256, 3):
                    f.write(v.astype("<f2").tobytes())
            Path(str(big) + ".tmp").rename(big)
        files.append(str(big))
    print(json.dumps({"files": files}))


def peer(path: str):
    t0 = time.perf_counter()
    if path.endswith(".safetensors"):
        from safetensors import safe_open
        with safe_open(path, "np") as f:
            names = list(f.keys())
            t1 = time.perf_counter()
            n = sum(f.get_tensor(k).astype(np.float32).size for k in names)
    else:
        import gguf
        reader = gguf.GGUFReader(path)
        names = [t.name for t in reader.tensors]
        t1 = time.perf_counter()
        n = sum(gguf.quants.dequantize(t.data, t.tensor_type).size for t in reader.tensors)
    t2 = time.perf_counter()
    print(json.dumps({"tensors": len(names), "values": int(n),
                      "list_ms": (t1 - t0) * 1e3, "read_ms": (t2 - t1) * 1e3}))


if __name__ == "__main__":
    if sys.argv[1] == "--peer":
        peer(sys.argv[2])
    else:
        write(Path(sys.argv[1]), "--huge" in sys.argv)
