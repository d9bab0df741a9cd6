#!/usr/bin/env bash
# test_study.sh — jobs/study.sh over a study grid (inputs/study/micro.grid: 2 cells on tiny.deck, seconds each):
# both cells done with a correct cell.json and one shared SFT base; one cell rerun with --cells (into a fresh
# folder, base included, and in place with --force) is bit-identical (metrics but timings, trajectories, final
# weights, eval.h5); done cells are skipped; --list/--count; a failing cell is recorded as failed while the next
# one still runs; bad grids and --cells refused with one line naming the grid file, line and key (exit 2).
# Independent cases (tests/lib.sh): `bash tests/mpi/test_study.sh --list`.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
GRID=inputs/study/micro.grid
export PGRPO    # jobs/study.sh: use this binary, no install/build step
C0=personas-grpo-truth-G4-lr1e-3-s1-eval
C1=personas-pgrpo-truth-G4-lr1e-3-s1-eval

# same_cell A B: two cell folders hold bit-identical results (every dataset of metrics.h5 but the timings,
# trajectories.h5, final.h5, eval.h5).
same_cell() {
    "$PY" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = sys.argv[1:3]
bad, n = [], 0
for fn in ("metrics.h5", "trajectories.h5", "final.h5", "eval.h5"):
    with h5py.File(f"{a}/{fn}", "r") as fa, h5py.File(f"{b}/{fn}", "r") as fb:
        na, nb = [], []
        fa.visititems(lambda k, o: na.append(k) if isinstance(o, h5py.Dataset) else None)
        fb.visititems(lambda k, o: nb.append(k) if isinstance(o, h5py.Dataset) else None)
        if sorted(na) != sorted(nb):
            bad.append(f"{fn}: dataset lists differ")
            continue
        for k in na:
            if "/time/" in "/" + k or "tokens_per_s" in k:
                continue
            x, y = np.asarray(fa[k][()]), np.asarray(fb[k][()])
            n += 1
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                bad.append(f"{fn}:{k}")
print(f"# {n} datasets compared, {len(bad)} differ {bad[:4]}")
sys.exit(1 if bad or n < 20 else 0)
PY
}
# field DIR KEY: one value of DIR/cell.json
field() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/cell.json" "$2"; }
# h5sums DIR: name, size and mtime of every .h5 under DIR (to see that a run left files alone)
h5sums() { find "$1" -name '*.h5' -printf '%P %s %T@\n' | sort; }

fixture_micro() {   # the micro grid, both cells, 2 ranks: $1/study
    bash jobs/study.sh "$GRID" --out "$1/study"
}

case_cells_done() {
    need micro
    check study_sh_reports_both grep -q 'study.sh: 2 cells listed' "$FIX.log"
    "$PY" - "$FIX/study" "$C0" "$C1" <<'PY' && ok cell_json_fields_and_outputs || nok cell_json_fields_and_outputs
import json, os, sys
out, ids = sys.argv[1], sys.argv[2:]
want = [dict(index=0, estimator="grpo"), dict(index=1, estimator="pgrpo")]
bad = []
for cid, w in zip(ids, want):
    d = f"{out}/cells/{cid}"
    j = json.load(open(f"{d}/cell.json"))
    exp = dict(w, id=cid, task="personas", groups="truth", G=4, lr=0.001, seed=1, split="eval", status="done",
               rc_sft=0, rc_train=0, rc_eval=0, np=2, attempts=1)
    bad += [f"{cid}: {k}={j.get(k)!r} want {v!r}" for k, v in exp.items() if j.get(k) != v]
    if not str(j.get("sft_base")).endswith("/study/bases/personas-s1/sft_base.h5"):   # (built in FIX.tmp)
        bad.append(f"{cid}: sft_base {j.get('sft_base')}")
    bad += [f"{cid}: no {f}" for f in ("metrics.h5", "trajectories.h5", "final.h5", "eval.h5", "eval.txt")
            if not os.path.isfile(f"{d}/{f}")]
    if not (isinstance(j.get("seconds"), float) and j["seconds"] > 0):
        bad.append(f"{cid}: seconds {j.get('seconds')}")
    if "train.lr=1e-3" not in j["cmd"] or "--resume" not in j["cmd"]:
        bad.append(f"{cid}: cmd {j['cmd']}")
bases = os.listdir(f"{out}/bases")
if sorted(b for b in bases if not b.endswith(".lock")) != ["personas-s1"]:
    bad.append(f"bases: {bases} (want one shared base)")
for b in bad:
    print("#", b)
sys.exit(1 if bad else 0)
PY
    check pgrpo_sets_history_cumulative grep -q 'pgrpo.history=cumulative' "$FIX/study/cells/$C1/cell.json"
}

case_rerun_cell_bit_identical() {
    need micro
    local t0=$SECONDS
    bash jobs/study.sh "$GRID" --out "$CASE_DIR/fresh" --cells 1 >"$CASE_DIR/fresh.log" 2>&1
    check fresh_rerun_exit_0 test $? = 0
    check fresh_rerun_only_cell_1 test ! -e "$CASE_DIR/fresh/cells/$C0"
    check fresh_rerun_bit_identical same_cell "$FIX/study/cells/$C1" "$CASE_DIR/fresh/cells/$C1"
    copy_fix out
    local before; before=$(h5sums "$OUT/study/cells/$C0")
    bash jobs/study.sh "$GRID" --out "$OUT/study" --cells 1 --force >"$CASE_DIR/force.log" 2>&1
    check force_rerun_exit_0 test $? = 0
    check force_rerun_ran_again grep -q "cell 1 $C1: attempt 1" "$CASE_DIR/force.log"
    check force_rerun_bit_identical same_cell "$FIX/study/cells/$C1" "$OUT/study/cells/$C1"
    check force_rerun_left_cell_0_alone test "$before" = "$(h5sums "$OUT/study/cells/$C0")"
    echo "# two reruns in $((SECONDS - t0)) s"
}

case_done_cells_skipped() {
    need micro; copy_fix out
    local before; before=$(h5sums "$OUT")
    bash jobs/study.sh "$GRID" --out "$OUT/study" >"$CASE_DIR/log" 2>&1
    check rerun_exit_0 test $? = 0
    check both_skipped test "$(grep -c 'already done, skipped' "$CASE_DIR/log")" = 2
    check no_file_touched test "$before" = "$(h5sums "$OUT")"
}

case_list_and_count() {
    need micro
    check count_is_2 test "$(bash jobs/study.sh "$GRID" --count)" = 2
    local l
    l=$(bash jobs/study.sh "$GRID" --list --out "$FIX/study" | tr -s ' ')
    check list_done test "$l" = " 0 $C0 done
 1 $C1 done"
    l=$(bash jobs/study.sh "$GRID" --list --out "$CASE_DIR/none" | awk '{print $1, $3}' | tr '\n' ,)
    check list_todo test "$l" = "0 todo,1 todo,"
    check list_wrote_nothing test ! -e "$CASE_DIR/none"
}

# refused NAME WHAT CMD...: CMD exits 2 with exactly one stderr line containing WHAT, and runs nothing.
refused() {
    local name=$1 what=$2 rc; shift 2
    "$@" >"$CASE_DIR/$name.out" 2>"$CASE_DIR/$name.err"; rc=$?
    if [ $rc = 2 ] && [ "$(wc -l <"$CASE_DIR/$name.err")" = 1 ] && grep -qF -- "$what" "$CASE_DIR/$name.err" \
       && [ ! -e "$CASE_DIR/out" ]; then
        ok "$name # $(cut -c1-150 "$CASE_DIR/$name.err")"
    else
        nok "$name" "exit $rc (want 2), want one line with: $what" "$(head -3 "$CASE_DIR/$name.err")"
    fi
}

case_bad_grid_refused() {
    local g=$CASE_DIR/bad.grid
    bad() { grep -v "^$1" "$GRID" >"$g"; printf '%s\n' "$2" >>"$g"; }   # micro.grid with line $1 replaced by $2
    bad estimator 'estimater = grpo pgrpo'
    refused unknown_key "bad.grid:13: unknown key 'estimater'" bash jobs/study.sh "$g" --out "$CASE_DIR/out"
    check unknown_key_hint grep -q "did you mean 'estimator'" "$CASE_DIR/unknown_key.err"
    bad 'G =' 'G ='
    refused empty_values "bad.grid:13: key 'G' has no values" bash jobs/study.sh "$g" --out "$CASE_DIR/out"
    bad deck 'deck = inputs/no_such.deck'
    refused missing_deck "bad.grid:13: deck = inputs/no_such.deck: no such file" bash jobs/study.sh "$g" --count
    bad estimator 'estimator = grpo ppo'
    refused bad_value "bad.grid:13: estimator = ppo: not one of" bash jobs/study.sh "$g" --list
    bad seed 'seed = 1 2 1'
    refused repeated_value "bad.grid:13: key 'seed' lists a value twice" bash jobs/study.sh "$g" --count
    bad steps 'set = train.lr=1e-2'
    refused set_of_grid_key "train.lr is set by the grid key lr" bash jobs/study.sh "$g" --count
    bad steps 'task = recsys'
    refused key_twice "bad.grid:13: key 'task' given twice (first on line 7)" bash jobs/study.sh "$g" --count
    refused missing_grid "no_such.grid: cannot read the grid" bash jobs/study.sh "$CASE_DIR/no_such.grid" --count
    refused cells_out_of_range "--cells 2: '2' is outside the 2 cells" \
        bash jobs/study.sh "$GRID" --cells 2 --out "$CASE_DIR/out"
    refused cells_syntax "--cells 0,x: 'x' is not N or N-M" bash jobs/study.sh "$GRID" --cells 0,x --out "$CASE_DIR/out"
}

# USR1 to the cell runner mid-training (as Slurm's --signal would): it reaches pgrpo through mpirun, pgrpo
# checkpoints and exits 75, study.sh stops with 75 and the cell stays "running"; the same command again resumes it
# to the same bits as the uninterrupted cell. The ranks are held (SIGSTOP by pid) after the first checkpoint until
# the signal is pending on each, so that it lands mid-training on steps of a few ms.
case_stopped_cell_resumes() {
    need micro
    local out=$CASE_DIR/study cell=$CASE_DIR/study/cells/$C1 p runner="" rc
    bash jobs/study.sh "$GRID" --out "$out" --cells 1 >"$CASE_DIR/log1" 2>&1 &
    local bg=$!
    hold_ranks "$cell" 2
    for p in $(pgrep -f "study_cell.py .*--out $out"); do [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$bg" ] && runner=$p; done
    if [ -z "$HELD" ] || [ -z "$runner" ] || [ -e "$cell/final.h5" ]; then
        nok stop_mid_training "ranks '$HELD' runner '$runner'"
        [ -z "$HELD" ] || kill -CONT $HELD; wait $bg; cat "$CASE_DIR/log1"; return 1
    fi
    kill -USR1 "$runner"
    usr1_pending; rc=$?
    kill -CONT $HELD
    check usr1_reached_every_rank test "$rc" = 0
    wait $bg; rc=$?
    check study_sh_exit_75 test "$rc" = 75
    check cell_left_running test "$(field "$cell" status) $(field "$cell" rc_train)" = "running 75"
    bash jobs/study.sh "$GRID" --out "$out" --cells 1 >"$CASE_DIR/log2" 2>&1
    check rerun_exit_0 test $? = 0
    check resumed_mid_training grep -qE 'train: resumed from .*ckpt_.* at step [1-5]$' "$cell/train.log"
    check done_second_attempt test "$(field "$cell" status) $(field "$cell" attempts)" = "done 2"
    check resumed_bit_identical same_cell "$FIX/study/cells/$C1" "$cell"
}

case_failed_cell_recorded() {
    # block [bad]: a deck value pgrpo train refuses (exit 2); block [good]: a normal cell after it
    { grep -v '^estimator' "$GRID"; printf '[bad]\nestimator = grpo\nset = train.eps_low=5\n[good]\nestimator = pgrpo\n'; } \
        >"$CASE_DIR/fail.grid"
    bash jobs/study.sh "$CASE_DIR/fail.grid" --out "$CASE_DIR/out" >"$CASE_DIR/log" 2>&1
    check study_exit_1 test $? = 1
    check failed_cell_listed grep -q 'failed cells: 0 ' "$CASE_DIR/log"
    local d=$CASE_DIR/out/cells
    check failed_status test "$(field "$d/$C0" status) $(field "$d/$C0" rc_train)" = "failed 2"
    check next_cell_done test "$(field "$d/$C1" status)" = "done"
    check list_shows_failed test "$(bash jobs/study.sh "$CASE_DIR/fail.grid" --list --out "$CASE_DIR/out" |
                                     awk '{print $3}' | tr '\n' ,)" = "failed,done,"
}

run_cases "$@"
