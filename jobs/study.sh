#!/usr/bin/env bash
# jobs/study.sh — the cells of a study grid (inputs/study/*.grid) on this machine, one after the other, in grid
# order; each cell is one `pgrpo train` + `pgrpo eval` (jobs/study_cell.py, the same runner as the Slurm array
# job jobs/study.sbatch). Same cells on the same rank count => bit-identical outputs.
#
#   bash jobs/study.sh                                   # default: inputs/study/small.grid (GRPO, P-GRPO, P-GRPO on
#                                                        #   random groups; demo deck, 3 seeds, 9 cells, ~2-3 min)
#   bash jobs/study.sh GRID [--cells LIST] [--np N] [--out DIR] [--force]
#   bash jobs/study.sh GRID --list                       # index, id, status (todo|running|done|failed)
#   bash jobs/study.sh GRID --count                      # number of cells: the array size for jobs/study.sbatch
#
# --cells 0,3-5 (default all): which cells; --np N (default 2): MPI ranks per cell (the layout: keep it the same
# to get the same bits); --out DIR: another output folder than the grid's `out`; --force: run the listed cells
# again from nothing (a "done" cell is skipped otherwise; a stopped one resumes from its last checkpoint).
# Output: OUT/cells/<id>/{cell.json,metrics.h5,trajectories.h5,final.h5,eval.h5,...}, OUT/bases/<task>-s<seed>/.
# Collect: /usr/bin/python3 postproc/study.py OUT/cells. Exit: 0 every listed cell done; 1 a cell failed (the others
# still run; failures are listed at the end); 2 bad grid or usage; 75 a cell stopped after a checkpoint (Ctrl-C,
# SIGUSR1, run.max_walltime): run the same command again to resume. Grid format: jobs/study_cell.py --help.
set -uo pipefail
PY=/usr/bin/python3
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)   # paths under it are kept relative to it (cell.json, commands)
GRID=""; CELLS=all; NP=2; MODE=run; EXTRA=()
while [ $# -gt 0 ]; do
    case $1 in
        --cells) [ $# -ge 2 ] || { echo "study.sh: --cells needs a list (e.g. 0,3-5)" >&2; exit 2; }; CELLS=$2; shift;;
        --np) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "study.sh: --np needs a rank count >= 1" >&2; exit 2; }
              NP=$2; shift;;
        --out) [ -n "${2:-}" ] || { echo "study.sh: --out needs a folder" >&2; exit 2; }
               EXTRA+=(--out "$(realpath -m --relative-base="$ROOT" -- "$2")"); shift;;
        --force) EXTRA+=(--force);;
        --list) MODE=list;;
        --count) MODE=count;;
        -h|--help) usage; exit 0;;
        -*) echo "study.sh: unknown option '$1' (HINT: bash jobs/study.sh --help)" >&2; exit 2;;
        *) [ -z "$GRID" ] || { echo "study.sh: one grid only ('$GRID' and '$1')" >&2; exit 2; }
           GRID=$1;;
    esac
    shift
done
# the grid as the caller named it (relative to the caller's folder), then work from the repository root
if [ -n "$GRID" ] && [ -e "$GRID" ]; then GRID=$(realpath --relative-base="$ROOT" -- "$GRID"); fi
cd "$ROOT" || exit 2
[ -n "$GRID" ] || GRID=inputs/study/small.grid
CELL=("$PY" jobs/study_cell.py "$GRID")
case $MODE in
    list)  exec "${CELL[@]}" --list "${EXTRA[@]}";;
    count) exec "${CELL[@]}" --count;;
esac
mapfile -t idx < <("${CELL[@]}" --indices "$CELLS") || exit 2
[ ${#idx[@]} -gt 0 ] || exit 2
if [ -z "${PGRPO:-}" ] && [ -f Makefile ]; then   # PGRPO=binary (tests) or an installed copy: no build step
    bash tests/deps.sh || exit 2
    make -s bin/pgrpo || { echo "study.sh: build failed (make bin/pgrpo)" >&2; exit 2; }
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
failed=(); stopped=""; t0=$SECONDS
for i in "${idx[@]}"; do
    "${CELL[@]}" --run "$i" --np "$NP" --launcher mpirun "${EXTRA[@]}"
    rc=$?
    case $rc in
        0) ;;
        75|130) stopped=$i; break;;     # preempted / interrupted: stop here, the next run resumes this cell
        2|3) exit "$rc";;               # usage or runtime error of the runner itself: already explained
        *) failed+=("$i");;
    esac
done
out=$("${CELL[@]}" --check "${EXTRA[@]}" | sed -n 's/.*cells, out //p')
echo "study.sh: ${#idx[@]} cells listed, $((SECONDS - t0)) s; status: bash jobs/study.sh $GRID --list --out $out; collect:" \
     "/usr/bin/python3 postproc/study.py $out/cells"
if [ -n "$stopped" ]; then
    echo "study.sh: stopped in cell $stopped after a checkpoint; run the same command again to resume"; exit 75
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "study.sh: failed cells: ${failed[*]} (see their cell.json and train.log; bash jobs/study.sh GRID --list)" >&2
    exit 1
fi
exit 0
