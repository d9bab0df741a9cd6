#!/usr/bin/python3
"""study.py — collect a study's cells into study.h5, then write study.md and figures from study.h5 alone.

usage: /usr/bin/python3 postproc/study.py CELLS_DIR [--out DIR]     collect + report (DIR default: OUT/study for
                                                                    CELLS_DIR = OUT or OUT/cells)
       /usr/bin/python3 postproc/study.py STUDY.h5 [--out DIR]      report only (DIR default: STUDY.h5's folder)

A cell is a folder holding cell.json (jobs/study.sh, see PLAN: index id task estimator groups G lr seed split
status ...) and, once done, metrics.h5, eval.h5, trajectories.h5 and maybe groups.h5. Every cell.json under
CELLS_DIR (searched recursively, in sorted order) is one cell. study.h5 keeps per-cell scalars and per-step
curves (no trajectories); study.md is a pure function of study.h5, so running this script on a committed
study.h5 regenerates study.md byte for byte (no timestamps, fixed float formats, sorted keys).

Method = (estimator, groups). Per task, method and G, the learning rate is chosen on the tune split by the mean
final training reward (mean of reward/mean over the last 20% of steps, then over seeds); the eval split's cells
at that rate give every reported number. Paired differences (method − GRPO on true groups) pair the cells of
the same seed and SFT base; their 95% CIs are percentile bootstraps over the pairs with a fixed seed.
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

SCHEMA = "pgrpo/study"
REQUIRED = ("index", "id", "task", "estimator", "groups", "G", "lr", "seed", "split", "status")
NUMERIC = {"index": int, "G": int, "lr": float, "seed": int}
BASELINE = ("grpo", "truth")
BOOT_SEED = 20240917
BOOT_N = 10000
MINORITY_SHARE = 0.10
EVAL_COLUMNS = "prompts,reward_sampled,reward_greedy,oracle,normalized,length,distinct1,distinct2"
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def fail(msg, hint, code=3):
    """One line naming the file and what to do; exit 2 (usage: no cells) or 3 (a bad or corrupt input file)."""
    print(f"study.py: error: {msg} (HINT: {hint})", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------------------------
# Collection: cell folders -> study.h5
# ---------------------------------------------------------------------------------------------------------------
def read_cell_json(path):
    try:
        with open(path) as f:
            c = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read cell.json: {e}", "rerun the cell with jobs/study.sh --cells, or remove the folder")
    if not isinstance(c, dict):
        fail(f"{path}: cell.json is not a JSON object", "rerun the cell with jobs/study.sh --cells")
    for k in REQUIRED:
        if k not in c:
            fail(f"{path}: cell.json has no key '{k}'", "rerun the cell with jobs/study.sh --cells (keys: " +
                 " ".join(REQUIRED) + ")")
    for k, typ in NUMERIC.items():
        v = c[k]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or (typ is int and float(v) != int(v)):
            fail(f"{path}: cell.json key '{k}' = {v!r} is not a finite {typ.__name__}", "rerun the cell")
        c[k] = typ(v)
    for k in ("id", "task", "estimator", "groups", "split", "status"):
        if not isinstance(c[k], str) or not c[k] or "/" in c[k]:
            fail(f"{path}: cell.json key '{k}' = {c[k]!r} is not a non-empty name", "rerun the cell")
    return c


def series(f, name):
    g = f.get("observables/" + name)
    if g is None:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.asarray(g["step"][...], np.int64), np.asarray(g["value"][...], np.float64)


def read_metrics(path):
    out = {}
    with h5py.File(path, "r") as f:
        step, reward = series(f, "reward/mean")
        out["step"], out["reward"] = step, reward
        for key, name in (("worst", "reward/worst_group_mean"), ("kl", "kl")):
            s, v = series(f, name)   # aligned with reward's steps; NaN where the series has no value
            col = np.full(len(step), np.nan)
            pos = {int(x): i for i, x in enumerate(step)}
            for x, y in zip(s, v):
                if int(x) in pos:
                    col[pos[int(x)]] = y
            out[key] = col
        names = []
        obs = f.get("observables/reward/group")
        for g in sorted(obs.keys(), key=int) if obs is not None else []:
            d = obs[g]["mean"]["value"].attrs.get("description", b"")
            names.append((int(g), d.decode() if isinstance(d, bytes) else str(d)))
        out["group_names"] = names
    return out


def read_eval(path):
    with h5py.File(path, "r") as f:
        pg = np.asarray(f["per_group"][...], np.float64)
        cols = f["per_group"].attrs.get("columns", b"")
        cols = cols.decode() if isinstance(cols, bytes) else str(cols)
        if cols != EVAL_COLUMNS:
            raise ValueError(f"per_group columns '{cols}', expected '{EVAL_COLUMNS}'")
        return pg, float(f["heldout_nll"][()]), float(f["heldout_nll_base"][()])


def read_traj(path):
    """Per group used for advantages: prompts, share of prompts whose G rewards all tie, mean |A|; users."""
    with h5py.File(path, "r") as f:
        r = np.asarray(f["reward"][...], np.float64)       # (S,P,G)
        a = np.asarray(f["advantage"][...], np.float64)    # (S,P,G)
        grp = np.asarray(f["group"][...], np.int64)        # (S,P)
        user = np.asarray(f["user"][...], np.int64)        # (S,P)
    tied = (r.max(axis=2) == r.min(axis=2)).ravel()
    absa = np.abs(a).mean(axis=2).ravel()
    g = grp.ravel()
    ng = int(g.max()) + 1 if g.size else 0
    n = np.bincount(g, minlength=ng).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tf = np.bincount(g, weights=tied.astype(np.float64), minlength=ng) / n
        ma = np.bincount(g, weights=absa, minlength=ng) / n
    return {"prompts": n, "tied_frac": tf, "mean_abs_adv": ma, "user": user.ravel(), "group": g,
            "tied_all": float(tied.mean()) if tied.size else float("nan")}


def ari(a, b):
    """Adjusted Rand index of two labelings (as scikit-learn computes it)."""
    n = len(a)
    if n < 2:
        return float("nan")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    t = np.zeros((ia.max() + 1, ib.max() + 1), np.int64)
    np.add.at(t, (ia, ib), 1)
    comb = lambda x: (x * (x - 1) // 2).sum()
    sij, sa, sb, tot = comb(t), comb(t.sum(1)), comb(t.sum(0)), n * (n - 1) // 2
    exp = sa * sb / tot
    den = 0.5 * (sa + sb) - exp
    return 1.0 if den == 0 else float((sij - exp) / den)


def user_groups(tr):
    """user -> group map from a trajectories summary (each user's group is fixed within a run)."""
    u, idx = np.unique(tr["user"], return_index=True)
    return dict(zip(u.tolist(), tr["group"][idx].tolist()))


def world_key(c):
    """The users a cell trains on: its task and split (cell.json)."""
    return (c["task"], c["split"])


def collect_cell(d, c):
    """Reads what a cell folder holds; a problem string instead of an exception for a missing/corrupt file."""
    cell = {"json": c, "problem": "", "ari": float("nan"), "ari_source": ""}
    if c["status"] != "done":
        cell["problem"] = f"status {c['status']}"
        return cell
    try:
        cell["metrics"] = read_metrics(os.path.join(d, "metrics.h5"))
        cell["eval"] = read_eval(os.path.join(d, "eval.h5"))
    except (OSError, KeyError, ValueError) as e:
        cell["problem"] = f"status done but unreadable output: {e}"
        return cell
    tp = os.path.join(d, "trajectories.h5")
    if os.path.exists(tp):
        try:
            cell["traj"] = read_traj(tp)
        except (OSError, KeyError, ValueError) as e:
            cell["problem"] = f"trajectories.h5 unreadable: {e}"
            return cell
    gp = os.path.join(d, "groups.h5")
    if os.path.exists(gp):
        try:
            with h5py.File(gp, "r") as f:
                if "eval/ari" in f:
                    cell["ari"], cell["ari_source"] = float(f["eval/ari"][()]), "groups.h5"
        except (OSError, KeyError, ValueError) as e:   # listed with the failed cells, never silently left out
            cell["problem"] = f"groups.h5 unreadable: {e}"
    return cell


def find_cells(root):
    found = []
    for dp, dn, fn in os.walk(root):
        dn.sort()
        if "cell.json" in fn:
            found.append(dp)
    return sorted(found)


def collect(root):
    dirs = find_cells(root)
    if not dirs:
        fail(f"{root}: no cell.json found in any folder below", "give the study's out folder (runs/study) or "
             "its cells/ folder, after jobs/study.sh", 2)
    cells, seen = {}, {}
    for d in dirs:
        c = read_cell_json(os.path.join(d, "cell.json"))
        if c["id"] in seen:
            fail(f"{os.path.join(d, 'cell.json')}: id '{c['id']}' also in {seen[c['id']]}", "one folder per cell")
        seen[c["id"]] = os.path.join(d, "cell.json")
        cells[c["id"]] = collect_cell(d, c)
    # ARI of the groups each cell used, where no groups.h5 says it: against the true groups that truth-group
    # cells of the same task and split record in their trajectories. The task's users do not depend on run.seed,
    # but they do on the split: the tune split is another world (task.seed) whose user ids mean other users.
    truth = {}
    for cid in sorted(cells):
        cl = cells[cid]
        if "traj" in cl and cl["json"]["groups"] == "truth":
            truth.setdefault(world_key(cl["json"]), {}).update(user_groups(cl["traj"]))
    for cid in sorted(cells):
        cl = cells[cid]
        tm = truth.get(world_key(cl["json"]))
        if cl["ari_source"] or "traj" not in cl or not tm:
            continue
        mine = user_groups(cl["traj"])
        us = sorted(u for u in mine if u in tm)
        if len(us) >= 2:
            cl["ari"] = ari(np.array([mine[u] for u in us]), np.array([tm[u] for u in us]))
            cl["ari_source"] = f"trajectories ({len(us)} users)"
    return cells


def _pad(rows, shape_tail, fill, dtype):
    """Stacks ragged 1-D/2-D arrays into one (N, max...) array padded with fill; lengths along axis 0 returned."""
    n0 = max([len(r) for r in rows] + [0])
    out = np.full((len(rows), n0) + shape_tail, fill, dtype)
    for i, r in enumerate(rows):
        if len(r):
            out[i, :len(r)] = r
    return out, np.array([len(r) for r in rows], np.int64)


STR = h5py.string_dtype()


def write_study_h5(cells, path):
    """study.h5, one row per cell (sorted by id) in every dataset; ragged series padded (lengths alongside):
    /cells/{id,cell_json,problem,ari_source,group_names} (N) str, /cells/ari (N);
    /curves/{step (N,S) i64, reward, worst, kl (N,S)}, /curves/length (N); /eval/per_group (N,R,8) with its
    `columns`, /eval/rows (N), /eval/{heldout_nll,heldout_nll_base} (N); /traj/{prompts,tied_frac,mean_abs_adv}
    (N,K), /traj/groups (N). A cell without metrics/eval/trajectories has length/rows/groups 0 there."""
    ids = sorted(cells)
    cl = [cells[i] for i in ids]
    empty = np.zeros(0)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["schema"] = SCHEMA
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["creator"] = "pgrpo postproc/study.py"
        z = dict(compression="gzip", compression_opts=4, shuffle=True)
        put = lambda name, a: f.create_dataset(name, data=a, **(z if np.ndim(a) > 1 and np.size(a) else {}))
        put("cells/id", np.array(ids, dtype=object).astype(STR))
        put("cells/cell_json", np.array([json.dumps(c["json"], sort_keys=True) for c in cl], dtype=STR))
        put("cells/problem", np.array([c["problem"] for c in cl], dtype=STR))
        put("cells/ari_source", np.array([c["ari_source"] for c in cl], dtype=STR))
        put("cells/ari", np.array([c["ari"] for c in cl], np.float64))
        put("cells/group_names", np.array([json.dumps(c["metrics"]["group_names"]) if "metrics" in c else "[]"
                                           for c in cl], dtype=STR))
        m = [c.get("metrics", {}) for c in cl]
        step, length = _pad([x.get("step", empty) for x in m], (), -1, np.int64)
        put("curves/step", step)
        put("curves/length", length)
        for k in ("reward", "worst", "kl"):
            put("curves/" + k, _pad([x.get(k, empty) for x in m], (), np.nan, np.float64)[0])
        ev = [c.get("eval", (np.zeros((0, 8)), np.nan, np.nan)) for c in cl]
        pg, rows = _pad([e[0] for e in ev], (8,), np.nan, np.float64)
        put("eval/per_group", pg)
        f["eval/per_group"].attrs["columns"] = EVAL_COLUMNS
        put("eval/rows", rows)
        put("eval/heldout_nll", np.array([e[1] for e in ev], np.float64))
        put("eval/heldout_nll_base", np.array([e[2] for e in ev], np.float64))
        tr = [c.get("traj", {}) for c in cl]
        for k in ("prompts", "tied_frac", "mean_abs_adv"):
            a, ng = _pad([t.get(k, empty) for t in tr], (), np.nan, np.float64)
            put("traj/" + k, a)
        put("traj/groups", ng)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# study.h5 -> per-cell records
# ---------------------------------------------------------------------------------------------------------------
def _str(a):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in a]


def load_study(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: cannot open as HDF5: {e}", "give a study.h5 written by postproc/study.py, or a cells folder", 3)
    with f:
        sch = f.attrs.get("schema", b"")
        sch = sch.decode() if isinstance(sch, bytes) else str(sch)
        if sch != SCHEMA:
            fail(f"{path}: not a study file (schema '{sch}')", "give a study.h5 written by postproc/study.py", 3)
        try:
            d = {k: f[k][...] for k in ("cells/id", "cells/cell_json", "cells/problem", "cells/ari_source",
                                        "cells/ari", "cells/group_names", "curves/step", "curves/length",
                                        "curves/reward", "curves/worst", "curves/kl", "eval/per_group", "eval/rows",
                                        "eval/heldout_nll", "eval/heldout_nll_base", "traj/prompts",
                                        "traj/tied_frac", "traj/mean_abs_adv", "traj/groups")}
        except (KeyError, OSError) as e:
            fail(f"{path}: incomplete study file: {e}", "regenerate study.h5 with postproc/study.py CELLS_DIR", 3)
    ids = _str(d["cells/id"])
    cells = []
    for i, cid in enumerate(ids):
        try:
            c = json.loads(_str(d["cells/cell_json"][i:i + 1])[0])
        except ValueError:
            fail(f"{path}: /cells/cell_json[{i}] ({cid}) is not JSON", "regenerate study.h5", 3)
        for k in REQUIRED:
            if k not in c:
                fail(f"{path}: /cells/cell_json[{i}] ({cid}) has no key '{k}'", "regenerate study.h5", 3)
        r = dict(c)
        r["problem"] = _str(d["cells/problem"][i:i + 1])[0]
        r["ari"], r["ari_source"] = float(d["cells/ari"][i]), _str(d["cells/ari_source"][i:i + 1])[0]
        r["group_names"] = dict((int(k), v) for k, v in json.loads(_str(d["cells/group_names"][i:i + 1])[0]))
        n = int(d["curves/length"][i])
        if n:
            r["curve"] = {"step": d["curves/step"][i, :n]}
            r["curve"].update({k: np.asarray(d["curves/" + k][i, :n], np.float64) for k in ("reward", "worst", "kl")})
        nr = int(d["eval/rows"][i])
        if nr:
            r["per_group"] = np.asarray(d["eval/per_group"][i, :nr], np.float64)
            r["nll"], r["nll_base"] = float(d["eval/heldout_nll"][i]), float(d["eval/heldout_nll_base"][i])
        ng = int(d["traj/groups"][i])
        if ng:
            r["traj"] = {k: np.asarray(d["traj/" + k][i, :ng], np.float64) for k in ("prompts", "tied_frac", "mean_abs_adv")}
        r["ok"] = not r["problem"] and "curve" in r and "per_group" in r
        cells.append(r)
    return cells


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------
def last20(v):
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    return float(v[-max(1, len(v) // 5):].mean()) if len(v) else float("nan")


def mean_ci(x):
    """Mean and the half-width of its 95% t interval over seeds (NaN half-width with fewer than 2)."""
    x = np.asarray([v for v in x if np.isfinite(v)], np.float64)
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) < 2:
        return float(x.mean()), float("nan")
    t = T975[len(x) - 2] if len(x) - 1 <= len(T975) else 1.96
    return float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x)))


def paired_ci(d):
    """Mean of paired differences and its 95% percentile bootstrap CI (BOOT_N resamples of the pairs, BOOT_SEED)."""
    d = np.asarray(d, np.float64)
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(BOOT_SEED)
    means = d[rng.integers(0, len(d), size=(BOOT_N, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def fmt(x, spec="+.3f"):
    return "n/a" if x is None or not np.isfinite(x) else format(x, spec)


def fmt_ci(m, h, spec="+.3f"):
    return "n/a" if not np.isfinite(m) else (format(m, spec) if not np.isfinite(h) else f"{m:{spec}} ± {h:.3f}")


def fmt_lr(x):
    return format(x, "g")


def method_name(est, grp):
    return f"{est}/{grp}"


def minority_groups(cells, task):
    """Groups with under 10% (and some) of the held-out prompts of the task's eval cells (prompts follow users'
    shares); the shares pool every finished cell, so every method is judged on the same groups."""
    tot = None
    for c in cells:
        if c["ok"] and c["task"] == task:
            p = c["per_group"][:-1, 0]
            tot = p.copy() if tot is None else tot + p if len(p) == len(tot) else tot
    if tot is None or tot.sum() <= 0:
        return [], np.zeros(0)
    share = tot / tot.sum()
    return [g for g in range(len(share)) if 0 < share[g] < MINORITY_SHARE], share


def cell_outcomes(c, minority):
    pg = c["per_group"]
    rs = pg[:, 1]
    seen = pg[:-1, 0] > 0   # a group without held-out prompts has no reward (eval writes 0 for it)
    out = {"overall": rs[-1], "worst": float(rs[:-1][seen].min()) if seen.any() else float("nan")}
    if minority:
        w = pg[minority, 0]
        out["minority"] = float((rs[minority] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
    else:
        out["minority"] = float("nan")
    out["norm"] = pg[-1, 4]
    out["nll"], out["nll_base"] = c["nll"], c["nll_base"]
    out["kl"] = last20(c["curve"].get("kl", []))
    out["final_train"] = last20(c["curve"]["reward"])
    out["ari"] = c["ari"]
    return out


def trailing_mean(r, k):
    """Mean over the last k points up to each step (fewer at the start)."""
    r = np.asarray(r, np.float64)
    cs = np.cumsum(np.insert(r, 0, 0.0))
    lo = np.maximum(0, np.arange(1, len(r) + 1) - k)
    return (cs[1:] - cs[lo]) / (np.arange(1, len(r) + 1) - lo)


def steps_to(c, frac):
    """First step where the training reward, normalised as eval normalises it with the cell's held-out oracle,
    (trailing mean over 10% of the steps; (R + 1) / (oracle + 1)) reaches frac; NaN if never."""
    cur = c["curve"]
    s, r = cur["step"], np.asarray(cur["reward"], np.float64)
    if len(r) == 0:
        return float("nan")
    oracle = c["per_group"][-1, 3]
    norm = (trailing_mean(r, max(1, len(r) // 10)) + 1.0) / max(oracle + 1.0, 1e-9)
    hit = np.nonzero(norm >= frac)[0]
    return float(s[hit[0]]) if len(hit) else float("nan")


# ---------------------------------------------------------------------------------------------------------------
# Analysis: chosen learning rates, then the eval split's tables
# ---------------------------------------------------------------------------------------------------------------
def finite_or_low(x):
    return x if np.isfinite(x) else -np.inf


def choose_lrs(cells, notes):
    """{(task, est, groups, G): (lr, basis)}: the tune split's best lr by mean final training reward."""
    keys = sorted({(c["task"], c["estimator"], c["groups"], c["G"]) for c in cells})
    chosen = {}
    for k in keys:
        def score(split):
            per = {}
            for c in cells:
                if c["ok"] and (c["task"], c["estimator"], c["groups"], c["G"]) == k and c["split"] == split:
                    per.setdefault(c["lr"], []).append(last20(c["curve"]["reward"]))
            return {lr: (float(np.mean(v)), len(v)) for lr, v in per.items()}
        tune = score("tune")
        label = f"{k[0]} {method_name(k[1], k[2])} G={k[3]}"
        if tune:
            best = max(sorted(tune), key=lambda lr: finite_or_low(tune[lr][0]))   # ties: the smaller lr
            chosen[k] = (best, "tune", tune)
            continue
        ev = score("eval")
        if not ev:
            continue
        best = max(sorted(ev), key=lambda lr: finite_or_low(ev[lr][0]))
        chosen[k] = (best, "eval", ev)
        if len(ev) > 1:
            notes.append(f"{label}: no tune-split cell; lr chosen on the eval split itself (optimistic).")
        else:
            notes.append(f"{label}: no tune-split cell; its only lr {fmt_lr(best)} is used.")
    return chosen


def eval_cells(cells, chosen, k):
    if k not in chosen:
        return []
    lr = chosen[k][0]
    return sorted((c for c in cells if c["ok"] and c["split"] == "eval" and c["lr"] == lr and
                   (c["task"], c["estimator"], c["groups"], c["G"]) == k), key=lambda c: c["seed"])


def group_label(names, g):
    return f"{g}: {names[g]}" if g in names and names[g] else f"{g}"


def task_group_names(cells, task):
    """The true groups' names, from the truth-group cells' metrics (each names only the groups it trained on)."""
    names = {}
    for c in cells:
        if c["task"] == task and c["groups"] == "truth":
            for g, n in sorted(c["group_names"].items()):
                names.setdefault(g, n)
    return names


def section_grid(cells):
    L = ["## Grid and compute", ""]
    for k in ("task", "estimator", "groups", "G", "lr", "seed", "split"):
        vals = sorted({c[k] for c in cells})
        L.append(f"- {k}: " + " ".join(fmt_lr(v) if k == "lr" else str(v) for v in vals))
    secs = [float(c["seconds"]) for c in cells if isinstance(c.get("seconds"), (int, float))]
    done = sum(c["ok"] for c in cells)
    L += [f"- cells: {len(cells)} ({done} done and readable, {len(cells) - done} not)",
          f"- compute: {sum(secs):.0f} s of wall-clock time summed over cells (cell.json `seconds`)", ""]
    return L


def section_failed(cells):
    bad = [c for c in cells if not c["ok"]]
    L = ["## Failed or missing cells", ""]
    if not bad:
        return L + ["None: every cell finished and its outputs were read.", ""]
    L += ["These cells are in no table below.", "", "| index | id | status | rc_train | rc_eval | problem |",
          "|---|---|---|---|---|---|"]
    for c in sorted(bad, key=lambda c: (c["index"], c["id"])):
        prob = c["problem"] or "no metrics or eval in study.h5"
        L.append(f"| {c['index']} | {c['id']} | {c['status']} | {c.get('rc_train', '')} | {c.get('rc_eval', '')} "
                 f"| {prob.replace('|', '/')} |")
    return L + [""]


def section_lr(chosen):
    L = ["## Learning rates", "",
         "Each method's rate per task and G: the best mean final training reward (reward/mean averaged over the last "
         "20% of steps, then over seeds) on the tune split; reported numbers below come from the eval split at that "
         "rate.", "", "| task | method | G | split used | lr: mean final reward (seeds) | chosen lr |",
         "|---|---|---|---|---|---|"]
    for k in sorted(chosen):
        lr, basis, sc = chosen[k]
        s = ", ".join(f"{fmt_lr(x)}: {fmt(sc[x][0])} ({sc[x][1]})" for x in sorted(sc))
        L.append(f"| {k[0]} | {method_name(k[1], k[2])} | {k[3]} | {basis} | {s} | {fmt_lr(lr)} |")
    return L + [""]


def tg_keys(cells):
    return sorted({(c["task"], c["G"]) for c in cells})


def methods_of(chosen, task, G):
    return sorted((k[1], k[2]) for k in chosen if k[0] == task and k[3] == G)


def section_heldout(cells, chosen, notes):
    L = ["## Held-out reward (eval split, chosen lr)", "",
         "Sampled reward on held-out users' prompts (`pgrpo eval`), mean ± 95% t half-width over seeds: overall, "
         "the worst group (of the groups with held-out prompts), and the minority groups (under 10% of the held-out "
         "prompts; prompt-weighted); `pgrpo eval`'s normalised reward (R + 1) / (oracle + 1) over all groups; held-out "
         "NLL in nats/token (the SFT base's in brackets); KL to base = the `kl` series (k3 estimate against the frozen "
         "reference, the SFT base) averaged over the last 20% of steps (n/a with train.beta = 0).", ""]
    for task, G in tg_keys(cells):
        ms = methods_of(chosen, task, G)
        if not ms:
            continue
        mino, share = minority_groups(cells, task)
        names = task_group_names(cells, task)
        ml = ", ".join(f"{group_label(names, g)} ({share[g] * 100:.1f}%)" for g in mino) or "none"
        L += [f"### {task}, G = {G}", "", f"Minority groups: {ml}.", "",
              "| method | lr | seeds | overall | worst group | minority | normalised | held-out NLL (base) | KL to base |",
              "|---|---|---|---|---|---|---|---|---|"]
        for est, grp in ms:
            k = (task, est, grp, G)
            cs = eval_cells(cells, chosen, k)
            if not cs:
                L.append(f"| {method_name(est, grp)} | {fmt_lr(chosen[k][0])} | 0 | n/a | n/a | n/a | n/a | n/a | n/a |")
                notes.append(f"{task} {method_name(est, grp)} G={G}: no eval-split cell at lr {fmt_lr(chosen[k][0])}.")
                continue
            o = [cell_outcomes(c, mino) for c in cs]
            col = lambda key: fmt_ci(*mean_ci([x[key] for x in o]))
            nll = f"{fmt_ci(*mean_ci([x['nll'] for x in o]), '.3f')} ({fmt(np.mean([x['nll_base'] for x in o]), '.3f')})"
            L.append(f"| {method_name(est, grp)} | {fmt_lr(chosen[k][0])} | {len(cs)} | {col('overall')} | "
                     f"{col('worst')} | {col('minority')} | {col('norm')} | {nll} | "
                     f"{fmt_ci(*mean_ci([x['kl'] for x in o]), '.4f')} |")
        L.append("")
    return L


def paired_table(cells, chosen):
    """{(task, G): None (no grpo/truth baseline) or [(method, pairs, {outcome: (mean, lo, hi)})]} on the eval split."""
    out = {}
    for task, G in tg_keys(cells):
        ms = methods_of(chosen, task, G)
        if not ms:
            continue
        base = {(c["seed"], c.get("sft_base", "")): c for c in eval_cells(cells, chosen, (task,) + BASELINE + (G,))}
        if not base:
            out[(task, G)] = None
            continue
        mino, _ = minority_groups(cells, task)
        rows = []
        for est, grp in ms:
            if (est, grp) == BASELINE:
                continue
            cs = eval_cells(cells, chosen, (task, est, grp, G))
            pairs = [(cell_outcomes(c, mino), cell_outcomes(base[(c["seed"], c.get("sft_base", ""))], mino))
                     for c in cs if (c["seed"], c.get("sft_base", "")) in base]
            res = {}
            for key in ("overall", "worst", "minority"):
                d = [a[key] - b[key] for a, b in pairs if np.isfinite(a[key] - b[key])]
                res[key] = paired_ci(d) + (len(d),)
            rows.append(((est, grp), len(pairs), res))
        out[(task, G)] = rows
    return out


def fmt_diff(r):
    m, lo, hi, n = r
    if not np.isfinite(m):
        return "n/a"
    return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" if n >= 2 else f"{m:+.3f} [no CI: 1 pair]"


PAIRED_HEADER = ["| method | pairs | Δ overall [95% CI] | Δ worst group [95% CI] | Δ minority [95% CI] |",
                 "|---|---|---|---|---|"]


def paired_row(m, n, res, lead=""):
    return f"| {lead}{method_name(*m)} | {n} | " + " | ".join(fmt_diff(res[k]) for k in ("overall", "worst", "minority")) + " |"


def section_headline(paired):
    L = ["## Headline: P-GRPO − GRPO", "",
         "Held-out sampled reward of P-GRPO on the true groups minus GRPO's, paired by seed and SFT base, each at its "
         "tuned learning rate (eval split); 95% bootstrap CIs. Details and the other arms below.", "",
         "| task | G | " + PAIRED_HEADER[0][2:], "|---|---|" + PAIRED_HEADER[1][1:]]
    n = 0
    for (task, G), rows in sorted(paired.items()):
        for m, k, res in rows or []:
            if m[0].startswith("pgrpo") and m[1] == "truth":
                L.append(f"| {task} | {G} " + paired_row(m, k, res))
                n += 1
    if not n:
        L = L[:3] + ["No P-GRPO (true groups) vs GRPO (true groups) pair on the eval split."]
    return L + [""]


def section_paired(cells, paired, notes):
    L = ["## Paired differences against GRPO (true groups)", "",
         f"Method − grpo/truth on the eval split, each at its chosen lr, paired by seed and SFT base; mean and 95% "
         f"percentile bootstrap CI over the pairs ({BOOT_N} resamples, seed {BOOT_SEED}). A CI that excludes 0 is a "
         "difference at this number of seeds.", ""]
    for (task, G), rows in sorted(paired.items()):
        L += [f"### {task}, G = {G}", ""]
        if rows is None:
            L += ["No grpo/truth cell on the eval split: no paired comparison.", ""]
            notes.append(f"{task} G={G}: no grpo/truth baseline on the eval split; paired differences skipped.")
            continue
        L += PAIRED_HEADER + [paired_row(m, k, res) for m, k, res in rows] + [""]
    return L


def section_speed(cells, chosen):
    L = ["## Convergence speed", "",
         "Steps until the training reward reaches 50% / 80% of the oracle-normalised reward. Training metrics carry "
         "no oracle, so the proxy is the trailing mean (10% of the steps) of reward/mean normalised as `pgrpo eval` "
         "normalises (R + 1) / (oracle + 1), with the cell's held-out oracle reward (the same prompt distribution). "
         "Mean over the seeds that reach it (reached / seeds).", "",
         "| task | G | method | normalised at step 0 | steps to 50% | steps to 80% |", "|---|---|---|---|---|---|"]
    for task, G in tg_keys(cells):
        for est, grp in methods_of(chosen, task, G):
            cs = eval_cells(cells, chosen, (task, est, grp, G))
            if not cs:
                continue
            n0 = [(c["curve"]["reward"][0] + 1) / max(c["per_group"][-1, 3] + 1, 1e-9) for c in cs
                  if len(c["curve"]["reward"])]
            row = [task, str(G), method_name(est, grp), fmt(np.mean(n0) if n0 else float("nan"), ".3f")]
            for frac in (0.5, 0.8):
                s = [steps_to(c, frac) for c in cs]
                hit = [x for x in s if np.isfinite(x)]
                row.append(f"{np.mean(hit):.1f} ({len(hit)}/{len(s)})" if hit else f"not reached (0/{len(s)})")
            L.append("| " + " | ".join(row) + " |")
    return L + [""]


def tie_table(ts):
    """Per group (then all groups, last): tied share and mean |A|, each the mean over the seeds that saw the group
    (all groups: prompt-weighted within a seed)."""
    ng = max(len(t["prompts"]) for t in ts)
    tf, ma = np.full((len(ts), ng + 1), np.nan), np.full((len(ts), ng + 1), np.nan)
    for i, t in enumerate(ts):
        n = len(t["prompts"])
        seen = t["prompts"] > 0
        tf[i, :n][seen], ma[i, :n][seen] = t["tied_frac"][seen], t["mean_abs_adv"][seen]
        w = t["prompts"][seen]
        if w.sum() > 0:
            tf[i, ng] = (t["tied_frac"][seen] * w).sum() / w.sum()
            ma[i, ng] = (t["mean_abs_adv"][seen] * w).sum() / w.sum()
    col = lambda a: np.array([a[np.isfinite(a[:, j]), j].mean() if np.isfinite(a[:, j]).any() else np.nan
                              for j in range(ng + 1)])
    return col(tf), col(ma)


def section_groups(cells, chosen):
    L = ["## Ties and advantage scale per group", "",
         "From trajectories.h5 over all training steps, per group used for the advantages (the true group for the "
         "truth-group methods): the share of prompts whose G rewards all tie (zero GRPO signal), and the mean |A| over completions. "
         "Mean over the seeds that saw the group; `tied / |A|`; **all**: every prompt.", ""]
    for task, G in tg_keys(cells):
        ms = [m for m in methods_of(chosen, task, G) if any("traj" in c for c in eval_cells(cells, chosen, (task,) + m + (G,)))]
        if not ms:
            L += [f"{task}, G = {G}: no trajectories.h5 summary in study.h5.", ""]
            continue
        per = {m: tie_table([c["traj"] for c in eval_cells(cells, chosen, (task,) + m + (G,)) if "traj" in c])
               for m in ms}
        ng = max(len(v[0]) for v in per.values()) - 1
        L += [f"### {task}, G = {G}", "", "| group | " + " | ".join(method_name(*m) for m in ms) + " |",
              "|---|" + "---|" * len(ms)]
        for g in list(range(ng)) + [-1]:
            cellsx = []
            for m in ms:
                tf, ma = per[m]
                i = g if g >= 0 else len(tf) - 1
                ok = (g < len(tf) - 1) and np.isfinite(tf[i])
                cellsx.append(f"{tf[i]:.3f} / {ma[i]:.3f}" if ok else "n/a")
            L.append(f"| {g if g >= 0 else '**all**'} | " + " | ".join(cellsx) + " |")
        L.append("")
    return L


def section_ari(cells, chosen):
    L = ["## Groups used: ARI against the true groups", "",
         "From the cell's groups.h5 (`/eval/ari`, train.groups = discover) where present, else from the users' groups "
         "in trajectories.h5 against a truth-group cell of the same task. Mean over seeds (seeds with a value / seeds).",
         "", "| task | G | method | ARI | source |", "|---|---|---|---|---|"]
    for task, G in tg_keys(cells):
        for est, grp in methods_of(chosen, task, G):
            cs = eval_cells(cells, chosen, (task, est, grp, G))
            if not cs:
                continue
            v = [c["ari"] for c in cs if np.isfinite(c["ari"])]
            src = sorted({c["ari_source"].split(" ")[0] for c in cs if c["ari_source"]})
            L.append(f"| {task} | {G} | {method_name(est, grp)} | "
                     f"{fmt(np.mean(v), '.3f') if v else 'n/a'} ({len(v)}/{len(cs)}) | {', '.join(src) or 'n/a'} |")
    return L + [""]


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------
def figure_curves(cells, chosen, task, G, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    drawn = 0
    for m in methods_of(chosen, task, G):
        cs = [c for c in eval_cells(cells, chosen, (task,) + m + (G,)) if len(c["curve"]["reward"])]
        if not cs:
            continue
        n = min(len(c["curve"]["reward"]) for c in cs)
        s = cs[0]["curve"]["step"][:n]
        y = np.array([trailing_mean(c["curve"]["reward"][:n], max(1, n // 20)) for c in cs])
        mu = y.mean(axis=0)
        h = np.array([mean_ci(y[:, i])[1] for i in range(n)]) if len(cs) > 1 else np.zeros(n)
        line, = ax.plot(s, mu, label=f"{method_name(*m)} lr {fmt_lr(chosen[(task,) + m + (G,)][0])} ({len(cs)} seeds)")
        ax.fill_between(s, mu - h, mu + h, color=line.get_color(), alpha=0.2, linewidth=0)
        drawn += 1
    ax.set_title(f"{task}, G = {G}: training reward (trailing mean over 5% of steps), mean and 95% band over seeds",
                 fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("reward/mean")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    _save(fig, path)
    return drawn


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _plt().close(fig)


def figure_paired(paired, task, path):
    """Forest plot: every (G, method) against grpo/truth, one panel per outcome."""
    rows = [(G, m, res) for (t, G), rr in sorted(paired.items()) if t == task for m, _, res in rr or []]
    if not rows:
        return 0
    plt = _plt()
    keys = ("overall", "worst", "minority")
    fig, axes = plt.subplots(1, 3, figsize=(11, max(2.6, 1.2 + 0.35 * len(rows))), sharey=True, squeeze=False)
    y = np.arange(len(rows))[::-1]
    for ax, key in zip(axes[0], keys):
        for yi, (G, m, res) in zip(y, rows):
            mu, lo, hi, n = res[key]
            if np.isfinite(mu) and n >= 2:
                ax.errorbar([mu], [yi], xerr=[[mu - lo], [hi - mu]], fmt="o", color="C0", capsize=3)
            elif np.isfinite(mu):   # one pair: the difference, hollow, without an interval
                ax.plot([mu], [yi], "o", mfc="none", color="C0")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"Δ {key} vs grpo/truth", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_yticks(y)
    axes[0][0].set_yticklabels([f"G={G} {method_name(*m)}" for G, m, _ in rows], fontsize=8)
    fig.suptitle(f"{task}: paired held-out reward differences (95% bootstrap CI)", fontsize=10)
    _save(fig, path)
    return 1


def figure_ties(cells, chosen, task, path):
    """The mechanism: the share of all-tied prompts and the advantage scale against G, per method."""
    per = {}
    for t, est, grp, G in sorted(chosen):
        if t != task:
            continue
        ts = [c["traj"] for c in eval_cells(cells, chosen, (t, est, grp, G)) if "traj" in c]
        if ts:
            tf, ma = tie_table(ts)
            per.setdefault((est, grp), []).append((G, tf[-1], ma[-1]))
    if not per:
        return 0
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), squeeze=False)
    for m, pts in sorted(per.items()):
        Gs = [p[0] for p in pts]
        axes[0][0].plot(Gs, [p[1] for p in pts], "o-", label=method_name(*m))
        axes[0][1].plot(Gs, [p[2] for p in pts], "o-", label=method_name(*m))
    for ax, lab in zip(axes[0], ("share of prompts with all G rewards tied", "mean |A|")):
        ax.set_xlabel("G")
        ax.set_ylabel(lab, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{task}: ties and advantage scale (training, eval split, chosen lr)", fontsize=10)
    _save(fig, path)
    return 1


def report(study_h5, out):
    cells = load_study(study_h5)
    notes = []
    chosen = choose_lrs(cells, notes)
    L = ["# P-GRPO study", "", f"Generated by `postproc/study.py` from study.h5 ({len(cells)} cells); "
         "`/usr/bin/python3 postproc/study.py study.h5` regenerates this file. Method = estimator/groups; every "
         "comparison is on the eval split at each method's chosen learning rate.", ""]
    paired = paired_table(cells, chosen)
    L += section_headline(paired) + section_grid(cells) + section_failed(cells) + section_lr(chosen)
    L += section_heldout(cells, chosen, notes) + section_paired(cells, paired, notes)
    L += section_speed(cells, chosen) + section_groups(cells, chosen) + section_ari(cells, chosen)
    L += ["## Figures", "", "Training reward per method at its chosen lr (eval split; trailing mean over 5% of the steps, then mean "
          "and 95% t band over seeds), "
          "per task and G:", ""]
    figs = []
    for task, G in tg_keys(cells):
        name = f"curves_{task}_G{G}.png"
        if figure_curves(cells, chosen, task, G, os.path.join(out, name)):
            L += [f"![{task} G={G}]({name})", ""]
            figs.append(name)
    if not figs:
        L += ["No curves: no finished eval-split cell.", ""]
    for task in sorted({t for t, _ in tg_keys(cells)}):
        name = f"paired_{task}.png"
        if figure_paired(paired, task, os.path.join(out, name)):
            L += [f"Paired differences against grpo/truth on {task} (mean, 95% bootstrap CI):", "",
                  f"![{task} paired differences]({name})", ""]
            figs.append(name)
        name = f"ties_{task}.png"
        if figure_ties(cells, chosen, task, os.path.join(out, name)):
            L += [f"Tied prompts and mean |A| (all groups) against G on {task}:", "", f"![{task} ties]({name})", ""]
            figs.append(name)
    splits = {c["split"] for c in cells}
    if "tune" not in splits:
        notes.append("no tune split in the study: learning rates were not tuned on separate seeds.")
    if "eval" not in splits:
        notes.append("no eval split in the study: no held-out comparison.")
    L += ["## Notes", ""] + ([f"- {n}" for n in sorted(set(notes))] or ["None."]) + [""]
    md = os.path.join(out, "study.md")
    tmp = md + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(L))
    os.replace(tmp, md)
    return md, figs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", help="a folder of cells (searched for cell.json) or a study.h5")
    ap.add_argument("--out", default=None, help="output folder (default: OUT/study for OUT or OUT/cells, or "
                    "study.h5's folder)")
    a = ap.parse_args()
    if os.path.isdir(a.input):
        # runs/study or runs/study/cells -> runs/study/study
        top = os.path.dirname(os.path.normpath(a.input)) if os.path.basename(os.path.normpath(a.input)) == "cells" \
            else a.input
        out = a.out or os.path.join(top, "study")
        cells = collect(a.input)
        os.makedirs(out, exist_ok=True)
        h5 = os.path.join(out, "study.h5")
        write_study_h5(cells, h5)
    elif os.path.isfile(a.input):
        h5 = a.input
        out = a.out or os.path.dirname(os.path.abspath(h5))
        os.makedirs(out, exist_ok=True)
    else:
        fail(f"{a.input}: no such file or folder", "give the study's cells folder or a study.h5", 2)
    md, figs = report(h5, out)
    print(f"study.py: wrote {md}" + (f", {len(figs)} figures" if figs else "") + f" (from {h5})")


if __name__ == "__main__":
    main()
