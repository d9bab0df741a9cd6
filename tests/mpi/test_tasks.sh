#!/usr/bin/env bash
# Each task family end to end at 2 ranks: SFT lowers the held-out NLL, the SFT base is not personalised,
# P-GRPO trains, eval and sample read the result.
source "$(dirname "$0")/../lib.sh"
D=$SCRATCH
for task in personas recsys reviews; do
    O=$D/$task
    B=(--set task.name=$task --set run.out_dir=$O --set model.d_model=48 --set model.n_head=4 --set sft.steps=120)
    if mpi 2 $PGRPO sft $TINY "${B[@]}" >$O.sft.log 2>&1; then ok ${task}_sft; else nok ${task}_sft "$(tail -3 $O.sft.log)"; fi
    # Held-out NLL after SFT against the uniform policy's log(V).
    nll=$(grep -o 'held-out NLL [0-9.]*' $O.sft.log | awk '{print $3}')
    V=$(h5dump -a /vocab $O/sft_base.h5 | awk '/\(0\)/{print $2}')
    awk -v x="${nll:-99}" -v v="${V:-1}" 'BEGIN{exit !(x < log(v) - 1)}' && ok "${task}_sft_lowers_heldout_nll # $nll nats vs log(V) = $(awk -v v=$V 'BEGIN{printf "%.2f", log(v)}')" \
        || nok ${task}_sft_lowers_heldout_nll "nll=$nll V=$V"
    # One step of 256 prompts x 4 completions, sampled by the unchanged base.
    if mpi 2 $PGRPO train $TINY "${B[@]}" --set train.steps=1 --set train.prompts=256 --set train.group_size=4 --quiet >$O.t1.log 2>&1
    then ok ${task}_base_rollouts; else nok ${task}_base_rollouts "$(tail -3 $O.t1.log)"; fi
    case $task in
        personas) /usr/bin/python3 tests/reference/check_base_not_personalised.py $O 1 0.2 ;;   # the genre word
        reviews)  /usr/bin/python3 tests/reference/check_base_not_personalised.py $O 0 0.2 ;;   # the first word
        recsys)   /usr/bin/python3 tests/reference/check_base_not_personalised.py $O 0 0.2 $O/sft_base.h5 ;;  # its genre
    esac | sed "s/ - / - ${task}_/"
    rm -rf $O/checkpoints $O/*.h5.snapshot $O/trajectories.h5 $O/metrics.h5
    if mpi 2 $PGRPO train $TINY "${B[@]}" --set train.steps=4 --quiet >$O.train.log 2>&1; then ok ${task}_train; else nok ${task}_train "$(tail -3 $O.train.log)"; fi
    mpi 2 $PGRPO eval $TINY "${B[@]}" >$O.eval.log 2>&1
    ng=$(grep -cE '^ +[a-z0-9_]+ +[0-9]+ ' $O.eval.log)
    grep -q "^all " $O.eval.log && [ "$ng" -ge 5 ] && ok "${task}_eval_per_group # $ng groups" || nok ${task}_eval_per_group "$(tail -4 $O.eval.log)"
    $PGRPO sample $TINY "${B[@]}" --quiet >$O.sample.log 2>&1
    [ "$(grep -c 'sampled:' $O.sample.log)" -ge 5 ] && ok ${task}_sample_text || nok ${task}_sample_text "$(head -4 $O.sample.log)"
done
