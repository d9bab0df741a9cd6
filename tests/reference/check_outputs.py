#!/usr/bin/python3
"""check_outputs.py RUN_DIR STEPS — opens trajectories.h5 and metrics.h5 of a finished `pgrpo train` run with h5py
and checks shapes, step coverage (no duplicated, no missing steps), and that rewards and advantages are consistent:
the advantages are recomputed independently in numpy from the stored rewards and groups (GRPO, Dr. GRPO, or
P-GRPO with a cumulative history, order before, cold start grpo, population variance) and must match."""
import sys

import os

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postproc"))
from report import deck_value  # noqa: E402  (the one deck-text reader)

run, steps = sys.argv[1], int(sys.argv[2])
fails = 0


def check(name, cond, msg=""):
    global fails
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else "\n#   " + msg))
    fails += 0 if cond else 1


with h5py.File(f"{run}/trajectories.h5", "r") as f:
    deck = f.attrs["deck"]
    deck = deck.decode() if isinstance(deck, bytes) else deck
    check("traj_schema", str(f.attrs["schema"].decode() if isinstance(f.attrs["schema"], bytes) else f.attrs["schema"]).startswith("pgrpo/"))
    P, G = int(deck_value(deck, "train.prompts")), int(deck_value(deck, "train.group_size"))
    step = f["step"][...]
    R = f["reward"][...]
    A = f["advantage"][...]
    grp = f["group"][...]
    clen = f["completion_len"][...]
    ctok = f["completion_tokens"][...]
    blogp = f["behaviour_logp"][...]
    ver = f["policy_version"][...]
    check("traj_steps_complete", list(step) == list(range(steps)), f"steps {list(step)}")
    check("traj_shapes", R.shape == (steps, P, G) and A.shape == (steps, P, G) and grp.shape == (steps, P)
          and ctok.shape[:3] == (steps, P, G) and blogp.shape == ctok.shape, f"{R.shape} {A.shape} {ctok.shape}")
    check("traj_compressed", f["completion_tokens"].compression == "gzip", str(f["completion_tokens"].compression))
    check("reward_range", np.all(R >= -1) and np.all(R <= 1), f"min {R.min()} max {R.max()}")
    Tc = ctok.shape[3]
    check("lengths_valid", np.all(clen >= 1) and np.all(clen <= Tc))
    # Behaviour log-probs: negative inside the completion, exactly 0 after it.
    t = np.arange(Tc)[None, None, None, :]
    inside = t < clen[..., None]
    check("behaviour_logp", np.all(blogp[inside] <= 1e-6) and np.all(blogp[~inside] == 0))
    kind = deck_value(deck, "train.advantage")
    eps = float(deck_value(deck, "pgrpo.eps"))
    asyn = deck_value(deck, "train.async") == "true"
    expect_ver = np.maximum(np.arange(steps) - (1 if asyn else 0), 0)
    check("policy_version", np.all(ver == expect_ver[:, None]), f"{ver[:, 0]} vs {expect_ver}")
    Rd = R.astype(np.float64)
    mu = Rd.mean(axis=2, keepdims=True)
    sd = Rd.std(axis=2, keepdims=True)
    if kind == "grpo":
        ref = (Rd - mu) / (sd + eps)
    elif kind == "drgrpo":
        ref = Rd - mu
    else:
        ref = np.zeros_like(Rd)
        ng = int(grp.max()) + 1
        n = np.zeros(ng); s1 = np.zeros(ng); s2 = np.zeros(ng)
        for s in range(steps):
            for g in range(ng):     # cumulative history, the batch enters before its own advantages
                x = Rd[s][grp[s] == g].ravel()
                n[g] += x.size; s1[g] += x.sum(); s2[g] += (x * x).sum()
            for p in range(P):
                g = grp[s, p]
                if n[g] < 2:        # cold start: GRPO's advantage
                    ref[s, p] = (Rd[s, p] - Rd[s, p].mean()) / (Rd[s, p].std() + eps)
                else:
                    m = s1[g] / n[g]
                    var = max(s2[g] / n[g] - m * m, 0.0)
                    ref[s, p] = (Rd[s, p] - m) / (np.sqrt(var) + eps)
    err = np.abs(ref - A).max()
    check(f"advantages_match_{kind}", err < 2e-3 * max(1.0, np.abs(ref).max()), f"max abs err {err}")
    if kind == "grpo":
        check("grpo_adv_sum_zero", np.abs(A.sum(axis=2)).max() < 1e-3)

with h5py.File(f"{run}/metrics.h5", "r") as f:
    obs = f["observables"]
    for name in ("reward/mean", "loss/total", "kl", "entropy", "grad_norm", "clip/low", "time/rollout", "tokens_per_s"):
        ok = name in obs and list(obs[name]["step"][...]) == list(range(steps))
        check(f"metric_{name.replace('/', '_')}", ok, "missing or wrong steps")
    m = obs["reward/mean"]["value"][...]
    check("metric_reward_matches_traj", np.allclose(m, R.reshape(steps, -1).mean(axis=1), atol=1e-5),
          f"{m[:3]} vs {R.reshape(steps, -1).mean(axis=1)[:3]}")
    gm = [obs[f"reward/group/{g}/mean"] for g in range(int(grp.max()) + 1) if f"reward/group/{g}/mean" in obs]
    check("metric_groups_present", len(gm) >= 2)
sys.exit(1 if fails else 0)
