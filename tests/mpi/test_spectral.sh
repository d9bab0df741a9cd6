#!/usr/bin/env bash
# test_spectral.sh — the NJW spectral embedding (src/par/spectral.c) against LAPACK dsyevd on the whole normalised
# affinity built serially on one rank: eigenvalues 1e-10 relative, eigenvectors up to sign 1e-7, for grids 1x1,
# 1x2, 2x1 and 2x2 (4 ranks, oversubscribed) and 1x3, odd n (301, 333, 401) with block sizes that do not divide n
# (7, 8, 16, 32) and one larger than n (512: one block), the three eigensolvers (dense pdsyevd; block Krylov;
# shift-invert Krylov, pdpotrf/pdpotrs; the Krylov ones also checked against the dense path), reruns bit-identical
# within a launch and across two launches, the automatic gamma, and bad arguments refused with one line (the same
# on every rank).
# Independent cases (tests/lib.sh): `bash tests/mpi/test_spectral.sh --list`. Needs build/tests/spectral_check.
source "$(dirname "$0")/../lib.sh"
BIN=${BIN:-build/tests/spectral_check}

have_bin() { [ -x "$BIN" ] || { nok "$CASE_NAME: $BIN missing (make build/tests/spectral_check)"; exit 1; }; }

# sp NP N R M NB PR SOLVER [GAMMA]: one spectral_check launch; its TAP lines tagged with the case; log in $CASE_DIR.
sp() {
    local np=$1 log=$CASE_DIR/$1-$5-$6-$7.log rc
    shift
    have_bin
    mpi "$np" --timeout 60 "$BIN" "$@" >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1$CASE_NAME: /p; /^# hash/p" "$log"
    if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then nok "$CASE_NAME: spectral_check exited $rc" "$(tail -3 "$log")"; fi
    grep -v '^ok\|^not ok\|^#' "$log" | grep -q . && nok "$CASE_NAME: unexpected output" "$(grep -v '^ok\|^not ok\|^#' "$log" | head -3)"
    [ $rc -eq 0 ]
}

case_dense_grid_1x1()      { sp 1 301 3 5 8 0 dense; }
case_dense_grid_1x2()      { sp 2 333 5 4 16 1 dense 0.3; }
case_dense_grid_2x1()      { sp 2 333 5 4 7 2 dense; }
case_dense_grid_2x2()      { sp 4 333 3 6 16 0 dense; }
case_dense_grid_2x2_nb_gt_n() { sp 4 333 5 5 512 0 dense; }
# 1x3, n = 401, nb = 32: the grid where this ScaLAPACK's pdsyevr returned wrong vectors (spectral.c uses pdsyevd).
case_dense_grid_1x3()      { sp 3 401 4 3 32 0 dense; }
# Krylov (plain, then shift-invert if slow) and shift-invert from the start; each launch also runs the dense path
# on the same grid and compares (1e-7).
case_krylov_grid_1x1()     { sp 1 301 3 5 8 0 krylov; }
case_krylov_grid_1x2()     { sp 2 333 5 4 16 1 krylov 0.3; }
case_krylov_grid_2x2()     { sp 4 333 3 6 16 0 krylov; }
case_shift_invert_grid_2x1() { sp 2 333 5 4 7 2 si; }
case_shift_invert_grid_2x2() { sp 4 401 4 3 32 0 si; }

# The same arguments on the same grid in two launches: identical eigenvalues, U and gamma bits, for both solvers.
case_two_launches_bit_identical() {
    local s a b
    for s in dense si; do
        sp 2 333 3 6 16 0 $s >/dev/null; a=$(awk '/^# hash/{print $3}' "$CASE_DIR/2-16-0-$s.log")
        sp 2 333 3 6 16 0 $s >/dev/null; b=$(awk '/^# hash/{print $3}' "$CASE_DIR/2-16-0-$s.log")
        if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "spectral_${s}_two_launches_bit_identical # $a"
        else nok "spectral_${s}_two_launches_bit_identical" "hashes '$a' vs '$b'"; fi
    done
}

case_bad_input() {
    local log=$CASE_DIR/bad.log rc
    have_bin
    mpi 3 --timeout 60 "$BIN" bad >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1bad_input: /p" "$log"
    grep -q '^ok - bad_nan_point' "$log" || nok "bad_input: the NaN case did not pass" "$(tail -3 "$log")"
    [ $rc -eq 0 ] || { nok "bad_input: spectral_check bad exited $rc" "$(tail -3 "$log")"; return 1; }
}

run_cases "$@"
