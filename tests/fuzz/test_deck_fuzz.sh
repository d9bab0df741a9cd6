#!/usr/bin/env bash
# Deck fuzzing: mutants of the shipped decks (byte flips, deleted/duplicated lines, random keys and values, huge
# lines, NUL, BOM, binary, invisible characters, out-of-range numbers, NaN/inf, --set options) through
# build/tests/deck_check (parse + typed config, no training), every 4th also under ASan/UBSan.
# No crash, no hang, one-line refusals naming file:line/--set/key, valid accepted configs (tests/fuzz/deck_fuzz.py).
# PGRPO_FUZZ_N mutants (default 200, < 30 s); PGRPO_FUZZ_SEED picks another sequence.
source "$(dirname "$0")/../lib.sh"
TOOL=${PGRPO_DECK_CHECK:-build/tests/deck_check}   # override to fuzz a copy while rebuilding
[ -x "$TOOL" ] || { nok deck_fuzz_tool "build $TOOL with make test-bin"; exit 1; }
# The ASan variant of the tool, linked here from the ASan library that `make test-bin` builds.
ASAN_TOOL=""
if [ -f build/asan/libpgrpo.a ]; then
    if mpicc -std=c11 -g -Iinclude -fsanitize=address,undefined -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L \
        -o "$SCRATCH/deck_check_asan" tests/tools/deck_check.c build/asan/libpgrpo.a -lm 2>"$SCRATCH/asan_build.log"; then
        ASAN_TOOL=$SCRATCH/deck_check_asan
    else
        echo "# ASan deck_check not built: $(head -2 "$SCRATCH/asan_build.log")"
    fi
fi
t0=$SECONDS
/usr/bin/python3 tests/fuzz/deck_fuzz.py "$TOOL" ${ASAN_TOOL:+--asan "$ASAN_TOOL"} -n "${PGRPO_FUZZ_N:-200}" \
    --seed "${PGRPO_FUZZ_SEED:-1}" --workdir "$SCRATCH" inputs/*.deck tests/decks/tiny.deck
rc=$?
echo "# deck fuzz: $((SECONDS - t0)) s"
exit $rc
