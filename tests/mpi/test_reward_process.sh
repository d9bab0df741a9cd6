#!/usr/bin/env bash
# Reward processes (reward.command, the line protocol of include/reward.h) on 2 ranks: the Python example
# (inputs/plugins/reward_example.py) trains and evaluates on personas with exactly the rewards of the C example
# plugin; a hanging process stops the run with a timeout message within reward.timeout + a few seconds; a process
# that exits early, answers garbage or too many lines stops it with a message naming the command, the batch and the
# item, after a checkpoint of the last completed step; no reward process outlives the run.
source "$(dirname "$0")/../lib.sh"
EX=$PWD/build/plugins/reward_example.so
PY="/usr/bin/python3 $PWD/inputs/plugins/reward_example.py"
Q=--quiet
[ -f "$EX" ] || make -s plugins >/dev/null

fixture_base() { "$PGRPO" sft $TINY --set run.out_dir="$1" $Q; }
deck() { need base || return 1; T=(train $TINY --set train.base=$FIX/sft_base.h5 $Q); }
fixture_process() { deck || return 1; mpi 2 $PGRPO "${T[@]}" --set run.out_dir="$1" --set reward.command="$PY"; }
fixture_plugin() { deck || return 1; mpi 2 $PGRPO "${T[@]}" --set run.out_dir="$1" --set reward.plugin=$EX; }
one_error() { [ "$(grep '^pgrpo: error:' "$1" | sort -u | wc -l)" -eq 1 ]; }   # see test_reward_plugin.sh
showlog() { grep '^pgrpo: error' "$1" | tail -2 | cut -c1-300; }
# No process running the case's own copy of the bad script is left (a zombie or an orphan).
none_left() { gone "$CASE_DIR/reward_bad.py"; }
gone() { ! pgrep -f "$1" >/dev/null; }

case_process_trains() {
    need process
    check process_trains test -s $FIX/final.h5
    /usr/bin/python3 tests/plugins/check_rewards.py $FIX 4
}
case_process_equals_plugin() {   # the same formula in C (plugin) and Python (process): the same run, bit for bit
    need process; local p=$FIX; need plugin
    check process_rewards_equal_plugin same_dataset $p/trajectories.h5 $FIX/trajectories.h5 /reward
    check process_weights_equal_plugin same_dataset $p/final.h5 $FIX/final.h5 /model/params
}
case_process_eval_and_batches() {  # eval through the process; reward.batch = 3 splits a rank's items, same numbers
    need process; copy_fix run; deck
    check process_eval_runs mpi 2 $PGRPO eval $TINY --set run.out_dir=$OUT --set reward.command="$PY" $Q
    check process_batch3_trains mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$CASE_DIR/b3 --set reward.command="$PY" --set reward.batch=3
    check process_batch3_same_rewards same_dataset $OUT/trajectories.h5 $CASE_DIR/b3/trajectories.h5 /reward
}

# t_bad MODE TIMEOUT: rank 1's copy of tests/plugins/reward_bad.py misbehaves (MODE) at its batch 3 (step 3).
# Sets RC, LOG, R (the run folder) and SECS (the run's wall time).
t_bad() {
    local mode=$1 timeout=$2 t0; deck
    cp tests/plugins/reward_bad.py $CASE_DIR/reward_bad.py
    sed -i "s|os.path.dirname(os.path.abspath(__file__)), \"../../inputs/plugins\"|\"$PWD/inputs/plugins\"|" $CASE_DIR/reward_bad.py
    R=$CASE_DIR/run LOG=$CASE_DIR/$mode.log; t0=$(date +%s.%N)
    REWARD_BAD=$mode REWARD_BAD_RANK=1 mpi 2 -x REWARD_BAD -x REWARD_BAD_RANK $PGRPO "${T[@]}" --set run.out_dir=$R \
        --set reward.command="/usr/bin/python3 $CASE_DIR/reward_bad.py" --set reward.timeout=$timeout >$LOG 2>&1; RC=$?
    SECS=$(echo "$(date +%s.%N) - $t0" | bc)
}
# expect NAME PATTERN: exit 3, one distinct error line matching "rank 1: reward command '...reward_bad.py' PATTERN",
# the checkpoint of step 3 written by the failure path, no final.h5, no process left.
expect() {
    local name=$1 pat=$2
    [ $RC -eq 3 ] && one_error $LOG && grep -q "^pgrpo: error: rank 1: reward command '/usr/bin/python3 $CASE_DIR/reward_bad.py' $pat" $LOG \
        && ok "${name}_stops_with_message # $(printf %.1f $SECS) s" || nok "${name}_stops_with_message" "rc=$RC" "$(showlog $LOG)"
    check ${name}_checkpoint_of_last_step $PGRPO inspect $R/checkpoints/ckpt_00000003.h5
    check ${name}_no_final test ! -e $R/final.h5
    sleep 1; check ${name}_no_process_left none_left
}
case_hang() {   # timeout 3 s: the message comes within 3 s + startup + a few seconds
    t_bad hang@3 3
    expect hang "(step 3): did not answer batch 3 of 16 items within reward.timeout = 3 s (0 of 16 lines came)"
    awk -v s=$SECS 'BEGIN{exit !(s < 3 + 10)}' && ok "hang_within_timeout # $SECS s" || nok hang_within_timeout "$SECS s"
}
case_early_exit() { t_bad exit@3 30; expect exit "(step 3): exited with status 7 before answering batch 3 of 16 items"; }
case_garbage() {
    t_bad garbage@3 30
    expect garbage "(step 3): batch 3: answer line 2 for item 1 (user [0-9]*, group [0-9]*) is 'banana', not a number"
}
case_nan_answer() { t_bad nan@3 30; expect nan "gave reward nan for item 1 (user [0-9]*, group [0-9]*) of step 3"; }
case_extra_lines() { t_bad extra@3 30; expect extra "(step 3): batch 3: more answer lines than its 16 items"; }
# Preemption with a reward process: SIGUSR1 to the ranks and to the reward processes too (as a scheduler that
# signals every process of the job does) finishes the step, checkpoints and exits 75 -- the process survives
# (spawned with the stop signals blocked) -- and the resumed run ends bit-identical to an uninterrupted one.
LONG=(--set train.steps=20 --set checkpoint.every=2 --set train.prompts=24 --set train.group_size=8)
fixture_long() { deck || return 1; mpi 2 $PGRPO "${T[@]}" "${LONG[@]}" --set run.out_dir="$1" --set reward.command="$PY"; }
case_preempt_usr1() {
    need long; local ref=$FIX R=$CASE_DIR/run rc; deck
    cp inputs/plugins/reward_example.py $CASE_DIR/
    local cmd="/usr/bin/python3 $CASE_DIR/reward_example.py"
    bg_mpi 2 $PGRPO "${T[@]}" "${LONG[@]}" --set run.out_dir=$R --set reward.command="$cmd" >$CASE_DIR/log 2>&1
    for _ in $(seq 1 600); do [ -e $R/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.05; done
    kill -USR1 $(pgrep -f "$CASE_DIR/reward_example.py") $(job_ranks) 2>/dev/null
    wait $BG_PID; rc=$?
    [ $rc -eq 75 ] && ok "usr1_exits_75" || nok usr1_exits_75 "rc=$rc" "$(showlog $CASE_DIR/log)"
    check usr1_resume_finishes mpi 2 $PGRPO "${T[@]}" "${LONG[@]}" --set run.out_dir=$R --set reward.command="$cmd" --resume auto
    check usr1_resume_bit_identical_weights same_dataset $ref/final.h5 $R/final.h5 /model/params
    check usr1_resume_bit_identical_rewards same_dataset $ref/trajectories.h5 $R/trajectories.h5 /reward
    sleep 1; check usr1_no_process_left gone "$CASE_DIR/reward_example.py"
}
case_refusals() {
    local rc; deck
    mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$CASE_DIR/o1 --set reward.command=/nonexistent/reward >$CASE_DIR/l1 2>&1; rc=$?
    [ $rc -eq 2 ] && one_error $CASE_DIR/l1 && grep -q "reward.command = /nonexistent/reward: reward command '/nonexistent/reward' cannot be started" $CASE_DIR/l1 \
        && ok refused_missing_command || nok refused_missing_command "rc=$rc" "$(showlog $CASE_DIR/l1)"
    mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$CASE_DIR/o2 --set reward.command=/bin/cat >$CASE_DIR/l2 2>&1; rc=$?
    [ $rc -eq 2 ] && one_error $CASE_DIR/l2 && grep -q "answered 'pgrpo-reward 1?' to the header line instead of \"ready\"" $CASE_DIR/l2 \
        && ok refused_not_a_reward_process || nok refused_not_a_reward_process "rc=$rc" "$(showlog $CASE_DIR/l2)"
    mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$CASE_DIR/o3 --set reward.command="$PY 'unbalanced" >$CASE_DIR/l3 2>&1; rc=$?
    [ $rc -eq 2 ] && grep -q "cannot be split into words: unbalanced ' quote" $CASE_DIR/l3 \
        && ok refused_bad_quoting || nok refused_bad_quoting "rc=$rc" "$(showlog $CASE_DIR/l3)"
}
run_cases "$@"
