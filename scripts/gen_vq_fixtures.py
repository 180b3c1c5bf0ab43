#!/usr/bin/env python3
"""Writes tests/fixtures/schemes/vq_sklearn.npz: scikit-learn's KMeans (Lloyd, one
init, tol=0) from given initial centroids, the reference for quantscope's k-means steps
(quant/vq.rs `lloyd_from`, `lloyd_vectors_from`; tests/vq_reference.rs).

Run: .venv/bin/python scripts/gen_vq_fixtures.py (scikit-learn pinned in
scripts/requirements.txt). Each case stores the data (float32), the initial
centroids, the iteration cap, and scikit-learn's cluster_centers_ (as float32) and labels_.
The initial centroids are data points spread over the sorted values (scalar cases) or
distinct sub-vectors (vector cases), so no cluster starts empty: scikit-learn moves an
empty cluster to a far point, quantscope keeps it where it is.
"""

import os

import numpy as np
from sklearn.cluster import KMeans

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "schemes", "vq_sklearn.npz")
rng = np.random.default_rng(2026)
arrays = {}
cases = []


def fit(name, points, init, max_iter):
    # float64 throughout: scikit-learn then sums and divides in float64 as quantscope's
    # Lloyd steps do.
    km = KMeans(n_clusters=len(init), init=init.astype(np.float64), n_init=1, algorithm="lloyd", tol=0.0, max_iter=max_iter)
    km.fit(points.astype(np.float64))
    arrays[f"{name}.data"] = points.astype(np.float32)
    arrays[f"{name}.init"] = init.astype(np.float32)
    arrays[f"{name}.iters"] = np.array([max_iter], dtype=np.int64)
    arrays[f"{name}.centers"] = km.cluster_centers_.astype(np.float32)
    arrays[f"{name}.labels"] = km.labels_.astype(np.uint8)
    arrays[f"{name}.n_iter"] = np.array([km.n_iter_], dtype=np.int64)
    cases.append(name)


# Scalar k-means: Gaussian and heavy-tailed weights, a few cluster counts.
for k, dist, n in [(4, "normal", 400), (16, "normal", 1500), (8, "laplace", 1000), (32, "normal", 1500)]:
    x = (rng.standard_normal(n) if dist == "normal" else rng.laplace(size=n)).astype(np.float32)
    s = np.sort(x)
    init = s[np.linspace(0, n - 1, k + 2)[1:-1].astype(int)]
    fit(f"scalar_{dist}_k{k}", x.reshape(-1, 1), init.reshape(-1, 1), 300)
# A capped run: the iteration limit stops it before convergence.
x = rng.standard_normal(1000).astype(np.float32)
s = np.sort(x)
fit("scalar_capped_k16", x.reshape(-1, 1), s[np.linspace(0, 999, 18)[1:-1].astype(int)].reshape(-1, 1), 3)
# Vector k-means (the product quantizer's) on 4-value sub-vectors.
for k, d in [(8, 4), (16, 2)]:
    pts = rng.standard_normal((600, d)).astype(np.float32)
    init = pts[rng.choice(len(pts), size=k, replace=False)]
    fit(f"vector_d{d}_k{k}", pts, init, 300)


np.savez(out, **arrays)
print(f"wrote {out}: {', '.join(cases)}")
