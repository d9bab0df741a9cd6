#!/usr/bin/env bash
# Preference-group math against scikit-learn (Debian python3-sklearn): ARI/NMI to 1e-12 and k-means labels
# (tests/reference/test_cluster_metrics_sklearn.py through build/tests/cluster_metrics_cli, built by make test-bin).
source "$(dirname "$0")/../lib.sh"
if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then echo "ok - groups_sklearn # SKIP python3-sklearn not installed"; exit 0; fi
if [ ! -x build/tests/cluster_metrics_cli ]; then echo "not ok - build/tests/cluster_metrics_cli missing (HINT: make test-bin)"; exit 1; fi
/usr/bin/python3 tests/reference/test_cluster_metrics_sklearn.py build/tests/cluster_metrics_cli
