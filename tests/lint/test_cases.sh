#!/usr/bin/env bash
# Self-test of the case framework in tests/lib.sh: a demo test file with cases and fixtures is run alone, by
# name, listed, and in full; each check fails if the framework loses that property (a case alone builds its
# fixture, --list, unknown names refused, a failing case does not stop the others, fixtures built once and
# read-only, a broken fixture reported with its log, no state leaking between cases).
source "$(dirname "$0")/../lib.sh"

demo() {  # writes the demo test file into $CASE_DIR and sets DEMO; BUILDS counts fixture builds
    DEMO=$CASE_DIR/demo.sh; export BUILDS=$CASE_DIR/builds; : >"$BUILDS"
    cat >"$DEMO" <<DEMO_EOF
unset PGRPO_FIXTURES    # a per-run cache: the build counts below start from nothing
source $PWD/tests/lib.sh
fixture_thing()  { echo "thing \$2" >>"\$BUILDS"; echo "\$2" >"\$1/value"; }
fixture_outer()  { need thing inner || return 1; cp "\$FIX/value" "\$1/value"; }
fixture_broken() { echo "the broken fixture's log line"; return 3; }
case_first()          { ok first_a; ok first_b; }
case_uses_fix()       { need thing hello; check fix_value grep -qx hello "\$FIX/value"; }
case_uses_fix_again() { need thing hello; check fix_again grep -qx hello "\$FIX/value"; }
case_nested_fix()     { need outer; check nested grep -qx inner "\$FIX/value"; }
case_fails()          { false; }
case_after_fail()     { ok after_fail; }
case_ok_then_exit()   { ok partial; return 4; }
case_broken_fix()     { need broken; ok never_here; }
case_set_var()        { LEAKED=1; cd /; touch "\$CASE_DIR/mine"; }
case_no_leak()        { [ -z "\${LEAKED:-}" ] && [ -f tests/lib.sh ] && [ -z "\$(ls -A "\$CASE_DIR")" ]; }
case_copies()         { need thing hello; copy_fix out; echo changed >"\$OUT/value"; }
case_mutates()        { need thing hello; echo changed >"\$FIX/value"; }
case_after_mutate()   { need thing hello; check rebuilt_after_mutation grep -qx hello "\$FIX/value"; }
run_cases "\$@"
DEMO_EOF
}

case_list() {
    demo
    local want="first uses_fix uses_fix_again nested_fix fails after_fail ok_then_exit broken_fix set_var no_leak copies mutates after_mutate"
    check list_in_file_order test "$(bash "$DEMO" --list | tr '\n' ' ')" = "$want "
}

case_one_case_alone() {
    demo
    local out rc
    out=$(bash "$DEMO" uses_fix_again 2>&1); rc=$?
    check alone_passes test "$rc" = 0
    check alone_builds_its_fixture test "$(cat "$BUILDS")" = "thing hello"
    check alone_runs_only_it test "$(grep -E '^(not )?ok - ' <<<"$out")" = "ok - fix_again"
    out=$(bash "$DEMO" case_first nested_fix 2>&1); rc=$?
    check two_named_cases test "$rc $(grep -cE '^ok - ' <<<"$out")" = "0 3"
}

case_unknown_name() {
    demo
    local out rc
    out=$(bash "$DEMO" first nosuch 2>&1); rc=$?
    check unknown_name_exit_2 test "$rc" = 2
    check unknown_name_named grep -q "no case 'nosuch'" <<<"$out"
    check unknown_name_runs_nothing test "$(grep -cE '^(not )?ok - ' <<<"$out")" = 0
}

case_full_run() {
    demo
    local out rc
    out=$(bash "$DEMO" 2>&1); rc=$?
    check full_run_fails test "$rc" = 1
    check failing_case_reported grep -q '^not ok - fails$' <<<"$out"
    check later_cases_still_run grep -q '^ok - after_fail$' <<<"$out"
    check nonzero_exit_after_ok grep -q '^not ok - ok_then_exit exited with status 4' <<<"$out"
    check fixture_built_once_and_after_mutation test "$(sort "$BUILDS" | tr '\n' ,)" = "thing hello,thing hello,thing inner,"
    check broken_fixture_one_line test "$(grep -c '^not ok - broken_fix: fixture broken' <<<"$out")" = 1
    check broken_fixture_log_shown grep -q "the broken fixture's log line" <<<"$out"
    check broken_fixture_stops_case test "$(grep -c never_here <<<"$out")" = 0
    check no_state_between_cases grep -q '^ok - no_leak$' <<<"$out"
    check copy_of_fixture_allowed grep -q '^ok - copies$' <<<"$out"
    check mutated_fixture_caught grep -q '^not ok - mutates: modified fixture' <<<"$out"
    check rebuilt_after_mutation grep -q '^ok - rebuilt_after_mutation$' <<<"$out"
    check passing_cases_count test "$(grep -cE '^ok - ' <<<"$out")" = 11
}

run_cases "$@"
