#!/usr/bin/python3
"""test_kselect_sklearn.py -- kselect.h against scikit-learn / numpy, through build/tests/kselect_cli.

    test_kselect_sklearn.py CLI silhouette|bic|eigengap|sample

silhouette: kselect_silhouette vs sklearn.metrics.silhouette_score(X, labels) to 1e-12 on fixtures: Gaussian
            blobs labelled by KMeans, random labels (negative scores), singleton clusters with an unused label
            value, coincident rows across clusters (a = b = 0), and a sample drawn with kselect_sample_rows.
bic:        kselect_bic vs the documented formula written independently in numpy (relative 1e-12), and its
            argmax over KMeans fits is the true K on a clear fixture.
eigengap:   kselect_eigengap vs numpy argmax of lam[j-1] / lam[j] on random descending spectra (gaps to 1e-15).
sample:     kselect_sample_rows via the CLI: s distinct ascending rows in [0, n), the same for the same seed.
Prints TAP lines; exit 1 when any check fails.
"""
import subprocess
import sys

import numpy as np

FAILED = 0


def tap(name, good, detail=""):
    global FAILED
    print("%s - %s%s" % ("ok" if good else "not ok", name, "" if good else "\n#   " + detail))
    FAILED += not good


def cli(tool, args, text=""):
    return subprocess.run([tool] + args, input=text, capture_output=True, text=True, check=True).stdout.split("\n")[:-1]


def rec(v, fmt="%.17g"):
    return " ".join(fmt % x for x in np.ravel(v))


def silhouette_fixtures():
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    out = []
    x, _ = make_blobs(n_samples=600, n_features=16, centers=5, cluster_std=2.0, random_state=1)
    out.append(("blobs_kmeans", x, KMeans(5, n_init=4, random_state=0).fit_predict(x), 5))
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 8))
    out.append(("random_labels", x, rng.integers(0, 4, size=300), 4))
    x = np.concatenate([rng.normal(size=(50, 3)), [[9.0, 9.0, 9.0]], rng.normal(size=(40, 3)) + 4.0, [[-9, 0, 9]]])
    lab = np.array([0] * 50 + [1] + [2] * 40 + [5])        # singletons 1 and 5, label 3 and 4 unused (k = 6)
    out.append(("singletons_unused_label", x, lab, 6))
    x = np.array([[1, 2], [1, 2], [1, 2], [3, 4], [3, 4], [0, 0]], dtype=float)
    out.append(("coincident_rows", x, np.array([0, 1, 0, 1, 2, 2]), 3))
    x, _ = make_blobs(n_samples=3000, n_features=12, centers=7, random_state=3)
    lab = KMeans(7, n_init=2, random_state=0).fit_predict(x)
    out.append(("sampled_rows", x, lab, 7))
    return out


def check_silhouette(tool):
    from sklearn.metrics import silhouette_score
    for name, x, lab, k in silhouette_fixtures():
        if name == "sampled_rows":
            rows = np.array(cli(tool, ["sample", "11", str(len(x)), "800"])[0].split(), dtype=np.int64)
            x, lab = x[rows], lab[rows]
        got = float(cli(tool, ["silhouette"], "%d %d %d %s %s\n" % (len(x), x.shape[1], k, rec(x), rec(lab, "%d")))[0])
        want = silhouette_score(x, lab)
        tap("silhouette_%s_matches_sklearn" % name, abs(got - want) <= 1e-12, "C %.17g sklearn %.17g" % (got, want))
    got = cli(tool, ["silhouette"], "3 1 2 0 1 2 1 1 1\n")[0]
    tap("silhouette_one_cluster_nan", got.lower() in ("nan", "-nan"), "got %s (sklearn raises)" % got)


def bic_numpy(n, d, k, inertia, sizes):
    sizes = np.asarray(sizes, dtype=np.float64)
    s2 = inertia / (d * (n - k))
    nz = sizes[sizes > 0]
    ll = np.sum(nz * np.log(nz / n)) - n * d / 2 * np.log(2 * np.pi * s2) - d * (n - k) / 2
    return ll - (k - 1 + k * d + 1) / 2 * np.log(n)


def check_bic(tool):
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    x, _ = make_blobs(n_samples=[100, 250, 400, 700], n_features=6, cluster_std=1.0, random_state=4)
    ks = range(1, 9)
    fits = [KMeans(k, n_init=4, random_state=0).fit(x) for k in ks]
    recs = [(len(x), 6, k, f.inertia_, np.bincount(f.labels_, minlength=k)) for k, f in zip(ks, fits)]
    got = [float(v) for v in cli(tool, ["bic"], "".join("%d %d %d %.17g %s\n" % (n, d, k, i, rec(s, "%d"))
                                                      for n, d, k, i, s in recs))]
    want = [bic_numpy(*r) for r in recs]
    err = max(abs(g - w) / abs(w) for g, w in zip(got, want))
    tap("bic_matches_formula", err <= 1e-12, "max relative error %g" % err)
    tap("bic_picks_true_k", list(ks)[int(np.argmax(got))] == 4, "BIC over k=1..8: %s" % got)


def check_eigengap(tool):
    rng = np.random.default_rng(5)
    bad = []
    for t in range(200):
        m = int(rng.integers(3, 20))
        lam = np.sort(rng.exponential(size=m) ** 3)[::-1]
        if t % 5 == 0:
            lam[m - 2:] = 0.0
        lo = int(rng.integers(1, m - 1))
        hi = int(rng.integers(lo, m))
        out = cli(tool, ["eigengap"], "%d %d %d %s\n" % (m, lo, hi, rec(lam)))[0].split()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = lam[lo - 1:hi] / lam[lo:hi + 1]
        g = np.where(np.isnan(g), 1.0, g)
        j = lo + int(np.argmax(g))
        gc = np.array(out[1:], dtype=np.float64)
        fin = np.isfinite(g)
        if int(out[0]) != j or not np.array_equal(np.isinf(gc), ~fin) or \
                np.max(np.abs(gc[fin] - g[fin]) / g[fin], initial=0.0) > 1e-15:
            bad.append((lam.tolist(), lo, hi, out, j))
    tap("eigengap_matches_numpy_ratio", not bad, "first mismatch: %s" % (bad[:1],))


def check_sample(tool):
    rows = np.array(cli(tool, ["sample", "9", "100000", "5000"])[0].split(), dtype=np.int64)
    again = np.array(cli(tool, ["sample", "9", "100000", "5000"])[0].split(), dtype=np.int64)
    good = len(rows) == 5000 and np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < 100000
    tap("sample_distinct_ascending", bool(good), "len %d" % len(rows))
    tap("sample_deterministic", np.array_equal(rows, again))
    # Spread: each tenth of the rows holds ~500 of the sample (binomial sd ~21).
    counts = np.bincount(rows // 10000, minlength=10)
    tap("sample_spread", bool(np.all(np.abs(counts - 500) < 100)), "per tenth: %s" % counts)


def main():
    tool, what = sys.argv[1], sys.argv[2]
    {"silhouette": check_silhouette, "bic": check_bic, "eigengap": check_eigengap, "sample": check_sample}[what](tool)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
