#!/usr/bin/python3
"""groups_curve.py SWEEP_DIR [--out DIR] — group recovery against the feedback's sparsity, from the groups.h5
files jobs/groups_sweep.sh wrote (SWEEP_DIR/<deck>/obs<o>_probes<p>/groups.h5): ARI against groups.observed (one
line per probe count) and against groups.probes (one line per observed fraction), per deck; the K found beside
it. Writes DIR/ari_curve.png and DIR/ari_table.md (markdown: ARI and K per observed x probes, per deck)."""
import argparse
import collections
import glob
import os
import re

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(sweep):
    rows = collections.defaultdict(dict)   # deck -> (observed, probes) -> (ari, k, k_true)
    for fn in sorted(glob.glob(os.path.join(sweep, "*", "obs*_probes*", "groups.h5"))):
        m = re.search(r"obs([0-9.]+)_probes([0-9]+)", fn)
        deck = os.path.basename(os.path.dirname(os.path.dirname(fn)))
        with h5py.File(fn, "r") as f:
            if "eval/ari" not in f:
                continue
            rows[deck][(float(m.group(1)), int(m.group(2)))] = (
                float(f["eval/ari"][()]), int(f.attrs["n_groups"]), int(f["eval/contingency"].shape[1]))
    return rows


def table(rows):
    out = []
    for deck, pts in rows.items():
        obs = sorted({o for o, _ in pts}); probes = sorted({p for _, p in pts})
        out.append(f"### {deck}: ARI vs truth (K found / true K)\n")
        out.append("| observed \\ probes | " + " | ".join(str(p) for p in probes) + " |")
        out.append("|---|" + "---|" * len(probes))
        for o in obs:
            cells = []
            for p in probes:
                a = pts.get((o, p))
                cells.append("" if a is None else f"{a[0]:.3f} ({a[1]}/{a[2]})")
            out.append(f"| {o:g} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def plot(rows, path):
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.6 * len(rows)), squeeze=False)
    for r, (deck, pts) in enumerate(rows.items()):
        obs = sorted({o for o, _ in pts}); probes = sorted({p for _, p in pts})
        for p in probes:
            xs = [o for o in obs if (o, p) in pts]
            axes[r][0].plot(xs, [pts[(o, p)][0] for o in xs], marker="o", label=f"{p} probes")
        for o in obs:
            xs = [p for p in probes if (o, p) in pts]
            axes[r][1].plot(xs, [pts[(o, p)][0] for p in xs], marker="o", label=f"observed {o:g}")
        axes[r][0].set_xlabel("groups.observed (fraction of probes each user rated)")
        axes[r][1].set_xlabel("groups.probes"); axes[r][1].set_xscale("log", base=2)
        for ax in axes[r]:
            ax.set_ylabel("ARI vs true groups"); ax.set_ylim(-0.05, 1.05); ax.grid(alpha=0.3)
            ax.set_title(deck); ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sweep")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or a.sweep
    rows = load(a.sweep)
    if not rows:
        raise SystemExit(f"groups_curve.py: no groups.h5 with /eval/ari under {a.sweep}/*/obs*_probes*/ "
                         "(HINT: run jobs/groups_sweep.sh first)")
    os.makedirs(out, exist_ok=True)
    md = table(rows)
    open(os.path.join(out, "ari_table.md"), "w").write(md + "\n")
    plot(rows, os.path.join(out, "ari_curve.png"))
    print(md)
    print(f"wrote {out}/ari_curve.png and {out}/ari_table.md")


if __name__ == "__main__":
    main()
