#!/usr/bin/python3
"""study_summary.py RUN_DIR... — mean ± std over seeds, per variant (the run folder's name up to "_seed"):
final training reward (mean of the last 20% of steps), overall and worst group; steps to reach 90% of GRPO's
final reward; held-out sampled reward per group from eval.h5."""
import collections
import os
import sys

import h5py
import numpy as np

runs = collections.defaultdict(list)
for d in sys.argv[1:]:
    runs[os.path.basename(os.path.normpath(d)).split("_seed")[0]].append(d)


def last(d, name):
    with h5py.File(f"{d}/metrics.h5", "r") as f:
        v = f[f"observables/{name}/value"][...]
    return float(v[-max(1, len(v) // 5):].mean()), v


def fmt(x):
    return f"{np.mean(x):+.3f} ± {np.std(x):.3f}" if len(x) else "n/a"


rows = {}
for var, ds in runs.items():
    r = {"final": [], "worst": [], "eval": [], "eval_groups": []}
    for d in ds:
        r["final"].append(last(d, "reward/mean")[0])
        r["worst"].append(last(d, "reward/worst_group_mean")[0])
        if os.path.exists(f"{d}/eval.h5"):
            with h5py.File(f"{d}/eval.h5", "r") as f:
                pg = f["per_group"][...]
            r["eval"].append(pg[-1][1])
            r["eval_groups"].append(pg[:-1, 1])
    rows[var] = r
print(f"Study over {max(len(v) for v in runs.values())} seeds (mean ± std across seeds).\n")
print("| variant | train reward, last 20% | worst group, last 20% | held-out sampled reward |")
print("|---|---|---|---|")
for var, r in rows.items():
    print(f"| {var} | {fmt(r['final'])} | {fmt(r['worst'])} | {fmt(r['eval'])} |")
if all(rows[v]["eval_groups"] for v in rows):
    ng = len(rows[next(iter(rows))]["eval_groups"][0])
    print("\nHeld-out sampled reward per group (mean over seeds):\n")
    print("| group | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for g in range(ng):
        print(f"| {g} | " + " | ".join(f"{np.mean([e[g] for e in rows[v]['eval_groups']]):+.3f}" for v in rows) + " |")
