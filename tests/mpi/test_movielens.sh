#!/usr/bin/env bash
# task.name = movielens on a synthetic data set in EXACTLY the MovieLens-1M format (and the 100K layout) (tests/reference/ml_fixture.py:
# Latin-1 titles, trailing blanks, CRLF lines, a movie nobody rated, users with one and with no rating): SFT ->
# train -> eval on 2 ranks, the recommender metrics in eval.h5, titles decoded to UTF-8, each kind of malformed row
# refused with one line naming file:line (exit 3), a missing folder (exit 2), and restart bit-identical.
source "$(dirname "$0")/../lib.sh"
DECK=$PWD/inputs/movielens_fixture.deck
PY=/usr/bin/python3

fixture_data() { $PY tests/reference/ml_fixture.py "$1"; }      # the data set in $1
opts() { need data || return 1; B=(--set task.path=$FIX --set run.out_dir=$1); }
fixture_base() { opts "$1" || return 1; mpi 2 $PGRPO sft $DECK "${B[@]}" 2>&1 | tee "$1/sft.log"; return "${PIPESTATUS[0]}"; }
fixture_trained() {
    need base || return 1
    cp -r "$FIX/." "$1/" && chmod -R u+w "$1" || return 1
    opts "$1" || return 1
    mpi 2 $PGRPO train $DECK "${B[@]}" --quiet
}

case_sft_reads_the_data() {
    need base; local BASE=$FIX
    grep -q "task: movielens .*: 120 movies, [0-9]* ratings, 300 users (258 train, 40 held out, 2 with < 2 ratings left out)" \
        $FIX/sft.log && ok movielens_data_summary || nok movielens_data_summary "$(grep 'task:' $FIX/sft.log)"
    local nll V
    nll=$(grep -o 'held-out NLL [0-9.]*' $FIX/sft.log | awk '{print $3}')
    V=$(h5dump -a /vocab $FIX/sft_base.h5 | awk '/\(0\)/{print $2}')
    [ "$V" = 125 ] && ok "movielens_vocab_is_movies_plus_specials # V=$V" || nok movielens_vocab_is_movies_plus_specials "V=$V"
    awk -v x="${nll:-99}" -v v="${V:-1}" 'BEGIN{exit !(x < log(v) - 0.3)}' && ok "movielens_sft_lowers_nll # $nll vs log(V)" \
        || nok movielens_sft_lowers_nll "nll=$nll V=$V"
}
case_train_and_eval() {
    need trained; copy_fix out; opts $OUT
    check movielens_train_wrote_policy test -s $OUT/final.h5
    mpi 2 $PGRPO eval $DECK "${B[@]}" >$CASE_DIR/eval.log 2>&1 || { nok movielens_eval "$(tail -3 $CASE_DIR/eval.log)"; return; }
    grep -qE '^ +female +[0-9]+ ' $CASE_DIR/eval.log && grep -qE '^ +male +[0-9]+ ' $CASE_DIR/eval.log && ok movielens_eval_per_gender_group \
        || nok movielens_eval_per_gender_group "$(tail -8 $CASE_DIR/eval.log)"
    $PY - $OUT/eval.h5 <<'PY' && ok movielens_eval_h5_recommend || nok movielens_eval_h5_recommend
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    r = f["recommend"][...]
    assert r.shape == (3, 5), r.shape
    assert f["recommend"].attrs["columns"] in ("prompts,hit_sampled,ndcg_sampled,hit_greedy,ndcg_greedy",
                                               b"prompts,hit_sampled,ndcg_sampled,hit_greedy,ndcg_greedy")
    assert r[2, 0] == 32 and r[0, 0] + r[1, 0] == 32, r[:, 0]
    assert np.all(r[:, 1:] >= 0) and np.all(r[:, 1:] <= 1), r
    assert np.all(r[:, 2] <= r[:, 1] + 1e-12) and np.all(r[:, 4] <= r[:, 3] + 1e-12), r   # NDCG <= hit
PY
}
case_latin1_titles_utf8() {
    need trained
    # A prompt of a user who watched "Amélie (2001)" (Latin-1 0xE9 in movies.dat) shows it in UTF-8.
    opts $FIX; $PGRPO sample $DECK "${B[@]}" --quiet >$CASE_DIR/sample.log 2>&1
    grep -q "titles (watched): " $CASE_DIR/sample.log && ok movielens_sample_prints_titles || nok movielens_sample_prints_titles "$(head -5 $CASE_DIR/sample.log)"
    $PY - $CASE_DIR/sample.log <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
b.decode("utf-8")   # the whole output is UTF-8
print(("ok" if "é".encode() in b or "ø".encode() in b or "Ç".encode() in b or "ñ".encode() in b else "not ok")
      + " - movielens_latin1_title_decoded_to_utf8")
PY
}
t_malformed() {
    local kind=$1 bad out rc D=$CASE_DIR/data
    bad=$($PY tests/reference/ml_fixture.py $D --malformed $kind)
    out=$($PGRPO sft $DECK --set task.path=$D --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 3 ] && [ "$(echo "$out" | grep -c .)" -eq 1 ] && echo "$out" | grep -q "^pgrpo: error: $D/$bad: .*(HINT: " \
        && ok "movielens_malformed_${kind}_names_${bad} # $(echo "$out" | cut -c1-160)" || nok "movielens_malformed_$kind" "rc=$rc want $bad" "$out"
}
case_malformed_rating_value() { t_malformed rating_value; }
case_malformed_fields() { t_malformed fields; }
case_malformed_genre() { t_malformed genre; }
case_malformed_unknown_movie() { t_malformed unknown_movie; }
case_malformed_duplicate() { t_malformed duplicate; }
# The 100K layout (u.user, u.item, u.data) of the same data reads into the same task: the same SFT base, bit for bit.
case_layout_100k() {
    need base; local BASE=$FIX D=$CASE_DIR/ml100k
    $PY tests/reference/ml_fixture.py $D --layout 100k
    mpi 2 $PGRPO sft $DECK --set task.path=$D --set run.out_dir=$CASE_DIR/out >$CASE_DIR/sft.log 2>&1 || { nok movielens_100k_sft "$(tail -3 $CASE_DIR/sft.log)"; return; }
    same_dataset $BASE/sft_base.h5 $CASE_DIR/out/sft_base.h5 /model/params && ok movielens_100k_layout_same_sft_base || nok movielens_100k_layout_same_sft_base
    local bad out rc
    bad=$($PY tests/reference/ml_fixture.py $CASE_DIR/bad --layout 100k --malformed rating_value)
    out=$($PGRPO sft $DECK --set task.path=$CASE_DIR/bad --set run.out_dir=$CASE_DIR/out2 2>&1 >/dev/null); rc=$?
    [ $rc -eq 3 ] && echo "$out" | grep -q "^pgrpo: error: $CASE_DIR/bad/$bad: Rating 0 out of range" && ok "movielens_100k_malformed_names_$bad" || nok movielens_100k_malformed "rc=$rc $out"
}
case_missing_folder() {
    local out rc
    out=$($PGRPO sft $DECK --set task.path=$CASE_DIR/nowhere --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "cannot read $CASE_DIR/nowhere/users.dat" && ok movielens_missing_folder_exit_2 || nok movielens_missing_folder_exit_2 "rc=$rc $out"
    out=$($PGRPO sft $DECK --set task.path= --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "task.path" && ok movielens_empty_path_exit_2 || nok movielens_empty_path_exit_2 "rc=$rc $out"
    need data
    out=$($PGRPO sft $DECK --set task.path=$FIX --set task.n_eval_users=298 --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "task.n_eval_users = 298" && ok movielens_too_many_held_out_exit_2 || nok movielens_too_many_held_out_exit_2 "rc=$rc $out"
    out=$($PGRPO sft $DECK --set task.path=$FIX --set task.shares=0.5,0.5 --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "task.shares" && ok movielens_shares_refused || nok movielens_shares_refused "rc=$rc $out"
}
# The other group sources: users.dat's age field, and the discovered groups on the task's feedback (ratings).
case_groups_age_and_discover() {
    need base; copy_fix out; opts $OUT
    mpi 2 $PGRPO train $DECK "${B[@]}" --set task.ml_groups=age --set train.steps=2 --set run.out_dir=$OUT/age \
        --set train.base=$OUT/sft_base.h5 --quiet >$CASE_DIR/age.log 2>&1 && ok movielens_groups_by_age || nok movielens_groups_by_age "$(tail -3 $CASE_DIR/age.log)"
    mpi 2 $PGRPO train $DECK "${B[@]}" --set train.groups=discover --set groups.k=2 --set train.steps=2 \
        --set run.out_dir=$OUT/disc --set train.base=$OUT/sft_base.h5 --quiet >$CASE_DIR/disc.log 2>&1 \
        && ok movielens_groups_discovered || nok movielens_groups_discovered "$(tail -3 $CASE_DIR/disc.log)"
}
# Restart: drop the last checkpoint and the policy of a finished run, resume: the same bits.
case_restart_bit_identical() {
    need trained; local REF=$FIX; copy_fix out; opts $OUT
    rm -f $OUT/final.h5 $OUT/checkpoints/ckpt_00000006.h5
    mpi 2 $PGRPO train $DECK "${B[@]}" --resume auto --quiet >$CASE_DIR/resume.log 2>&1 || { nok movielens_resume "$(tail -3 $CASE_DIR/resume.log)"; return; }
    same_dataset $REF/final.h5 $OUT/final.h5 /model/params && same_dataset $REF/trajectories.h5 $OUT/trajectories.h5 /reward \
        && same_dataset $REF/trajectories.h5 $OUT/trajectories.h5 /completion_tokens \
        && ok movielens_restart_bit_identical || nok movielens_restart_bit_identical
}
run_cases "$@"
