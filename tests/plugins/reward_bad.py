#!/usr/bin/python3
"""reward_bad.py — a misbehaving reward process for the tests: inputs/plugins/reward_example.py's reward with one
failure injected by the environment. REWARD_BAD=MODE@K acts on batch K (0-based) of this process:
  hang     never answers            exit     exits with status 7 before answering
  garbage  answers "banana" for item 1   nan   answers "nan" for item 1   extra  answers one line too many
REWARD_BAD=noready answers "hello" to the header. REWARD_BAD_RANK=R: only on MPI rank R."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../inputs/plugins"))
import reward_example as ex

rank = os.environ.get("REWARD_BAD_RANK")
bad = os.environ.get("REWARD_BAD", "") if rank in (None, "", os.environ.get("OMPI_COMM_WORLD_RANK")) else ""
mode, _, at = bad.partition("@")
at = int(at) if at else -1

inp, out = sys.stdin, sys.stdout
head = inp.readline().rstrip("\n").split("\t", 1)
length = ex.parse_config(ex.unescape(head[1]) if len(head) > 1 else "")
out.write("hello\n" if mode == "noready" else "ready\n")
out.flush()
k = 0
for line in inp:
    _, _, n = line.split()
    items = [inp.readline().rstrip("\n").split("\t") for _ in range(int(n))]
    ans = [repr(ex.reward(ex.unescape(i[4]), ex.unescape(i[5]), i[3] == "1", length)) for i in items]
    if k == at:
        if mode == "hang":
            time.sleep(3600)
        if mode == "exit":
            sys.exit(7)
        if mode == "garbage":
            ans[min(1, len(ans) - 1)] = "banana"
        if mode == "nan":
            ans[min(1, len(ans) - 1)] = "nan"
        if mode == "extra":
            ans.append("0.5")
    out.write("\n".join(ans) + "\n")
    out.flush()
    k += 1
