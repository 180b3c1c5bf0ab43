"""Writes the file of issue 14: an .npz holding one deflated 1-D float32 array of
268,435,456 zeros (1 GiB of values, about 1 MB on disk), exactly as
numpy.savez_compressed makes it. Too large in memory terms to commit, so the tests make
it when they run (tests/budget_cli.rs, tests/e2e/budget.test.mjs) and keep it in their
temporary folder.

    python scripts/gen_zeros_npz.py OUT.npz [COUNT]
"""

import sys

import numpy as np


def main() -> None:
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 268_435_456
    # np.zeros maps zero pages lazily: deflating them reads the shared zero page, so
    # making the file needs far less than 1 GiB of memory.
    np.savez_compressed(out, zeros=np.zeros(count, dtype=np.float32))


if __name__ == "__main__":
    main()
