#!/usr/bin/env bash
# CLI and deck behaviour: help/version, every user error gives one line naming file:line/key/value + exit 2.
# Independent cases (tests/lib.sh), each in its own folder $CASE_DIR; `bash tests/cli/test_cli.sh --list`.
source "$(dirname "$0")/../lib.sh"
# expect_err NAME EXPECTED_RC REGEX -- command...
expect_err() {
    local name=$1 want=$2 re=$3; shift 4
    local out rc
    out=$("$@" 2>&1 >/dev/null); rc=$?
    local lines; lines=$(printf '%s\n' "$out" | grep -c 'pgrpo: error' || true)
    if [ "$rc" -eq "$want" ] && printf '%s' "$out" | grep -qE "$re" && [ "$lines" -ge 1 ]; then ok "$name"
    else nok "$name" "rc=$rc (want $want)" "stderr: $(printf '%s' "$out" | head -3)"; fi
}
case_help()      { "$PGRPO" --help | grep -q "usage: pgrpo" && ok help || nok help; }
case_version()   { "$PGRPO" --version | grep -qE '^pgrpo [0-9]+\.[0-9]+\.[0-9]+$' && ok version || nok version; }
case_help_deck() { "$PGRPO" --help-deck | grep -q "^pgrpo.history" && ok help_deck || nok help_deck; }

case_unknown_key_suggests() {
    local D=$CASE_DIR; printf '[model]\nn_layers = 3\n' > $D/typo.deck
    expect_err unknown_key_suggests 2 "typo.deck:2: unknown key 'model.n_layers'.*did you mean 'model.n_layer'" -- "$PGRPO" sft $D/typo.deck
}
case_bad_value_names_range() {
    local D=$CASE_DIR; printf '[model]\nd_model = lots\n' > $D/bad.deck
    expect_err bad_value_names_range 2 "bad.deck:2: model.d_model = 'lots' is not valid; expected an integer in \[8, 8192\]" -- "$PGRPO" sft $D/bad.deck
}
case_bad_enum_lists_choices() { expect_err bad_enum_lists_choices 2 "train.advantage = 'ppo' is not valid; expected one of grpo\|drgrpo\|pgrpo" -- "$PGRPO" train $TINY --set train.advantage=ppo; }
case_missing_deck()      { expect_err missing_deck 2 "cannot open deck '$CASE_DIR/none.deck'" -- "$PGRPO" train $CASE_DIR/none.deck; }
case_unknown_command()   { expect_err unknown_command 2 "unknown command 'trian'" -- "$PGRPO" trian; }
case_unknown_option()    { expect_err unknown_option 2 "unknown option '--fast'" -- "$PGRPO" train $TINY --fast; }
case_set_without_eq()    { expect_err set_without_eq 2 "missing '='" -- "$PGRPO" train $TINY --set train.steps; }
case_key_before_section() {
    local D=$CASE_DIR; printf 'steps = 3\n' > $D/nosect.deck
    expect_err key_before_section 2 "nosect.deck:1: key 'steps' appears before any \[section\]" -- "$PGRPO" sft $D/nosect.deck
}
case_head_mismatch() { expect_err head_mismatch 2 "model.d_model = 30.*multiple of n_head|d_model" -- "$PGRPO" sft $TINY --set model.d_model=30 --set model.n_head=4; }
case_rollout_ranks_ge_world() {
    expect_err rollout_ranks_ge_world 2 "train.rollout_ranks = 1: 1 rollout ranks need more than 1 MPI ranks" -- "$PGRPO" train $TINY --set run.out_dir=$CASE_DIR/r --set train.rollout_ranks=1
}
case_grpo_needs_g2() {
    expect_err grpo_needs_g2 2 "train.group_size = 1.*grpo normalises over the G completions" -- "$PGRPO" train $TINY --set run.out_dir=$CASE_DIR/r --set train.group_size=1 --set train.advantage=grpo
}
case_async_needs_rollout() {
    expect_err async_needs_rollout 2 "train.async = true.*rollout-only ranks" -- "$PGRPO" train $TINY --set run.out_dir=$CASE_DIR/r --set train.async=true
}
case_missing_base() {
    local D=$CASE_DIR
    expect_err missing_base 2 "train.base = $D/nope.h5.*cannot read" -- "$PGRPO" train $TINY --set run.out_dir=$D/r --set train.base=$D/nope.h5
}
case_bad_shares() { expect_err bad_shares 2 "task.shares" -- "$PGRPO" sft $TINY --set run.out_dir=$CASE_DIR/r --set task.shares=0.5,0.1; }
case_inspect_not_hdf5() {
    local D=$CASE_DIR; echo "not hdf5" > $D/junk.h5
    expect_err inspect_not_hdf5 3 "junk.h5" -- "$PGRPO" inspect $D/junk.h5
}
case_eval_missing_policy() { expect_err eval_missing_policy 2 "final.h5" -- "$PGRPO" eval $TINY --set run.out_dir=$CASE_DIR/empty; }
# --set overrides the file and the resolved deck is echoed, then stored in the HDF5 output.
case_deck_echoed_and_stored() {
    local D=$CASE_DIR out
    out=$("$PGRPO" sft $TINY --set run.out_dir=$D/s --set sft.steps=2 --set sft.batch=4 2>&1)
    if printf '%s' "$out" | grep -q '^steps = 2$' && h5dump -a /deck $D/s/sft_base.h5 | grep -q 'steps = 2'; then ok deck_echoed_and_stored
    else nok deck_echoed_and_stored "$(printf '%s' "$out" | tail -3)"; fi
}
# No half-written file is left where a later run would trust it: the output folder is a regular file.
case_unwritable_out_dir() {
    local D=$CASE_DIR
    touch $D/file_not_dir
    expect_err unwritable_out_dir 2 "run.out_dir" -- "$PGRPO" sft $TINY --set run.out_dir=$D/file_not_dir/x --set sft.steps=1
    [ "$(find $D -name '*.tmp.*' | wc -l)" -eq 0 ] && ok no_temp_file_left || nok no_temp_file_left "$(find $D -name '*.tmp.*')"
}
# make install puts the binary, job scripts, decks and post-processing under PREFIX.
case_make_install() {
    local D=$CASE_DIR
    if make -s install PREFIX=$D/inst >/dev/null 2>&1 && [ "$($D/inst/bin/pgrpo --version)" = "$($PGRPO --version)" ] &&
       [ -f $D/inst/share/pgrpo/jobs/train.sbatch ] && [ -f $D/inst/share/pgrpo/inputs/demo.deck ] &&
       [ -x $D/inst/share/pgrpo/postproc/report.py ]; then ok make_install; else nok make_install; fi
}
# The hang backstop: a step longer than run.step_timeout ends the run with a clear message and exit 3.
case_step_timeout_aborts() {
    local D=$CASE_DIR out rc
    "$PGRPO" sft $TINY --set run.out_dir=$D/st --set sft.steps=5 --quiet
    out=$("$PGRPO" train $TINY --set run.out_dir=$D/st --set train.prompts=2400 --set train.group_size=16 --set run.step_timeout=1 --quiet 2>&1); rc=$?
    [ $rc -eq 3 ] && echo "$out" | grep -q "exceeded run.step_timeout" && ok step_timeout_aborts || nok step_timeout_aborts "rc=$rc $(echo "$out" | tail -1)"
}
# A policy save under AddressSanitizer: the vocabulary text once overflowed its buffer by one byte.
case_policy_save_clean_under_asan() {
    local out rc
    if [ ! -x build/asan/pgrpo ]; then echo "ok - policy_save_clean_under_asan # SKIP no build/asan/pgrpo (make test-bin)"; return; fi
    out=$(ASAN_OPTIONS=detect_leaks=0 build/asan/pgrpo sft $TINY --set run.out_dir=$CASE_DIR/asan --set sft.steps=1 --quiet 2>&1); rc=$?
    [ $rc -eq 0 ] && ! echo "$out" | grep -qE "AddressSanitizer|runtime error" && ok policy_save_clean_under_asan \
        || nok policy_save_clean_under_asan "rc=$rc" "$(echo "$out" | grep -m1 -E 'ERROR|runtime error')"
}
# eval/sample refuse a file that is neither a policy nor a checkpoint, with one line.
case_eval_refuses_metrics_file() {
    local D=$CASE_DIR
    "$PGRPO" sft $TINY --set run.out_dir=$D/ev --set sft.steps=1 --quiet
    "$PGRPO" train $TINY --set run.out_dir=$D/ev --set train.steps=1 --quiet
    expect_err eval_refuses_metrics_file 2 "metrics.h5" -- "$PGRPO" sample $TINY --set run.out_dir=$D/ev --checkpoint $D/ev/metrics.h5
}

run_cases "$@"
