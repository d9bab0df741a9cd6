#!/bin/bash
# test_store_mpi.sh — trajectories.h5 written collectively at 2 and 4 ranks with uneven slices (rank 0 owns no
# prompts), a resume that truncates and rewrites steps, a refused bad tiling, then h5py checks every value.
# Prints TAP lines. Independent cases (tests/lib.sh): `bash tests/mpi/test_store_mpi.sh --list` shows them.
# Needs build/tests/traj_mpi (make test-bin).
source "$(dirname "$0")/../lib.sh"
BIN=${BIN:-build/tests/traj_mpi}
PY=/usr/bin/python3
MPIRUN="mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1"
P=11; G=3; Tp=5; Tc=4

have_bin() { [ -x "$BIN" ] || { nok "$CASE_NAME: $BIN missing (make build/tests/traj_mpi)"; exit 1; }; }
tap() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2"; fail=1; fi; }   # fail: the case's local

# 2 ranks write every step; 4 ranks buffer 3 steps per write (a partial batch is flushed by close).
traj_case() {
    local np=$1 f=$CASE_DIR/traj_$1.h5 batch=$(( $1 == 2 ? 1 : 3 )) out=$CASE_DIR/out fail=0
    have_bin
    # Steps 0..5, then "crash" and resume at 4: steps 4,5 are cut and rewritten, 6,7 appended.
    timeout 60 $MPIRUN -np $np $BIN write $f $P $G $Tp $Tc 0 6 0 $batch >$out 2>&1; tap $? "traj write $np ranks"
    timeout 60 $MPIRUN -np $np $BIN write $f $P $G $Tp $Tc 4 8 4 $batch >>$out 2>&1; tap $? "traj resume $np ranks"
    grep -q "file has 8 rows" $out; tap $? "traj $np ranks: 8 rows after resume"
    [ $fail = 0 ] || sed 's/^/#   /' $out
    $PY tests/reference/test_store_h5py.py traj $f $P $G $Tp $Tc 8 | sed "s/^\(\(not \)\?ok - \)/\1[$np ranks] /"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
    h5dump -H $f >/dev/null 2>&1; tap $? "h5dump reads the $np-rank file"
    return $fail
}
case_traj_2ranks() { traj_case 2; }
case_traj_4ranks() { traj_case 4; }

case_badtile() {
    local fail=0
    have_bin
    timeout 60 $MPIRUN -np 2 $BIN badtile $CASE_DIR/bad.h5 >$CASE_DIR/out 2>&1
    tap $? "traj refuses slices that do not tile P on every rank, then writes a good step"
    grep -q "do not tile" $CASE_DIR/out; tap $? "traj bad tiling message names the problem"
    [ $fail = 0 ] || sed 's/^/#   /' $CASE_DIR/out
    return $fail
}

case_container() {
    local f=$CASE_DIR/ckpt.h5 fail=0
    have_bin
    timeout 60 $MPIRUN -np 2 $BIN ckpt $f >$CASE_DIR/out 2>&1; tap $? "container written under mpirun"
    $PY tests/reference/test_store_h5py.py ckpt $f || fail=1
    h5dump $f >/dev/null 2>&1 && h5dump -B -H $f 2>/dev/null | grep -q 'USERBLOCK_SIZE 512'
    tap $? "h5dump reads the framed container (user block 512)"
    return $fail
}

run_cases "$@"
