#!/usr/bin/env bash
# Checkpoints and exact restart: SIGUSR1/SIGTERM preemption, max_walltime, kill -9 at random moments (some during a
# checkpoint write), corrupt/truncated checkpoints, and refusals. Every resumed run must end bit-identical to an
# uninterrupted one, with no duplicated and no missing steps in metrics.h5 and trajectories.h5.
# Independent cases (tests/lib.sh): the SFT base, the uninterrupted reference run and the signalled-then-resumed
# runs are fixtures; `bash tests/restart/test_restart.sh --list` shows the cases.
source "$(dirname "$0")/../lib.sh"
STEPS=20
Q=--quiet
fixture_base() { "$PGRPO" sft $TINY --set run.out_dir="$1" --quiet; }   # the SFT base: $1/sft_base.h5
# deck: needs the SFT base; sets T. Larger batches than tiny.deck so a run lasts a few seconds: the signals and
# kills must land mid-run.
deck() {
    need base || return 1
    T=(train $TINY --set train.base=$FIX/sft_base.h5 --set train.steps=$STEPS --set checkpoint.every=2 --set train.prompts=24 --set train.group_size=8)
}
fixture_ref() { deck || return 1; mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir="$1"; }   # the uninterrupted run
# The run of $1/run stopped by signal SIG after its second checkpoint ($1/rc: its exit status), then resumed to the
# end (the fixture's status: the resume's).
fixture_sig() {
    local sig=$2 R=$1/run rc
    deck || return 1
    bg_mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R
    # USR1 goes to mpirun, which forwards it; TERM goes to the ranks themselves, as Slurm delivers it.
    wait_for $R/checkpoints/ckpt_00000002.h5
    if [ $sig = USR1 ]; then kill -USR1 "$(job_pid)"; else kill -TERM $(job_ranks); fi
    wait $BG_PID; rc=$?
    echo $rc >$1/rc
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --resume auto
}
# ref_deck: the base deck and REF, the reference run's folder.
ref_deck() { deck; need ref; REF=$FIX; }
identical() {  # run dir vs the reference: weights, trajectories and metric steps
    same_dataset $REF/final.h5 $1/final.h5 /model/params &&
    same_dataset $REF/trajectories.h5 $1/trajectories.h5 /reward &&
    same_dataset $REF/trajectories.h5 $1/trajectories.h5 /completion_tokens &&
    /usr/bin/python3 - "$1" $STEPS <<'PY'
import sys, h5py
with h5py.File(sys.argv[1] + "/metrics.h5", "r") as f:
    for name in ("reward/mean", "loss/total", "kl"):
        s = list(f["observables/" + name + "/step"][...])
        assert s == list(range(int(sys.argv[2]))), (name, s)
PY
}
wait_for() { for _ in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

case_uninterrupted_run() { need ref; check uninterrupted_run test -s $FIX/final.h5; }
# 1. SIGUSR1 (what Slurm sends before the time limit): finish the step, checkpoint, exit 75; then resume.
t_sig() {
    local sig=$1 rc
    ref_deck; need sig $sig; rc=$(cat $FIX/rc)
    [ $rc -eq 75 ] && ok "sig${sig}_exits_75" || nok "sig${sig}_exits_75" "rc=$rc"
    identical $FIX/run && ok "sig${sig}_resume_bit_identical" || nok "sig${sig}_resume_bit_identical"
}
case_sigUSR1() { t_sig USR1; }
case_sigTERM() { t_sig TERM; }
# 2. --resume auto is harmless on a first run, and on a finished run it trains zero more steps.
case_resume_auto() {
    local R=$CASE_DIR/auto out; ref_deck
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --resume auto && identical $R && ok resume_auto_first_run || nok resume_auto_first_run
    out=$(mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$R --resume auto 2>&1);
    echo "$out" | grep -q "resumed from .*ckpt_000000$STEPS.h5 at step $STEPS" && identical $R && ok resume_finished_run_is_noop || nok resume_finished_run_is_noop "$(echo "$out" | tail -3)"
}
# 3. max_walltime: stops cleanly with a checkpoint before the deadline, exit 75, and resumes exactly.
case_max_walltime() {
    local R=$CASE_DIR/wall rc; deck
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set run.max_walltime=1.5 --set train.steps=400; rc=$?
    [ $rc -eq 75 ] && ls $R/checkpoints/ckpt_*.h5 >/dev/null 2>&1 && ok max_walltime_stops_with_checkpoint || nok max_walltime_stops_with_checkpoint "rc=$rc"
}
# 4. kill -9 of all ranks at random moments (several trials; checkpoints every step so some land mid-write).
case_kill9() {
    local R=$CASE_DIR/kill trials=0 rcs="" kills left; ref_deck
    for i in 1 2 3 4 5 6; do
        before=$(cat $R/checkpoints/latest 2>/dev/null)
        bg_mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set checkpoint.every=1 --resume auto
        # Odd trials: any moment from start-up on. Even trials: soon after this launch's own first checkpoint,
        # so they land on a live run however fast the machine steps (>= 2 kills are needed below).
        if [ $((i % 2)) -eq 0 ]; then
            for _ in $(seq 1 400); do
                now=$(cat $R/checkpoints/latest 2>/dev/null)
                [ -n "$now" ] && [ "$now" != "$before" ] && break; kill -0 $BG_PID 2>/dev/null || break; sleep 0.02
            done
            sleep "$(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.3f", rand() * 0.1}')"
        else
            sleep "$(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.2f", 0.15 + rand() * 0.6}')"
        fi
        job_kill9; wait $BG_PID 2>/dev/null; rcs="$rcs $?"; trials=$((trials + 1))
    done
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set checkpoint.every=1 --resume auto
    kills=$(echo "$rcs" | tr ' ' '\n' | grep -c 137)
    identical $R && [ "$kills" -ge 2 ] && ok "kill9_${kills}_kills_then_resume_bit_identical # rcs:$rcs" || nok kill9_then_resume_bit_identical "rcs:$rcs (need >= 2 kills)"
    left=$(find $R/checkpoints -name '*.tmp*')   # (the checkpoint folder is where interrupted writes are cleaned up)
    [ -z "$left" ] && ok kill9_no_temporary_files_after_resume || nok kill9_no_temporary_files_after_resume "$left"
}
# 5. A corrupt newest checkpoint is detected, reported and skipped for the previous one.
case_corrupt_checkpoint() {
    local D=$CASE_DIR R=$CASE_DIR/corrupt newest out rc; ref_deck
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set train.steps=6 || nok corrupt_setup
    newest=$R/checkpoints/ckpt_00000006.h5
    /usr/bin/python3 - "$newest" <<'PY'
import sys, h5py
p = sys.argv[1]
with h5py.File(p, "r") as f:
    off = f["model/params"].id.get_offset()
with open(p, "r+b") as g:
    g.seek(off + 1234); b = g.read(1); g.seek(off + 1234); g.write(bytes([b[0] ^ 0x10]))
PY
    "$PGRPO" inspect $newest >/dev/null 2>&1; [ $? -eq 3 ] && ok inspect_detects_bitflip || nok inspect_detects_bitflip
    out=$(mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$R --resume auto 2>&1)
    echo "$out" | grep -q "skipping corrupt checkpoint $newest" && echo "$out" | grep -q "resumed from .*ckpt_00000004.h5" && ok corrupt_checkpoint_skipped || nok corrupt_checkpoint_skipped "$(echo "$out" | grep -i 'skip\|resum\|error' | head -3)"
    identical $R && ok corrupt_then_resume_bit_identical || nok corrupt_then_resume_bit_identical
    cp $R/checkpoints/ckpt_000000$STEPS.h5 $D/trunc.h5; truncate -s 5000 $D/trunc.h5
    "$PGRPO" inspect $D/trunc.h5 >/dev/null 2>&1; [ $? -eq 3 ] && ok inspect_detects_truncation || nok inspect_detects_truncation
    out=$(mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$D/x --resume $D/trunc.h5 2>&1); rc=$?
    [ $rc -ne 0 ] && echo "$out" | grep -q "trunc.h5" && ok resume_path_corrupt_refused || nok resume_path_corrupt_refused "rc=$rc"
}
# 6. Refusals: a different prompt count cannot continue the data stream.
case_resume_other_prompts_refused() {
    local out rc; deck; need ref; copy_fix ref
    out=$(mpi 2 $PGRPO "${T[@]}" --set run.out_dir=$OUT --set train.prompts=4 --resume auto 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "^pgrpo: error: cannot resume from .*: changed settings .*train.prompts: 24 -> 4" && ok resume_other_prompts_refused || nok resume_other_prompts_refused "rc=$rc $(echo "$out" | head -2)"
}
# A different rank count continues (documented: valid, no longer bit-identical) with a warning.
case_resume_other_rank_count_warns() {
    local R out rc; deck; need sig USR1; copy_fix ranks; R=$OUT/run
    rm -f $R/final.h5; rm -f $R/checkpoints/ckpt_000000$STEPS.h5
    out=$($PGRPO "${T[@]}" --set run.out_dir=$R --resume auto 2>&1); rc=$?
    [ $rc -eq 0 ] && echo "$out" | grep -q "warning: .* written by 2 ranks" && ok resume_other_rank_count_warns || nok resume_other_rank_count_warns "rc=$rc"
}
# 7. Asynchronous mode restarts exactly too (the rollouts' one-step-behind weights are in the checkpoint).
case_async_resume_bit_identical() {
    local D=$CASE_DIR R=$CASE_DIR/async A=(--set train.rollout_ranks=1 --set train.async=true) rc; deck
    mpi 2 $PGRPO "${T[@]}" $Q "${A[@]}" --set run.out_dir=$D/aref || nok async_ref
    bg_mpi 2 $PGRPO "${T[@]}" $Q "${A[@]}" --set run.out_dir=$R
    wait_for $R/checkpoints/ckpt_00000002.h5; kill -USR1 "$(job_pid)"; wait $BG_PID; rc=$?
    mpi 2 $PGRPO "${T[@]}" $Q "${A[@]}" --set run.out_dir=$R --resume auto
    [ $rc -eq 75 ] && same_dataset $D/aref/final.h5 $R/final.h5 /model/params && same_dataset $D/aref/trajectories.h5 $R/trajectories.h5 /completion_tokens \
        && ok async_resume_bit_identical || nok async_resume_bit_identical "rc=$rc"
}
# 8. A full output folder (a small tmpfs): a clear one-line error and a non-zero exit, `latest` still names a
# checkpoint that verifies, and after space is freed the run resumes to the same result.
case_disk_full() {
    local D=$CASE_DIR TFS=$CASE_DIR/tmpfs R rc err latest; ref_deck
    mkdir -p $TFS
    if ! mount -t tmpfs -o size=8m tmpfs $TFS 2>/dev/null; then
        echo "ok - disk_full # SKIP cannot mount a tmpfs here"; return
    fi
    trap "umount $TFS 2>/dev/null" EXIT     # (this case's subshell: also when it ends early)
    R=$TFS/run
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set checkpoint.every=1 --set train.steps=6 || nok disk_full_setup
    dd if=/dev/zero of=$TFS/filler bs=64k 2>/dev/null   # until the disk is full
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set checkpoint.every=1 --resume auto >$D/full.log 2>&1; rc=$?
    err=$(grep -h "pgrpo: error" $D/full.log | head -1)
    latest=$R/checkpoints/$(cat $R/checkpoints/latest 2>/dev/null)
    if [ $rc -ne 0 ] && [ $rc -ne 75 ] && echo "$err" | grep -q "$TFS" && $PGRPO inspect "$latest" >/dev/null 2>&1; then
        ok "disk_full_fails_cleanly_latest_valid # rc=$rc: $err"
    else nok disk_full_fails_cleanly_latest_valid "rc=$rc latest=$latest" "$err" "$(tail -3 $D/full.log)"; fi
    rm -f $TFS/filler
    mpi 2 $PGRPO "${T[@]}" $Q --set run.out_dir=$R --set checkpoint.every=1 --resume auto && identical $R && ok disk_full_then_resume_bit_identical || nok disk_full_then_resume_bit_identical
}

run_cases "$@"
