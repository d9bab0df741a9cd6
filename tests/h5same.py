#!/usr/bin/python3
"""h5same.py [--rtol=X] A.h5 B.h5 DATASET... — exit 0 when every named dataset has the same shape, dtype and
bytes in both files, or with --rtol, when max|a-b| / max|a| <= X (the error is printed as a TAP comment)."""
import sys
import h5py
import numpy as np

args = sys.argv[1:]
rtol = None
if args and args[0].startswith("--rtol="):
    rtol = float(args.pop(0).split("=", 1)[1])
a, b, names = args[0], args[1], args[2:]
with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
    for n in names:
        x, y = np.asarray(fa[n][()]), np.asarray(fb[n][()])
        if x.shape != y.shape or x.dtype != y.dtype:
            print(f"# {n}: shape/type differ ({x.shape} {x.dtype} vs {y.shape} {y.dtype})")
            sys.exit(1)
        if rtol is None:
            if x.tobytes() != y.tobytes():
                print(f"# {n}: differs")
                sys.exit(1)
        else:
            err = float(np.abs(x.astype(np.float64) - y).max() / max(np.abs(x).max(), 1e-30))
            print(f"# {n}: relative error {err:.3g} (tolerance {rtol:g})")
            if not err <= rtol:
                sys.exit(1)
