#!/usr/bin/python3
"""groups_peer.py -- the scikit-learn peer of `pgrpo groups` for the groups bench (README "Groups").

    groups_peer.py FEEDBACK.h5 --k K --r R [--n-init N] [--threads T] [--spectral --gamma G]
                   [--randomized] [--labels-out FILE]

Reads /feedback/value (+ /feedback/mask, /feedback/truth when present), then the same steps as pgrpo's pipeline:
  impute+scale  SimpleImputer(strategy="mean") on the masked entries, StandardScaler
  pca           PCA(n_components=R, svd_solver="full")   (--randomized: also times svd_solver="randomized";
                --whiten: whiten=True, as groups.whiten = true)
  kmeans        KMeans(n_clusters=K, n_init=N, init="k-means++", algorithm="lloyd", random_state=0)
  spectral      (--spectral, instead of kmeans) SpectralClustering(n_clusters=K, affinity="rbf", gamma=G,
                assign_labels="kmeans", random_state=0) on the PCA-reduced rows
Threads: --threads T sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before numpy is imported and,
when threadpoolctl is installed, limits every BLAS/OpenMP pool to T as well.
Prints one JSON line: seconds per stage (read, impute_scale, pca, kmeans or spectral, pca_randomized when asked,
total = everything but read and pca_randomized), ARI vs /feedback/truth (when present), peak RSS (MiB), sizes.
--labels-out FILE: the labels, one integer a line, in row order (for the ARI between pgrpo and the peer).
"""
import argparse
import json
import os
import resource
import sys
import time


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("feedback")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--r", type=int, required=True)
    p.add_argument("--n-init", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--spectral", action="store_true")
    p.add_argument("--gamma", type=float, default=1.0)
    p.add_argument("--randomized", action="store_true", help="also time PCA(svd_solver='randomized')")
    p.add_argument("--whiten", action="store_true", help="PCA(whiten=True), as groups.whiten = true")
    p.add_argument("--labels-out")
    a = p.parse_args()
    if a.k < 1 or a.r < 1 or a.n_init < 1 or a.threads < 1 or not a.gamma > 0:
        print("groups_peer.py: --k, --r, --n-init, --threads must be >= 1 and --gamma > 0", file=sys.stderr)
        sys.exit(2)
    return a


A = args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(A.threads)
import numpy as np  # noqa: E402  (after the thread settings)

try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(A.threads)
    POOLS = "threadpoolctl"
except ImportError:
    POOLS = "env"


def read(path):
    import h5py
    with h5py.File(path, "r") as f:
        g = f["feedback"]
        x = g["value"][...].astype(np.float64)
        if "mask" in g:
            x[g["mask"][...] == 0] = np.nan
        truth = g["truth"][...].astype(np.int64) if "truth" in g else None
    return x, truth


def main():
    from sklearn.cluster import KMeans, SpectralClustering
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler
    t = {}
    t0 = time.perf_counter()
    x, truth = read(A.feedback)
    t["read"] = time.perf_counter() - t0
    n, d = x.shape

    t0 = time.perf_counter()
    x = StandardScaler().fit_transform(SimpleImputer(strategy="mean").fit_transform(x))
    t["impute_scale"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    y = PCA(n_components=A.r, svd_solver="full", whiten=A.whiten).fit_transform(x)
    t["pca"] = time.perf_counter() - t0
    if A.randomized:
        t0 = time.perf_counter()
        PCA(n_components=A.r, svd_solver="randomized", random_state=0).fit_transform(x)
        t["pca_randomized"] = time.perf_counter() - t0
    del x

    t0 = time.perf_counter()
    if A.spectral:
        labels = SpectralClustering(n_clusters=A.k, affinity="rbf", gamma=A.gamma, assign_labels="kmeans",
                                    random_state=0).fit_predict(y)
        t["spectral"] = time.perf_counter() - t0
    else:
        labels = KMeans(n_clusters=A.k, n_init=A.n_init, init="k-means++", algorithm="lloyd",
                        random_state=0).fit_predict(y)
        t["kmeans"] = time.perf_counter() - t0
    t["total"] = t["impute_scale"] + t["pca"] + t.get("kmeans", 0.0) + t.get("spectral", 0.0)

    if A.labels_out:
        np.savetxt(A.labels_out, labels, fmt="%d")
    import sklearn
    out = {"peer": "sklearn " + sklearn.__version__, "n": n, "d": d, "k": A.k, "r": A.r, "n_init": A.n_init,
           "path": "spectral" if A.spectral else "pca", "threads": A.threads, "thread_limit": POOLS,
           "seconds": {s: round(v, 4) for s, v in t.items()},
           "ari_truth": None if truth is None else adjusted_rand_score(truth, labels),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
