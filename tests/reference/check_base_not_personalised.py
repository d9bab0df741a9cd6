#!/usr/bin/python3
"""check_base_not_personalised.py RUN_DIR TOKEN_POS MAX_TV [POLICY.h5] — the SFT base does not know the preferences: in step 0
of trajectories.h5 (sampled by the unchanged SFT base), the distribution of the completion token at TOKEN_POS
(the genre word in personas, the sentiment word in reviews) must not depend on the user's group: the total
variation distance between each group's distribution and the pooled one stays below MAX_TV for every group with
at least 80 samples. With POLICY.h5 (its tokenizer/words), tokens are first mapped to their word without digits
(recsys: the genre of the recommended item, "scifi11" -> "scifi"). Prints TAP lines."""
import sys
import h5py
import numpy as np

run, pos, max_tv = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with h5py.File(f"{run}/trajectories.h5", "r") as f:
    tok = f["completion_tokens"][0][:, :, pos]   # (P,G)
    grp = f["group"][0]                           # (P)
    assert f["policy_version"][0].max() == 0
if len(sys.argv) > 4:
    with h5py.File(sys.argv[4], "r") as f:
        words = bytes(f["tokenizer/words"][...]).decode().split("\n")
    cls = {w.rstrip("0123456789") for w in words}
    ids = {c: i for i, c in enumerate(sorted(cls))}
    tok = np.vectorize(lambda t: ids[words[t].rstrip("0123456789")])(tok)
vals = np.unique(tok)
pooled = np.array([(tok == v).mean() for v in vals])
worst, worst_g, n_checked = 0.0, -1, 0
for g in np.unique(grp):
    t = tok[grp == g].ravel()
    if t.size < 80:
        continue
    n_checked += 1
    d = np.array([(t == v).mean() for v in vals])
    tv = 0.5 * np.abs(d - pooled).sum()
    if tv > worst:
        worst, worst_g = tv, g
ok = n_checked >= 2 and worst <= max_tv
print(("ok" if ok else "not ok") + f" - sft_base_not_personalised_pos{pos} # worst TV {worst:.3f} (group {worst_g}), "
      f"{n_checked} groups, limit {max_tv}")
sys.exit(0 if ok else 1)
