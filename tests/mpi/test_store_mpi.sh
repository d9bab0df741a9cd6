#!/bin/bash
# test_store_mpi.sh — trajectories.h5 written collectively at 2 and 4 ranks with uneven slices (rank 0 owns no
# prompts), a resume that truncates and rewrites steps, a refused bad tiling, then h5py checks every value.
# Prints TAP lines. Run from the repository root after `make build/tests/traj_mpi`.
set -u
BIN=${BIN:-build/tests/traj_mpi}
PY=/usr/bin/python3
MPIRUN="mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1"
export OPENBLAS_NUM_THREADS=1
TMP=$(mktemp -d /tmp/pgrpo_store_mpi.XXXXXX)
fail=0
tap() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fail=1; fi; }

[ -x "$BIN" ] || { echo "not ok - $BIN missing (make build/tests/traj_mpi)"; exit 1; }

P=11; G=3; Tp=5; Tc=4
# 2 ranks write every step; 4 ranks buffer 3 steps per write (a partial batch is flushed by close).
for np in 2 4; do
    f=$TMP/traj_$np.h5
    batch=$(( np == 2 ? 1 : 3 ))
    # Steps 0..5, then "crash" and resume at 4: steps 4,5 are cut and rewritten, 6,7 appended.
    timeout 60 $MPIRUN -np $np $BIN write $f $P $G $Tp $Tc 0 6 0 $batch >$TMP/out 2>&1; tap $? "traj write $np ranks"
    timeout 60 $MPIRUN -np $np $BIN write $f $P $G $Tp $Tc 4 8 4 $batch >>$TMP/out 2>&1; tap $? "traj resume $np ranks"
    grep -q "file has 8 rows" $TMP/out; tap $? "traj $np ranks: 8 rows after resume"
    [ $fail = 0 ] || sed 's/^/#   /' $TMP/out
    $PY tests/reference/test_store_h5py.py traj $f $P $G $Tp $Tc 8 | sed "s/^\(\(not \)\?ok - \)/\1[$np ranks] /"
    [ "${PIPESTATUS[0]}" = 0 ] || fail=1
    h5dump -H $f >/dev/null 2>&1; tap $? "h5dump reads the $np-rank file"
done

timeout 60 $MPIRUN -np 2 $BIN badtile $TMP/bad.h5 >$TMP/out 2>&1; rc=$?
tap $rc "traj refuses slices that do not tile P on every rank, then writes a good step"
grep -q "do not tile" $TMP/out; tap $? "traj bad tiling message names the problem"

timeout 60 $MPIRUN -np 2 $BIN ckpt $TMP/ckpt.h5 >$TMP/out 2>&1; tap $? "container written under mpirun"
$PY tests/reference/test_store_h5py.py ckpt $TMP/ckpt.h5; [ $? = 0 ] || fail=1
h5dump $TMP/ckpt.h5 >/dev/null 2>&1 && h5dump -B -H $TMP/ckpt.h5 2>/dev/null | grep -q 'USERBLOCK_SIZE 512'
tap $? "h5dump reads the framed container (user block 512)"

[ $fail = 0 ] && rm -rf "$TMP" || echo "# files kept in $TMP"
exit $fail
