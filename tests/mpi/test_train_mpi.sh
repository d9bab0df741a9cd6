#!/usr/bin/env bash
# MPI tests of `pgrpo sft` and `pgrpo train` at 1, 2 and 4 ranks: determinism, agreement across rank layouts,
# rollout/learner split (synchronous and asynchronous), and the HDF5 outputs read back by h5py.
source "$(dirname "$0")/../lib.sh"
D=$SCRATCH
S="--quiet"
run() { local out=$1; shift; "$@" >"$out.log" 2>&1; local rc=$?; [ $rc -eq 0 ] || { echo "#   rc=$rc: $*"; tail -5 "$out.log" | sed 's/^/#   /'; }; return $rc; }

# --- SFT: the base every training run starts from (built once, 2 ranks).
check sft_2ranks run $D/sft mpi 2 $PGRPO sft $TINY --set run.out_dir=$D/base $S
BASE=$D/base/sft_base.h5
# Same seed and rank count => the same weights bit for bit.
check sft_2ranks_again run $D/sft2 mpi 2 $PGRPO sft $TINY --set run.out_dir=$D/base2 $S
check sft_bit_identical same_dataset $BASE $D/base2/sft_base.h5 /model/params
# 1 rank vs 2 ranks on the same global batch: the same training to float tolerance (sum order differs).
check sft_1rank run $D/sft1 $PGRPO sft $TINY --set run.out_dir=$D/base1 $S
check sft_1_vs_2_ranks_agree /usr/bin/python3 tests/h5same.py --rtol=1e-3 $BASE $D/base1/sft_base.h5 /model/params
# SFT lowers the held-out NLL (log(V) ~ 5.5 nats at initialisation).
nll=$(grep -o 'held-out NLL [0-9.]*' $D/sft.log 2>/dev/null | awk '{print $3}')
nll=${nll:-$( "$PGRPO" sft $TINY --set run.out_dir=$D/base3 2>&1 | grep -o 'held-out NLL [0-9.]*' | awk '{print $3}')}
awk -v x="$nll" 'BEGIN{exit !(x > 0 && x < 3.0)}' && ok "sft_lowers_nll # $nll nats" || nok sft_lowers_nll "nll=$nll"

T="$TINY --set train.base=$BASE"
# --- Colocated training at 1, 2 and 4 ranks; P-GRPO outputs checked by h5py.
for n in 1 2 4; do
    check train_colocated_${n}ranks run $D/c$n mpi $n $PGRPO train $T --set run.out_dir=$D/c$n $S
done
/usr/bin/python3 tests/reference/check_outputs.py $D/c2 6 | sed 's/^ok - /ok - outputs_pgrpo_2ranks_/;s/^not ok - /not ok - outputs_pgrpo_2ranks_/'
# Determinism: the same deck and layout twice => identical weights and trajectories.
check train_2ranks_again run $D/c2b mpi 2 $PGRPO train $T --set run.out_dir=$D/c2b $S
check train_bit_identical_weights same_dataset $D/c2/final.h5 $D/c2b/final.h5 /model/params
check train_bit_identical_trajectories same_dataset $D/c2/trajectories.h5 $D/c2b/trajectories.h5 /completion_tokens
# A different seed gives different samples (the determinism check above can fail).
check train_other_seed run $D/c2s mpi 2 $PGRPO train $T --set run.out_dir=$D/c2s --set run.seed=7 $S
! same_dataset $D/c2/trajectories.h5 $D/c2s/trajectories.h5 /completion_tokens && ok seed_changes_samples || nok seed_changes_samples

# --- Rollout/learner split. One rollout-only rank samples with stream 0, exactly as a single colocated rank does,
# and one learner updates on the same batch: the run must be bit-identical to the 1-rank run.
check train_split_sync run $D/s2 mpi 2 $PGRPO train $T --set run.out_dir=$D/s2 --set train.rollout_ranks=1 $S
check split_equals_colocated same_dataset $D/c1/final.h5 $D/s2/final.h5 /model/params
# Two learners and one rollout rank vs one learner: same global batch, allreduced gradients => agree to tolerance.
check train_split_2learners run $D/s3 mpi 3 $PGRPO train $T --set run.out_dir=$D/s3 --set train.rollout_ranks=1 --set train.steps=2 $S
check train_split_1learner run $D/s3b mpi 2 $PGRPO train $T --set run.out_dir=$D/s3b --set train.rollout_ranks=1 --set train.steps=2 $S
# (Adam's first update is lr*sign(g), blind to rounding: compare the gradient norms and two steps' weights.)
check learners_1_vs_2_grad_norm_agree /usr/bin/python3 tests/h5same.py --rtol=1e-5 $D/s3/metrics.h5 $D/s3b/metrics.h5 /observables/grad_norm/value
check learners_1_vs_2_weights_agree /usr/bin/python3 tests/h5same.py --rtol=1e-4 $D/s3/final.h5 $D/s3b/final.h5 /model/params
# Asynchronous: rollouts of step s+1 use the weights of step s (policy_version checked by h5py).
check train_async_2ranks run $D/a2 mpi 2 $PGRPO train $T --set run.out_dir=$D/a2 --set train.rollout_ranks=1 --set train.async=true $S
/usr/bin/python3 tests/reference/check_outputs.py $D/a2 6 | grep -E "policy_version|advantages_match|steps_complete" | sed 's/ - / - async_/'
check train_async_4ranks run $D/a4 mpi 4 $PGRPO train $T --set run.out_dir=$D/a4 --set train.rollout_ranks=2 --set train.async=true $S
# GRPO and Dr. GRPO advantages recomputed from the stored rewards.
for adv in grpo drgrpo; do
    check train_$adv run $D/$adv mpi 2 $PGRPO train $T --set run.out_dir=$D/$adv --set train.advantage=$adv $S
    /usr/bin/python3 tests/reference/check_outputs.py $D/$adv 6 | grep -E "advantages_match|sum_zero"
done
# Random groups (the paper's ablation) keep the shares but change the assignment.
check train_random_groups run $D/rg mpi 2 $PGRPO train $T --set run.out_dir=$D/rg --set train.groups=random $S
! same_dataset $D/c2/trajectories.h5 $D/rg/trajectories.h5 /group && ok random_groups_differ || nok random_groups_differ
# Groups from a file (postproc/groups_file.py): users alternate between two groups; the trajectories must use them.
/usr/bin/python3 -c "print('\n'.join(str(u % 2) for u in range(200)))" > $D/groups.txt
/usr/bin/python3 postproc/groups_file.py $D/groups.txt $D/groups.h5 >/dev/null || nok groups_file_written
check train_groups_file run $D/gf mpi 2 $PGRPO train $T --set run.out_dir=$D/gf --set train.groups=file --set train.groups_file=$D/groups.h5 $S
/usr/bin/python3 -c "
import h5py, numpy as np, sys
f = h5py.File('$D/gf/trajectories.h5', 'r')
ok = np.array_equal(f['group'][...], f['user'][...] % 2)
print(('ok' if ok else 'not ok') + ' - groups_file_used_for_advantages')"
/usr/bin/python3 tests/reference/check_outputs.py $D/gf 6 | grep advantages_match | sed 's/ - / - groups_file_/'
echo "1 2 x" > $D/bad_groups.txt
/usr/bin/python3 postproc/groups_file.py $D/bad_groups.txt $D/bad.h5 2>&1 | grep -q "group ids are integers" && ok groups_file_rejects_bad_input || nok groups_file_rejects_bad_input
/usr/bin/python3 -c "print('\n'.join('0' for u in range(7)))" > $D/short.txt; /usr/bin/python3 postproc/groups_file.py $D/short.txt $D/short.h5 >/dev/null
out=$(mpi 2 $PGRPO train $T --set run.out_dir=$D/gs --set train.groups=file --set train.groups_file=$D/short.h5 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "train.groups_file = .*/user_group has shape (7,); it must be 1-D of length 200" \
    && ok groups_file_wrong_length_refused || nok groups_file_wrong_length_refused "rc=$rc" "$(echo "$out" | tail -1)"
# A plain HDF5 groups file (no pgrpo schema) of any integer type is used (before: an int64 or float64 /user_group
# was silently ignored and the run trained on the true groups); a float type is refused naming train.groups_file.
/usr/bin/python3 - $D <<'PY'
import sys, h5py, numpy as np
for t in ("int64", "uint8", "float64"):
    with h5py.File(f"{sys.argv[1]}/plain_{t}.h5", "w") as f:
        f["user_group"] = np.array([(u // 3) % 3 for u in range(200)], dtype=t)
PY
for t in int64 uint8; do
    check train_groups_file_plain_$t run $D/gp_$t mpi 2 $PGRPO train $T --set run.out_dir=$D/gp_$t --set train.steps=2 \
        --set train.groups=file --set train.groups_file=$D/plain_$t.h5 $S
    /usr/bin/python3 -c "
import h5py, numpy as np
f = h5py.File('$D/gp_$t/trajectories.h5', 'r')
print(('ok' if np.array_equal(f['group'][...], (f['user'][...] // 3) % 3) else 'not ok') + ' - groups_file_plain_${t}_used')"
done
out=$(mpi 2 $PGRPO train $T --set run.out_dir=$D/gp_f --set train.groups=file --set train.groups_file=$D/plain_float64.h5 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "^pgrpo: error: .*train.groups_file = .*/user_group is float64; it must be an integer type" \
    && ok groups_file_float64_refused || nok groups_file_float64_refused "rc=$rc" "$(echo "$out" | tail -1)"
# eval and sample read the result.
check eval_2ranks run $D/ev mpi 2 $PGRPO eval $T --set run.out_dir=$D/c2
grep -q "^all " $D/ev.log && ok eval_table || nok eval_table "$(tail -3 $D/ev.log)"
# --checkpoint takes a training checkpoint as well as a policy file (same weights as final.h5 at the last step).
check eval_accepts_checkpoint run $D/evc mpi 2 $PGRPO eval $T --set run.out_dir=$D/c2 --checkpoint $D/c2/checkpoints/ckpt_00000006.h5
grep "^all " $D/evc.log | cmp -s - <(grep "^all " $D/ev.log) && ok eval_checkpoint_equals_final || nok eval_checkpoint_equals_final
check sample_runs run $D/sa $PGRPO sample $T --set run.out_dir=$D/c2 --quiet
grep -q "sampled:" $D/sa.log && ok sample_prints_text || nok sample_prints_text
# A rank that dies mid-run ends the job with an error instead of hanging the others (here: the rollout rank).
bg_mpi 2 $PGRPO train $T --set run.out_dir=$D/dead --set train.rollout_ranks=1 --set train.steps=100000 --set checkpoint.every=5 --quiet >$D/dead.log 2>&1
for _ in $(seq 1 400); do [ -e $D/dead/checkpoints/ckpt_00000005.h5 ] && break; sleep 0.05; done
t0=$SECONDS; kill -9 $(job_ranks | tail -1); wait $BG_PID; rc=$?
[ $rc -ne 0 ] && [ $((SECONDS - t0)) -lt 60 ] && ok "dead_rank_ends_job # rc=$rc after $((SECONDS - t0)) s" || nok dead_rank_ends_job "rc=$rc after $((SECONDS - t0)) s"

# --- Run-level failures (issue 8, A1 and the lock and signals of A9). Each case starts from the SFT base alone.
# A fatal error on one rank ends the whole job in seconds with its one-line message (before: rank 0's exit() ran
# HDF5's exit handler, which waited in a collective close while the other rank went on: a hang).
mkdir -p $D/a1/checkpoints/metrics.snapshot   # a folder where the first checkpoint's output snapshot goes
t0=$SECONDS; out=$(timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO train $T --set run.out_dir=$D/a1 --quiet 2>&1); rc=$?
[ $rc -eq 3 ] && [ $((SECONDS - t0)) -lt 30 ] && echo "$out" | grep -q "^pgrpo: error: cannot rename .*metrics.snapshot.*Is a directory" \
    && ok "fatal_error_on_one_rank_ends_job # rc=$rc after $((SECONDS - t0)) s" \
    || nok fatal_error_on_one_rank_ends_job "rc=$rc after $((SECONDS - t0)) s" "$(echo "$out" | head -3)"
# A deck error seen by every rank is printed once.
out=$(timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO train $T --set run.out_dir=$D/de --set train.lr=abc 2>&1); rc=$?
n=$(echo "$out" | grep -c "^pgrpo: error:")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && ok deck_error_printed_once || nok deck_error_printed_once "rc=$rc, $n error lines"
# Two runs into one out_dir: the second is refused, naming the folder and the other run. The lock is held by the
# rank processes themselves (not mpirun), so ranks that outlive a killed mpirun keep it. (Here Open MPI kills its
# ranks when mpirun dies, so that case is checked through the holder's pid: it must be one of the ranks.)
bg_mpi 2 $PGRPO train $T --set run.out_dir=$D/lock --set train.steps=100000 --set checkpoint.every=2 --quiet >$D/lock.log 2>&1
for _ in $(seq 1 400); do [ -e $D/lock/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.05; done
ranks=$(job_ranks)
out=$(timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO train $T --set run.out_dir=$D/lock --resume auto --quiet 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "run.out_dir '$D/lock' is in use by another pgrpo run (pid [0-9]* on host" \
    && ok second_run_same_out_dir_refused || nok second_run_same_out_dir_refused "rc=$rc" "$(echo "$out" | head -2)"
holder=$(echo "$out" | grep -o "held by pid [0-9]*" | grep -o "[0-9]*$")
echo " $ranks " | tr '\n' ' ' | grep -q " ${holder:-none} " && ok "lock_held_by_the_ranks # pid $holder" \
    || nok lock_held_by_the_ranks "holder ${holder:-?}, ranks $ranks"
job_kill9; wait $BG_PID 2>/dev/null
# Once the holders are gone the folder is free again: the resume goes on from the last checkpoint.
check lock_released_with_its_holders run $D/lock2 mpi 2 $PGRPO train $T --set run.out_dir=$D/lock --resume auto --set train.steps=4 --quiet
# First SIGTERM: finish the step, checkpoint, exit 75; a second one ends the run at once (not 75, within seconds).
# Steps of ~3 s (train.mu=100, 32 prompts), so the first signal alone would still be finishing the step.
bg_mpi 2 $PGRPO train $T --set run.out_dir=$D/sig2 --set train.steps=100000 --set train.mu=100 --set train.prompts=32 --set checkpoint.every=1 --quiet >$D/sig2.log 2>&1
for _ in $(seq 1 600); do [ -e $D/sig2/checkpoints/ckpt_00000001.h5 ] && break; sleep 0.05; done
ranks=$(job_ranks); t0=$SECONDS; kill -TERM $ranks; sleep 0.5; kill -TERM $ranks; wait $BG_PID; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 75 ] && [ $((SECONDS - t0)) -lt 10 ] && grep -q "a second stop signal: ending now" $D/sig2.log \
    && ok "second_sigterm_kills_at_once # rc=$rc after $((SECONDS - t0)) s" || nok second_sigterm_kills_at_once "rc=$rc after $((SECONDS - t0)) s"
/usr/bin/python3 -c "import sys" && $PGRPO inspect $D/sig2/checkpoints/ckpt_00000001.h5 >/dev/null 2>&1 \
    && ok last_checkpoint_intact_after_second_sigterm || nok last_checkpoint_intact_after_second_sigterm
# jobs/train.sbatch with PGRPO_LAUNCHER=mpirun (run here as a plain script): SIGTERM to the batch shell must end in
# exit 75 after a checkpoint (mpirun itself, sent SIGTERM, would exit 1).
SLURM_NTASKS=2 PGRPO_LAUNCHER=mpirun PGRPO=$PGRPO DECK=$TINY PGRPO_NO_REQUEUE=1 \
    PGRPO_ARGS="--set train.base=$BASE --set run.out_dir=$D/sb --set train.steps=100000 --quiet" \
    bash jobs/train.sbatch >$D/sb.log 2>&1 & sb_pid=$!
for _ in $(seq 1 600); do [ -e $D/sb/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.05; done
kill -TERM $sb_pid; wait $sb_pid; rc=$?
[ $rc -eq 75 ] && grep -q "forwarding SIGUSR1" $D/sb.log && ok "train_sbatch_mpirun_sigterm_exits_75" \
    || nok train_sbatch_mpirun_sigterm_exits_75 "rc=$rc" "$(tail -2 $D/sb.log)"
# --- A NaN/inf stops the run (issue 8, A8). The test hook PGRPO_TEST_INJECT_NAN_STEP=3 (src/run/rollout.c) makes
# rollout rank 0 report a NaN reward at step 3: the run must end with ONE line naming the step and the quantity,
# exit 3, before that step's checkpoint (checkpoint.every=2: ckpt 4 never appears, ckpt 2 stays the newest and
# intact), and a resume from it must finish. Before: the NaN reward became NaN advantages that silently dropped
# out of the gradient, exit 0. Colocated (rank 0 checks its own rewards) and split (after the transfer).
for mode in colocated split; do
    ro=0; [ $mode = split ] && ro=1
    out=$(PGRPO_TEST_INJECT_NAN_STEP=3 timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS -x PGRPO_TEST_INJECT_NAN_STEP \
        $PGRPO train $T --set run.out_dir=$D/nan_$mode --set train.rollout_ranks=$ro --quiet 2>&1); rc=$?
    n=$(echo "$out" | grep -c "^pgrpo: error: step 3: reward of completion 0 is nan")
    [ $rc -eq 3 ] && [ "$n" -eq 1 ] && [ ! -e $D/nan_$mode/checkpoints/ckpt_00000004.h5 ] \
        && ok "nan_reward_stops_run_$mode # $(echo "$out" | grep '^pgrpo: error' | cut -c1-60)" \
        || nok nan_reward_stops_run_$mode "rc=$rc, $n matching lines" "$(echo "$out" | grep -v '^ *$' | tail -2)"
    check nan_last_checkpoint_intact_$mode run $D/nan_inspect_$mode $PGRPO inspect $D/nan_$mode/checkpoints/ckpt_00000002.h5
    check nan_resume_finishes_$mode run $D/nan_${mode}_r mpi 2 $PGRPO train $T --set run.out_dir=$D/nan_$mode \
        --set train.rollout_ranks=$ro --resume auto $S
done
