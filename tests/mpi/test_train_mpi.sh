#!/usr/bin/env bash
# MPI tests of `pgrpo sft` and `pgrpo train` at 1, 2 and 4 ranks: determinism, agreement across rank layouts,
# rollout/learner split (synchronous and asynchronous), and the HDF5 outputs read back by h5py.
# Independent cases (tests/lib.sh): the SFT base and the colocated runs at 1 and 2 ranks are fixtures;
# `bash tests/mpi/test_train_mpi.sh --list` shows the cases.
source "$(dirname "$0")/../lib.sh"
S="--quiet"
run() { local out=$1; shift; "$@" >"$out.log" 2>&1; local rc=$?; [ $rc -eq 0 ] || { echo "#   rc=$rc: $*"; tail -5 "$out.log" | sed 's/^/#   /'; }; return $rc; }

# --- Fixtures.
fixture_base() {     # the SFT base every training run starts from (2 ranks): $1/sft_base.h5, its log $1/sft.log
    mpi 2 $PGRPO sft $TINY --set run.out_dir="$1" $S >"$1/sft.log" 2>&1; local rc=$?
    cat "$1/sft.log"; return $rc
}
fixture_colocated() { # colocated P-GRPO training at N ranks from the base, in $1
    need base || return 1
    mpi "$2" $PGRPO train $TINY --set train.base=$FIX/sft_base.h5 --set run.out_dir="$1" $S
}
# base_deck: needs the SFT base; sets BASE and T (the deck arguments of every training run).
base_deck() { need base; BASE=$FIX/sft_base.h5; T="$TINY --set train.base=$BASE"; }

# --- SFT.
case_sft_2ranks() {
    need base
    check sft_2ranks test -s $FIX/sft_base.h5
    # SFT lowers the held-out NLL (log(V) ~ 5.5 nats at initialisation).
    local nll
    nll=$(grep -o 'held-out NLL [0-9.]*' $FIX/sft.log 2>/dev/null | awk '{print $3}')
    nll=${nll:-$( "$PGRPO" sft $TINY --set run.out_dir=$CASE_DIR/base3 2>&1 | grep -o 'held-out NLL [0-9.]*' | awk '{print $3}')}
    awk -v x="$nll" 'BEGIN{exit !(x > 0 && x < 3.0)}' && ok "sft_lowers_nll # $nll nats" || nok sft_lowers_nll "nll=$nll"
}
case_sft_bit_identical() {  # Same seed and rank count => the same weights bit for bit.
    need base
    check sft_2ranks_again run $CASE_DIR/sft2 mpi 2 $PGRPO sft $TINY --set run.out_dir=$CASE_DIR/base2 $S
    check sft_bit_identical same_dataset $FIX/sft_base.h5 $CASE_DIR/base2/sft_base.h5 /model/params
}
case_sft_1_vs_2_ranks() {   # 1 rank vs 2 ranks on the same global batch: the same training to float tolerance.
    need base
    check sft_1rank run $CASE_DIR/sft1 $PGRPO sft $TINY --set run.out_dir=$CASE_DIR/base1 $S
    check sft_1_vs_2_ranks_agree /usr/bin/python3 tests/h5same.py --rtol=1e-3 $FIX/sft_base.h5 $CASE_DIR/base1/sft_base.h5 /model/params
}

# --- Colocated training at 1, 2 and 4 ranks; P-GRPO outputs checked by h5py.
case_train_colocated_1ranks() { need colocated 1; check train_colocated_1ranks test -s $FIX/final.h5; }
case_train_colocated_2ranks() {
    need colocated 2
    check train_colocated_2ranks test -s $FIX/final.h5
    /usr/bin/python3 tests/reference/check_outputs.py $FIX 6 | sed 's/^ok - /ok - outputs_pgrpo_2ranks_/;s/^not ok - /not ok - outputs_pgrpo_2ranks_/'
}
case_train_colocated_4ranks() {
    base_deck
    check train_colocated_4ranks run $CASE_DIR/c4 mpi 4 $PGRPO train $T --set run.out_dir=$CASE_DIR/c4 $S
}
case_train_determinism() {  # the same deck and layout twice => identical weights and trajectories.
    base_deck; need colocated 2; local c2=$FIX D=$CASE_DIR
    check train_2ranks_again run $D/c2b mpi 2 $PGRPO train $T --set run.out_dir=$D/c2b $S
    check train_bit_identical_weights same_dataset $c2/final.h5 $D/c2b/final.h5 /model/params
    check train_bit_identical_trajectories same_dataset $c2/trajectories.h5 $D/c2b/trajectories.h5 /completion_tokens
}
case_seed_changes_samples() { # A different seed gives different samples (the determinism check can fail).
    base_deck; need colocated 2; local c2=$FIX D=$CASE_DIR
    check train_other_seed run $D/c2s mpi 2 $PGRPO train $T --set run.out_dir=$D/c2s --set run.seed=7 $S
    ! same_dataset $c2/trajectories.h5 $D/c2s/trajectories.h5 /completion_tokens && ok seed_changes_samples || nok seed_changes_samples
}

# --- Rollout/learner split. One rollout-only rank samples with stream 0, exactly as a single colocated rank does,
# and one learner updates on the same batch: the run must be bit-identical to the 1-rank run.
case_split_sync() {
    base_deck; need colocated 1; local D=$CASE_DIR
    check train_split_sync run $D/s2 mpi 2 $PGRPO train $T --set run.out_dir=$D/s2 --set train.rollout_ranks=1 $S
    check split_equals_colocated same_dataset $FIX/final.h5 $D/s2/final.h5 /model/params
}
# Two learners and one rollout rank vs one learner: same global batch, allreduced gradients => agree to tolerance.
case_split_learners() {
    base_deck; local D=$CASE_DIR
    check train_split_2learners run $D/s3 mpi 3 $PGRPO train $T --set run.out_dir=$D/s3 --set train.rollout_ranks=1 --set train.steps=2 $S
    check train_split_1learner run $D/s3b mpi 2 $PGRPO train $T --set run.out_dir=$D/s3b --set train.rollout_ranks=1 --set train.steps=2 $S
    # (Adam's first update is lr*sign(g), blind to rounding: compare the gradient norms and two steps' weights.)
    check learners_1_vs_2_grad_norm_agree /usr/bin/python3 tests/h5same.py --rtol=1e-5 $D/s3/metrics.h5 $D/s3b/metrics.h5 /observables/grad_norm/value
    check learners_1_vs_2_weights_agree /usr/bin/python3 tests/h5same.py --rtol=1e-4 $D/s3/final.h5 $D/s3b/final.h5 /model/params
}
# Asynchronous: rollouts of step s+1 use the weights of step s (policy_version checked by h5py).
case_async_2ranks() {
    base_deck; local D=$CASE_DIR
    check train_async_2ranks run $D/a2 mpi 2 $PGRPO train $T --set run.out_dir=$D/a2 --set train.rollout_ranks=1 --set train.async=true $S
    /usr/bin/python3 tests/reference/check_outputs.py $D/a2 6 | grep -E "policy_version|advantages_match|steps_complete" | sed 's/ - / - async_/'
}
case_async_4ranks() {
    base_deck; local D=$CASE_DIR
    check train_async_4ranks run $D/a4 mpi 4 $PGRPO train $T --set run.out_dir=$D/a4 --set train.rollout_ranks=2 --set train.async=true $S
}
# GRPO and Dr. GRPO advantages recomputed from the stored rewards.
t_advantage() {
    local adv=$1 D=$CASE_DIR; base_deck
    check train_$adv run $D/$adv mpi 2 $PGRPO train $T --set run.out_dir=$D/$adv --set train.advantage=$adv $S
    /usr/bin/python3 tests/reference/check_outputs.py $D/$adv 6 | grep -E "advantages_match|sum_zero"
}
case_train_grpo() { t_advantage grpo; }
case_train_drgrpo() { t_advantage drgrpo; }
# Random groups (the paper's ablation) keep the shares but change the assignment.
case_random_groups() {
    base_deck; need colocated 2; local c2=$FIX D=$CASE_DIR
    check train_random_groups run $D/rg mpi 2 $PGRPO train $T --set run.out_dir=$D/rg --set train.groups=random $S
    ! same_dataset $c2/trajectories.h5 $D/rg/trajectories.h5 /group && ok random_groups_differ || nok random_groups_differ
}
# Groups from a file (postproc/groups_file.py): users alternate between two groups; the trajectories must use them.
case_groups_file() {
    base_deck; local D=$CASE_DIR
    /usr/bin/python3 -c "print('\n'.join(str(u % 2) for u in range(200)))" > $D/groups.txt
    /usr/bin/python3 postproc/groups_file.py $D/groups.txt $D/groups.h5 >/dev/null || nok groups_file_written
    check train_groups_file run $D/gf mpi 2 $PGRPO train $T --set run.out_dir=$D/gf --set train.groups=file --set train.groups_file=$D/groups.h5 $S
    /usr/bin/python3 -c "
import h5py, numpy as np, sys
f = h5py.File('$D/gf/trajectories.h5', 'r')
ok = np.array_equal(f['group'][...], f['user'][...] % 2)
print(('ok' if ok else 'not ok') + ' - groups_file_used_for_advantages')"
    /usr/bin/python3 tests/reference/check_outputs.py $D/gf 6 | grep advantages_match | sed 's/ - / - groups_file_/'
}
case_groups_file_rejects_bad_input() {
    local D=$CASE_DIR
    echo "1 2 x" > $D/bad_groups.txt
    /usr/bin/python3 postproc/groups_file.py $D/bad_groups.txt $D/bad.h5 2>&1 | grep -q "group ids are integers" && ok groups_file_rejects_bad_input || nok groups_file_rejects_bad_input
}
case_groups_file_wrong_length_refused() {
    base_deck; local D=$CASE_DIR out rc
    /usr/bin/python3 -c "print('\n'.join('0' for u in range(7)))" > $D/short.txt; /usr/bin/python3 postproc/groups_file.py $D/short.txt $D/short.h5 >/dev/null
    out=$(mpi 2 $PGRPO train $T --set run.out_dir=$D/gs --set train.groups=file --set train.groups_file=$D/short.h5 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "train.groups_file = .*/user_group has shape (7,); it must be 1-D of length 200" \
        && ok groups_file_wrong_length_refused || nok groups_file_wrong_length_refused "rc=$rc" "$(echo "$out" | tail -1)"
}
# A plain HDF5 groups file (no pgrpo schema) of any integer type is used (before: an int64 or float64 /user_group
# was silently ignored and the run trained on the true groups); a float type is refused naming train.groups_file.
plain_groups() {  # plain_groups DIR TYPE: DIR/plain_TYPE.h5 with /user_group = (u // 3) % 3 for 200 users
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[2]
with h5py.File(f"{sys.argv[1]}/plain_{t}.h5", "w") as f:
    f["user_group"] = np.array([(u // 3) % 3 for u in range(200)], dtype=t)
PY
}
t_groups_plain() {
    local t=$1 D=$CASE_DIR; base_deck; plain_groups $D $t
    check train_groups_file_plain_$t run $D/gp_$t mpi 2 $PGRPO train $T --set run.out_dir=$D/gp_$t --set train.steps=2 \
        --set train.groups=file --set train.groups_file=$D/plain_$t.h5 $S
    /usr/bin/python3 -c "
import h5py, numpy as np
f = h5py.File('$D/gp_$t/trajectories.h5', 'r')
print(('ok' if np.array_equal(f['group'][...], (f['user'][...] // 3) % 3) else 'not ok') + ' - groups_file_plain_${t}_used')"
}
case_groups_file_plain_int64() { t_groups_plain int64; }
case_groups_file_plain_uint8() { t_groups_plain uint8; }
case_groups_file_float64_refused() {
    base_deck; local D=$CASE_DIR out rc; plain_groups $D float64
    out=$(mpi 2 $PGRPO train $T --set run.out_dir=$D/gp_f --set train.groups=file --set train.groups_file=$D/plain_float64.h5 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "^pgrpo: error: .*train.groups_file = .*/user_group is float64; it must be an integer type" \
        && ok groups_file_float64_refused || nok groups_file_float64_refused "rc=$rc" "$(echo "$out" | tail -1)"
}
# eval and sample read the result.
case_eval() {
    base_deck; need colocated 2; copy_fix c2; local D=$CASE_DIR
    check eval_2ranks run $D/ev mpi 2 $PGRPO eval $T --set run.out_dir=$OUT
    grep -q "^all " $D/ev.log && ok eval_table || nok eval_table "$(tail -3 $D/ev.log)"
    # --checkpoint takes a training checkpoint as well as a policy file (same weights as final.h5 at the last step).
    check eval_accepts_checkpoint run $D/evc mpi 2 $PGRPO eval $T --set run.out_dir=$OUT --checkpoint $OUT/checkpoints/ckpt_00000006.h5
    grep "^all " $D/evc.log | cmp -s - <(grep "^all " $D/ev.log) && ok eval_checkpoint_equals_final || nok eval_checkpoint_equals_final
}
case_sample() {
    base_deck; need colocated 2; local D=$CASE_DIR    # sample only reads: no copy (the framework checks)
    check sample_runs run $D/sa $PGRPO sample $T --set run.out_dir=$FIX --quiet
    grep -q "sampled:" $D/sa.log && ok sample_prints_text || nok sample_prints_text
}
# A rank that dies mid-run ends the job with an error instead of hanging the others (here: the rollout rank).
case_dead_rank_ends_job() {
    base_deck; local D=$CASE_DIR t0 rc
    bg_mpi 2 $PGRPO train $T --set run.out_dir=$D/dead --set train.rollout_ranks=1 --set train.steps=100000 --set checkpoint.every=5 --quiet >$D/dead.log 2>&1
    for _ in $(seq 1 400); do [ -e $D/dead/checkpoints/ckpt_00000005.h5 ] && break; sleep 0.05; done
    t0=$SECONDS; kill -9 $(job_ranks | tail -1); wait $BG_PID; rc=$?
    [ $rc -ne 0 ] && [ $((SECONDS - t0)) -lt 60 ] && ok "dead_rank_ends_job # rc=$rc after $((SECONDS - t0)) s" || nok dead_rank_ends_job "rc=$rc after $((SECONDS - t0)) s"
}

# --- Run-level failures (issue 8, A1 and the lock and signals of A9). Each case starts from the SFT base alone.
# A fatal error on one rank ends the whole job in seconds with its one-line message (before: rank 0's exit() ran
# HDF5's exit handler, which waited in a collective close while the other rank went on: a hang).
case_fatal_error_on_one_rank_ends_job() {
    base_deck; local D=$CASE_DIR t0 out rc
    mkdir -p $D/a1/checkpoints/metrics.snapshot   # a folder where the first checkpoint's output snapshot goes
    t0=$SECONDS; out=$(timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO train $T --set run.out_dir=$D/a1 --quiet 2>&1); rc=$?
    [ $rc -eq 3 ] && [ $((SECONDS - t0)) -lt 30 ] && echo "$out" | grep -q "^pgrpo: error: cannot rename .*metrics.snapshot.*Is a directory" \
        && ok "fatal_error_on_one_rank_ends_job # rc=$rc after $((SECONDS - t0)) s" \
        || nok fatal_error_on_one_rank_ends_job "rc=$rc after $((SECONDS - t0)) s" "$(echo "$out" | head -3)"
}
case_deck_error_printed_once() {   # A deck error seen by every rank is printed once.
    base_deck; local D=$CASE_DIR out rc n
    out=$(timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS $PGRPO train $T --set run.out_dir=$D/de --set train.lr=abc 2>&1); rc=$?
    n=$(echo "$out" | grep -c "^pgrpo: error:")
    [ $rc -eq 2 ] && [ "$n" -eq 1 ] && ok deck_error_printed_once || nok deck_error_printed_once "rc=$rc, $n error lines"
}
# Two runs into one out_dir: the second is refused, naming the folder and the other run. The lock is held by the
# rank processes themselves (not mpirun), so ranks that outlive a killed mpirun keep it. (Here Open MPI kills its
# ranks when mpirun dies, so that case is checked through the holder's pid: it must be one of the ranks.)
case_out_dir_lock() {
    base_deck; local D=$CASE_DIR ranks out rc holder
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
}
# First SIGTERM: finish the step, checkpoint, exit 75; a second one ends the run at once (not 75, within seconds).
# Steps of ~3 s (train.mu=100, 320 prompts: 0.27 s with 32 since the own GEMM), so the first signal alone would
# still be finishing the step.
case_second_sigterm() {
    base_deck; local D=$CASE_DIR ranks t0 rc last
    bg_mpi 2 $PGRPO train $T --set run.out_dir=$D/sig2 --set train.steps=100000 --set train.mu=100 --set train.prompts=320 --set checkpoint.every=1 --quiet >$D/sig2.log 2>&1
    # Right after a checkpoint appears the next step has just begun (~3 s left), so both signals land mid-step.
    for _ in $(seq 1 1200); do [ -e $D/sig2/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.02; done
    ranks=$(job_ranks); t0=$SECONDS; kill -TERM $ranks; sleep 0.2; kill -TERM $ranks; wait $BG_PID; rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 75 ] && [ $((SECONDS - t0)) -lt 10 ] && grep -q "a second stop signal: ending now" $D/sig2.log \
        && ok "second_sigterm_kills_at_once # rc=$rc after $((SECONDS - t0)) s" || nok second_sigterm_kills_at_once "rc=$rc after $((SECONDS - t0)) s"
    last=$(ls $D/sig2/checkpoints/ckpt_*.h5 2>/dev/null | sort | tail -1)
    [ -n "$last" ] && $PGRPO inspect "$last" >/dev/null 2>&1 \
        && ok last_checkpoint_intact_after_second_sigterm || nok last_checkpoint_intact_after_second_sigterm "${last:-none}"
}
# jobs/train.sbatch with PGRPO_LAUNCHER=mpirun (run here as a plain script): SIGTERM to the batch shell must end in
# exit 75 after a checkpoint (mpirun itself, sent SIGTERM, would exit 1).
case_train_sbatch_mpirun_sigterm_exits_75() {
    base_deck; local D=$CASE_DIR sb_pid rc
    SLURM_NTASKS=2 PGRPO_LAUNCHER=mpirun PGRPO=$PGRPO DECK=$TINY PGRPO_NO_REQUEUE=1 \
        PGRPO_ARGS="--set train.base=$BASE --set run.out_dir=$D/sb --set train.steps=100000 --quiet" \
        bash jobs/train.sbatch >$D/sb.log 2>&1 & sb_pid=$!
    for _ in $(seq 1 600); do [ -e $D/sb/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.05; done
    kill -TERM $sb_pid; wait $sb_pid; rc=$?
    [ $rc -eq 75 ] && grep -q "forwarding SIGUSR1" $D/sb.log && ok "train_sbatch_mpirun_sigterm_exits_75" \
        || nok train_sbatch_mpirun_sigterm_exits_75 "rc=$rc" "$(tail -2 $D/sb.log)"
}
# --- A NaN/inf stops the run (issue 8, A8). The test hook PGRPO_TEST_INJECT_NAN_STEP=3 (src/run/rollout.c) makes
# rollout rank 0 report a NaN reward at step 3: the run must end with ONE line naming the step and the quantity,
# exit 3, before that step's checkpoint (checkpoint.every=2: ckpt 4 never appears, ckpt 2 stays the newest and
# intact), and a resume from it must finish. Before: the NaN reward became NaN advantages that silently dropped
# out of the gradient, exit 0. Colocated (rank 0 checks its own rewards) and split (after the transfer).
t_nan() {
    local mode=$1 ro=0 D=$CASE_DIR out rc n; base_deck
    [ $mode = split ] && ro=1
    out=$(PGRPO_TEST_INJECT_NAN_STEP=3 timeout 60 mpirun -np 2 -x OPENBLAS_NUM_THREADS -x PGRPO_TEST_INJECT_NAN_STEP \
        $PGRPO train $T --set run.out_dir=$D/nan_$mode --set train.rollout_ranks=$ro --quiet 2>&1); rc=$?
    n=$(echo "$out" | grep -c "^pgrpo: error: step 3: reward of completion 0 is nan")
    [ $rc -eq 3 ] && [ "$n" -eq 1 ] && [ ! -e $D/nan_$mode/checkpoints/ckpt_00000004.h5 ] \
        && ok "nan_reward_stops_run_$mode # $(echo "$out" | grep '^pgrpo: error' | cut -c1-60)" \
        || nok nan_reward_stops_run_$mode "rc=$rc, $n matching lines" "$(echo "$out" | grep -v '^ *$' | tail -2)"
    check nan_last_checkpoint_intact_$mode run $D/nan_inspect_$mode $PGRPO inspect $D/nan_$mode/checkpoints/ckpt_00000002.h5
    check nan_resume_finishes_$mode run $D/nan_${mode}_r mpi 2 $PGRPO train $T --set run.out_dir=$D/nan_$mode \
        --set train.rollout_ranks=$ro --resume auto $S
}
case_nan_colocated() { t_nan colocated; }
case_nan_split() { t_nan split; }

run_cases "$@"
