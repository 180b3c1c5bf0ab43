#!/usr/bin/env python3
"""Makes the training lab's built-in dataset: scikit-learn's digits (1,797 8x8 images of
handwritten digits, 10 classes; BSD-3-Clause, scikit-learn's COPYING is copied beside
the output) as an .npz with x_train, y_train, x_test, y_test.

The source is the file the scikit-learn wheel ships (sklearn/datasets/data/digits.csv.gz),
read straight out of the wheel with zipfile: `pip download` fetches the wheel into a
cache, nothing is installed, and only the standard library runs here (so `npm start` on a
fresh machine needs no test venv). Pixel counts 0..16 become float32 in [0, 1] (/16);
labels int64. The split is stratified: in each class, a permutation seeded by
`random.Random(SEED)` puts the first 20 % (rounded) in the test split.

    python3 scripts/digits.py [--cache .cache/digits] [--out www/public/digits.npz]
"""

import argparse
import csv
import glob
import gzip
import hashlib
import io
import os
import random
import struct
import subprocess
import sys
import zipfile

SKLEARN = "1.7.2"
# The wheel pip fetches does not depend on this machine: one platform and Python, pinned.
WHEEL_ARGS = ["--platform", "manylinux_2_17_x86_64", "--python-version", "3.12",
              "--implementation", "cp", "--only-binary=:all:", "--no-deps"]
MEMBER = "sklearn/datasets/data/digits.csv.gz"
LICENSE = f"scikit_learn-{SKLEARN}.dist-info/licenses/COPYING"
# sha256 of the member in scikit-learn 1.7.2's wheel: a different file is refused.
MEMBER_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
SEED = 0
TEST_FRACTION = 0.2


def fetch_wheel(cache):
    found = glob.glob(os.path.join(cache, f"scikit_learn-{SKLEARN}-*.whl"))
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    print(f"digits: pip download scikit-learn=={SKLEARN} (the wheel only, into {cache})")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    f"scikit-learn=={SKLEARN}", "-d", cache, *WHEEL_ARGS], check=True)
    found = glob.glob(os.path.join(cache, f"scikit_learn-{SKLEARN}-*.whl"))
    if not found:
        sys.exit(f"digits: pip left no scikit-learn {SKLEARN} wheel in {cache}")
    return found[0]


def npy(array_bytes, dtype, shape):
    """One .npy file (format 1.0) around raw little-endian bytes."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join(f"{d}," for d in shape) if len(shape) == 1 else ", ".join(map(str, shape)))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + array_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=".cache/digits")
    ap.add_argument("--out", default="www/public/digits.npz")
    args = ap.parse_args()

    wheel = fetch_wheel(args.cache)
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(MEMBER)
        license_text = z.read(LICENSE)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MEMBER_SHA256:
        sys.exit(f"digits: {MEMBER} in {wheel} has sha256 {digest}, expected {MEMBER_SHA256}")
    rows = [r for r in csv.reader(io.StringIO(gzip.decompress(raw).decode())) if r]
    if len(rows) != 1797 or any(len(r) != 65 for r in rows):
        sys.exit(f"digits: expected 1797 rows of 64 pixels and a label, got {len(rows)} rows")
    x = [[float(v) for v in r[:64]] for r in rows]
    y = [int(float(r[64])) for r in rows]

    rng = random.Random(SEED)
    train, test = [], []
    for c in range(10):
        idx = [i for i, v in enumerate(y) if v == c]
        rng.shuffle(idx)
        k = round(TEST_FRACTION * len(idx))
        test += idx[:k]
        train += idx[k:]
    train.sort()
    test.sort()

    def xs(ids):
        return struct.pack(f"<{len(ids) * 64}f", *[v / 16.0 for i in ids for v in x[i]])

    def ys(ids):
        return struct.pack(f"<{len(ids)}q", *[y[i] for i in ids])

    members = {
        "x_train.npy": npy(xs(train), "<f4", (len(train), 64)),
        "y_train.npy": npy(ys(train), "<i8", (len(train),)),
        "x_test.npy": npy(xs(test), "<f4", (len(test), 64)),
        "y_test.npy": npy(ys(test), "<i8", (len(test),)),
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    os.replace(tmp, args.out)
    with open(os.path.splitext(args.out)[0] + ".LICENSE.txt", "wb") as f:
        f.write(b"scikit-learn's digits dataset (sklearn/datasets/data/digits.csv.gz, "
                b"scikit-learn " + SKLEARN.encode() + b"), under scikit-learn's license:\n\n")
        f.write(license_text)
    print(f"digits: {args.out}: {len(train)} train, {len(test)} test (seed {SEED})")


if __name__ == "__main__":
    main()
