#!/usr/bin/env bash
# The pgrpo binary itself under AddressSanitizer + UBSan (build/asan/pgrpo, from `make test-bin`): every
# subcommand on the tiny deck, a 2-rank MPI run, a resume, a preemption (SIGTERM -> checkpoint, exit 75) and the
# error exits. Each case must end with its expected exit code and print no sanitizer report. The unit tests run
# under ASan too (tests/run.sh), but only the binary covers the command layer, HDF5 writes and MPI paths.
#
# Sanitizer options, and why:
#   ASAN_OPTIONS=detect_leaks=0  Open MPI and HDF5 keep allocations from MPI_Init/H5open that they never free;
#                                LeakSanitizer would report them at every exit. Leaks are checked separately below on
#                                one rank, with the libraries' own allocations suppressed (tests/asan/lsan.supp);
#                                there fast_unwind_on_malloc=0, because the libraries are built without frame
#                                pointers: the fast unwinder stops inside them and the suppressions cannot match.
#   abort_on_error=1             an error ends the process with SIGABRT (rc 134), never with an exit code that a
#                                case could mistake for one of pgrpo's (2, 3, 75).
#   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1   undefined behaviour stops the run, with where it was.
#   mpirun -x ...                forwards the options to the ranks (local ranks inherit them anyway; ranks on
#                                other nodes only get what -x names).
# Open MPI, HDF5 and OpenBLAS are not instrumented, so their internals raise no ASan/UBSan false positives; no
# extra option was needed. With app.c's one-byte overflow in the policy save (issue 8 A6) every case that writes
# a policy fails here (sft, train, resume, leaks_train): that is the bug this test exists to catch.
source "$(dirname "$0")/../lib.sh"
A=$PWD/build/asan/pgrpo
D=$SCRATCH
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/asan/lsan.supp:print_suppressions=0
[ -x "$A" ] || { nok asan_binary_built "missing $A: run make test-bin"; exit 1; }
amp() { local n=$1; shift; mpirun -np "$n" -x OPENBLAS_NUM_THREADS -x ASAN_OPTIONS -x UBSAN_OPTIONS "$@"; }
# Cases are small (a few steps) so the whole file stays well under a minute and a half.
BASE=$D/base/sft_base.h5
TRV=(train $TINY --set train.base=$BASE --set train.prompts=4 --set train.group_size=4 --set checkpoint.every=1)
TR=("${TRV[@]}" --quiet)

# case NAME WANT_RC CMD...: runs CMD, its output in $D/NAME.log; ok when the exit code is WANT_RC and no
# sanitizer report appeared (a report's first lines go into the TAP diagnostics).
case_() {
    local name=$1 want=$2; shift 2
    local log=$D/$name.log rc
    "$@" >"$log" 2>&1; rc=$?
    local rep
    rep=$(grep -m1 -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log")
    if [ "$rc" -eq "$want" ] && [ -z "$rep" ]; then ok "asan_$name"; return 0; fi
    nok "asan_$name" "exit $rc (want $want)${rep:+; sanitizer: $rep}" \
        "$(grep -m3 -E ' in [a-z_]+ src/|SUMMARY|error' "$log" | tr '\n' ' ' | cut -c1-400)"
    return 1
}

case_ sft 0 "$A" sft $TINY --set run.out_dir=$D/base --set sft.steps=6 --quiet
# The later cases need a base; if the sanitized sft failed, the plain binary makes one so they still run.
[ -f $BASE ] || "$PGRPO" sft $TINY --set run.out_dir=$D/base --set sft.steps=6 --quiet >/dev/null 2>&1
case_ train_1rank 0 "$A" "${TR[@]}" --set run.out_dir=$D/r1 --set train.steps=3
case_ train_2ranks 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/r2 --set train.steps=4
# Resume: a 2-step run, then --resume auto to 4 steps from its checkpoint.
case_ resume_setup 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/res --set train.steps=2
case_ resume_auto 0 amp 2 "$A" "${TRV[@]}" --set run.out_dir=$D/res --set train.steps=4 --resume auto
grep -q 'resumed from .*ckpt_00000002.h5' $D/resume_auto.log && ok asan_resume_auto_resumed_at_2 ||
    nok asan_resume_auto_resumed_at_2 "no 'resumed from ...ckpt_00000002.h5' line"
# Preemption: SIGTERM to the ranks mid-run (as Slurm delivers it) checkpoints and exits 75; the resume goes on.
R=$D/pre
bg_mpi 2 -x ASAN_OPTIONS -x UBSAN_OPTIONS "$A" "${TR[@]}" --set run.out_dir=$R --set train.steps=400 >$D/sigterm.log 2>&1
for _ in $(seq 1 600); do [ -e $R/checkpoints/ckpt_00000002.h5 ] && break; sleep 0.05; done
kill -TERM $(job_ranks) 2>/dev/null
wait $BG_PID; rc=$?
rep=$(grep -m1 -E 'ERROR: AddressSanitizer|runtime error:' $D/sigterm.log)
[ $rc -eq 75 ] && [ -z "$rep" ] && ok asan_sigterm_exits_75 || nok asan_sigterm_exits_75 "rc=$rc $rep"
case_ sigterm_resume 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$R --set train.steps=4 --resume auto
# eval, sample and inspect read the SFT base, so they do not depend on the train cases above.
# Group discovery: the PCA and spectral paths on 2 ranks (ScaLAPACK, parallel HDF5 feedback.h5), a user's file,
# discovery inside a training job, and a refused feedback file.
GR=(groups inputs/groups_personas.deck --quiet --set task.n_users=300 --set groups.probes=64)
case_ groups_pca_2ranks 0 amp 2 "$A" "${GR[@]}" --set run.out_dir=$D/g1 --set groups.k=0
case_ groups_spectral_2ranks 0 amp 2 "$A" "${GR[@]}" --set run.out_dir=$D/g2 --set groups.method=spectral
case_ groups_from_file 0 amp 2 "$A" "${GR[@]}" --set run.out_dir=$D/g3 --set groups.feedback=file \
    --set groups.feedback_file=$D/g1/feedback.h5
case_ train_discover 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/g4 --set train.steps=2 --set train.groups=discover \
    --set groups.probes=32
/usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('$D/gbad.h5', 'w') as f:
    v = np.ones((20, 4), np.float32); v[:, 1] = np.arange(20); v[3, 2] = np.nan; f['feedback/value'] = v" 2>/dev/null
case_ groups_bad_feedback 3 amp 2 "$A" "${GR[@]}" --set run.out_dir=$D/g5 --set groups.feedback=file \
    --set groups.feedback_file=$D/gbad.h5 --set groups.dims=2
case_ eval 0 "$A" eval $TINY --checkpoint $BASE --set run.out_dir=$D/ev --set eval.prompts=8 --quiet
case_ sample 0 "$A" sample $TINY --checkpoint $BASE --set run.out_dir=$D/ev
case_ inspect 0 "$A" inspect $BASE
# The MovieLens-format task (parser, Latin-1 titles, ALS fallback reward, hit rate/NDCG in eval) on 2 ranks, and
# a malformed ratings row, which must end as a user error (3) through the same cleanup paths.
/usr/bin/python3 tests/reference/ml_fixture.py $D/ml >/dev/null
ML=(inputs/movielens_fixture.deck --set task.path=$D/ml --set sft.steps=4 --set train.steps=2 --set eval.prompts=8 --quiet)
case_ ml_sft 0 amp 2 "$A" sft "${ML[@]}" --set run.out_dir=$D/mlr
case_ ml_train 0 amp 2 "$A" train "${ML[@]}" --set run.out_dir=$D/mlr
case_ ml_eval 0 amp 2 "$A" eval "${ML[@]}" --set run.out_dir=$D/mlr
/usr/bin/python3 tests/reference/ml_fixture.py $D/mlbad --malformed fields >/dev/null
case_ ml_malformed 3 "$A" sft "${ML[@]}" --set task.path=$D/mlbad --set run.out_dir=$D/mlbad_run

# Error exits run the same cleanup paths: a corrupt file (3) and a bad deck value (2).
cp $BASE $D/bad.h5; truncate -s 4000 $D/bad.h5
case_ inspect_corrupt 3 "$A" inspect $D/bad.h5
case_ deck_error 2 "$A" train $TINY --set model.n_head=0 --set run.out_dir=$D/deckerr --quiet
# Leaks: one rank, LeakSanitizer on; MPI/HDF5/OpenBLAS's own lifetime allocations are suppressed by library
# (measured on the tiny deck: libopenblas ~3300 buffers, libmpi/libhwloc/libopen-pal ~30; pgrpo itself none).
# A leak in pgrpo's own code is still reported: a test program that leaks 77 bytes from main() next to an
# OpenBLAS call fails under these suppressions while OpenBLAS's buffers stay suppressed.
LEAK=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
ASAN_OPTIONS=$LEAK case_ leaks_eval 0 "$A" eval $TINY --checkpoint $BASE --set run.out_dir=$D/ev \
    --set eval.prompts=8 --quiet
ASAN_OPTIONS=$LEAK case_ leaks_train 0 "$A" "${TR[@]}" --set run.out_dir=$D/leak --set train.steps=2
