#!/usr/bin/env bash
# test_kmeans_mpi.sh — the distributed k-means (src/par/kmeans_mpi.c) against kmeans_fit_serial on one rank:
# 1, 2 and 3 ranks with even, uneven and one-empty-rank row splits at odd sizes (n = 1001, d = 7; n = 997, d = 5),
# a fixture where k-means++ falls back to uniform draws and clusters go empty (far-row re-seed), more ranks than
# rows, each launch checking labels identical to serial (ARI 1), centroids 1e-10, inertia 1e-10 relative, a rerun
# bit-identical, and two launches bit-identical; bad inputs refused with the same one line on every rank.
# Independent cases (tests/lib.sh): `bash tests/mpi/test_kmeans_mpi.sh --list`. Needs build/tests/kmeans_check.
source "$(dirname "$0")/../lib.sh"
BIN=${BIN:-build/tests/kmeans_check}

have_bin() { [ -x "$BIN" ] || { nok "$CASE_NAME: $BIN missing (make build/tests/kmeans_check)"; exit 1; }; }

# km NP ARGS...: one kmeans_check launch; its TAP lines tagged with the case; the log in $CASE_DIR/NP.log.
km() {
    local np=$1 log=$CASE_DIR/$1.log rc
    shift
    have_bin
    mpi "$np" --timeout 60 "$BIN" "$@" >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1$CASE_NAME: /p; /^# hash/p" "$log"
    if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then nok "$CASE_NAME: kmeans_check exited $rc" "$(tail -3 "$log")"; fi
    grep -v '^ok\|^not ok\|^#' "$log" | grep -q . && nok "$CASE_NAME: unexpected output" "$(grep -v '^ok\|^not ok\|^#' "$log" | head -3)"
    [ $rc -eq 0 ]
}

case_one_rank()          { km 1 1001 7 5 3 even blobs; }
case_two_ranks_uneven()  { km 2 1001 7 5 3 uneven blobs; }
case_three_ranks_uneven() { km 3 1001 7 5 3 uneven blobs; }
case_three_ranks_empty_rank() { km 3 997 5 4 2 zero blobs 5; }
case_empty_clusters_reseed()  { km 3 997 5 6 2 uneven dup; }
case_more_ranks_than_rows()   { km 3 2 3 2 2 even blobs; }

# The same arguments on the same ranks in two launches: identical labels, centroids and inertia bits.
case_two_launches_bit_identical() {
    local a b
    km 3 1001 7 5 3 uneven blobs >/dev/null; a=$(awk '/^# hash/{print $3}' "$CASE_DIR/3.log")
    km 3 1001 7 5 3 uneven blobs >/dev/null; b=$(awk '/^# hash/{print $3}' "$CASE_DIR/3.log")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "kmeans_two_launches_bit_identical # $a"
    else nok "kmeans_two_launches_bit_identical" "hashes '$a' vs '$b'"; return 1; fi
}

case_bad_input() {
    local log=$CASE_DIR/bad.log rc
    have_bin
    mpi 3 --timeout 60 "$BIN" bad >"$log" 2>&1; rc=$?
    sed -n "s/^\(\(not \)\?ok - \)/\1bad_input: /p" "$log"
    grep -q '^ok - bad_nan' "$log" || nok "bad_input: the NaN case did not run" "$(tail -3 "$log")"
    [ $rc -eq 0 ] || { nok "bad_input: kmeans_check bad exited $rc" "$(tail -3 "$log")"; return 1; }
}

run_cases "$@"
