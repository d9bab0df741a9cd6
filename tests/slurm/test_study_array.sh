#!/usr/bin/env bash
# tests/slurm/test_study_array.sh — jobs/study.sbatch on the local Slurm (tests/slurm/slurm_up.sh), over
# inputs/study/micro.grid (2 cells on tiny.deck):
#   array_runs_both_cells    `sbatch --array=0-1 jobs/study.sbatch GRID` completes both cells, the same bits as
#                            jobs/study.sh on one machine (same 2-rank layout);
#   preempted_task_resumes   array task 1 gets SIGUSR1 (`scancel --batch --signal=USR1`) mid-training: pgrpo
#                            checkpoints and exits 75, the task requeues itself, resumes with --resume auto and
#                            finishes with the same final weights, metrics and trajectories as the uninterrupted cell;
#   done_cells_skipped       resubmitting the array over finished cells reruns nothing.
# To land the signal mid-training on a run of a few steps of a few ms, the test holds the cell's pgrpo ranks
# (SIGSTOP, by pid) once they have installed their signal handlers, sends USR1 through Slurm, waits until the ranks
# have it pending, and lets them go on (SIGCONT): the signal travels the real path (batch shell -> runner -> srun ->
# ranks), and pgrpo stops after its first step with a checkpoint.
# Needs root (slurmd) and slurm-wlm + munge; SKIPs otherwise. Independent cases (tests/lib.sh): --list.
source "$(dirname "$0")/../lib.sh"
. tests/slurm/lib.sh
PY=/usr/bin/python3
GRID=inputs/study/micro.grid
export PGRPO
C1=personas-pgrpo-truth-G4-lr1e-3-s1-eval
SLURM_DIR=$SCRATCH/slurm

if [ "${1:-}" != --list ]; then
    if [ "$(id -u)" -ne 0 ]; then echo "ok - study_array # SKIP needs root (slurmd)"; exit 0; fi
    slurm_need_pkgs || { echo "not ok - study_array # install slurm-wlm munge"; exit 1; }
    chmod 755 "$SCRATCH"
    # stop the cluster (if a case started it), then lib.sh's own cleanup of $SCRATCH
    trap 'if [ -e "$SLURM_DIR/slurmctld.pid" ]; then tests/slurm/slurm_down.sh "$SLURM_DIR" >&2 || echo "# slurm_down reported a problem" >&2; fi
          if [ "${PGRPO_KEEP:-0}" = 1 ]; then echo "# kept $SCRATCH"; else rm -rf "$SCRATCH"; fi' EXIT
fi

# slurm_start: the test's cluster (started by the first case that needs it; later calls reuse the daemons).
slurm_start() {
    local line
    line=$(tests/slurm/slurm_up.sh "$SLURM_DIR" 2>>"$SCRATCH/slurm_up.log") || { tail -5 "$SCRATCH/slurm_up.log"; return 1; }
    eval "$line"
}
# array ID TASKS SECS: waits until every task ID_t is in a terminal state; prints "t:STATE:RESTARTS ..."
array_done() {
    local id=$1 secs=$3 t st r out=""
    for t in $2; do
        st=$(wait_job_done "${id}_$t" "$secs"); r=$(job_field "${id}_$t" Restarts)
        out="$out$t:$st:${r:-?} "
    done
    echo "${out% }"
}
same_cell() {   # A B: every dataset of metrics.h5 (but timings), trajectories.h5, final.h5, eval.h5 bit-identical
    "$PY" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = sys.argv[1:3]
bad, n = [], 0
for fn in ("metrics.h5", "trajectories.h5", "final.h5", "eval.h5"):
    with h5py.File(f"{a}/{fn}", "r") as fa, h5py.File(f"{b}/{fn}", "r") as fb:
        na, nb = [], []
        fa.visititems(lambda k, o: na.append(k) if isinstance(o, h5py.Dataset) else None)
        fb.visititems(lambda k, o: nb.append(k) if isinstance(o, h5py.Dataset) else None)
        if sorted(na) != sorted(nb):
            bad.append(f"{fn}: dataset lists differ")
            continue
        for k in na:
            if "/time/" in "/" + k or "tokens_per_s" in k:
                continue
            x, y = np.asarray(fa[k][()]), np.asarray(fb[k][()])
            n += 1
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                bad.append(f"{fn}:{k}")
print(f"# {n} datasets compared, {len(bad)} differ {bad[:4]}")
sys.exit(1 if bad or n < 20 else 0)
PY
}
field() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/cell.json" "$2"; }

fixture_array() {   # both micro cells through the array job (2 ranks each, srun): $1/study, $1/slurm-<task>.out
    slurm_start || return 1
    local id st
    id=$(sbatch --parsable --array=0-1 -n 2 -J study-array-test -o "$1/slurm-%a.out" jobs/study.sbatch "$GRID" \
         --out "$1/study") || return 1
    st=$(array_done "$id" "0 1" 300); echo "array $id: $st"
    cat "$1"/slurm-*.out
    [ "$st" = "0:COMPLETED:0 1:COMPLETED:0" ]
}
fixture_local() {   # the same grid with jobs/study.sh (mpirun, 2 ranks): $1/study
    bash jobs/study.sh "$GRID" --out "$1/study"
}

case_array_runs_both_cells() {
    need array; local A=$FIX
    need local; local L=$FIX
    local d
    for d in "$A"/study/cells/*/; do
        d=${d%/}
        check "array_cell_$(field "$d" index)_done" test "$(field "$d" status) $(field "$d" np)" = "done 2"
        check "array_cell_$(field "$d" index)_same_bits_as_study_sh" same_cell "$L/study/cells/${d##*/}" "$d"
    done
    check array_ran_two_cells test "$(ls -d "$A"/study/cells/*/ | wc -l)" = 2
    check task_ran_its_cell grep -q "cell 1 $C1: done" "$A/slurm-1.out"
}

case_preempted_task_resumes() {
    need array; local A=$FIX
    slurm_start || { nok slurm_up; return 1; }
    local out=$CASE_DIR/study cell=$CASE_DIR/study/cells/$C1 id st pend
    id=$(sbatch --parsable --array=1 -n 2 -J study-preempt-test -o "$CASE_DIR/slurm-%a.out" jobs/study.sbatch \
         "$GRID" --out "$out") || { nok sbatch; return 1; }
    hold_ranks "$cell" 2
    if [ -z "$HELD" ] || [ -e "$cell/final.h5" ]; then
        nok preempt_mid_training "no running ranks held (pids '$HELD')"
        [ -z "$HELD" ] || kill -CONT $HELD; cat "$CASE_DIR"/slurm-*.out; return 1
    fi
    scancel --batch --signal=USR1 "${id}_1"
    usr1_pending; pend=$?
    kill -CONT $HELD
    check usr1_reached_every_rank test "$pend" = 0
    st=$(array_done "$id" 1 300)
    check task_requeued_once_and_completed test "$st" = "1:COMPLETED:1"
    check pgrpo_stopped_with_75 grep -q 'cell 1 runner exited with 75' "$CASE_DIR/slurm-1.out"
    check requeued_by_script grep -q 'requeueing job' "$CASE_DIR/slurm-1.out"
    check resumed_mid_training grep -qE 'train: resumed from .*ckpt_.* at step [1-5]$' "$cell/train.log"
    check cell_done_second_attempt test "$(field "$cell" status) $(field "$cell" attempts)" = "done 2"
    check resumed_cell_same_bits_as_uninterrupted same_cell "$A/study/cells/$C1" "$cell"
    if h5diff -d 0 "$A/study/cells/$C1/final.h5" "$cell/final.h5" /model/params >"$CASE_DIR/h5diff" 2>&1; then
        ok final_weights_identical_h5diff; else nok final_weights_identical_h5diff "$(head -3 "$CASE_DIR/h5diff")"; fi
}

case_done_cells_skipped() {
    need array; copy_fix out
    slurm_start || { nok slurm_up; return 1; }
    local before id st
    before=$(find "$OUT/study" -name '*.h5' -printf '%P %s %T@\n' | sort)
    id=$(sbatch --parsable --array=0-1 -n 2 -J study-skip-test -o "$CASE_DIR/slurm-%a.out" jobs/study.sbatch \
         "$GRID" --out "$OUT/study") || { nok sbatch; return 1; }
    st=$(array_done "$id" "0 1" 120)
    check resubmitted_array_completes test "$st" = "0:COMPLETED:0 1:COMPLETED:0"
    check both_tasks_skipped test "$(cat "$CASE_DIR"/slurm-*.out | grep -c 'already done, skipped')" = 2
    check no_file_touched test "$before" = "$(find "$OUT/study" -name '*.h5' -printf '%P %s %T@\n' | sort)"
}

run_cases "$@"
