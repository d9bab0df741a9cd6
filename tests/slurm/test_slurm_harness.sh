#!/usr/bin/env bash
# tests/slurm/test_slurm_harness.sh — the local Slurm works the way the job scripts need it to:
# a plain job, a 2-rank `srun --mpi=pmix` job, `mpirun` inside a job, USR1 to the batch shell, requeue,
# and jobs/train.sbatch's signal -> exit 75 -> requeue -> resume loop (with a stand-in for pgrpo, both
# launchers). Prints TAP lines; exit status = number of failures (0 when all pass).
# Needs root, slurm-wlm, munge, openmpi (mpicc). Set SLURM_TEST_KEEP=1 to keep the temp dir.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

if [ "$(id -u)" -ne 0 ]; then echo "ok - slurm_harness # SKIP needs root (slurmd)"; exit 0; fi
slurm_need_pkgs || { echo "not ok - slurm_packages # install slurm-wlm munge"; exit 1; }

T=$(mktemp -d /tmp/pgrpo-slurm.XXXXXX)
chmod 755 "$T"
cleanup() {
    "$here/slurm_down.sh" "$T/slurm" || echo "# slurm_down reported a problem" >&2
    if [ -n "${SLURM_TEST_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
T_ALL=$(now_s)

diag() { sed 's/^/# /' "$@" >&2 2>/dev/null || true; }

# --- 1. bring it up ------------------------------------------------------------------------------------
t0=$(now_s)
if env_line=$("$here/slurm_up.sh" "$T/slurm") && eval "$env_line" && [ -n "${SLURM_CONF:-}" ]; then
    tap_ok "slurm_up (node idle after $(elapsed_s "$t0") s)"
else
    tap_not_ok slurm_up; diag "$T"/slurm/log/*.log; exit 1
fi
# idempotent: a second call reuses the daemons
pid1=$(cat "$T/slurm/slurmctld.pid")
if [ "$("$here/slurm_up.sh" "$T/slurm")" = "$env_line" ] && [ "$(cat "$T/slurm/slurmctld.pid")" = "$pid1" ]; then
    tap_ok slurm_up_idempotent
else tap_not_ok slurm_up_idempotent; fi
cd "$T" || exit 1

# --- 2. a trivial job ----------------------------------------------------------------------------------
t0=$(now_s)
id=$(sbatch --parsable -o "$T/plain.out" --wrap 'echo "hello from job $SLURM_JOB_ID on $SLURMD_NODENAME"')
st=$(wait_job_done "$id" 60)
if [ "$st" = COMPLETED ] && grep -qx "hello from job $id on localhost" "$T/plain.out"; then
    tap_ok "plain_job (turnaround $(elapsed_s "$t0") s)"
else tap_not_ok plain_job "state $st"; diag "$T/plain.out"; fi

# --- 3. MPI: srun --mpi=pmix and mpirun inside a batch job ---------------------------------------------
cat > "$T/hello.c" <<'C'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int one = rank + 1;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello rank %d of %d sum %d\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
C
if mpicc -O1 -o "$T/hello" "$T/hello.c" 2> "$T/mpicc.err"; then
    t0=$(now_s)
    id=$(sbatch --parsable -n 2 -o "$T/pmix.out" --wrap "srun --mpi=pmix $T/hello")
    st=$(wait_job_done "$id" 90)
    if [ "$st" = COMPLETED ] && grep -qx 'hello rank 0 of 2 sum 3' "$T/pmix.out" \
            && grep -qx 'hello rank 1 of 2 sum 3' "$T/pmix.out"; then
        tap_ok "srun_pmix_2_ranks (turnaround $(elapsed_s "$t0") s)"
    else tap_not_ok srun_pmix_2_ranks "state $st"; diag "$T/pmix.out"; fi

    id=$(sbatch --parsable -n 2 -o "$T/mpirun.out" --export=ALL,OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
         --wrap "mpirun -np 2 $T/hello")
    st=$(wait_job_done "$id" 90)
    if [ "$st" = COMPLETED ] && grep -qx 'hello rank 0 of 2 sum 3' "$T/mpirun.out" \
            && grep -qx 'hello rank 1 of 2 sum 3' "$T/mpirun.out"; then
        tap_ok mpirun_in_batch_2_ranks
    else tap_not_ok mpirun_in_batch_2_ranks "state $st"; diag "$T/mpirun.out"; fi
else
    tap_not_ok srun_pmix_2_ranks "mpicc failed"; tap_not_ok mpirun_in_batch_2_ranks "mpicc failed"; diag "$T/mpicc.err"
fi

# --- 4. USR1 to the batch shell reaches its trap -------------------------------------------------------
cat > "$T/usr1.sh" <<'SH'
#!/bin/bash
trap 'echo "trap USR1 after ${SECONDS}s"; exit 0' USR1
echo ready
sleep 300 &
wait $!
echo "no signal"; exit 1
SH
id=$(sbatch --parsable -o "$T/usr1.out" "$T/usr1.sh")
if wait_grep '^ready$' "$T/usr1.out" 60; then
    t0=$(now_s)
    scancel --batch --signal=USR1 "$id"
    st=$(wait_job_done "$id" 30)
    if [ "$st" = COMPLETED ] && grep -q '^trap USR1' "$T/usr1.out"; then
        tap_ok "usr1_reaches_batch_trap ($(elapsed_s "$t0") s)"
    else tap_not_ok usr1_reaches_batch_trap "state $st"; diag "$T/usr1.out"; fi
else tap_not_ok usr1_reaches_batch_trap "job never started"; scancel "$id"; fi

# --- 5. requeue re-runs a --requeue job with SLURM_RESTART_COUNT=1 -------------------------------------
cat > "$T/requeue.sh" <<'SH'
#!/bin/bash
echo "run restart=${SLURM_RESTART_COUNT:-0} at $(date +%s.%N)"
if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 120; echo "not requeued"; exit 1; fi
echo "second run done"
SH
id=$(sbatch --parsable --requeue --open-mode=append -o "$T/requeue.out" "$T/requeue.sh")
if wait_grep '^run restart=0' "$T/requeue.out" 60; then
    t0=$(now_s)
    scontrol requeue "$id"
    if wait_grep '^run restart=1 ' "$T/requeue.out" 150; then
        REQUEUE_S=$(elapsed_s "$t0")
        st=$(wait_job_done "$id" 30)
        if [ "$st" = COMPLETED ] && grep -q '^second run done' "$T/requeue.out" \
                && [ "$(job_field "$id" Restarts)" = 1 ]; then
            tap_ok "requeue_restart_count_1 (requeue to restart $REQUEUE_S s)"
        else tap_not_ok requeue_restart_count_1 "state $st"; diag "$T/requeue.out"; fi
    else tap_not_ok requeue_restart_count_1 "no second run within 150 s"; diag "$T/requeue.out"; scancel "$id"; fi
else tap_not_ok requeue_restart_count_1 "job never started"; scancel "$id"; fi

# --- 6. jobs/train.sbatch: USR1 -> ranks checkpoint, exit 75 -> requeue -> resume -> exit 0 ------------
# A stand-in for `pgrpo train DECK --resume auto --set run.out_dir=D --set train.steps=N`: rank 0 appends
# each finished step to D/steps and the next step to D/ckpt; on USR1/TERM every rank finishes the step
# and exits 75; when all steps are done it writes D/final.h5 and exits 0.
cat > "$T/fake_pgrpo" <<'SH'
#!/bin/bash
[ "$1" = train ] || exit 64
out=; steps=8
for a in "$@"; do case $a in run.out_dir=*) out=${a#*=};; train.steps=*) steps=${a#*=};; esac; done
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}
stop=""; trap 'stop=1' USR1 TERM
mkdir -p "$out"
s=0; [ -f "$out/ckpt" ] && s=$(cat "$out/ckpt")
size=${OMPI_COMM_WORLD_SIZE:-${PMIX_SIZE:-${SLURM_NTASKS:-1}}}
[ "$rank" = 0 ] && echo "start at step $s ranks $size" >> "$out/log"
[ "$rank" = 0 ] && echo "$*" > "$out/args"
while [ "$s" -lt "$steps" ]; do
    sleep 0.4
    if [ "$rank" = 0 ]; then echo "$s" >> "$out/steps"; echo $((s + 1)) > "$out/ckpt.tmp"; mv "$out/ckpt.tmp" "$out/ckpt"; fi
    s=$((s + 1))
    if [ -n "$stop" ]; then touch "$out/signalled.$rank"; exit 75; fi
done
[ "$rank" = 0 ] && touch "$out/final.h5"
exit 0
SH
chmod +x "$T/fake_pgrpo"
echo "[run]" > "$T/fake.deck"

train_sbatch_case() {  # LAUNCHER
    local L=$1 D=$T/run_$1 id st t0
    id=$(PGRPO="$T/fake_pgrpo" DECK="$T/fake.deck" PGRPO_LAUNCHER="$L" \
         PGRPO_ARGS="--set run.out_dir=$D --set train.steps=10" \
         sbatch --parsable -n 2 -o "$T/train_$L.out" "$repo/jobs/train.sbatch")
    if ! wait_grep '^2$' "$D/steps" 60; then
        tap_not_ok "train_sbatch_requeue_$L" "no progress"; diag "$T/train_$L.out"; scancel "$id"; return
    fi
    t0=$(now_s)
    scancel --batch --signal=USR1 "$id"
    st=$(wait_job_done "$id" 120)
    local expect; expect=$(seq 0 9)
    if [ "$st" = COMPLETED ] && [ "$(job_field "$id" Restarts)" = 1 ] && [ -f "$D/final.h5" ] \
        && [ "$(cat "$D/steps")" = "$expect" ] && [ -f "$D/signalled.0" ] && [ -f "$D/signalled.1" ] \
        && grep -q 'exited with 75' "$T/train_$L.out" && grep -q 'exited with 0' "$T/train_$L.out" \
        && [ "$(grep -c '^start at step' "$D/log")" = 2 ] && ! grep -q '^start at step 0 .*' <(sed 1d "$D/log"); then
        tap_ok "train_sbatch_requeue_$L (USR1 to finished job $(elapsed_s "$t0") s)"
    else
        tap_not_ok "train_sbatch_requeue_$L" "state $st restarts $(job_field "$id" Restarts)"
        diag "$T/train_$L.out" "$D/log"; echo "# steps: $(tr '\n' ' ' < "$D/steps" 2>/dev/null)" >&2
    fi
}
train_sbatch_case srun
train_sbatch_case mpirun

# --- 7. jobs/chain.sh: job 1 is signalled and exits 75, job 2 (afterany) resumes and finishes ---------
D=$T/chain
ids=$(PGRPO="$T/fake_pgrpo" PGRPO_ARGS="--set run.out_dir=$D --set train.steps=10" \
      "$repo/jobs/chain.sh" "$T/fake.deck" 2 -n 2 -o "$T/chain-%j.out" 2> "$T/chain.err")
id1=$(echo "$ids" | sed -n 1p); id2=$(echo "$ids" | sed -n 2p)
if [ -n "$id2" ] && wait_grep '^2$' "$D/steps" 60; then
    scancel --batch --signal=USR1 "$id1"
    st2=$(wait_job_done "$id2" 90); st1=$(job_state "$id1")
    if [ "$st2" = COMPLETED ] && [ "$st1" = FAILED ] && [ "$(job_field "$id1" ExitCode)" = 75:0 ] \
            && [ "$(cat "$D/steps")" = "$(seq 0 9)" ] && [ -f "$D/final.h5" ] \
            && [ "$(job_field "$id1" Restarts)" = 0 ]; then
        tap_ok chain_sh_afterany_resume
    else tap_not_ok chain_sh_afterany_resume "job1 $st1 $(job_field "$id1" ExitCode) job2 $st2"
         diag "$T"/chain-*.out "$D/log"; fi
else tap_not_ok chain_sh_afterany_resume "submission or progress failed"; diag "$T/chain.err"; scancel $ids 2>/dev/null; fi

# --- 8. jobs/sweep.sbatch: each array task gets its seed, estimator and out_dir -----------------------
id=$(PGRPO="$T/fake_pgrpo" DECK="$T/fake.deck" PGRPO_ARGS="--set train.steps=2" SWEEP_SEEDS="7" \
     SWEEP_DIR="$T/sweep" PGRPO_JOBS_DIR="$repo/jobs" \
     sbatch --parsable --array=0-2 -n 1 -o "$T/sweep-%a.out" "$repo/jobs/sweep.sbatch")
good=1
for k in 0 1 2; do
    st=$(wait_job_done "${id}_$k" 60); [ "$st" = COMPLETED ] || good=0
done
for adv in grpo drgrpo pgrpo; do
    a=$(cat "$T/sweep/${adv}_seed7/args" 2>/dev/null)
    case $a in *"run.out_dir=$T/sweep/${adv}_seed7 "*"run.seed=7 "*"train.advantage=$adv "*"train.steps=2"*) ;; *) good=0;; esac
    [ -f "$T/sweep/${adv}_seed7/final.h5" ] || good=0
done
if [ "$good" = 1 ]; then tap_ok sweep_sbatch_array_seeds_x_advantages
else tap_not_ok sweep_sbatch_array_seeds_x_advantages; diag "$T"/sweep-*.out; fi

# --- 9. jobs/scaling.sbatch: 1 and 2 ranks, one table row each ---------------------------------------
id=$(PGRPO="$T/fake_pgrpo" DECK="$T/fake.deck" PGRPO_ARGS="--set train.steps=3" SCALING_DIR="$T/scaling" \
     sbatch --parsable -n 2 -o "$T/scaling.out" "$repo/jobs/scaling.sbatch")
st=$(wait_job_done "$id" 90)
if [ "$st" = COMPLETED ] && [ "$(awk 'NR > 1 { printf "%s,%s ", $1, $2 }' "$T/scaling/scaling.tsv")" = "1,3 2,3 " ] \
        && grep -q 'ranks 1$' "$T/scaling/n1/log" && grep -q 'ranks 2$' "$T/scaling/n2/log" \
        && awk 'NR > 1 && !($4 >= 0.4 && $4 < 10) { bad = 1 } END { exit bad }' "$T/scaling/scaling.tsv"; then
    tap_ok scaling_sbatch_table
else tap_not_ok scaling_sbatch_table "state $st"; diag "$T/scaling.out"; fi

echo "# slurm harness total $(elapsed_s "$T_ALL") s" >&2
exit $TAP_FAILS
