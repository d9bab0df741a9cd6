#!/usr/bin/env bash
# Reward plugins (reward.plugin, include/pgrpo_reward.h) on 2 ranks: the example plugin trains and evaluates on
# personas and every stored reward is the plugin's formula (h5py); a plugin that returns NaN stops the run with one
# line naming the plugin, the step and the item, after a checkpoint of the last completed step, and the run resumed
# from it ends bit-identical to an uninterrupted one; a crashing plugin (abort, segfault) ends the job with a message
# and the last periodic checkpoint intact; load errors name reward.plugin (exit 2).
# Plugins: build/plugins/reward_example.so (inputs/plugins/reward_example.c) and reward_bad.so (tests/plugins).
source "$(dirname "$0")/../lib.sh"
EX=$PWD/build/plugins/reward_example.so
BAD=$PWD/build/plugins/reward_bad.so
Q=--quiet
[ -f "$EX" ] && [ -f "$BAD" ] || make -s plugins >/dev/null

fixture_base() { "$PGRPO" sft $TINY --set run.out_dir="$1" $Q; }
# deck: T = the training arguments (needs the base).
deck() { need base || return 1; T=(train $TINY --set train.base=$FIX/sft_base.h5 $Q); }
fixture_example() { deck || return 1; mpi 2 $PGRPO "${T[@]}" --set run.out_dir="$1" --set reward.plugin=$EX; }
# The uninterrupted reference for the failure-and-resume cases: reward_bad.so with no failure asked for.
fixture_badref() { deck || return 1; mpi 2 $PGRPO "${T[@]}" --set run.out_dir="$1" --set reward.plugin=$BAD; }
# one_error LOG: one distinct "pgrpo: error:" line in LOG. (A rank other than 0 may repeat rank 0's line when the
# abort's SIGTERM cuts die_user's 5 s wait short: src/base/check.c, not the reward code.)
one_error() { [ "$(grep '^pgrpo: error:' "$1" | sort -u | wc -l)" -eq 1 ]; }
showlog() { grep -v '^ *$' "$1" | grep -v '^-----\|^MPI_ABORT\|^with errorcode\|^NOTE\|^You may\|^exactly\|^\[' | tail -3 | cut -c1-300; }

case_example_trains() {
    need example
    check example_plugin_trains test -s $FIX/final.h5
    /usr/bin/python3 tests/plugins/check_rewards.py $FIX 4
}
# The check above can fail: the same run scored by the formula with another target length does not match.
case_check_can_fail() {
    need example
    ! /usr/bin/python3 tests/plugins/check_rewards.py $FIX 3 >/dev/null && ok check_rewards_can_fail || nok check_rewards_can_fail
}
case_example_differs_from_builtin() {
    need example; local ex=$FIX; deck
    mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$CASE_DIR/bi >$CASE_DIR/log 2>&1
    ! same_dataset $ex/trajectories.h5 $CASE_DIR/bi/trajectories.h5 /reward && ok plugin_rewards_are_not_builtin || nok plugin_rewards_are_not_builtin
}
case_example_eval_and_sample() {
    need example; copy_fix run
    local E=(--set run.out_dir=$OUT --set reward.plugin=$EX)
    check plugin_eval_runs mpi 2 $PGRPO eval $TINY "${E[@]}" $Q
    mv $OUT/eval.h5 $OUT/eval_plugin.h5
    check builtin_eval_runs mpi 2 $PGRPO eval $TINY --set run.out_dir=$OUT $Q
    # the plugin's rewards in eval: the all-groups sampled reward differs from the built-in one's
    /usr/bin/python3 - $OUT/eval_plugin.h5 $OUT/eval.h5 <<'PY' && ok plugin_eval_uses_plugin || nok plugin_eval_uses_plugin
import sys, h5py, numpy as np
a, b = (h5py.File(f, "r")["per_group"][-1] for f in sys.argv[1:])
assert np.all(np.isfinite(a)) and abs(a[1] - b[1]) > 1e-6, (a, b)
PY
    REWARD_BAD=nan@0 REWARD_BAD_RANK=1 mpi 2 -x REWARD_BAD -x REWARD_BAD_RANK $PGRPO eval $TINY --set run.out_dir=$OUT \
        --set reward.plugin=$BAD $Q >$CASE_DIR/evalnan.log 2>&1; local rc=$?
    [ $rc -eq 3 ] && one_error $CASE_DIR/evalnan.log && grep -q "rank 1: reward plugin '$BAD' gave reward nan for item 1 (user [0-9]*, group [0-9]*) of the eval sampled" $CASE_DIR/evalnan.log \
        && ok plugin_eval_nan_stops || nok plugin_eval_nan_stops "rc=$rc" "$(showlog $CASE_DIR/evalnan.log)"
    $PGRPO sample $TINY --set run.out_dir=$OUT --set reward.plugin=$EX >$CASE_DIR/sample.log 2>&1
    check plugin_sample_prints_rewards grep -q 'reward [-+]' $CASE_DIR/sample.log
}

# NaN from rank 1's plugin at step 3: one line naming the plugin, step and item; exit 3; the checkpoint of step 3
# (written by the failure path: checkpoint.every = 2 gives only 2) holds steps 0..2; no final.h5. Resumed with the
# plugin fixed (the failure was injected by the environment), the run ends bit-identical to the reference.
case_nan_plugin_checkpoint_and_resume() {
    need badref; local ref=$FIX R=$CASE_DIR/run rc; deck
    REWARD_BAD=nan@3 REWARD_BAD_RANK=1 mpi 2 -x REWARD_BAD -x REWARD_BAD_RANK $PGRPO "${T[@]}" --set run.out_dir=$R \
        --set reward.plugin=$BAD >$CASE_DIR/nan.log 2>&1; rc=$?
    [ $rc -eq 3 ] && one_error $CASE_DIR/nan.log && grep -q "^pgrpo: error: rank 1: reward plugin '$BAD' gave reward nan for item 1 (user [0-9]*, group [0-9]*) of step 3; .*HINT: fix the reward, then run again with --resume auto: the checkpoint of step 3" $CASE_DIR/nan.log \
        && ok nan_plugin_stops_with_message || nok nan_plugin_stops_with_message "rc=$rc" "$(showlog $CASE_DIR/nan.log)"
    check nan_checkpoint_of_last_step_written test -s $R/checkpoints/ckpt_00000003.h5
    check nan_no_final test ! -e $R/final.h5
    check nan_checkpoint_valid $PGRPO inspect $R/checkpoints/ckpt_00000003.h5
    check nan_resume_finishes mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$R --set reward.plugin=$BAD --resume auto
    check nan_resume_bit_identical_weights same_dataset $ref/final.h5 $R/final.h5 /model/params
    check nan_resume_bit_identical_rewards same_dataset $ref/trajectories.h5 $R/trajectories.h5 /reward
    check nan_resume_bit_identical_tokens same_dataset $ref/trajectories.h5 $R/trajectories.h5 /completion_tokens
}
# The same with a rollout-only rank (train.rollout_ranks = 1): the rollout rank ends the job pointing at the last
# periodic checkpoint.
case_nan_plugin_rollout_rank() {
    local R=$CASE_DIR/run rc; deck
    REWARD_BAD=range@3 mpi 2 -x REWARD_BAD $PGRPO "${T[@]}" --set run.out_dir=$R --set train.rollout_ranks=1 \
        --set reward.plugin=$BAD >$CASE_DIR/log 2>&1; rc=$?
    [ $rc -eq 3 ] && one_error $CASE_DIR/log && grep -q "^pgrpo: error: rank 1: reward plugin '$BAD' gave reward 2 for item 1 .* of step 3; .*last periodic checkpoint" $CASE_DIR/log \
        && ok split_range_plugin_stops || nok split_range_plugin_stops "rc=$rc" "$(showlog $CASE_DIR/log)"
    check split_periodic_checkpoint_intact $PGRPO inspect $R/checkpoints/ckpt_00000002.h5
    check split_no_final test ! -e $R/final.h5
}
# A plugin that aborts (rank 1) or segfaults (rank 0) at step 3: one line naming the plugin and the signal,
# a non-zero exit, the periodic checkpoint of step 2 intact.
t_crash() {
    local mode=$1 rank=$2 sig=$3 R=$CASE_DIR/run_$1 rc; deck
    REWARD_BAD=$mode@3 REWARD_BAD_RANK=$rank mpi 2 -x REWARD_BAD -x REWARD_BAD_RANK $PGRPO "${T[@]}" --set run.out_dir=$R \
        --set reward.plugin=$BAD >$CASE_DIR/$mode.log 2>&1; rc=$?
    [ $rc -ne 0 ] && one_error $CASE_DIR/$mode.log && grep -q "^pgrpo: error: reward plugin '$BAD' crashed in pgrpo_reward_score (step 3) with signal $sig" $CASE_DIR/$mode.log \
        && ok "${mode}_plugin_stops_with_message # rc=$rc" || nok ${mode}_plugin_stops_with_message "rc=$rc" "$(showlog $CASE_DIR/$mode.log)"
    check ${mode}_checkpoint_intact $PGRPO inspect $R/checkpoints/ckpt_00000002.h5
    check ${mode}_no_final test ! -e $R/final.h5
}
case_crash_plugin_abort() { t_crash abort 1 SIGABRT; }
case_crash_plugin_segv() { t_crash segv 0 SIGSEGV; }

# Refusals before anything runs (exit 2, one line naming reward.plugin / reward.command).
t_refused() {  # name, pattern, arguments...
    local name=$1 pat=$2 rc; shift 2; deck
    "$@" >$CASE_DIR/$name.log 2>&1; rc=$?
    [ $rc -eq 2 ] && one_error $CASE_DIR/$name.log && grep -q "$pat" $CASE_DIR/$name.log && ok "refused_$name" \
        || nok "refused_$name" "rc=$rc" "$(showlog $CASE_DIR/$name.log)"
}
case_refusals() {
    deck; local O=(--set run.out_dir=$CASE_DIR/out)
    t_refused missing "reward.plugin = .*no_such.so: reward plugin '.*no_such.so' cannot be loaded" \
        mpi 2 $PGRPO "${T[@]}" "${O[@]}" --set reward.plugin=$PWD/build/plugins/no_such.so
    t_refused abi "implements reward ABI version 99" \
        env REWARD_BAD=abi mpirun -np 2 -x OPENBLAS_NUM_THREADS -x REWARD_BAD $PGRPO "${T[@]}" "${O[@]}" --set reward.plugin=$BAD
    t_refused config "refused reward.config 'bogus': expected \"length=N\"" \
        mpi 2 $PGRPO "${T[@]}" "${O[@]}" --set reward.plugin=$EX --set reward.config=bogus
    t_refused both "reward.command = .*both set" \
        mpi 2 $PGRPO "${T[@]}" "${O[@]}" --set reward.plugin=$EX --set reward.command=/bin/true
    t_refused not_a_plugin "does not export pgrpo_reward_abi" \
        mpi 2 $PGRPO "${T[@]}" "${O[@]}" --set reward.plugin=/lib/x86_64-linux-gnu/libm.so.6
}
run_cases "$@"
