#!/usr/bin/env bash
# The whole test suite: unit tests (plain and ASan/UBSan), MPI, HDF5, reference (PyTorch), CLI, restart and
# Slurm tests. Every test prints TAP lines "ok - name" / "not ok - name"; this script counts them and ends with
# "N passed, N failed, N skipped". A test program that exits non-zero without reporting a failure counts as one.
set -uo pipefail
cd "$(dirname "$0")/.."
FAST=0; [ "${1:-}" = "--fast" ] && FAST=1   # make check-fast: unit, ASan unit, lint and CLI tests (< 2 min)
bash tests/deps.sh || exit 2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 PGRPO_TEST=1
NPROC=$(nproc)
echo "== build"
if ! make -j"$NPROC" -s test-bin 2>&1; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi

LOG=build/test-logs
rm -rf "$LOG"; mkdir -p "$LOG"
pass=0; fail=0; skip=0; failed_names=()
run_one() {  # name, command...
    local name=$1; shift
    local out="$LOG/$(echo "$name" | tr '/ ' '__').log" t0=$SECONDS rc
    "$@" >"$out" 2>&1; rc=$?
    local p f s
    p=$(grep -E '^ok - ' "$out" | grep -vc '# SKIP' || true)
    s=$(grep -E '^ok - ' "$out" | grep -c '# SKIP' || true)
    f=$(grep -cE '^not ok - ' "$out" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "not ok - $name exited with status $rc" >>"$out"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    printf '%-44s %3d passed %3d failed %3d skipped %4ds\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
    if [ "$f" -gt 0 ]; then
        failed_names+=("$name"); grep -E '^not ok|^#' "$out" | head -20 | sed 's/^/    /'
    fi
}
echo "== unit tests"
for t in build/tests/test_*; do run_one "unit/$(basename "$t")" "$t"; done
echo "== unit tests under AddressSanitizer + UBSan"
export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in build/asan/tests/test_*; do run_one "asan/$(basename "$t")" "$t"; done
echo "== script tests"
SCRIPTS="tests/lint/test_*.sh tests/cli/test_*.sh"
[ "$FAST" -eq 1 ] || SCRIPTS="$SCRIPTS tests/mpi/test_*.sh tests/asan/test_*.sh tests/fuzz/test_*.sh tests/reference/run.sh
    tests/reference/test_*.sh tests/restart/test_*.sh tests/slurm/test_*.sh"
for t in $SCRIPTS; do
    [ -f "$t" ] || continue
    run_one "${t#tests/}" bash "$t"
done
echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $LOG)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
