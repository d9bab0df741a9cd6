#!/usr/bin/env bash
# What a resume checks before it trusts a checkpoint and its output snapshots (issue 8, A4 and A3): the stored deck against this run's (which keys
# may change: include/resume.h), the identity attributes, non-finite state behind a valid checksum, and the records
# (sampling streams, data cursor, groups). Every case trains its own run from the shared SFT base (a fixture,
# tests/lib.sh); none needs another case's output (`bash tests/restart/test_resume_identity.sh --list`).
# Checkpoints are edited through the store (build/tests/ckpt_edit), so their frame and
# checksums are valid and the refusal must come from the resume's own checks.
source "$(dirname "$0")/../lib.sh"
EDIT=$PWD/build/tests/ckpt_edit
fixture_base() { "$PGRPO" sft $TINY --set run.out_dir="$1" --quiet; }   # the SFT base (1 rank): $1/sft_base.h5
# base_deck: needs the SFT base; sets T (the settings of every run here).
base_deck() {
    need base
    T=(train $TINY --set train.base=$FIX/sft_base.h5 --set train.steps=4 --set checkpoint.every=2)
}
# A finished 4-step run in $1 (checkpoints 2 and 4), extra deck settings after it.
first_run() { local R=$1; shift; "$PGRPO" "${T[@]}" --set run.out_dir=$R --quiet "$@" >$R.log 2>&1; }
# Resume $1 to 6 steps with the remaining arguments; sets OUT and RC (not --quiet: warnings are log lines).
resume() { local R=$1; shift; OUT=$("$PGRPO" "${T[@]}" --set run.out_dir=$R --set train.steps=6 --resume auto "$@" 2>&1); RC=$?; }
expect() {  # name, exit status, pattern of the error line
    if [ "$RC" -eq "$2" ] && echo "$OUT" | grep -q "$3"; then ok "$1"; else nok "$1" "rc=$RC" "$(echo "$OUT" | grep -v '^ *$' | tail -2)"; fi
}

# 1. Settings that change the result are refused by name, exit 2 (before: the run went on silently).
refused() {  # key, value
    local key=$1 value=$2 R; base_deck; R=$CASE_DIR/refuse_${1//./_}
    first_run $R || { nok "resume_refuses_$key" "first run failed"; return; }
    resume $R --set $key=$value
    expect "resume_refuses_changed_$key" 2 "^pgrpo: error: cannot resume from '.*ckpt_00000004.h5': changed settings that would change the result: .*$key: "
}
case_resume_refuses_changed_run_seed()        { refused run.seed 7; }
case_resume_refuses_changed_task_seed()       { refused task.seed 5; }
case_resume_refuses_changed_train_groups()    { refused train.groups random; }
case_resume_refuses_changed_train_advantage() { refused train.advantage grpo; }
case_resume_refuses_changed_train_lr()        { refused train.lr 0.002; }
case_resume_refuses_changed_train_loss_agg()  { refused train.loss_agg token_mean; }
case_resume_refuses_changed_train_beta()      { refused train.beta 0.05; }
case_resume_refuses_changed_task_n_users()    { refused task.n_users 150; }
case_resume_refuses_changed_pgrpo_decay()     { refused pgrpo.decay 0.5; }
# 2. Run length and bookkeeping may change (the resume goes on to 6 steps).
accepted() {  # key=value
    local kv=$1 k=${1%%=*} R; base_deck; R=$CASE_DIR/free_${k//./_}
    first_run $R || { nok "resume_accepts_$kv" "first run failed"; return; }
    resume $R --set $kv
    [ "$RC" -eq 0 ] && grep -q "resumed from .*ckpt_00000004.h5 at step 4" <<<"$OUT" && [ -e $R/final.h5 ] \
        && ok "resume_accepts_changed_${kv%%=*}" || nok "resume_accepts_changed_${kv%%=*}" "rc=$RC" "$(echo "$OUT" | tail -2)"
}
case_resume_accepts_changed_run_max_walltime()     { accepted run.max_walltime=100000; }
case_resume_accepts_changed_run_log_every()        { accepted run.log_every=3; }
case_resume_accepts_changed_checkpoint_keep_last() { accepted checkpoint.keep_last=3; }
# The layout of the same arithmetic may change with a warning (bit-identity is lost, validity is not).
case_resume_warns_changed_micro_batch() {
    local R=$CASE_DIR/warn; base_deck
    first_run $R && resume $R --set train.micro_batch=3
    [ "$RC" -eq 0 ] && grep -q "^warning: resuming .* with changed settings (train.micro_batch" <<<"$OUT" \
        && ok resume_warns_changed_micro_batch || nok resume_warns_changed_micro_batch "rc=$RC" "$(echo "$OUT" | grep -i warn)"
}

# 3. Checkpoints whose checksums are valid but whose contents must not be trusted: exit 3, named.
edited() {  # name, ckpt_edit operation, pattern
    local R=$CASE_DIR/edit_$1; base_deck
    first_run $R || { nok "$1" "first run failed"; return; }
    local C=$R/checkpoints/ckpt_00000004.h5
    "$EDIT" $C $C "$2" || { nok "$1" "ckpt_edit $2 failed"; return; }
    "$PGRPO" inspect $C >/dev/null 2>&1 || { nok "$1" "the edited checkpoint does not verify"; return; }
    resume $R
    expect "$1" 3 "$3"
}
case_resume_refuses_missing_step()    { edited resume_refuses_missing_step drop:step "^pgrpo: error: '.*ckpt_00000004.h5' has no valid root attribute 'step'"; }
case_resume_refuses_missing_optim_t() { edited resume_refuses_missing_optim_t drop:optim_t "has no valid root attribute 'optim_t'"; }
case_resume_refuses_nan_weights()     { edited resume_refuses_nan_weights nan:model/params "^pgrpo: error: '.*ckpt_00000004.h5': /model/params\[3\] is nan"; }
case_resume_refuses_nan_moments()     { edited resume_refuses_nan_moments nan:optim/v "/optim/v\[3\] is nan"; }
case_resume_refuses_nan_history()     { edited resume_refuses_nan_history nan:pgrpo/history "/pgrpo/history\[3\] is nan"; }
case_resume_refuses_wrong_cursor()    { edited resume_refuses_wrong_cursor bump:data/cursor "/data/cursor is 33, but step 4 x 8 prompts is 32"; }
case_resume_refuses_wrong_streams()   { edited resume_refuses_wrong_streams bump:rng/sample_streams "/rng/sample_streams do not match run.seed = 99 at step 4"; }

# 4. The groups the run used: the same groups file path with other contents is refused, exit 2.
case_resume_refuses_changed_groups_file() {
    local D=$CASE_DIR R=$CASE_DIR/groups; base_deck
    /usr/bin/python3 - $D/g.h5 $D/g2.h5 <<'PY'
import sys, h5py, numpy as np
for path, shift in ((sys.argv[1], 0), (sys.argv[2], 1)):
    with h5py.File(path, "w") as f:
        f["user_group"] = np.array([(u + shift) % 2 for u in range(200)], dtype=np.int64)
PY
    first_run $R --set train.groups=file --set train.groups_file=$D/g.h5 || nok groups_first_run
    cp $D/g2.h5 $D/g.h5
    resume $R --set train.groups=file --set train.groups_file=$D/g.h5
    expect resume_refuses_changed_groups_file 2 "^pgrpo: error: cannot resume from '.*': it assigned user 0 to group 0, this run's train.groups gives 1"
}

# 5. Output snapshots (issue 8, A3): a damaged or missing snapshot stops the resume, exit 3, naming it, and leaves
# the live file as it was (before: flipped bytes were copied back unverified, exit 0 with a broken file).
damaged_snapshot() {  # metrics | trajectories
    local name=$1 D=$CASE_DIR R=$CASE_DIR/snap_$1; base_deck
    first_run $R || { nok "snapshot_${name}_first_run"; return; }
    cp $R/$name.h5 $D/live_$name.h5
    /usr/bin/python3 - $R/checkpoints/$name.snapshot <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    for k in range(8):   # flips in the payload (the raw HDF5 bytes after the 512-byte frame header)
        data[512 + (len(data) - 512) * (2 * k + 1) // 16] ^= 0x5A
    f.seek(0); f.write(data)
PY
    resume $R
    expect "resume_refuses_damaged_${name}_snapshot" 3 "^pgrpo: error: cannot resume: .*checkpoints/$name.snapshot is corrupt: checksum mismatch"
    cmp -s $R/$name.h5 $D/live_$name.h5 && ok "damaged_${name}_snapshot_leaves_live_file" || nok "damaged_${name}_snapshot_leaves_live_file"
}
case_damaged_metrics_snapshot()      { damaged_snapshot metrics; }
case_damaged_trajectories_snapshot() { damaged_snapshot trajectories; }
case_resume_refuses_missing_snapshot() {
    local R=$CASE_DIR/snap_missing; base_deck
    first_run $R && rm $R/checkpoints/trajectories.snapshot
    resume $R
    expect resume_refuses_missing_snapshot 3 "^pgrpo: error: cannot resume: cannot open snapshot .*trajectories.snapshot: No such file"
}
# An intact snapshot round-trips: the resumed run ends with readable outputs of all 6 steps.
case_resume_restores_intact_snapshots() {
    local R=$CASE_DIR/snap_ok; base_deck
    first_run $R && resume $R
    [ "$RC" -eq 0 ] && /usr/bin/python3 -c "
import h5py, sys
with h5py.File('$R/metrics.h5', 'r') as f: assert list(f['observables/loss/total/step'][...]) == list(range(6))
with h5py.File('$R/trajectories.h5', 'r') as f: assert f['reward'].shape[0] == 6, f['reward'].shape" \
        && ok resume_restores_intact_snapshots || nok resume_restores_intact_snapshots "rc=$RC"
}

run_cases "$@"
