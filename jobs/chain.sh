#!/bin/bash
# jobs/chain.sh DECK N [sbatch options...] — a resubmission chain for clusters where requeue is disabled:
# submits N copies of jobs/train.sbatch, each depending (afterany) on the previous one. Every job runs
# `pgrpo train DECK --resume auto`, so each picks up the previous job's last checkpoint; when its time limit
# nears (--signal=B:USR1@60) pgrpo checkpoints and exits 75, and the next job in the chain starts.
# Jobs after a finished run exit at once (DIR/final.h5 exists; DIR = run.out_dir from PGRPO_ARGS or
# PGRPO_OUT_DIR). Cancel a chain with: scancel --name=<job name> (default pgrpo-train).
#
#   jobs/chain.sh inputs/demo.deck 5 -n 64 -t 04:00:00 -p CHANGE_ME -A CHANGE_ME
#   PGRPO_ARGS="--set run.out_dir=runs/big" jobs/chain.sh inputs/big.deck 10 -n 256 -t 12:00:00
#
# Cluster users: partition/account/QOS/modules as in jobs/train.sbatch (options after N go to every sbatch;
# PGRPO, PGRPO_ARGS, PGRPO_LAUNCHER, PGRPO_MODULES are passed through the environment).
# Prints the job ids, one per line.
set -euo pipefail
if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: jobs/chain.sh DECK N [sbatch options...]   (N >= 1 jobs)" >&2; exit 2
fi
deck=$1; n=$2; shift 2
[ -f "$deck" ] || { echo "chain.sh: deck '$deck' not found" >&2; exit 2; }
script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/train.sbatch
export DECK=$deck PGRPO_NO_REQUEUE=1 PGRPO_SKIP_IF_DONE=1
prev=""
for ((i = 1; i <= n; i++)); do
    dep=()
    [ -n "$prev" ] && dep=(--dependency="afterany:$prev")
    prev=$(sbatch --parsable --no-requeue "${dep[@]}" "$@" "$script")
    prev=${prev%%;*}
    echo "$prev"
done
