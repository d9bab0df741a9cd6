#!/usr/bin/env bash
# kill -9 trials: every rank and mpirun killed at once (a node failure) at a random moment -- often mid-step,
# sometimes mid-checkpoint (checkpoints every step) -- then `--resume auto` until the run finishes. Each chain
# must end bit-identical to an uninterrupted run, with metrics steps 0..N-1 exactly once and no temporaries.
# Default: 2 chains x 3 kills (make check). PGRPO_KILL_TRIALS=15 (or more) for the large run: ceil(N/3) chains.
source "$(dirname "$0")/../lib.sh"
D=$SCRATCH
N=${PGRPO_KILL_TRIALS:-6}
KILLS=3; CHAINS=$(( (N + KILLS - 1) / KILLS ))
STEPS=${PGRPO_KILL_STEPS:-30}
"$PGRPO" sft $TINY --set run.out_dir=$D/base --quiet || { nok sft_base; exit 1; }
T=(train $TINY --set train.base=$D/base/sft_base.h5 --set train.steps=$STEPS --set checkpoint.every=1
   --set train.prompts=24 --set train.group_size=8 --quiet)
t0=$(date +%s.%N)
mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$D/ref || { nok uninterrupted_run; exit 1; }
# The kill delay scales with this machine's step time (start-up included, so an overestimate): at most 4 steps
# past the launch's first own checkpoint, so three kills leave steps to run and every kill can land on a live job.
STEP_S=$(awk -v a=$t0 -v b=$(date +%s.%N) -v n=$STEPS 'BEGIN{printf "%.4f", (b - a) / n}')
identical() {
    same_dataset $D/ref/final.h5 $1/final.h5 /model/params &&
    same_dataset $D/ref/trajectories.h5 $1/trajectories.h5 /reward &&
    same_dataset $D/ref/trajectories.h5 $1/trajectories.h5 /completion_tokens &&
    /usr/bin/python3 - "$1" $STEPS <<'PY'
import sys, h5py
with h5py.File(sys.argv[1] + "/metrics.h5", "r") as f:
    for name in ("reward/mean", "loss/total", "kl"):
        s = list(f["observables/" + name + "/step"][...])
        assert s == list(range(int(sys.argv[2]))), (name, s)
PY
}
total_kills=0; bad=0
for c in $(seq 1 $CHAINS); do
    R=$D/chain$c; rcs=""
    for k in $(seq 1 $KILLS); do
        before=$(cat $R/checkpoints/latest 2>/dev/null)
        bg_mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$R --resume auto
        # Once this launch has written a checkpoint of its own (so the kill lands in a resumed timeline, past
        # the start-up), then a random moment: mid-step or mid-checkpoint.
        for _ in $(seq 1 400); do
            now=$(cat $R/checkpoints/latest 2>/dev/null)
            [ -n "$now" ] && [ "$now" != "$before" ] && break; kill -0 $BG_PID 2>/dev/null || break; sleep 0.05
        done
        sleep "$(awk -v s=$RANDOM -v d=$STEP_S 'BEGIN{srand(s); printf "%.3f", rand() * 4 * d}')"
        job_kill9; wait $BG_PID 2>/dev/null; rc=$?; rcs="$rcs $rc"
        [ $rc -eq 137 ] && total_kills=$((total_kills + 1))
    done
    timeout 300 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO "${T[@]}" --set run.out_dir=$R --resume auto; rc=$?
    left=$(find $R/checkpoints -name '*.tmp*' 2>/dev/null)
    if [ $rc -eq 0 ] && identical $R && [ -z "$left" ]; then ok "kill9 chain $c bit-identical after kills (rcs:$rcs)"
    else bad=$((bad + 1)); nok "kill9 chain $c bit-identical after kills" "rcs:$rcs final rc=$rc" "$left"; fi
done
# Enough of the kills must have landed on a live run (rc 137), or the trials tested nothing.
[ $total_kills -ge $(( CHAINS * KILLS / 2 )) ] && ok "kill9: $total_kills of $((CHAINS * KILLS)) kills hit a running job, $bad chains differed" \
    || nok "kill9: only $total_kills of $((CHAINS * KILLS)) kills hit a running job"
