# tests/bench/section_reward.sh — `make bench` section "reward" (sourced by tests/bench/run.sh): what a demo-sized
# P-GRPO step costs with the task's built-in reward, the example plugin (build/plugins/reward_example.so) and the
# example reward process (/usr/bin/python3 inputs/plugins/reward_example.py). Demo-sized: inputs/bench_rl.deck's
# model and task (the demo's) with the demo's P = 16, G = 8 on 2 ranks. The policy is frozen (train.lr = 0) so that
# every mode samples the same completions and only the reward differs. Mean over steps 5.. of a run, median of
# $RUNS runs, the modes interleaved. Bar: the process adds <= 10% to the step (judged on the reward phase, the only
# work that differs between the modes; the whole-step ratio is printed too).
# Alone: BENCH_SECTIONS=reward bash tests/bench/run.sh
section_reward() {
    local deck=inputs/bench_rl.deck mpirun=(mpirun -np 2 -x OPENBLAS_NUM_THREADS) i mode
    [ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
    [ "$(nproc)" -lt 2 ] && mpirun+=(--oversubscribe)
    echo "== reward: a demo-sized step (P=16, G=8, 2 ranks, lr 0) with the built-in reward, a plugin and a reward process; median of $RUNS runs"
    make -s bin/pgrpo plugins || return 1
    [ -f build/bench/rl_sft_base.h5 ] || bin/pgrpo sft "$deck" --quiet || return 1
    local common=(train "$deck" --quiet --set train.prompts=16 --set train.group_size=8 --set train.lr=0
                  --set train.steps=25 --set checkpoint.every=0)
    for ((i = 1; i <= RUNS; i++)); do
        for mode in builtin plugin process; do
            local extra=()
            [ $mode = plugin ] && extra=(--set reward.plugin=build/plugins/reward_example.so)
            [ $mode = process ] && extra=(--set reward.command="/usr/bin/python3 inputs/plugins/reward_example.py")
            rm -rf "$OUT/rw_$mode.$i"
            "${mpirun[@]}" bin/pgrpo "${common[@]}" --set run.out_dir="$OUT/rw_$mode.$i" "${extra[@]}" \
                >"$OUT/rw_$mode.$i.log" 2>&1 || { echo "# FAILED: $mode run $i (see $OUT/rw_$mode.$i.log)"; return 1; }
        done
    done
    OUT="$OUT" RUNS="$RUNS" "$PY" - <<'EOF2'
import os, statistics, h5py, numpy as np
out, runs = os.environ["OUT"], int(os.environ["RUNS"])
modes = ("builtin", "plugin", "process")
def med(mode):
    per = {"step": [], "reward": [], "rollout": []}
    for i in range(1, runs + 1):
        with h5py.File(f"{out}/rw_{mode}.{i}/metrics.h5", "r") as f:
            for p in per:
                per[p].append(float(np.mean(f[f"observables/time/{p}/value"][5:])))
    return {p: statistics.median(v) for p, v in per.items()}
m = {k: med(k) for k in modes}
same = True
with h5py.File(f"{out}/rw_builtin.1/trajectories.h5", "r") as a, h5py.File(f"{out}/rw_process.1/trajectories.h5", "r") as b:
    same = np.array_equal(a["completion_tokens"][...], b["completion_tokens"][...])
print(f"{'ms per step':<24}" + "".join(f"{k:>12}" for k in modes))
for p in ("rollout", "reward", "step"):
    print(f"{p:<24}" + "".join(f"{1e3 * m[k][p]:>12.2f}" for k in modes))
b = m["builtin"]["step"]
for k in ("plugin", "process"):
    print(f"{k} vs built-in: whole step {m[k]['step'] / b:.3f}x, reward phase {1e3 * (m[k]['reward'] - m['builtin']['reward']):+.2f} ms"
          f" = {100 * (m[k]['reward'] - m['builtin']['reward']) / b:+.2f}% of the built-in step")
# The modes do the same work apart from the reward phase (same completions, same learner arithmetic), so the bar is
# judged on the reward phase's extra time; the whole-step ratio above also carries the shared machine's noise.
over = (m["process"]["reward"] - m["builtin"]["reward"]) / b
print(f"reward process overhead on a demo-sized step: {100 * over:+.2f}%  target <= 10%: {'met' if over <= 0.10 else 'NOT met'}"
      f"  (same completions in every mode: {'yes' if same else 'NO'})")
EOF2
}
