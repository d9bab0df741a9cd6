#!/usr/bin/env bash
# The NJW spectral path (spectral_embed + spectral_normalise_rows + kmeans_fit_mpi, through build/tests/spectral_check
# cluster) against scikit-learn 1.2's SpectralClustering(affinity='rbf', same gamma, assign_labels='kmeans') on
# seeded non-convex fixtures written by tests/reference/spectral_sklearn.py: three concentric rings (n = 1200, the
# Krylov path switching to shift-invert) and two moons (n = 1000): labels agree (ARI >= 0.99), and k-means on the
# points alone fails (ARI vs truth < 0.5) where spectral succeeds (>= 0.99); both ARIs printed.
# Independent cases (tests/lib.sh). Needs build/tests/spectral_check (make test-bin) and Debian python3-sklearn.
source "$(dirname "$0")/../lib.sh"
BIN=build/tests/spectral_check

have_deps() {
    if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then ok "$CASE_NAME # SKIP python3-sklearn not installed"; exit 0; fi
    [ -x "$BIN" ] || { nok "$CASE_NAME: $BIN missing (HINT: make test-bin)"; exit 1; }
}

case_rings_vs_sklearn() { have_deps; /usr/bin/python3 tests/reference/spectral_sklearn.py "$BIN" "$CASE_DIR" --kind rings --n 1200; }
case_moons_vs_sklearn() { have_deps; /usr/bin/python3 tests/reference/spectral_sklearn.py "$BIN" "$CASE_DIR" --kind moons --n 1000; }
# The dense ScaLAPACK path gives the same labels on the moons.
case_moons_dense_vs_sklearn() {
    have_deps; /usr/bin/python3 tests/reference/spectral_sklearn.py "$BIN" "$CASE_DIR" --kind moons --n 600 --solver dense
}

run_cases "$@"
