#!/usr/bin/python3
"""check_rewards.py RUN_DIR [LENGTH] — every reward in RUN_DIR/trajectories.h5 equals what the example reward
(inputs/plugins/reward_example.py, the same formula as reward_example.c) gives for the decoded prompt and completion,
bit for bit as float32. The vocabulary comes from RUN_DIR/final.h5 (tokenizer/words). Prints a TAP line."""
import os, sys
import h5py, numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../inputs/plugins"))
import reward_example as ex

run, length = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
BOS, EOS, SEP = 1, 2, 3
with h5py.File(os.path.join(run, "final.h5"), "r") as f:
    vocab = bytes(f["tokenizer/words"][...]).decode().split("\n")
with h5py.File(os.path.join(run, "trajectories.h5"), "r") as f:
    pt, pl = f["prompt_tokens"][...], f["prompt_len"][...]
    ct, cl, rw = f["completion_tokens"][...], f["completion_len"][...], f["reward"][...]
S, P, G = rw.shape
bad, n = [], 0
for s in range(S):
    for p in range(P):
        toks = list(pt[s, p, :pl[s, p]])
        a, b = (1 if toks and toks[0] == BOS else 0), len(toks)
        if b > a and toks[b - 1] == SEP:
            b -= 1
        prompt = " ".join(vocab[t] for t in toks[a:b])
        for g in range(G):
            c = list(ct[s, p, g, :cl[s, p, g]])
            complete = bool(c) and c[-1] == EOS
            text = " ".join(vocab[t] for t in (c[:-1] if complete else c))
            want = np.float32(ex.reward(prompt, text, complete, length))
            n += 1
            if want != rw[s, p, g]:
                bad.append(f"step {s} prompt {p} completion {g}: stored {rw[s, p, g]!r}, formula {want!r}")
distinct = len(np.unique(rw))
if bad or n == 0 or distinct < 2:
    print(f"not ok - rewards_equal_formula ({len(bad)} of {n} differ, {distinct} distinct values)")
    for l in bad[:5]:
        print("#   " + l)
    sys.exit(1)
print(f"ok - rewards_equal_formula # {n} rewards, {distinct} distinct values")
