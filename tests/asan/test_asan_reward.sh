#!/usr/bin/env bash
# The reward plugin and reward process paths of the pgrpo binary under AddressSanitizer + UBSan
# (build/asan/pgrpo; options and their reasons: tests/asan/test_asan_binary.sh): training on 2 ranks with the example
# plugin and the example process, eval with the plugin, and the failure paths (a NaN from the plugin, a process that
# hangs past reward.timeout), each with its exit code and no sanitizer report.
source "$(dirname "$0")/../lib.sh"
A=$PWD/build/asan/pgrpo
D=$SCRATCH
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
[ -x "$A" ] || { nok asan_binary_built "missing $A: run make test-bin"; exit 1; }
[ -f build/plugins/reward_example.so ] && [ -f build/plugins/reward_bad.so ] || make -s plugins >/dev/null
amp() { local n=$1; shift; mpirun -np "$n" -x OPENBLAS_NUM_THREADS -x ASAN_OPTIONS -x UBSAN_OPTIONS -x REWARD_BAD "$@"; }
BASE=$D/base/sft_base.h5
"$PGRPO" sft $TINY --set run.out_dir=$D/base --set sft.steps=6 --quiet >/dev/null 2>&1
TR=(train $TINY --set train.base=$BASE --set train.prompts=4 --set train.group_size=4 --set checkpoint.every=1 --quiet)
PY="/usr/bin/python3 $PWD/inputs/plugins/reward_example.py"

case_() {   # NAME WANT_RC CMD...: the exit code is WANT_RC and no sanitizer report appeared
    local name=$1 want=$2; shift 2
    local log=$D/$name.log rc rep
    "$@" >"$log" 2>&1; rc=$?
    rep=$(grep -m1 -nE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log")
    if [ "$rc" -eq "$want" ] && [ -z "$rep" ]; then ok "asan_$name"; return 0; fi
    nok "asan_$name" "exit $rc (want $want)${rep:+; sanitizer: $rep}" "$(grep -m2 'error' "$log" | cut -c1-300)"
}
export REWARD_BAD=
case_ plugin_train 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/p --set train.steps=3 --set reward.plugin=build/plugins/reward_example.so
case_ plugin_eval 0 amp 2 "$A" eval $TINY --set run.out_dir=$D/p --set reward.plugin=build/plugins/reward_example.so --quiet
case_ process_train 0 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/q --set train.steps=3 --set reward.command="$PY" --set reward.batch=5
REWARD_BAD=nan@1 case_ plugin_nan 3 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/n --set train.steps=3 --set reward.plugin=build/plugins/reward_bad.so
REWARD_BAD=hang@1 case_ process_hang 3 amp 2 "$A" "${TR[@]}" --set run.out_dir=$D/h --set train.steps=3 \
    --set reward.command="/usr/bin/python3 $PWD/tests/plugins/reward_bad.py" --set reward.timeout=2
check asan_plugin_nan_message grep -q "reward plugin 'build/plugins/reward_bad.so' gave reward nan for item 1" $D/plugin_nan.log
check asan_process_hang_message grep -q "within reward.timeout = 2 s" $D/process_hang.log
