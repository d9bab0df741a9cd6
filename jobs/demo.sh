#!/usr/bin/env bash
# The main job, end to end on one machine: install what is missing (as root), build, SFT base, P-GRPO and the
# GRPO baseline on the personas task (2 MPI ranks each), held-out evaluation, and a report:
#   runs/demo/report/report.md   per-group table        runs/demo/report/reward_by_group.png   curves
# Usage: bash jobs/demo.sh [NRANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${1:-2}
bash tests/deps.sh
make -s -j"$(nproc)" bin/pgrpo
export OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun -np "$NP" -x OPENBLAS_NUM_THREADS)
if [ "$(id -u)" -eq 0 ]; then MPIRUN+=(--allow-run-as-root); fi
[ "$NP" -gt "$(nproc)" ] && MPIRUN+=(--oversubscribe)
t0=$SECONDS
for deck in inputs/demo.deck inputs/demo_grpo.deck; do
    echo "== pgrpo train $deck on $NP ranks"
    "${MPIRUN[@]}" bin/pgrpo train "$deck" | grep -v '^[a-z_]* = \|^\[' 
    "${MPIRUN[@]}" bin/pgrpo eval "$deck" --quiet
done
/usr/bin/python3 postproc/report.py runs/demo/pgrpo runs/demo/grpo --out runs/demo/report
echo "demo finished in $((SECONDS - t0)) s; open runs/demo/report/report.md and runs/demo/report/reward_by_group.png"
