#!/usr/bin/env bash
# test_pca.sh — the ScaLAPACK principal components (src/par/pca.c) against LAPACK dgesvd on one rank: grids
# 1x1, 1x2, 2x1 and 2x2 (4 ranks, oversubscribed), odd sizes (n = 1001 users, d = 37 probes, r = 5) with block
# sizes that do not divide them (8, 16) and one larger than d (64: one block, where this ScaLAPACK's pdsyevd
# workspace query is too small), 1x3 (3 ranks) where BLACS's default combines are not repeatable, the same launch
# twice bit-identical, and bad arguments refused with one line; the local-Gram route (the default up to
# PCA_LOCAL_GRAM_MAX_D probes) and the grid route (pdgemr2d + pdsyrk) both.
# Independent cases (tests/lib.sh): `bash tests/mpi/test_pca.sh --list`. Needs build/tests/pca_check (make test-bin).
source "$(dirname "$0")/../lib.sh"
BIN=${BIN:-build/tests/pca_check}

have_bin() { [ -x "$BIN" ] || { nok "$CASE_NAME: $BIN missing (make build/tests/pca_check)"; exit 1; }; }

# pca NP N D R NB PR: one pca_check launch; its TAP lines tagged with the case; the log in $CASE_DIR/NP-NB-PR.log.
pca() {
    local np=$1 log=$CASE_DIR/$1-$5-$6.log rc
    shift
    have_bin
    mpi "$np" --timeout 60 env PCA_ROUTE="${PCA_ROUTE:-0}" "$BIN" "$@" >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1$CASE_NAME: /p; /^# hash/p" "$log"
    if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then nok "$CASE_NAME: pca_check exited $rc" "$(tail -3 "$log")"; fi
    grep -v '^ok\|^not ok\|^#' "$log" | grep -q . && nok "$CASE_NAME: unexpected output" "$(grep -v '^ok\|^not ok\|^#' "$log" | head -3)"
    [ $rc -eq 0 ]
}

case_grid_1x1()        { pca 1 1001 37 5 8 0; }
case_grid_1x2()        { pca 2 1001 37 5 16 1; }
case_grid_2x1()        { pca 2 1001 37 5 16 2; }
case_grid_2x2()        { pca 4 1001 37 5 8 0; }
case_grid_2x2_nb_gt_d() { pca 4 1001 37 5 64 0; }
case_grid_1x2_tiny()   { pca 2 101 7 2 8 0; }
# The grid route (rows moved with pdgemr2d, C formed with pdsyrk), which pca_top takes above PCA_LOCAL_GRAM_MAX_D
# probes, forced on the same odd sizes (PCA_ROUTE=2 = PCA_GRAM_GRID).
case_grid_route_1x2()  { PCA_ROUTE=2 pca 2 1001 37 5 16 1; }
case_grid_route_2x1()  { PCA_ROUTE=2 pca 2 1001 37 5 16 2; }
case_grid_route_2x2()  { PCA_ROUTE=2 pca 4 1001 37 5 8 0; }
# 1x3, d = 130, nb = 32: BLACS's default combines sum in a varying order here (pdsytrd's eigenvalue bits changed
# from call to call); pca.c asks for repeatable topologies. Three launches, each checking its own reruns.
case_grid_1x3_repeatable() {
    local h1 h2 h3
    pca 3 701 130 3 32 0 || return 1; h1=$(awk '/^# hash/{print $3}' "$CASE_DIR/3-32-0.log")
    pca 3 701 130 3 32 0 || return 1; h2=$(awk '/^# hash/{print $3}' "$CASE_DIR/3-32-0.log")
    pca 3 701 130 3 32 0 || return 1; h3=$(awk '/^# hash/{print $3}' "$CASE_DIR/3-32-0.log")
    if [ -n "$h1" ] && [ "$h1" = "$h2" ] && [ "$h2" = "$h3" ]; then ok "grid_1x3_three_launches_bit_identical # $h1"
    else nok "grid_1x3_three_launches_bit_identical" "hashes $h1 $h2 $h3"; return 1; fi
}

# The same deck on the same grid in two launches: identical sv, V and Y bits (pca_check's hash of them).
case_rerun_bit_identical() {
    local a b
    pca 4 1001 37 5 8 0 >/dev/null; a=$(grep '^# hash' "$CASE_DIR/4-8-0.log" | awk '{print $3}')
    mv "$CASE_DIR/4-8-0.log" "$CASE_DIR/first.log"
    pca 4 1001 37 5 8 0 >/dev/null; b=$(grep '^# hash' "$CASE_DIR/4-8-0.log" | awk '{print $3}')
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "pca_two_launches_bit_identical # $a"
    else nok "pca_two_launches_bit_identical" "hashes '$a' vs '$b'"; return 1; fi
}

case_bad_input() {
    local log=$CASE_DIR/bad.log rc
    have_bin
    mpi 2 --timeout 60 "$BIN" bad >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1bad_input: /p" "$log"
    [ $rc -eq 0 ] || { nok "bad_input: pca_check bad exited $rc" "$(tail -3 "$log")"; return 1; }
}

run_cases "$@"
