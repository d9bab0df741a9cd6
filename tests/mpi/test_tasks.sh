#!/usr/bin/env bash
# Each task family end to end at 2 ranks: SFT lowers the held-out NLL, the SFT base is not personalised,
# P-GRPO trains, eval and sample read the result. Independent cases (tests/lib.sh): the SFT base and the
# trained policy of each task are fixtures; `bash tests/mpi/test_tasks.sh --list` shows the cases.
source "$(dirname "$0")/../lib.sh"

# opts TASK OUT_DIR: the settings every command of a task uses (into the array B).
opts() { B=(--set task.name=$1 --set run.out_dir=$2 --set model.d_model=48 --set model.n_head=4 --set sft.steps=120); }

fixture_base() {    # the SFT base of TASK in $1 (sft_base.h5), its log in $1/sft.log
    opts "$2" "$1"
    mpi 2 $PGRPO sft $TINY "${B[@]}" 2>&1 | tee "$1/sft.log"; return "${PIPESTATUS[0]}"
}
fixture_trained() { # the base of TASK after 4 P-GRPO steps (policy, checkpoints, metrics) in $1
    need base "$2" || return 1
    cp -r "$FIX/." "$1/" && chmod -R u+w "$1" || return 1
    opts "$2" "$1"
    mpi 2 $PGRPO train $TINY "${B[@]}" --set train.steps=4 --quiet
}

t_sft() {
    local task=$1 nll V
    need base $task
    ok ${task}_sft
    # Held-out NLL after SFT against the uniform policy's log(V).
    nll=$(grep -o 'held-out NLL [0-9.]*' $FIX/sft.log | awk '{print $3}')
    V=$(h5dump -a /vocab $FIX/sft_base.h5 | awk '/\(0\)/{print $2}')
    awk -v x="${nll:-99}" -v v="${V:-1}" 'BEGIN{exit !(x < log(v) - 1)}' && ok "${task}_sft_lowers_heldout_nll # $nll nats vs log(V) = $(awk -v v=$V 'BEGIN{printf "%.2f", log(v)}')" \
        || nok ${task}_sft_lowers_heldout_nll "nll=$nll V=$V"
}
t_base_rollouts() {  # One step of 256 prompts x 4 completions, sampled by the unchanged base.
    local task=$1
    need base $task; copy_fix out; opts $task $OUT
    if mpi 2 $PGRPO train $TINY "${B[@]}" --set train.steps=1 --set train.prompts=256 --set train.group_size=4 --quiet >$CASE_DIR/t1.log 2>&1
    then ok ${task}_base_rollouts; else nok ${task}_base_rollouts "$(tail -3 $CASE_DIR/t1.log)"; return; fi
    case $task in
        personas) /usr/bin/python3 tests/reference/check_base_not_personalised.py $OUT 1 0.2 ;;   # the genre word
        reviews)  /usr/bin/python3 tests/reference/check_base_not_personalised.py $OUT 0 0.2 ;;   # the first word
        recsys)   /usr/bin/python3 tests/reference/check_base_not_personalised.py $OUT 0 0.2 $OUT/sft_base.h5 ;;  # its genre
    esac | sed "s/ - / - ${task}_/"
}
t_train() {
    local task=$1
    need trained $task
    check ${task}_train test -s $FIX/metrics.h5 -a -d $FIX/checkpoints
}
t_eval() {
    local task=$1 ng
    need trained $task; copy_fix out; opts $task $OUT
    mpi 2 $PGRPO eval $TINY "${B[@]}" >$CASE_DIR/eval.log 2>&1
    ng=$(grep -cE '^ +[a-z0-9_]+ +[0-9]+ ' $CASE_DIR/eval.log)
    grep -q "^all " $CASE_DIR/eval.log && [ "$ng" -ge 5 ] && ok "${task}_eval_per_group # $ng groups" || nok ${task}_eval_per_group "$(tail -4 $CASE_DIR/eval.log)"
}
t_sample() {
    local task=$1
    need trained $task; opts $task $FIX    # sample only reads: no copy (the framework checks)
    $PGRPO sample $TINY "${B[@]}" --quiet >$CASE_DIR/sample.log 2>&1
    [ "$(grep -c 'sampled:' $CASE_DIR/sample.log)" -ge 5 ] && ok ${task}_sample_text || nok ${task}_sample_text "$(head -4 $CASE_DIR/sample.log)"
}

case_personas_sft()           { t_sft personas; }
case_personas_base_rollouts() { t_base_rollouts personas; }
case_personas_train()         { t_train personas; }
case_personas_eval()          { t_eval personas; }
case_personas_sample()        { t_sample personas; }
case_recsys_sft()             { t_sft recsys; }
case_recsys_base_rollouts()   { t_base_rollouts recsys; }
case_recsys_train()           { t_train recsys; }
case_recsys_eval()            { t_eval recsys; }
case_recsys_sample()          { t_sample recsys; }
case_reviews_sft()            { t_sft reviews; }
case_reviews_base_rollouts()  { t_base_rollouts reviews; }
case_reviews_train()          { t_train reviews; }
case_reviews_eval()           { t_eval reviews; }
case_reviews_sample()         { t_sample reviews; }

run_cases "$@"
