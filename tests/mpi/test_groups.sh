#!/usr/bin/env bash
# test_groups.sh — `pgrpo groups` and `train.groups = discover` end to end (README "Groups"): recovery of the
# personas' groups from sparse feedback (ARI vs truth, K chosen by the criterion), the report, groups.h5 read by
# `train.groups = file`, feedback.h5 read back as a user's own data (the same labels), bit-identical labels on a
# rerun, the spectral variant, discovery inside a training job with the map kept in checkpoints (a resume does not
# rediscover), and bad inputs refused with one line naming the file/dataset or key, exit 2 or 3, no output left.
# Independent cases (tests/lib.sh): `bash tests/mpi/test_groups.sh --list`.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
DECK=$PWD/inputs/groups_personas.deck
S="--quiet"

# h5 FILE EXPR: prints a value read with h5py (f is the open file).
h5() { "$PY" -c "import h5py, numpy as np; f = h5py.File('$1', 'r'); print($2)"; }

# fails CODE WHAT NAME CMD...: CMD exits CODE with one error line (ranks that saw the same error may each print it)
# that contains WHAT; the case's folder has no groups.h5 afterwards.
fails() {
    local code=$1 what=$2 name=$3 rc; shift 3
    "$@" >"$CASE_DIR/$name.log" 2>&1; rc=$?
    local lines; lines=$(grep '^pgrpo: error:' "$CASE_DIR/$name.log" | sort -u | wc -l)
    if [ $rc -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q -- "$what" "$CASE_DIR/$name.log" &&
       ! find "$CASE_DIR" -name 'groups.h5*' | grep -q .; then
        ok "$name # $(grep '^pgrpo: error:' "$CASE_DIR/$name.log" | cut -c1-160)"
    else
        nok "$name" "exit $rc (want $code), $lines error lines, want '$what'" "$(tail -3 "$CASE_DIR/$name.log")"
        return 1
    fi
}

# --- Fixtures.
fixture_personas() {  # pgrpo groups on the default personas deck, 2 ranks: $1/groups.h5, feedback.h5, $1/log
    mpi 2 $PGRPO groups $DECK --set run.out_dir="$1" >"$1/log" 2>&1
}
fixture_base() {      # the tiny SFT base for the training cases
    mpi 2 $PGRPO sft $TINY --set run.out_dir="$1" $S
}

# --- Discovery on the task's feedback.
case_personas_recovered() {
    need personas
    local ari k kt
    ari=$(h5 $FIX/groups.h5 "float(f['eval/ari'][()])")
    k=$(h5 $FIX/groups.h5 "int(f.attrs['n_groups'])")
    kt=$(h5 $FIX/groups.h5 "f['eval/contingency'].shape[1]")
    awk -v a="$ari" 'BEGIN{exit !(a >= 0.9)}' && ok "personas_ari_at_least_0.9 # ARI $ari, K $k of $kt" ||
        nok personas_ari_at_least_0.9 "ARI $ari" "$(tail -5 $FIX/log)"
    check report_prints_ari grep -q 'vs the true groups: ARI' $FIX/log
    check report_prints_random_ari grep -q 'a random assignment with these sizes: ARI' $FIX/log
    check report_prints_contingency grep -q 'contingency (rows: discovered groups' $FIX/log
    local rand; rand=$(h5 $FIX/groups.h5 "float(f['eval/ari_random'][()])")
    awk -v a="$rand" 'BEGIN{exit !(a > -0.05 && a < 0.05)}' && ok "random_assignment_ari_near_0 # $rand" ||
        nok random_assignment_ari_near_0 "$rand"
}
case_groups_file_contents() {
    need personas
    check user_group_one_per_user test "$(h5 $FIX/groups.h5 "f['user_group'].shape[0]")" = 1000
    check sizes_sum_to_users test "$(h5 $FIX/groups.h5 "int(f['sizes'][:].sum())")" = 1000
    check sizes_match_labels h5 $FIX/groups.h5 \
        "exit(int(not (np.bincount(f['user_group'][:]) == f['sizes'][:]).all()))"
    check fixed_k_one_criteria_row test "$(h5 $FIX/groups.h5 "list(f['criteria/k'][:])")" = "[7]"
    check inspect_verifies $PGRPO inspect $FIX/groups.h5
    check feedback_written h5 $FIX/feedback.h5 "exit(int(f['feedback/value'].shape != (1000, 256)))"
}
# groups.k = 0: every K in [2, k_max] clustered and scored; the chosen K is the criterion's argmax (smallest on a
# tie), and each criterion's pick is stored.
case_k_chosen_by_criterion() {
    local c
    for c in silhouette bic eigengap; do
        mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/$c --set groups.k=0 --set groups.criterion=$c \
            >$CASE_DIR/$c.log 2>&1 || { nok "k_by_$c: exit $?" "$(tail -3 $CASE_DIR/$c.log)"; continue; }
        check "k_by_${c}_table_2_to_8" h5 $CASE_DIR/$c/groups.h5 "exit(int(list(f['criteria/k'][:]) != list(range(2, 9))))"
        check "k_by_${c}_is_the_criterion_pick" h5 $CASE_DIR/$c/groups.h5 \
            "exit(int(int(f.attrs['n_groups']) != int(f['criteria'].attrs['k_$c'])))"
        check "k_by_${c}_printed" grep -q "K = .* by $c (silhouette picks" $CASE_DIR/$c.log
    done
    check silhouette_pick_is_argmax h5 $CASE_DIR/silhouette/groups.h5 \
        "exit(int(int(f.attrs['n_groups']) != 2 + int(np.argmax(f['criteria/silhouette'][:]))))"
    check bic_pick_is_argmax h5 $CASE_DIR/bic/groups.h5 \
        "exit(int(int(f.attrs['n_groups']) != 2 + int(np.argmax(f['criteria/bic'][:]))))"
}
case_rerun_bit_identical() {
    need personas
    mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/again $S || return 1
    check labels_bit_identical same_dataset $FIX/groups.h5 $CASE_DIR/again/groups.h5 /user_group
    check centroids_bit_identical same_dataset $FIX/groups.h5 $CASE_DIR/again/groups.h5 /centroids
}
case_feedback_file_same_labels() {   # the feedback.h5 pgrpo wrote, read back as a user's own data
    need personas
    mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/f --set groups.feedback=file \
        --set groups.feedback_file=$FIX/feedback.h5 >$CASE_DIR/log 2>&1 || { tail -3 $CASE_DIR/log; return 1; }
    check file_path_same_labels same_dataset $FIX/groups.h5 $CASE_DIR/f/groups.h5 /user_group
    check file_path_scores_truth grep -q 'vs the true groups: ARI' $CASE_DIR/log
}
case_three_ranks_same_groups() {     # another rank layout: the same partition (labels may differ only by rounding)
    need personas
    mpi 3 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/r3 $S || return 1
    local ari
    ari=$($PY -c "
import h5py, sys; sys.path.insert(0, 'tests/reference')
from sklearn.metrics import adjusted_rand_score as ari
a = h5py.File('$FIX/groups.h5')['user_group'][:]; b = h5py.File('$CASE_DIR/r3/groups.h5')['user_group'][:]
print(ari(a, b))")
    awk -v a="$ari" 'BEGIN{exit !(a >= 0.99)}' && ok "three_ranks_same_partition # ARI $ari" || nok three_ranks_same_partition "$ari"
}
# Non-convex groups (two concentric rings, written as a user's feedback.h5): the spectral variant separates them,
# k-means on the principal components cannot.
case_spectral_variant() {
    $PY -c "
import h5py, numpy as np
rng = np.random.default_rng(4); n = 600; t = rng.uniform(0, 2 * np.pi, n); g = (np.arange(n) % 2).astype(np.int32)
r = np.where(g == 0, 1.0, 3.0) + rng.normal(0, 0.1, n)
v = np.stack([r * np.cos(t), r * np.sin(t)], 1).astype(np.float32)
with h5py.File('$CASE_DIR/rings.h5', 'w') as f: f['feedback/value'] = v; f['feedback/truth'] = g"
    local m ari=()
    for m in spectral pca; do
        mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/$m --set groups.method=$m --set groups.feedback=file \
            --set groups.feedback_file=$CASE_DIR/rings.h5 --set groups.dims=2 --set groups.k=2 >$CASE_DIR/$m.log 2>&1 ||
            { nok "spectral_variant: $m run failed" "$(tail -3 $CASE_DIR/$m.log)"; return 1; }
        ari+=("$(h5 $CASE_DIR/$m/groups.h5 "float(f['eval/ari'][()])")")
    done
    awk -v a="${ari[0]}" 'BEGIN{exit !(a >= 0.99)}' && ok "spectral_separates_rings # ARI ${ari[0]}" ||
        nok spectral_separates_rings "ARI ${ari[0]}"
    awk -v a="${ari[1]}" 'BEGIN{exit !(a < 0.5)}' && ok "kmeans_on_components_cannot # ARI ${ari[1]}" ||
        nok kmeans_on_components_cannot "ARI ${ari[1]}"
    check spectral_eigenvalues_stored h5 $CASE_DIR/spectral/groups.h5 "exit(int(f['reduction/eigenvalues'].shape[0] != 3))"
}
case_fixed_k() {
    mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/k --set groups.k=3 $S || return 1
    check fixed_k_three test "$(h5 $CASE_DIR/k/groups.h5 "int(f.attrs['n_groups'])")" = 3
}

# --- Training on discovered groups.
case_train_on_groups_file() {
    need personas; local G=$FIX/groups.h5
    need base
    mpi 2 $PGRPO train $TINY --set task.n_users=1000 --set train.base=$FIX/sft_base.h5 --set run.out_dir=$CASE_DIR/t \
        --set train.groups=file --set train.groups_file=$G $S || return 1
    check trajectories_use_file_groups $PY -c "
import h5py, numpy as np
g = h5py.File('$G')['user_group'][:]; t = h5py.File('$CASE_DIR/t/trajectories.h5')
exit(int(not (g[t['user'][:]] == t['group'][:]).all()))"
}
case_train_discover_then_resume() {
    need base; local B=$FIX/sft_base.h5 o=$CASE_DIR/t
    mpi 2 $PGRPO train $TINY --set train.base=$B --set run.out_dir=$o --set train.groups=discover \
        --set train.steps=4 >$CASE_DIR/first.log 2>&1 || { nok discover_train_runs "$(tail -3 $CASE_DIR/first.log)"; return 1; }
    check discover_wrote_groups test -s $o/groups.h5
    check discover_reported grep -q 'groups: vs the true groups' $CASE_DIR/first.log
    check checkpoint_holds_discovered_map $PY -c "
import h5py, numpy as np
g = h5py.File('$o/groups.h5')['user_group'][:]; c = h5py.File('$o/checkpoints/ckpt_00000004.h5')['groups/user_group'][:]
t = h5py.File('$o/trajectories.h5')
exit(int(not ((g == c).all() and (g[t['user'][:]] == t['group'][:]).all())))"
    local before; before=$(stat -c %Y.%s $o/groups.h5)
    mpi 2 $PGRPO train $TINY --set train.base=$B --set run.out_dir=$o --set train.groups=discover --set train.steps=6 \
        --resume auto >$CASE_DIR/resume.log 2>&1 || { nok discover_resume_runs "$(tail -3 $CASE_DIR/resume.log)"; return 1; }
    check resume_does_not_rediscover grep -q 'groups discovered by the run.s first job' $CASE_DIR/resume.log
    check resume_no_new_report bash -c "! grep -q 'groups: vs the true groups' $CASE_DIR/resume.log"
    check resume_left_groups_file test "$(stat -c %Y.%s $o/groups.h5)" = "$before"
}

# --- Bad inputs: one line naming the file/dataset or key, exit 2 or 3, no groups.h5 left.
# bad_fb NAME PYTHON: writes $CASE_DIR/NAME.h5 with h5py (v = a clean 40 x 6 float32 matrix, f the open file).
bad_fb() {
    $PY -c "
import h5py, numpy as np
rng = np.random.default_rng(1); v = rng.normal(size=(40, 6)).astype(np.float32)
with h5py.File('$CASE_DIR/$1.h5', 'w') as f:
    $2"
}
gfile() { mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/out --set groups.feedback=file --set groups.dims=3 \
              --set groups.feedback_file=$CASE_DIR/$1.h5 "${@:2}"; }
case_bad_nan() {
    bad_fb nan "v[7, 2] = np.nan; f['feedback/value'] = v"
    fails 3 'row 7' nan_value_named gfile nan
}
case_bad_inf() {
    bad_fb inf "v[3, 5] = np.inf; f['feedback/value'] = v"
    fails 3 'row 3' inf_value_named gfile inf
}
case_bad_rank() {
    bad_fb rank "f['feedback/value'] = v.ravel()"
    fails 3 '/feedback/value' wrong_rank_named gfile rank
}
case_bad_zero_users() {
    bad_fb zero "f['feedback/value'] = np.zeros((0, 6), np.float32)"
    fails 3 '/feedback/value' zero_users_refused gfile zero
}
case_bad_k_above_users() {
    bad_fb small "f['feedback/value'] = v[:5]"
    fails 2 'groups.k' k_above_users_refused gfile small --set groups.k=6 --set groups.dims=2
}
case_bad_constant_column() {
    bad_fb const "v[:, 4] = 2.5; f['feedback/value'] = v"
    fails 3 'column 4' constant_column_named gfile const
}
case_bad_hidden_row() {
    bad_fb hidden "m = np.ones(v.shape, np.uint8); m[11, :] = 0; f['feedback/value'] = v; f['feedback/mask'] = m"
    fails 3 'row 11' hidden_row_named gfile hidden
}
case_bad_mask_shape() {
    bad_fb mshape "f['feedback/value'] = v; f['feedback/mask'] = np.ones((40, 5), np.uint8)"
    fails 3 '/feedback/mask' mask_shape_named gfile mshape
}
case_bad_user_id_duplicate() {
    bad_fb dup "f['feedback/value'] = v; u = np.arange(40); u[9] = 3; f['feedback/user_id'] = u"
    fails 3 'user_id' duplicate_user_id_named gfile dup
}
case_bad_missing_file() {
    fails 3 'nothere.h5' missing_feedback_file_named gfile nothere
}
case_bad_dims_above_probes() {
    fails 2 'groups.dims' dims_above_probes_refused mpi 2 $PGRPO groups $DECK --set run.out_dir=$CASE_DIR/out \
        --set groups.probes=8 --set groups.dims=9
}
case_bad_groups_file_negative() {   # the train.groups = file path, with a discovered-looking file
    need base
    $PY -c "
import h5py, numpy as np
with h5py.File('$CASE_DIR/neg.h5', 'w') as f:
    g = np.zeros(200, np.int32); g[5] = -1; f['user_group'] = g"
    fails 2 'train.groups_file' negative_group_id_refused mpi 2 $PGRPO train $TINY --set train.base=$FIX/sft_base.h5 \
        --set run.out_dir=$CASE_DIR/out --set train.groups=file --set train.groups_file=$CASE_DIR/neg.h5
}
case_bad_discover_rows_mismatch() {  # train.groups = discover on a user's file with another user count
    need base
    bad_fb rows "f['feedback/value'] = v"
    fails 2 'task.n_users' discover_rows_must_match_users mpi 2 $PGRPO train $TINY --set train.base=$FIX/sft_base.h5 \
        --set run.out_dir=$CASE_DIR/out --set train.groups=discover --set groups.feedback=file \
        --set groups.feedback_file=$CASE_DIR/rows.h5 --set groups.dims=3
}

run_cases "$@"
