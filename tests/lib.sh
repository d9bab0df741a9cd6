# tests/lib.sh — shared helpers for the script tests (sourced). TAP output: ok/not ok lines.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
PGRPO=$PWD/bin/pgrpo
TINY=$PWD/tests/decks/tiny.deck
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pgrpo-test.XXXXXX")
trap 'umount "$SCRATCH"/tmpfs 2>/dev/null; rm -rf "$SCRATCH"' EXIT
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "command: $*"; fi; }
mpi() { local n=$1; shift; mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@"; }
# Starts mpirun in the background; `wait $BG_PID` gives its status. job_pid: mpirun's pid; job_ranks: the ranks
# (mpirun's children); job_kill9: kill -9 of mpirun and every rank at once, as a node failure would.
bg_mpi() { local n=$1; shift; setsid -w mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@" & BG_PID=$!; }
job_pid() {
    case "$(ps -o comm= -p "$BG_PID")" in mpirun|orterun|mpiexec) echo "$BG_PID"; return;; esac
    pgrep -P "$BG_PID" | head -1    # setsid forked: mpirun is its child
}
job_ranks() { local m; m=$(job_pid); [ -n "$m" ] && pgrep -P "$m"; }
job_kill9() { local m; m=$(job_pid); [ -n "$m" ] && kill -9 $m $(pgrep -P "$m") 2>/dev/null; }
# Bit-identity of two HDF5 datasets.
same_dataset() { /usr/bin/python3 tests/h5same.py "$1" "$2" "$3"; }
