#!/usr/bin/python3
"""Writes M16.csv and b16.csv, the inputs of the README's noisy n = 16 solve: an SPD matrix with
eigenvalues log-spaced in [1, 60] and random orthogonal eigenvectors, and a standard normal b.

    /usr/bin/python3 examples/data/make_m16.py examples/data   # rewrites the shipped copies
"""
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(16)
q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
m = q @ np.diag(np.logspace(0.0, np.log10(60.0), 16)) @ q.T
m = 0.5 * (m + m.T)
b = rng.standard_normal(16)
np.savetxt(f"{out}/M16.csv", m, delimiter=",", fmt="%.17g")
np.savetxt(f"{out}/b16.csv", b[:, None], delimiter=",", fmt="%.17g")
