# tests/lib.sh — shared helpers for the script tests (sourced). TAP output: ok/not ok lines.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
PGRPO=$PWD/bin/pgrpo
TINY=$PWD/tests/decks/tiny.deck
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pgrpo-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "command: $*"; fi; }
mpi() { local n=$1; shift; mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@"; }
# Starts mpirun in its own session (so a test can kill -9 the whole job); sets BG_PID (= the process group).
bg_mpi() { local n=$1; shift; setsid mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@" & BG_PID=$!; }
# Bit-identity of two HDF5 datasets.
same_dataset() { /usr/bin/python3 tests/h5same.py "$1" "$2" "$3"; }
