#!/usr/bin/env bash
# tests/slurm/test_slurm_resume.sh — end to end: pgrpo under Slurm survives a preemption bit-identically.
#   A: `mpirun -np 2 bin/pgrpo train DECK --resume auto` uninterrupted into $T/A;
#   B: jobs/train.sbatch with 2 tasks into $T/B; after the first checkpoint, `scancel --batch --signal=USR1`;
#      pgrpo finishes the step, checkpoints, exits 75; the script requeues; the rerun resumes and finishes.
#   Checks: B requeued once and completed; h5diff -d 0 A/final.h5 B/final.h5 /model/params;
#   B/metrics.h5 /observables/loss/total/step (or /observables/loss/step) has no duplicated and no missing
#   steps (the same steps as A).
# Prints TAP; SKIPs while `bin/pgrpo train --help` fails. Exit status = number of failures.
# Knobs: RESUME_DECK (default inputs/demo.deck), RESUME_SETS (deck overrides shared by A and B),
#        RESUME_LAUNCHER (srun|mpirun, default srun), SLURM_TEST_KEEP=1 keeps the temp dir.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
cd "$repo" || exit 1

PGRPO_BIN=${RESUME_PGRPO:-$repo/bin/pgrpo}
DECK=${RESUME_DECK:-inputs/demo.deck}
SETS=${RESUME_SETS:---set train.steps=12 --set checkpoint.every=2}
LAUNCHER=${RESUME_LAUNCHER:-srun}
H5PY=/usr/bin/python3

if ! [ -x "$PGRPO_BIN" ] || ! "$PGRPO_BIN" train --help >/dev/null 2>&1; then
    echo "ok - slurm_resume # SKIP pgrpo train not available"; exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "ok - slurm_resume # SKIP needs root (slurmd)"; exit 0; fi
slurm_need_pkgs || { echo "not ok - slurm_resume # install slurm-wlm munge"; exit 1; }
[ -f "$DECK" ] || { echo "not ok - slurm_resume # deck $DECK not found"; exit 1; }
command -v h5diff >/dev/null || { echo "not ok - slurm_resume # h5diff missing: apt-get install hdf5-tools"; exit 1; }

T=$(mktemp -d /tmp/pgrpo-resume.XXXXXX)
chmod 755 "$T"
cleanup() {
    "$here/slurm_down.sh" "$T/slurm" || echo "# slurm_down reported a problem" >&2
    if [ -n "${SLURM_TEST_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
diag() { sed 's/^/# /' "$@" >&2 2>/dev/null || true; }
export OPENBLAS_NUM_THREADS=1

# --- A: uninterrupted reference run --------------------------------------------------------------------
t0=$(now_s)
# shellcheck disable=SC2086
if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 900 \
     mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS \
     "$PGRPO_BIN" train "$DECK" --resume auto $SETS --set run.out_dir="$T/A" > "$T/A.log" 2>&1 \
   && [ -f "$T/A/final.h5" ]; then
    tap_ok "slurm_resume_reference_run ($(elapsed_s "$t0") s)"
else
    tap_not_ok slurm_resume_reference_run "mpirun run failed"; diag "$T/A.log"; exit "$TAP_FAILS"
fi

# --- B: the same run under Slurm, preempted once -------------------------------------------------------
if env_line=$("$here/slurm_up.sh" "$T/slurm") && eval "$env_line"; then :; else
    tap_not_ok slurm_resume "slurm_up failed"; diag "$T"/slurm/log/*.log; exit "$TAP_FAILS"
fi
t0=$(now_s)
id=$(PGRPO="$PGRPO_BIN" DECK="$DECK" PGRPO_LAUNCHER="$LAUNCHER" PGRPO_ARGS="$SETS --set run.out_dir=$T/B" \
     sbatch --parsable -n 2 -J pgrpo-resume-test -o "$T/B.out" jobs/train.sbatch)
ckpt_seen() { compgen -G "$T/B/checkpoints/ckpt_*.h5" >/dev/null && [ -e "$T/B/checkpoints/latest" ]; }
t_wait=$(date +%s)
until ckpt_seen; do
    st=$(job_state "$id")
    if [[ $st =~ ^($SLURM_TERMINAL)$ ]] || [ $(( $(date +%s) - t_wait )) -ge 600 ]; then break; fi
    sleep 0.2
done
if ! ckpt_seen; then
    tap_not_ok slurm_resume_preempt "no checkpoint in $T/B/checkpoints (job state $(job_state "$id"))"
    diag "$T/B.out"; exit "$TAP_FAILS"
fi
scancel --batch --signal=USR1 "$id"
t_sig=$(now_s)
st=$(wait_job_done "$id" 900)
restarts=$(job_field "$id" Restarts)
if [ "$st" = COMPLETED ] && [ "$restarts" = 1 ] && grep -q 'pgrpo exited with 75' "$T/B.out" \
        && grep -q 'pgrpo exited with 0' "$T/B.out" && [ -f "$T/B/final.h5" ]; then
    tap_ok "slurm_resume_preempt_requeue_finish (job $(elapsed_s "$t0") s, signal to done $(elapsed_s "$t_sig") s)"
elif [ "$restarts" = 0 ] && [ "$st" = COMPLETED ]; then
    tap_not_ok slurm_resume_preempt_requeue_finish "run finished before USR1 took effect: raise train.steps in RESUME_SETS"
    diag "$T/B.out"
else
    tap_not_ok slurm_resume_preempt_requeue_finish "state $st restarts ${restarts:-?}"; diag "$T/B.out"
fi

# --- comparisons ---------------------------------------------------------------------------------------
if h5diff -d 0 "$T/A/final.h5" "$T/B/final.h5" /model/params > "$T/h5diff.out" 2>&1; then
    tap_ok slurm_resume_final_params_bit_identical
else tap_not_ok slurm_resume_final_params_bit_identical; diag "$T/h5diff.out"; fi

if "$H5PY" - "$T/A/metrics.h5" "$T/B/metrics.h5" > "$T/steps.out" 2>&1 <<'PY'
import sys, h5py, numpy as np
fa, fb = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
name = next(n for n in ("/observables/loss/total/step", "/observables/loss/step") if n in fb)
a, b = fa[name][()], fb[name][()]
print("dataset", name)
dup = sorted(set(b[np.r_[False, np.diff(np.sort(b)) == 0]].tolist()))
missing = sorted(set(a.tolist()) - set(b.tolist()))
print("A steps", a.tolist()); print("B steps", b.tolist()); print("duplicated", dup, "missing", missing)
sys.exit(0 if len(b) > 0 and not dup and not missing and np.array_equal(a, b) else 1)
PY
then tap_ok slurm_resume_metrics_steps_no_dup_no_gap
else tap_not_ok slurm_resume_metrics_steps_no_dup_no_gap; diag "$T/steps.out"; fi
exit "$TAP_FAILS"
