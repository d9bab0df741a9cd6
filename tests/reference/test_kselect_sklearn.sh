#!/usr/bin/env bash
# K-selection criteria (kselect.h) against scikit-learn 1.2 / numpy (Debian python3-sklearn): silhouette_score to
# 1e-12, the BIC formula and its argmax, the ratio eigengap, the row sample
# (tests/reference/test_kselect_sklearn.py through build/tests/kselect_cli, built by make test-bin).
source "$(dirname "$0")/../lib.sh"
CLI=build/tests/kselect_cli
py() { /usr/bin/python3 tests/reference/test_kselect_sklearn.py "$CLI" "$1"; }
if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then echo "ok - kselect_sklearn # SKIP python3-sklearn not installed"; exit 0; fi
if [ ! -x "$CLI" ]; then echo "not ok - $CLI missing (HINT: make test-bin)"; exit 1; fi

case_silhouette() { py silhouette; }
case_bic()        { py bic; }
case_eigengap()   { py eigengap; }
case_sample()     { py sample; }
case_cli_usage()  {
    local rc
    $CLI nosuch 2>"$CASE_DIR/err"; rc=$?
    check cli_bad_mode_exit_2 test "$rc" = 2
    check cli_bad_mode_one_line test "$(wc -l <"$CASE_DIR/err")" = 1
}

run_cases "$@"
