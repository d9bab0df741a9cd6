#!/usr/bin/python3
"""report.py — per-group reward curves and a summary table from one or more pgrpo runs.

usage: /usr/bin/python3 postproc/report.py RUN_DIR [RUN_DIR ...] [--out DIR] [--smooth N]

Each RUN_DIR holds metrics.h5 (and optionally eval.h5) written by `pgrpo train` / `pgrpo eval`.
Writes DIR/reward_by_group.png (one panel per preference group plus the overall reward and the worst group,
runs overlaid) and DIR/report.md (per run and group: reward at the start and the end of training, held-out eval).
"""
import argparse
import os
import sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(f, name):
    g = f.get("observables/" + name)
    if g is None:
        return None, None
    return np.asarray(g["step"][...]), np.asarray(g["value"][...])


def smooth(y, n):
    if n <= 1 or len(y) < 2:
        return y
    k = min(n, len(y))
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = np.empty_like(y, dtype=float)
    for i in range(len(y)):  # trailing mean over the last k points (shorter at the start)
        lo = max(0, i + 1 - k)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def deck_value(deck, key):
    sect, name = key.split(".")
    cur = None
    for line in deck.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("["):
            cur = line.strip("[]")
        elif "=" in line and cur == sect:
            k, v = (s.strip() for s in line.split("=", 1))
            if k == name:
                return v
    return None


def load_run(path):
    mpath = os.path.join(path, "metrics.h5")
    if not os.path.exists(mpath):
        sys.exit(f"report.py: error: {mpath} not found (HINT: run `pgrpo train DECK` with run.out_dir = {path})")
    run = {"path": path, "groups": {}, "eval": None}
    with h5py.File(mpath, "r") as f:
        deck = f.attrs.get("deck", b"")
        deck = deck.decode() if isinstance(deck, bytes) else str(deck)
        adv = deck_value(deck, "train.advantage") or "?"
        base = os.path.basename(os.path.normpath(path))
        run["label"] = adv if base == adv else f"{adv} ({base})"
        run["reward"] = series(f, "reward/mean")
        run["worst"] = series(f, "reward/worst_group_mean")
        run["kl"] = series(f, "kl")
        obs = f.get("observables/reward/group")
        for g in sorted(obs.keys(), key=int) if obs is not None else []:
            d = obs[g]["mean"]
            desc = d["value"].attrs.get("description", b"")
            desc = desc.decode() if isinstance(desc, bytes) else str(desc)
            run["groups"][int(g)] = (desc or f"group {g}", np.asarray(d["step"][...]), np.asarray(d["value"][...]))
    epath = os.path.join(path, "eval.h5")
    if os.path.exists(epath):
        with h5py.File(epath, "r") as f:
            run["eval"] = np.asarray(f["per_group"][...])
            run["nll"] = (float(f["heldout_nll"][()]), float(f["heldout_nll_base"][()]))
    return run


def window_mean(steps, values, first):
    """Mean over the first or last 20% of the steps (at least 1 point)."""
    n = max(1, len(values) // 5)
    return float(np.mean(values[:n] if first else values[-n:])) if len(values) else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", default="report")
    ap.add_argument("--smooth", type=int, default=10)
    args = ap.parse_args()
    runs = [load_run(p) for p in args.runs]
    os.makedirs(args.out, exist_ok=True)

    groups = sorted({g for r in runs for g in r["groups"]})
    names = {g: next(r["groups"][g][0] for r in runs if g in r["groups"]) for g in groups}
    panels = ["overall", "worst group"] + groups
    ncol = 3
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False, sharex=True)
    for i, key in enumerate(panels):
        ax = axes[i // ncol][i % ncol]
        for r in runs:
            if key == "overall":
                s, v = r["reward"]
            elif key == "worst group":
                s, v = r["worst"]
            else:
                if key not in r["groups"]:
                    continue
                _, s, v = r["groups"][key]
            if s is None:
                continue
            ax.plot(s, smooth(v, args.smooth), label=r["label"])
        ax.set_title(key if isinstance(key, str) else f"group {key}: {names[key]}", fontsize=9)
        ax.grid(alpha=0.3)
        if i % ncol == 0:
            ax.set_ylabel(f"reward (mean of last {args.smooth})", fontsize=8)
    for j in range(len(panels), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    axes[0][0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    fig.tight_layout()
    png = os.path.join(args.out, "reward_by_group.png")
    fig.savefig(png, dpi=110)

    lines = ["# pgrpo report", "", "Training reward per preference group: mean over the first and the last 20% of steps.", ""]
    hdr = "| group | " + " | ".join(f"{r['label']} start | {r['label']} end" for r in runs) + " |"
    lines += [hdr, "|" + "---|" * (1 + 2 * len(runs))]
    for g in groups:
        cells = []
        for r in runs:
            if g in r["groups"]:
                _, s, v = r["groups"][g]
                cells += [f"{window_mean(s, v, True):+.3f}", f"{window_mean(s, v, False):+.3f}"]
            else:
                cells += ["", ""]
        lines.append(f"| {g}: {names[g]} | " + " | ".join(cells) + " |")
    for key, lab in (("reward", "overall"), ("worst", "worst group")):
        cells = []
        for r in runs:
            s, v = r[key]
            cells += [f"{window_mean(s, v, True):+.3f}", f"{window_mean(s, v, False):+.3f}"] if s is not None else ["", ""]
        lines.append(f"| **{lab}** | " + " | ".join(cells) + " |")
    if any(r["eval"] is not None for r in runs):
        lines += ["", "Held-out evaluation (`pgrpo eval`): sampled reward per group (normalised to the oracle).", ""]
        lines += ["| group | " + " | ".join(r["label"] for r in runs if r["eval"] is not None) + " |",
                  "|" + "---|" * (1 + sum(r["eval"] is not None for r in runs))]
        ng = max(len(r["eval"]) for r in runs if r["eval"] is not None)
        for g in range(ng):
            lab = f"{g}: {names.get(g, '')}" if g < ng - 1 else "**all**"
            cells = [f"{r['eval'][g][1]:+.3f} ({r['eval'][g][4]:.2f})" for r in runs if r["eval"] is not None]
            lines.append(f"| {lab} | " + " | ".join(cells) + " |")
        lines += ["", "Held-out NLL (nats/token), policy vs SFT base: " +
                  ", ".join(f"{r['label']}: {r['nll'][0]:.3f} vs {r['nll'][1]:.3f}" for r in runs if r["eval"] is not None)]
    lines += ["", f"![per-group reward curves](reward_by_group.png)", ""]
    md = os.path.join(args.out, "report.md")
    with open(md, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:len(groups) + 8]))
    print(f"report.py: wrote {md} and {png}")


if __name__ == "__main__":
    main()
