#!/usr/bin/env python3
"""The C cluster metrics and k-means (build/tests/cluster_metrics_cli) against scikit-learn.

ARI / NMI vs adjusted_rand_score / normalized_mutual_info_score (arithmetic) to 1e-12 on ~60 labelings: random
ones of many sizes and K, noisy copies, sklearn's edge cases, labels with gaps. k-means labels vs sklearn KMeans
on well-separated blobs (ARI between the two >= 0.99). Prints TAP lines; exit 1 on a failure.
usage: test_cluster_metrics_sklearn.py CLI"""
import subprocess
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

TOL = 1e-12
cli = sys.argv[1]
failed = 0


def tap(ok, name):
    global failed
    print(("ok - " if ok else "not ok - ") + name)
    failed += not ok


def labelings():
    rng = np.random.RandomState(20261127)
    cases = []
    for n in (2, 3, 5, 10, 37, 200, 1000, 5003):
        for ka, kb in ((1, 2), (2, 2), (3, 5), (7, 4), (20, 20)):
            cases.append((f"random n={n} K={ka}x{kb}", rng.randint(0, ka, n), rng.randint(0, kb, n)))
    for n, k, flip in ((100, 4, 0.1), (1000, 8, 0.3), (3000, 16, 0.05), (500, 3, 0.6)):
        a = rng.randint(0, k, n)
        b = np.where(rng.rand(n) < flip, rng.randint(0, k, n), (a * 3 + 1) % k)
        cases.append((f"noisy copy n={n} K={k} flip={flip}", a, b))
    a = rng.randint(0, 5, 50)
    cases += [
        ("identical", a, a.copy()),
        ("renamed", a, (a + 2) % 5),
        ("gaps in label values", a * 3, np.where(a > 2, 17, a)),
        ("n=1", np.array([0]), np.array([3])),
        ("single cluster both", np.zeros(9, int), np.full(9, 4)),
        ("single cluster one side", np.zeros(9, int), np.arange(9) % 3),
        ("singletons both", np.arange(12), np.arange(12)[::-1]),
        ("singletons vs single", np.arange(12), np.zeros(12, int)),
        ("independent 2x2", np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])),
    ]
    return cases


def c_scores(cases):
    text = "".join(f"{len(a)} {' '.join(map(str, a))} {' '.join(map(str, b))}\n" for _, a, b in cases)
    out = subprocess.run([cli, "-"], input=text, capture_output=True, text=True, check=True).stdout.split("\n")
    return [tuple(float(x) for x in line.split()) for line in out if line]


cases = labelings()
got = c_scores(cases)
tap(len(got) == len(cases), f"cluster_metrics_cli scored {len(got)} of {len(cases)} labelings")
worst = {"ARI": 0.0, "NMI": 0.0}
for (name, a, b), (ari, nmi) in zip(cases, got):
    for what, mine, ref in (("ARI", ari, adjusted_rand_score(a, b)), ("NMI", nmi, normalized_mutual_info_score(a, b))):
        err = abs(mine - ref)
        worst[what] = max(worst[what], err)
        if not err <= TOL:
            tap(False, f"{what} {name}: C {mine!r} vs sklearn {ref!r} (|diff| {err:.3g} > {TOL})")
for what in ("ARI", "NMI"):
    tap(worst[what] <= TOL, f"{what} matches sklearn to {TOL} on {len(cases)} labelings (worst |diff| {worst[what]:.3g})")

# Negative control: one changed label moves the scores beyond the tolerance, so the comparison can fail.
name, a, b = cases[-10]
b2 = b.copy(); b2[0] = (b2[0] + 1) % 4
(ari2, nmi2), = c_scores([(name, a, b2)])
tap(abs(ari2 - adjusted_rand_score(a, b)) > TOL and abs(nmi2 - normalized_mutual_info_score(a, b)) > TOL,
    "negative control: one changed label is detected")

# k-means vs sklearn KMeans on well-separated blobs.
for n, d, k, seed in ((600, 4, 5, 0), (4000, 8, 8, 1), (1500, 2, 3, 2)):
    X, truth = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=0.6, center_box=(-20, 20), random_state=seed)
    text = f"{n} {d}\n" + "\n".join(" ".join(repr(float(v)) for v in row) for row in X) + "\n"
    res = subprocess.run([cli, "--kmeans", str(k), "4", str(seed)], input=text, capture_output=True, text=True)
    if res.returncode != 0:
        tap(False, f"kmeans n={n} d={d} K={k}: cluster_metrics_cli failed: {res.stderr.strip()}")
        continue
    mine = np.array(res.stdout.split(), dtype=int)
    ref = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(X).labels_
    ari = adjusted_rand_score(ref, mine)
    tap(len(mine) == n and ari >= 0.99,
        f"kmeans n={n} d={d} K={k}: ARI vs sklearn KMeans {ari:.4f} >= 0.99 (vs truth {adjusted_rand_score(truth, mine):.4f})")
sys.exit(1 if failed else 0)
