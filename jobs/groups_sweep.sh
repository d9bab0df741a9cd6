#!/usr/bin/env bash
# Group recovery against the sparsity of the feedback: `pgrpo groups` over a grid of groups.observed x groups.probes
# for each deck, then postproc/groups_curve.py draws ARI against both (README "Groups").
# Usage: bash jobs/groups_sweep.sh [NRANKS] [DECK...]
#        e.g. bash jobs/groups_sweep.sh 2 inputs/groups_personas.deck inputs/groups_recsys.deck
# Environment: OBSERVED="0.05 0.1 ..." PROBES="16 32 ..." EXTRA="--set groups.k=7" override the grid / add keys.
# Output: runs/groups_sweep/<deck>/obs<o>_probes<p>/groups.h5, runs/groups_sweep/{ari_curve.png,ari_table.md}
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${1:-2}; shift || true
DECKS=("$@"); [ ${#DECKS[@]} -gt 0 ] || DECKS=(inputs/groups_personas.deck inputs/groups_recsys.deck)
OBSERVED=${OBSERVED:-"0.05 0.1 0.2 0.3 0.5 1"}
PROBES=${PROBES:-"16 32 64 128 256"}
bash tests/deps.sh
make -s bin/pgrpo
export OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun -np "$NP" -x OPENBLAS_NUM_THREADS)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
[ "$NP" -gt "$(nproc)" ] && MPIRUN+=(--oversubscribe)
OUT=runs/groups_sweep
for deck in "${DECKS[@]}"; do
    name=$(basename "$deck" .deck)
    for p in $PROBES; do
        for o in $OBSERVED; do
            d=$OUT/$name/obs${o}_probes$p
            dims=(); [ "$p" -lt 8 ] && dims=(--set groups.dims="$p")   # else the deck's groups.dims
            # shellcheck disable=SC2086
            "${MPIRUN[@]}" bin/pgrpo groups "$deck" --quiet --set run.out_dir="$d" --set groups.observed="$o" \
                --set groups.probes="$p" "${dims[@]}" ${EXTRA:-}
            echo "$name observed $o probes $p: ARI $(/usr/bin/python3 -c "import h5py; print('%.3f' % h5py.File('$d/groups.h5')['eval/ari'][()])")"
        done
    done
done
/usr/bin/python3 postproc/groups_curve.py "$OUT" --out "$OUT"
