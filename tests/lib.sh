# tests/lib.sh — shared helpers for the script tests (sourced). TAP output: ok/not ok lines.
#
# ---- Writing a script test as independent cases ------------------------------------------------------------
# A test file sources this file, defines cases and fixtures, and ends with `run_cases "$@"`:
#
#     source "$(dirname "$0")/../lib.sh"
#     fixture_base() {            # $1: the folder to fill; $2...: the fixture's arguments (part of its key)
#         mpi 2 $PGRPO sft $TINY --set run.out_dir="$1" --set task.name="$2"
#     }
#     case_sft_runs() {           # one case: its own subshell, its own empty folder $CASE_DIR (cwd: repo root)
#         need base personas      # builds the fixture on first use (or reuses it); sets $FIX to its folder
#         check sft_base_written test -s "$FIX/sft_base.h5"
#     }
#     case_eval() {
#         need base personas; copy_fix out    # a case that writes copies the fixture first ($CASE_DIR/out)
#         mpi 2 $PGRPO eval $TINY --set run.out_dir=$CASE_DIR/out >$CASE_DIR/log 2>&1   # last status = result
#     }
#     run_cases "$@"
#
# Cases: every function named case_NAME, run in the order they appear in the file, each in a subshell (no
#   variable, cd or trap leaks into the next case) with a fresh folder $CASE_DIR. A case prints any number of
#   TAP lines (ok/nok/check). If it prints none, its exit status decides: `ok - NAME` or `not ok - NAME`.
#   If it exits non-zero without a `not ok` line, `not ok - NAME exited with status N` is added. A failing case
#   never stops the others. No case may read another case's output: what several cases need is a fixture.
# Fixtures: a function fixture_KIND that fills the folder given as $1 (arguments $2... select a variant). `need
#   KIND ARGS...` builds it once per script run (on first use, by whichever case runs first, so any case runs
#   alone), caches it under $FIXTURES keyed by KIND, ARGS, the fixture function's text and the size and mtime
#   of bin/pgrpo and tiny.deck, and sets FIX to its folder; its build log (stdout+stderr) is $FIX.log. Call
#   `need` directly in the case, not inside $(...) or a pipe (it sets FIX and may end the case). Fixtures are
#   read-only to cases: a case copies what it changes (`copy_fix DEST` copies $FIX to $CASE_DIR/DEST and sets
#   OUT to it). After each case, every fixture it used is compared with its state when built (each entry's
#   name, size, mode, mtime); a changed fixture fails the case ("modified fixture") and is dropped (rebuilt on
#   next use). A fixture that fails to build fails each case that needs it with one
#   `not ok - CASE: fixture KIND ARGS failed` line and its log's tail, without running the rest of the case (it
#   is not rebuilt within the run). A fixture may `need` another fixture (FIX then points to the inner one
#   until the outer build ends). A fixture never depends on what a case did.
#   PGRPO_FIXTURES=DIR keeps the cache across runs (default: inside this run's $SCRATCH, removed at exit).
# Running: bash tests/x.sh                 all cases, in file order
#          bash tests/x.sh NAME [NAME...]   just these (NAME or case_NAME); an unknown name exits 2
#          bash tests/x.sh --list           the case names, one a line
# Each case's scratch folder is $SCRATCH/cases/NAME; PGRPO_KEEP=1 keeps $SCRATCH for a look after the run.
# Converting a sequential script: each block of checks becomes a case_ function; an output that a later block
#   read (a trained out_dir, a killed run's folder, a reference run) becomes a fixture_ function the cases
#   `need` (copy_fix before changing it); end the file with run_cases "$@". A file that does not call
#   run_cases keeps working as before: the helpers below (ok, nok, check, mpi, bg_mpi, job_*, same_dataset,
#   SCRATCH, PGRPO, TINY) do not depend on the framework. tests/lint/test_cases.sh tests the framework itself.
# ---------------------------------------------------------------------------------------------------------------
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
PGRPO=$PWD/bin/pgrpo
TINY=$PWD/tests/decks/tiny.deck
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pgrpo-test.XXXXXX")
trap 'umount "$SCRATCH"/tmpfs 2>/dev/null; if [ "${PGRPO_KEEP:-0}" = 1 ]; then echo "# kept $SCRATCH"; else rm -rf "$SCRATCH"; fi' EXIT
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "command: $*"; fi; }
mpi() { local n=$1; shift; mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@"; }
# Starts mpirun in the background; `wait $BG_PID` gives its status. job_pid: mpirun's pid; job_ranks: the ranks
# (mpirun's children); job_kill9: kill -9 of mpirun and every rank at once, as a node failure would.
bg_mpi() { local n=$1; shift; setsid -w mpirun -np "$n" -x OPENBLAS_NUM_THREADS "$@" & BG_PID=$!; }
job_pid() {
    case "$(ps -o comm= -p "$BG_PID")" in mpirun|orterun|mpiexec) echo "$BG_PID"; return;; esac
    pgrep -P "$BG_PID" | head -1    # setsid forked: mpirun is its child
}
job_ranks() { local m; m=$(job_pid); [ -n "$m" ] && pgrep -P "$m"; }
job_kill9() { local m; m=$(job_pid); [ -n "$m" ] && kill -9 $m $(pgrep -P "$m") 2>/dev/null; }
# Bit-identity of two HDF5 datasets.
same_dataset() { /usr/bin/python3 tests/h5same.py "$1" "$2" "$3"; }

# ---- case framework (see the comment at the top) ----
FIXTURES=${PGRPO_FIXTURES:-$SCRATCH/fixtures}
CASE_NAME=; CASE_DIR=; FIX=; OUT=; _FIX_BUILDING=0

# The state of a fixture folder for the read-only check after each case: every entry's name, size, mode and
# mtime (ns), which any write, creation, removal or chmod changes. One find: cheap enough to run after each case.
_fix_sum() { find "$1" -printf '%P %s %m %T@\n'; }

# need KIND ARGS...: sets FIX to the built fixture; builds it if absent (under a lock when PGRPO_FIXTURES shares
# the cache between runs). In a case, a failed build ends the case with one not-ok line; inside another
# fixture's build it returns 1 (the outer build fails). Few forks: it runs once per case.
need() {
    local kind=$1; shift
    if ! declare -F "fixture_$kind" >/dev/null; then
        _need_fail "no function fixture_$kind" ""; return 1
    fi
    local key dir fd= args=$* rc failed
    read -r key _ < <({ printf '%s\0' "$kind" "$@"; declare -f "fixture_$kind"
                        stat -c '%n %s %Y' "$PGRPO" "$TINY" 2>/dev/null; } | cksum)
    args=${args//[^A-Za-z0-9_.=-]/_}
    dir=$FIXTURES/$kind${args:+-${args:0:40}}-$key
    failed=$SCRATCH/fixtures-failed/${dir##*/}    # per run: a shared cache never remembers a failure
    [ -d "$FIXTURES" ] || mkdir -p "$FIXTURES"
    if [ -n "${PGRPO_FIXTURES:-}" ]; then exec {fd}>"$dir.lock"; flock "$fd"; fi
    if [ ! -d "$dir" ] && [ ! -e "$failed" ]; then
        rm -rf "$dir.tmp"; mkdir "$dir.tmp"
        local t0=$SECONDS
        ( _FIX_BUILDING=1; cd "${CASES_CWD:-.}" && "fixture_$kind" "$dir.tmp" "$@" ) >"$dir.log" 2>&1; rc=$?
        if [ $rc -eq 0 ]; then
            mv "$dir.tmp" "$dir"; chmod -R a-w "$dir"; _fix_sum "$dir" >"$dir.sum"
            echo "# fixture $kind $* built in $((SECONDS - t0))s: $dir" >&2
        else
            mkdir -p "${failed%/*}"; echo "$rc" >"$failed"
        fi
    fi
    [ -z "$fd" ] || exec {fd}>&-
    if [ -e "$failed" ]; then
        _need_fail "fixture $kind $* failed (status $(<"$failed"), log $dir.log)" "$dir.log"; return 1
    fi
    FIX=$dir
    [ -z "$CASE_DIR" ] || echo "$dir" >>"$CASE_DIR.fixtures"
}
_need_fail() {  # message, log
    if [ "$_FIX_BUILDING" = 1 ] || [ -z "$CASE_NAME" ]; then echo "need: $1" >&2; return 1; fi
    nok "$CASE_NAME: $1"
    [ -z "$2" ] || tail -n 15 "$2" | sed 's/^/#     /'
    exit 1
}
# copy_fix DEST: a writable copy of $FIX at $CASE_DIR/DEST; sets OUT to it.
copy_fix() { OUT=$CASE_DIR/$1; rm -rf "$OUT"; cp -r "$FIX" "$OUT" && chmod -R u+w "$OUT"; }

# The case names of the sourcing file, in file order (the line where each case_ function is defined).
list_cases() {
    local f
    shopt -s extdebug
    for f in $(declare -F | awk '$3 ~ /^case_/ {print $3}'); do declare -F "$f"; done \
        | sort -k2,2n | awk '{sub(/^case_/, "", $1); print $1}'
    shopt -u extdebug
}

# Runs one case in a subshell with its own folder; adds a not-ok line when the case failed without one.
# Returns 1 when the case printed (or got) a not-ok line.
_run_case() {
    local name=$1 dir=$SCRATCH/cases/$1 log=$SCRATCH/cases/$1.tap t0=$SECONDS rc f lines nbad=0 ntap=0 l
    [ ! -e "$dir" ] || rm -rf "$dir" "$dir.fixtures"
    mkdir -p "$dir"
    echo "# case $name"
    ( CASE_NAME=$name; CASE_DIR=$dir; cd "$CASES_CWD" || exit 1; "case_$name" ) | tee "$log"
    rc=${PIPESTATUS[0]}
    mapfile -t lines <"$log"
    for l in "${lines[@]}"; do
        case $l in "ok - "*) ntap=$((ntap + 1));; "not ok - "*) ntap=$((ntap + 1)); nbad=$((nbad + 1));; esac
    done
    if [ -f "$dir.fixtures" ]; then     # the fixtures the case used are unchanged, or dropped (rebuilt on next use)
        mapfile -t lines < <(sort -u "$dir.fixtures")
        for f in "${lines[@]}"; do
            [ "$(_fix_sum "$f")" = "$(<"$f.sum")" ] && continue
            nok "$name: modified fixture $f (copy_fix what you change)"; nbad=$((nbad + 1)); ntap=$((ntap + 1))
            chmod -R u+w "$f"; rm -rf "$f" "$f.sum"
        done
    fi
    if [ $ntap -eq 0 ]; then
        if [ $rc -eq 0 ]; then ok "$name"; else nok "$name" "exited with status $rc"; nbad=1; fi
    elif [ $rc -ne 0 ] && [ $nbad -eq 0 ]; then
        nok "$name exited with status $rc"; nbad=1
    fi
    echo "# case $name: $((SECONDS - t0))s"
    [ $nbad -eq 0 ]
}

# run_cases "$@": the entry point at the end of a test file (see the top). Exit status: 0 when no case
# printed `not ok`, 1 otherwise, 2 for a usage error (an unknown case name).
run_cases() {
    local all sel=() a n bad=0
    all=$(list_cases)
    [ -n "$all" ] || { nok "$(basename "$0"): no case_ functions"; return 1; }
    case "${1:-}" in
        --list) echo "$all"; return 0;;
        -h|--help) echo "usage: bash $0 [--list | CASE...]"; return 0;;
    esac
    for a in "$@"; do
        n=${a#case_}
        if grep -qxF -- "$n" <<<"$all"; then sel+=("$n"); else
            echo "$0: no case '$a' (HINT: bash $0 --list shows the cases)" >&2; bad=1; fi
    done
    [ $bad -eq 0 ] || exit 2
    [ ${#sel[@]} -gt 0 ] || mapfile -t sel <<<"$all"
    CASES_CWD=$PWD; bad=0
    for n in "${sel[@]}"; do _run_case "$n" || bad=1; done
    [ $bad -eq 0 ]
}

# --- holding a study cell's ranks mid-step (tests/mpi/test_study.sh, tests/slurm/test_study_array.sh) ---
# hold_ranks CELL N: waits for the N pgrpo ranks of the cell folder CELL, then until each has installed its signal
# handlers (SigCgt has USR1: pgrpo train then treats a signal as "finish the step, checkpoint, exit 75") and holds
# them (SIGSTOP, by pid); HELD = their pids. The inner loop uses bash builtins only, so the ranks are held well
# before a tiny run's training is over (its steps take a few ms on an idle machine). 1 on timeout.
hold_ranks() {
    local cell=$1 n=$2 t0=$SECONDS p k v ready
    HELD=""
    until [ "$(wc -w <<<"$HELD")" -ge "$n" ]; do
        [ $((SECONDS - t0)) -lt 120 ] || return 1
        HELD=""
        for p in $(pgrep -x pgrpo); do
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "run.out_dir=$cell " && HELD="$HELD $p"
        done
        sleep 0.005
    done
    while [ $((SECONDS - t0)) -lt 120 ]; do
        ready=0
        for p in $HELD; do
            while read -r k v; do
                [ "$k" = SigCgt: ] && [[ $v =~ [2367abef]..$ ]] && ready=$((ready + 1))
            done 2>/dev/null <"/proc/$p/status"
        done
        if [ "$ready" -eq "$n" ]; then kill -STOP $HELD; return 0; fi
    done
    return 1
}
# usr1_pending: USR1 (signal 10, mask 0x200) is pending on every held rank (waits up to 30 s)
usr1_pending() {
    local t0=$SECONDS p pend
    while [ $((SECONDS - t0)) -lt 30 ]; do
        pend=0
        for p in $HELD; do
            awk '/^(SigPnd|ShdPnd):/ {print $2}' "/proc/$p/status" | grep -qE '[2367abef]..$' && pend=$((pend + 1))
        done
        [ "$pend" -eq "$(wc -w <<<"$HELD")" ] && return 0
        sleep 0.1
    done
    return 1
}
