#!/usr/bin/python3
"""kselect_recovery.py -- how often each K-selection criterion (kselect.h, run through build/tests/kselect_cli)
recovers the true K on synthetic feedback (tests/bench/groups_data.py's model), for choosing groups.criterion.

    kselect_recovery.py CLI [--seeds 20] [--ks 2,3,4,5,6,7,8] [--ds 64,256] [--n 2000] [--observed 1.0]
                            [--noise 2.0] [--kmax 10] [--r 16] [--sample 1000] [--spectral-n 1000]

Per fixture (one seed, K, d): mean imputation + column standardisation, PCA to r components, k-means (sklearn
KMeans, k-means++, n_init=--n-init (4), lloyd, random_state=0) for k = 2..kmax on the r-dim rows, then
  eigengap-ratio / eigengap-abs: PCA eigenvalues (top r), k = j + 1, j in [1, kmax - 1]  (ratio = kselect_eigengap)
  silhouette: kselect_silhouette on a kselect_sample_rows sample of --sample rows, argmax over k
  bic:        kselect_bic from the fit's sizes and inertia (r dims), argmax over k
  bic-pm:     the same with Pelleg & Moore's printed variance (inertia / (n - k), no 1/d), for comparison
  spectral-ratio / spectral-abs: eigenvalues of D^-1/2 A D^-1/2 (RBF affinity over the first --spectral-n reduced
              rows, gamma = 1 / the 5% quantile of the squared distances), k = j, j in [2, kmax]
  selftune-ratio / selftune-abs: the same with the self-tuning affinity (local scale: 7th-neighbour distance)
Prints one table: fraction of fixtures where each criterion gives the true K, per K and overall.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import groups_data  # noqa: E402


def cli(tool, mode, text):
    out = subprocess.run([tool, mode], input=text, capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:-1]


def rec(values):
    return " ".join("%.17g" % v for v in np.ravel(values))


def reduce(x, mask, r):
    if mask is not None:
        x = np.where(mask == 1, x, np.nan)
        x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    lam, vec = np.linalg.eigh(x.T @ x / (len(x) - 1))
    lam, vec = lam[::-1], vec[:, ::-1]
    return x @ vec[:, :r], lam[:r]


def bic_pelleg_moore(n, d, k, sizes, inertia):
    """The X-means BIC as printed by Pelleg & Moore (sigma2 = inertia / (n - k), no 1/d), for comparison."""
    s2 = inertia / (n - k)
    nz = sizes[sizes > 0].astype(np.float64)
    ll = np.sum(nz * np.log(nz / n)) - n / 2 * np.log(2 * np.pi) - n * d / 2 * np.log(s2) - (n - k) / 2
    return ll - (k - 1 + k * d + 1) / 2 * np.log(n)


def eigengap_abs(lam, lo, hi):
    g = lam[lo - 1:hi] - lam[lo:hi + 1]
    return lo + int(np.argmax(g))


def spectral_values(y, kmax):
    d2 = ((y[:, None, :] - y[None, :, :]) ** 2).sum(axis=2)
    gamma = 1.0 / np.quantile(d2[np.triu_indices(len(y), 1)], 0.05)
    a = np.exp(-gamma * d2)
    np.fill_diagonal(a, 0.0)
    s = 1.0 / np.sqrt(a.sum(axis=1))
    lam = np.linalg.eigvalsh(s[:, None] * a * s[None, :])[::-1]
    return np.clip(lam[:kmax + 1], 0.0, None)


def selftune_values(y, kmax, nn=7):
    """Self-tuning affinity (Zelnik-Manor & Perona 2004): A_ij = exp(-d_ij^2 / (s_i s_j)), s_i = distance to the
    nn-th neighbour; eigenvalues of D^-1/2 A D^-1/2 (A_ii = 0), top kmax + 1."""
    d2 = ((y[:, None, :] - y[None, :, :]) ** 2).sum(axis=2)
    s = np.sqrt(np.partition(d2, nn, axis=1)[:, nn])
    a = np.exp(-d2 / (s[:, None] * s[None, :]))
    np.fill_diagonal(a, 0.0)
    q = 1.0 / np.sqrt(a.sum(axis=1))
    lam = np.linalg.eigvalsh(q[:, None] * a * q[None, :])[::-1]
    return np.clip(lam[:kmax + 1], 0.0, None)


def fixture(tool, seed, K, d, a):
    from sklearn.cluster import KMeans
    x, mask, truth = [np.concatenate(c) if c[0] is not None else None for c in zip(*[
        t[1:] for t in groups_data.generate(a.n, d, K, a.observed, a.noise, a.ratio, seed)])]
    y, lam = reduce(x.astype(np.float64), mask, a.r)
    ks = list(range(2, a.kmax + 1))
    fits = [KMeans(n_clusters=k, n_init=a.n_init, init="k-means++", algorithm="lloyd", random_state=0).fit(y)
            for k in ks]
    rows = np.array(subprocess.run([tool, "sample", str(seed), str(a.n), str(a.sample)], capture_output=True,
                                   text=True, check=True).stdout.split(), dtype=np.int64)
    ys = y[rows]
    sil = [float(v) for v in cli(tool, "silhouette", "".join(
        "%d %d %d %s %s\n" % (len(ys), a.r, k, rec(ys), rec(f.labels_[rows])) for k, f in zip(ks, fits)))]
    bic = [float(v) for v in cli(tool, "bic", "".join(
        "%d %d %d %.17g %s\n" % (a.n, a.r, k, f.inertia_, rec(np.bincount(f.labels_, minlength=k)))
        for k, f in zip(ks, fits)))]
    jr = int(cli(tool, "eigengap", "%d 1 %d %s\n" % (a.r, a.kmax - 1, rec(lam)))[0].split()[0])
    sv = spectral_values(y[:a.spectral_n], a.kmax)
    js = int(cli(tool, "eigengap", "%d 2 %d %s\n" % (len(sv), a.kmax, rec(sv)))[0].split()[0])
    st = selftune_values(y[:a.spectral_n], a.kmax)
    jt = int(cli(tool, "eigengap", "%d 2 %d %s\n" % (len(st), a.kmax, rec(st)))[0].split()[0])
    return {"eigengap-ratio": jr + 1, "eigengap-abs": eigengap_abs(lam, 1, a.kmax - 1) + 1,
            "silhouette": ks[int(np.argmax(sil))], "bic": ks[int(np.argmax(bic))],
            "bic-pm": ks[int(np.argmax([bic_pelleg_moore(a.n, a.r, k, np.bincount(f.labels_, minlength=k), f.inertia_)
                                       for k, f in zip(ks, fits)]))],
            "spectral-ratio": js, "spectral-abs": eigengap_abs(sv, 2, a.kmax),
            "selftune-ratio": jt, "selftune-abs": eigengap_abs(st, 2, a.kmax)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cli")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--ks", default="2,3,4,5,6,7,8")
    p.add_argument("--ds", default="64,256")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--observed", type=float, default=1.0)
    p.add_argument("--noise", type=float, default=2.0)
    p.add_argument("--ratio", type=float, default=1.5)
    p.add_argument("--kmax", type=int, default=10)
    p.add_argument("--n-init", type=int, default=4)
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--sample", type=int, default=1000)
    p.add_argument("--spectral-n", type=int, default=1000)
    a = p.parse_args()
    names = ["eigengap-ratio", "eigengap-abs", "silhouette", "bic", "bic-pm", "spectral-ratio", "spectral-abs",
             "selftune-ratio", "selftune-abs"]
    print("# n=%d observed=%g noise=%g ratio=%g kmax=%d r=%d n_init=%d sample=%d spectral_n=%d seeds=%d" % (
        a.n, a.observed, a.noise, a.ratio, a.kmax, a.r, a.n_init, a.sample, a.spectral_n, a.seeds))
    print("%-4s %-3s " % ("d", "K") + " ".join("%12s" % c for c in names))
    total = {c: 0 for c in names}
    count = 0
    for d in [int(v) for v in a.ds.split(",")]:
        for K in [int(v) for v in a.ks.split(",")]:
            hits = {c: 0 for c in names}
            for seed in range(a.seeds):
                got = fixture(a.cli, 1000 * K + seed, K, d, a)
                for c in names:
                    hits[c] += got[c] == K
            for c in names:
                total[c] += hits[c]
            count += a.seeds
            print("%-4d %-3d " % (d, K) + " ".join("%12.2f" % (hits[c] / a.seeds) for c in names), flush=True)
    print("%-8s " % "all" + " ".join("%12.3f" % (total[c] / count) for c in names))


if __name__ == "__main__":
    main()
