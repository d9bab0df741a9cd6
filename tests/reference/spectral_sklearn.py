#!/usr/bin/env python3
"""Our NJW spectral path (build/tests/spectral_check cluster) against scikit-learn's SpectralClustering.

Usage: spectral_sklearn.py BIN DIR [--n N] [--kind rings|moons|blobs] [--reps R] [--np P] [--solver krylov|dense]
                           [--min-ari A] [--bench]
Writes a seeded non-convex fixture (concentric rings or two moons in 2-D, padded with small-noise dimensions to
r = 6, as reduced data from step 2 would be) to DIR/points.bin, runs ours with the automatic gamma on P ranks, then
sklearn 1.2's SpectralClustering(n_clusters=k, affinity='rbf', gamma=<the gamma we used>, assign_labels='kmeans',
random_state=0) on the same points, and prints TAP lines:
  - ARI(ours, sklearn) >= min-ari (default 0.99)
  - the non-convex case: k-means on Y alone fails (ARI vs truth < 0.5) while spectral succeeds (>= 0.99)
With --bench: medians of R timed runs of both (ours: embedding + row normalisation + kmeans_fit_mpi; sklearn:
fit), the ratio, and the machine.
"""
import os, subprocess, sys, time, argparse
import numpy as np


def fixture(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "rings":          # three concentric rings, radii 1, 2.5, 4 (k = 3): k-means on Y cuts across them
        k = 3
        truth = np.arange(n) % k
        radius = np.array([1.0, 2.5, 4.0])[truth]
        theta = rng.uniform(0, 2 * np.pi, n)
        xy = np.c_[radius * np.cos(theta), radius * np.sin(theta)] + 0.08 * rng.standard_normal((n, 2))
    elif kind == "blobs":        # four Gaussian blobs in 6-D (k = 4, convex: k-means on Y succeeds too; bench only)
        k = 4
        truth = np.arange(n) % k
        centres = 4.0 * rng.standard_normal((k, 6))
        return centres[truth] + rng.standard_normal((n, 6)), truth, k
    else:                        # two interleaved moons (k = 2)
        k = 2
        truth = np.arange(n) % k
        t = rng.uniform(0, np.pi, n)
        xy = np.where(truth[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
        xy = xy + 0.06 * rng.standard_normal((n, 2))
    Y = np.c_[xy, 0.02 * rng.standard_normal((n, 4))]
    return Y, truth, k


def run_ours(args, path, k):
    cmd = ["mpirun", "-np", str(args.np), "-x", "OPENBLAS_NUM_THREADS", args.bin, "cluster", path, str(k), "0",
           args.solver, str(args.reps)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")   # one thread per rank
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    info = {}
    for line in p.stdout.splitlines():
        if line.startswith("# gamma"):
            info["gamma"] = float(line.split()[2])
        if line.startswith("# time median"):
            info["time"] = float(line.split()[3])
            info["time_line"] = line
    if p.returncode != 0 or "gamma" not in info:
        print("not ok - spectral_check cluster ran # rc %d: %s" % (p.returncode, (p.stdout + p.stderr)[-400:]))
        sys.exit(1)
    lab = np.loadtxt(path + ".spectral", dtype=int)
    km = np.loadtxt(path + ".kmeans", dtype=int)
    return lab, km, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin"); ap.add_argument("dir")
    ap.add_argument("--n", type=int, default=1200); ap.add_argument("--kind", default="rings")
    ap.add_argument("--reps", type=int, default=1); ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--solver", default="krylov"); ap.add_argument("--min-ari", type=float, default=0.99)
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    from sklearn.cluster import SpectralClustering
    from sklearn.metrics import adjusted_rand_score as ari
    Y, truth, k = fixture(args.kind, args.n)
    path = os.path.join(args.dir, "points.bin")
    with open(path, "wb") as f:
        np.array(Y.shape, dtype="<i8").tofile(f)
        np.ascontiguousarray(Y, dtype="<f8").tofile(f)
    ours, km, info = run_ours(args, path, k)
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        sk = SpectralClustering(n_clusters=k, affinity="rbf", gamma=info["gamma"], assign_labels="kmeans",
                                random_state=0).fit(Y).labels_
        times.append(time.perf_counter() - t0)
    a_pair, a_ours, a_sk, a_km = ari(ours, sk), ari(truth, ours), ari(truth, sk), ari(truth, km)
    tag = "%s_n%d_%s" % (args.kind, args.n, args.solver)
    print("%s - %s_labels_match_sklearn # ARI(ours, sklearn) = %.6f (ours vs truth %.6f, sklearn vs truth %.6f, "
          "gamma %.6g)" % ("ok" if a_pair >= args.min_ari else "not ok", tag, a_pair, a_ours, a_sk, info["gamma"]))
    good = (a_km < 0.5 or args.kind == "blobs") and a_ours >= 0.99
    print("%s - %s_spectral_succeeds_where_kmeans_fails # k-means on Y vs truth ARI = %.4f, spectral vs truth "
          "ARI = %.4f" % ("ok" if good else "not ok", tag, a_km, a_ours))
    if args.bench:
        sk_med = float(np.median(times))
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][:1]
        print("# bench %s: ours (%d ranks, %s) median %.3f s %s" % (tag, args.np, args.solver, info["time"],
                                                                     info["time_line"]))
        print("# bench %s: sklearn %s SpectralClustering median %.3f s (%s), threads OMP=%s OPENBLAS=%s"
              % (tag, __import__("sklearn").__version__, sk_med, " ".join("%.3f" % t for t in times),
                 os.environ.get("OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS")))
        print("# bench %s: speedup %.2fx at ARI ours %.4f vs sklearn %.4f (truth); machine %s, %d cores"
              % (tag, sk_med / info["time"], a_ours, a_sk, cpu[0] if cpu else "?", os.cpu_count()))
    sys.exit(0 if a_pair >= args.min_ari and good else 1)


if __name__ == "__main__":
    main()
