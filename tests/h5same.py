#!/usr/bin/python3
"""h5same.py A.h5 B.h5 DATASET... — exit 0 when every named dataset has the same shape, dtype and bytes in both."""
import sys
import h5py
import numpy as np

a, b, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
    for n in names:
        x, y = fa[n][()], fb[n][()]
        if np.shape(x) != np.shape(y) or np.asarray(x).dtype != np.asarray(y).dtype or np.asarray(x).tobytes() != np.asarray(y).tobytes():
            print(f"# {n}: differs ({np.shape(x)} vs {np.shape(y)})")
            sys.exit(1)
