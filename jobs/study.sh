#!/usr/bin/env bash
# A small study of the paper's claims on one machine: GRPO vs P-GRPO vs P-GRPO with random groups (the paper's
# ablation), several seeds each, one task, then held-out evaluation and a report overlaying every run.
# Usage: bash jobs/study.sh [DECK] [SEEDS] [NRANKS]    e.g. bash jobs/study.sh inputs/demo.deck "1 2 3" 2
# VARIANTS="grpo pgrpo pgrpo_random pgrpo_discover" adds P-GRPO on discovered groups (train.groups = discover).
# Output: runs/study/<variant>_seed<s>/ and runs/study/report/{report.md,reward_by_group.png,summary.md}
set -euo pipefail
cd "$(dirname "$0")/.."
DECK=${1:-inputs/demo.deck}; SEEDS=${2:-"1 2 3"}; NP=${3:-2}
bash tests/deps.sh
make -s bin/pgrpo
export OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun -np "$NP" -x OPENBLAS_NUM_THREADS)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
[ "$NP" -gt "$(nproc)" ] && MPIRUN+=(--oversubscribe)
OUT=runs/study
dirs=()
for seed in $SEEDS; do
    for v in ${VARIANTS:-grpo pgrpo pgrpo_random}; do
        adv=${v%%_*}; groups=truth
        case $v in *_random) groups=random;; *_discover) groups=discover;; esac
        d=$OUT/${v}_seed$seed; dirs+=("$d")
        S=(--set run.out_dir=$d --set run.seed=$seed --set train.advantage=$adv --set train.groups=$groups --quiet)
        echo "== $v seed $seed"
        "${MPIRUN[@]}" bin/pgrpo train "$DECK" "${S[@]}"
        "${MPIRUN[@]}" bin/pgrpo eval "$DECK" "${S[@]}" > "$d/eval.txt"
    done
done
/usr/bin/python3 postproc/report.py "${dirs[@]}" --out $OUT/report > /dev/null
/usr/bin/python3 postproc/study_summary.py "${dirs[@]}" | tee $OUT/report/summary.md
