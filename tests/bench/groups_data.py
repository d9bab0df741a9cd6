#!/usr/bin/python3
"""groups_data.py -- a synthetic feedback.h5 (README "Groups" format) for the groups bench and tests.

    groups_data.py --n N --d D --k K [--observed F] [--noise S] [--ratio R] [--seed SEED] --out FILE

Model: K groups with unequal shares (share of group g proportional to R**g, so the largest is R**(K-1) times the
smallest; default R = 1.5); probe j has an offset b_j ~ N(0, 1) and a scale s_j ~ U(0.5, 2) (so the columns
need standardising); group g's mean profile m_g ~ N(0, 1) per probe; user i in group g answers
    value[i, j] = b_j + s_j * (m_g[j] + noise * e_ij),   e_ij ~ N(0, 1)
and sees each probe with probability F (a Bernoulli mask; a row left with none observed gets one random probe).
Unobserved entries hold 0 in /feedback/value (the mask says they are ignored).

Writes /feedback/value (float32, n x d), /feedback/mask (uint8, only when F < 1), /feedback/truth (int32, n) and
the root attribute schema = "pgrpo/feedback". Rows are generated and written in chunks of --chunk rows from
per-chunk random streams (seed, chunk index), so memory stays bounded whatever n (peak RSS ~300 MB at d = 256
with the default --chunk; 10^6 x 256 included) and the file depends only on the arguments. The file is written
under a temporary name and renamed when complete.
"""
import argparse
import os
import sys

import numpy as np


def model(seed, k, d, ratio):
    """The group shares, probe offsets/scales and group mean profiles (from the seed alone)."""
    rng = np.random.default_rng([seed, 0xFEED])
    shares = ratio ** np.arange(k, dtype=np.float64)
    shares /= shares.sum()
    return dict(shares=shares, offset=rng.normal(size=d), scale=rng.uniform(0.5, 2.0, size=d),
                means=rng.normal(size=(k, d)))


def chunk(m, seed, index, rows, d, noise, observed):
    """Rows of one chunk: (value float32 rows x d, mask uint8 or None, truth int32)."""
    rng = np.random.default_rng([seed, 1, index])
    k = len(m["shares"])
    truth = rng.choice(k, size=rows, p=m["shares"]).astype(np.int32)
    x = m["means"][truth] + noise * rng.standard_normal((rows, d))
    x = m["offset"] + m["scale"] * x
    mask = None
    if observed < 1.0:
        mask = (rng.random((rows, d)) < observed).astype(np.uint8)
        empty = np.flatnonzero(mask.sum(axis=1) == 0)
        mask[empty, rng.integers(0, d, size=len(empty))] = 1
        x[mask == 0] = 0.0
    return x.astype(np.float32), mask, truth


def generate(n, d, k, observed=1.0, noise=2.0, ratio=1.5, seed=0, chunk_rows=32768):
    """Yields (row0, value, mask, truth) chunks in row order (used by the writer and by in-memory studies)."""
    m = model(seed, k, d, ratio)
    for index, row0 in enumerate(range(0, n, chunk_rows)):
        rows = min(chunk_rows, n - row0)
        yield (row0,) + chunk(m, seed, index, rows, d, noise, observed)


def write(path, n, d, k, observed, noise, ratio, seed, chunk_rows):
    import h5py
    tmp = path + ".part"
    with h5py.File(tmp, "w") as f:
        f.attrs["schema"] = "pgrpo/feedback"
        g = f.create_group("feedback")
        ch = (min(n, 4096), d)
        val = g.create_dataset("value", shape=(n, d), dtype=np.float32, chunks=ch)
        msk = g.create_dataset("mask", shape=(n, d), dtype=np.uint8, chunks=ch) if observed < 1.0 else None
        tru = g.create_dataset("truth", shape=(n,), dtype=np.int32)
        for row0, x, mask, truth in generate(n, d, k, observed, noise, ratio, seed, chunk_rows):
            val[row0:row0 + len(x)] = x
            if msk is not None:
                msk[row0:row0 + len(x)] = mask
            tru[row0:row0 + len(x)] = truth
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--n", type=int, required=True, help="users (rows)")
    p.add_argument("--d", type=int, required=True, help="probes (columns)")
    p.add_argument("--k", type=int, required=True, help="groups")
    p.add_argument("--observed", type=float, default=1.0, help="fraction of entries observed, (0, 1]")
    p.add_argument("--noise", type=float, default=2.0, help="per-user noise sd, relative to the group profiles")
    p.add_argument("--ratio", type=float, default=1.5, help="share ratio between consecutive groups (>= 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=32768, help="rows generated and written at a time")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    bad = [s for s, b in [("--n must be >= 1", a.n < 1), ("--d must be >= 1", a.d < 1),
                          ("--k must be in [1, n]", not 1 <= a.k <= a.n),
                          ("--observed must be in (0, 1]", not 0 < a.observed <= 1),
                          ("--noise must be >= 0", not a.noise >= 0), ("--ratio must be >= 1", not a.ratio >= 1),
                          ("--chunk must be >= 1", a.chunk < 1)] if b]
    if bad:
        print("groups_data.py: " + bad[0], file=sys.stderr)
        sys.exit(2)
    write(a.out, a.n, a.d, a.k, a.observed, a.noise, a.ratio, a.seed, a.chunk)


if __name__ == "__main__":
    main()
