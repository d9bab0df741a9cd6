#!/usr/bin/env bash
# test_groups_pipeline.sh — the whole discovery pipeline (`pgrpo groups`, 2 ranks) against a scikit-learn pipeline
# doing the same steps (tests/bench/groups_peer.py: SimpleImputer(mean) + StandardScaler + PCA + KMeans) on the
# same well-separated synthetic feedback (tests/bench/groups_data.py, with holes): the two labelings agree (ARI
# >= 0.99) and both recover the truth; the same with the PCA scores whitened (PCA(whiten=True) on the peer side).
# Independent cases (tests/lib.sh): `bash tests/reference/test_groups_pipeline.sh --list`.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3

fixture_data() {   # $1/fb.h5: 3000 users x 64 probes, 4 groups, 60% observed
    $PY tests/bench/groups_data.py --n 3000 --d 64 --k 4 --observed 0.6 --noise 1.0 --seed 5 --out "$1/fb.h5"
}

# agree NAME [pgrpo --set args...]: pgrpo and the peer on the fixture; prints ARI(pgrpo, peer) and vs truth.
agree() {
    local name=$1 whiten=false peer_extra=(); shift
    [ "$*" = "--set groups.whiten=true" ] && whiten=true
    need data
    mpi 2 $PGRPO groups inputs/groups_personas.deck --quiet --set run.out_dir=$CASE_DIR/p --set groups.feedback=file \
        --set groups.feedback_file=$FIX/fb.h5 --set groups.k=4 --set groups.dims=8 --set groups.n_init=10 "$@" \
        >$CASE_DIR/log 2>&1 || { nok "$name: pgrpo groups failed" "$(tail -3 $CASE_DIR/log)"; return 1; }
    [ $whiten = true ] && peer_extra=(--whiten)
    $PY tests/bench/groups_peer.py $FIX/fb.h5 --k 4 --r 8 --n-init 10 "${peer_extra[@]}" --labels-out $CASE_DIR/peer.txt \
        >$CASE_DIR/peer.json 2>$CASE_DIR/peer.err || { nok "$name: groups_peer.py failed" "$(tail -3 $CASE_DIR/peer.err)"; return 1; }
    $PY - "$name" <<EOF2
import sys, h5py, numpy as np
from sklearn.metrics import adjusted_rand_score as ari
name = sys.argv[1]
ours = h5py.File("$CASE_DIR/p/groups.h5")["user_group"][:]
peer = np.loadtxt("$CASE_DIR/peer.txt", dtype=int)
truth = h5py.File("$FIX/fb.h5")["feedback/truth"][:]
a, t1, t2 = ari(ours, peer), ari(truth, ours), ari(truth, peer)
ok = a >= 0.99 and t1 >= 0.99
print(("ok" if ok else "not ok") + f" - {name}_agrees_with_sklearn # ARI(pgrpo, sklearn) {a:.4f}, vs truth {t1:.4f} / {t2:.4f}")
EOF2
}

case_pca_path() { agree pca_path; }
case_pca_whitened() { agree pca_whitened --set groups.whiten=true; }

run_cases "$@"
