#!/usr/bin/env bash
# postproc/study.py on real and synthetic study cells: study.h5 + study.md + figures from a folder of tiny cells,
# byte-identical regeneration of study.md from study.h5, failed cells listed, the paired bootstrap CI and the
# learning-rate choice on a synthetic study.h5 with known answers, and one-line errors for bad input.
# Independent cases (tests/lib.sh); the tiny cells are a fixture (2 SFT bases, 7 trained+evaluated cells, 1 failed).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
STUDY="$PY postproc/study.py"
S="--quiet"

# One cell in $1/cells/<id>/ as jobs/study.sh lays it out (PLAN: cell folder and cell.json contract).
# Args: out index estimator groups G lr seed split status
make_cell() {
    local out=$1 i=$2 est=$3 grp=$4 G=$5 lr=$6 seed=$7 split=$8 status=$9
    local id=personas-$est-$grp-G$G-lr$lr-s$seed-$split d base=$out/bases/personas-s$seed/sft_base.h5
    d=$out/cells/$id; mkdir -p "$d"
    local adv=$est set=()
    [ "$est" = pgrpo_ema ] && { adv=pgrpo; set=(--set pgrpo.history=ema); }
    # the tune split is another world, as jobs/study_cell.py makes it (its user ids mean other users)
    [ "$split" = tune ] && set+=(--set task.seed=1001)
    local T=(tests/decks/tiny.deck --set run.out_dir=$d --set run.seed=$seed --set train.base=$base
             --set train.advantage=$adv --set train.groups=$grp --set train.group_size=$G --set train.lr=$lr
             --set train.steps=4 "${set[@]}" $S)
    local rc_t=0 rc_e=0
    if [ "$status" = done ]; then
        mpi 2 $PGRPO train "${T[@]}" || rc_t=$?
        mpi 2 $PGRPO eval "${T[@]}" >"$d/eval.txt" || rc_e=$?
        [ $rc_t -eq 0 ] && [ $rc_e -eq 0 ] || return 1
    else
        rc_t=137
    fi
    printf '{"index": %d, "id": "%s", "task": "personas", "estimator": "%s", "groups": "%s", "G": %d, "lr": %s, "seed": %d, "split": "%s", "sft_base": "%s", "status": "%s", "rc_train": %d, "rc_eval": %d, "seconds": 1.5, "cmd": ["pgrpo", "train"]}\n' \
        "$i" "$id" "$est" "$grp" "$G" "$lr" "$seed" "$split" "$base" "$status" $rc_t $rc_e >"$d/cell.json"
}
fixture_cells() {
    local seed
    for seed in 1 2 3; do
        mpi 2 $PGRPO sft $TINY --set run.out_dir="$1/bases/personas-s$seed" --set run.seed=$seed $S || return 1
    done
    make_cell "$1" 0 grpo truth 4 0.005 3 tune done && make_cell "$1" 1 pgrpo truth 4 0.005 3 tune done &&
    make_cell "$1" 2 grpo truth 4 0.005 1 eval done && make_cell "$1" 3 grpo truth 4 0.005 2 eval done &&
    make_cell "$1" 4 pgrpo truth 4 0.005 1 eval done && make_cell "$1" 5 pgrpo truth 4 0.005 2 eval done &&
    make_cell "$1" 6 pgrpo random 4 0.005 1 eval done && make_cell "$1" 7 pgrpo truth 4 0.005 9 eval failed
}

# Section $2 of study.md $1 (from its "## $2" line to the next "## ").
md_section() { awk -v h="## $2" '$0 == h {on = 1; print; next} /^## / {on = 0} on' "$1"; }

case_collect_writes_outputs() {
    need cells
    $STUDY $FIX/cells --out $CASE_DIR/s >$CASE_DIR/log 2>&1 || { nok collect_runs "$(tail -3 $CASE_DIR/log)"; return; }
    ok collect_runs
    check study_h5_written test -s $CASE_DIR/s/study.h5
    check study_md_written test -s $CASE_DIR/s/study.md
    check curves_png_written test -s $CASE_DIR/s/curves_personas_G4.png
    check paired_png_written test -s $CASE_DIR/s/paired_personas.png
    check ties_png_written test -s $CASE_DIR/s/ties_personas.png
    local sec
    for sec in "Grid and compute" "Failed or missing cells" "Learning rates" "Held-out reward (eval split, chosen lr)" \
               "Paired differences against GRPO (true groups)" "Convergence speed" \
               "Ties and advantage scale per group" "Groups used: ARI against the true groups" "Figures" "Notes" "Headline: P-GRPO − GRPO"; do
        check "md_has_section_${sec// /_}" grep -qxF "## $sec" $CASE_DIR/s/study.md
    done
    # study.h5: one group per cell with curves, the eval table and the per-group trajectory summary; no trajectories.
    $PY - $CASE_DIR/s/study.h5 <<'EOF' && ok study_h5_layout || nok study_h5_layout
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["schema"] == "pgrpo/study", f.attrs["schema"]
ids = [x.decode() for x in f["cells/id"][...]]
assert ids == sorted(ids) and len(ids) == 8, ids
for name in ("cells/cell_json", "cells/problem", "cells/ari", "curves/length", "curves/reward", "eval/per_group",
             "eval/heldout_nll", "traj/tied_frac"):
    assert f[name].shape[0] == 8, name
i = ids.index("personas-pgrpo-truth-G4-lr0.005-s1-eval")
assert json.loads(f["cells/cell_json"][i])["seed"] == 1
assert f["curves/length"][i] == 4 and np.isfinite(f["curves/reward"][i, :4]).all() and f["curves/step"][i, 3] == 3
assert f["eval/rows"][i] == 8 and f["eval/per_group"].shape[2] == 8 and np.isfinite(f["eval/heldout_nll"][i])
assert f["eval/per_group"].attrs["columns"] == "prompts,reward_sampled,reward_greedy,oracle,normalized,length,distinct1,distinct2"
ng = f["traj/groups"][i]
assert ng > 0 and f["traj/prompts"][i, :ng].sum() == 4 * 8   # 4 steps x 8 prompts
tf = f["traj/tied_frac"][i, :ng]
assert np.all((tf >= 0) & (tf <= 1) | np.isnan(tf))
assert "reward" not in f["traj"] and "completion_tokens" not in f["traj"]
j = ids.index("personas-pgrpo-truth-G4-lr0.005-s9-eval")
assert f["cells/problem"][j] == b"status failed" and f["curves/length"][j] == 0 and f["eval/rows"][j] == 0
r = ids.index("personas-pgrpo-random-G4-lr0.005-s1-eval")
assert f["cells/ari_source"][r].decode().startswith("trajectories") and abs(f["cells/ari"][r]) < 0.5, f["cells/ari"][r]
t = ids.index("personas-grpo-truth-G4-lr0.005-s1-eval")
assert abs(f["cells/ari"][t] - 1.0) < 1e-12, f["cells/ari"][t]
u = ids.index("personas-pgrpo-truth-G4-lr0.005-s3-tune")   # truth against the truth of its own world
assert abs(f["cells/ari"][u] - 1.0) < 1e-12, f["cells/ari"][u]
EOF
    # the eval split's seeds 1 and 2 pair: 2 pairs for pgrpo/truth.
    check md_pairs_two_seeds grep -q '^| pgrpo/truth | 2 | [-+0-9.]* \[[-+0-9.]*, [-+0-9.]*\] |' $CASE_DIR/s/study.md
    check md_one_pair_no_ci grep -q '^| pgrpo/random | 1 | [-+0-9.]* \[no CI: 1 pair\] |' $CASE_DIR/s/study.md
    check md_lr_chosen_on_tune grep -q '^| personas | grpo/truth | 4 | tune | 0.005: ' $CASE_DIR/s/study.md
    check md_note_random_untuned grep -q 'personas pgrpo/random G=4: no tune-split cell' $CASE_DIR/s/study.md
}

case_regenerate_byte_identical() {
    need cells
    $STUDY $FIX/cells --out $CASE_DIR/a >/dev/null 2>&1 || { nok regen_collect; return; }
    cp $CASE_DIR/a/study.md $CASE_DIR/first.md
    check regen_elsewhere_runs $STUDY $CASE_DIR/a/study.h5 --out $CASE_DIR/b
    check regen_elsewhere_identical cmp $CASE_DIR/first.md $CASE_DIR/b/study.md
    check regen_in_place_runs $STUDY $CASE_DIR/a/study.h5
    check regen_in_place_identical cmp $CASE_DIR/first.md $CASE_DIR/a/study.md
    # collecting again gives the same study.md (sorted, no timestamps)
    $STUDY $FIX/cells --out $CASE_DIR/c >/dev/null 2>&1
    check recollect_identical cmp $CASE_DIR/first.md $CASE_DIR/c/study.md
}

case_failed_cell_listed() {
    need cells
    $STUDY $FIX/cells --out $CASE_DIR/s >/dev/null 2>&1 || { nok failed_collect; return; }
    md_section $CASE_DIR/s/study.md "Failed or missing cells" >$CASE_DIR/failed.md
    check failed_cell_listed grep -q '^| 7 | personas-pgrpo-truth-G4-lr0.005-s9-eval | failed | 137 | 0 | status failed |' $CASE_DIR/failed.md
    check failed_cell_counted grep -qxF -- '- cells: 8 (7 done and readable, 1 not)' $CASE_DIR/s/study.md
    # a cell marked done whose eval.h5 is missing is listed too, not dropped
    copy_fix cells2; rm $OUT/cells/personas-grpo-truth-G4-lr0.005-s2-eval/eval.h5
    $STUDY $OUT/cells --out $CASE_DIR/s2 >/dev/null 2>&1 || { nok missing_eval_collect; return; }
    md_section $CASE_DIR/s2/study.md "Failed or missing cells" | grep -q '| personas-grpo-truth-G4-lr0.005-s2-eval | done | .*eval.h5' &&
        ok missing_eval_listed || nok missing_eval_listed "$(md_section $CASE_DIR/s2/study.md 'Failed or missing cells')"
}

# A synthetic study.h5 with known answers: grpo/truth's held-out reward varies by seed, pgrpo/truth is always
# 0.1 above it on the same seed (worst group 0.2 below), pgrpo/random has an extra unpaired seed; on the tune
# split lr 0.003 beats 0.001 for grpo.
write_synthetic() {
    $PY - "$1" <<'EOF'
import sys, numpy as np
sys.path.insert(0, "postproc")
import study
cells = {}
def cell(i, est, grp, lr, seed, split, overall, worst, final):
    cid = f"personas-{est}-{grp}-G4-lr{lr:g}-s{seed}-{split}"
    c = dict(index=i, id=cid, task="personas", estimator=est, groups=grp, G=4, lr=lr, seed=seed, split=split,
             sft_base=f"bases/personas-s{seed}/sft_base.h5", status="done", seconds=1.0)
    m = {"step": np.arange(10, dtype=np.int64), "reward": np.concatenate([np.linspace(-1.0, final, 8), [final, final]]),
         "worst": np.zeros(10), "kl": np.full(10, 0.01), "group_names": [[0, "big"], [1, "small"]]}
    # groups: 0 (95% of prompts) and 1 (5%: the minority and the worst group); all row last
    pg = np.array([[95, overall, 0, 1, 0, 5, 1, 1], [5, worst, 0, 1, 0, 5, 1, 1],
                   [100, overall, 0, 1, (overall + 1) / 2, 5, 1, 1]], np.float64)
    cells[cid] = {"json": c, "problem": "", "ari": 1.0 if grp == "truth" else 0.0, "ari_source": "groups.h5",
                  "metrics": m, "eval": (pg, 2.0, 1.9)}
i = 0
for lr, fin in ((0.001, 0.2), (0.003, 0.5)):
    for est in ("grpo", "pgrpo"):
        cell(i, est, "truth", lr, 100, "tune", 0, 0, fin if est == "grpo" else 0.7 - fin); i += 1
for s in range(1, 9):
    base = 0.05 * s
    cell(i, "grpo", "truth", 0.003, s, "eval", base, base - 0.5, 0); i += 1
    cell(i, "pgrpo", "truth", 0.001, s, "eval", base + 0.1, base - 0.7, 0); i += 1
    cell(i, "pgrpo", "random", 0.003, s, "eval", base - 0.2 + 0.4 * (s % 2), base - 0.5, 0); i += 1
cell(i, "pgrpo", "random", 0.003, 42, "eval", 5.0, 5.0, 0)   # no grpo partner: must not be paired
study.write_study_h5(cells, sys.argv[1])
EOF
}

case_paired_ci_synthetic() {
    write_synthetic $CASE_DIR/study.h5 || { nok synthetic_written; return; }
    $STUDY $CASE_DIR/study.h5 >$CASE_DIR/log 2>&1 || { nok synthetic_report "$(tail -3 $CASE_DIR/log)"; return; }
    local md=$CASE_DIR/study.md
    md_section $md "Paired differences against GRPO (true groups)" >$CASE_DIR/paired.md
    # constant +0.1 overall and -0.2 worst/minority per seed: the CI collapses onto the difference
    check paired_constant_diff grep -qF '| pgrpo/truth | 8 | +0.100 [+0.100, +0.100] | -0.200 [-0.200, -0.200] | -0.200 [-0.200, -0.200] |' $CASE_DIR/paired.md
    # alternating -0.2/+0.2: mean 0 (4 pairs each way), CI strictly inside [-0.2, 0.2] and around 0; unpaired seed 42 left out
    $PY - $CASE_DIR/paired.md <<'EOF' && ok paired_bootstrap_alternating || nok paired_bootstrap_alternating "$(grep random $CASE_DIR/paired.md)"
import re, sys
row = [l for l in open(sys.argv[1]) if l.startswith("| pgrpo/random |")][0]
m = re.match(r"\| pgrpo/random \| 8 \| ([-+0-9.]+) \[([-+0-9.]+), ([-+0-9.]+)\]", row)
mean, lo, hi = map(float, m.groups())
assert abs(mean) < 1e-9 and -0.2 < lo < 0 < hi < 0.2, row
EOF
    # learning rates: grpo's best tune lr is 0.003 (0.5 > 0.2), pgrpo's is 0.001 (0.5 > 0.2)
    check lr_choice_grpo grep -qF '| personas | grpo/truth | 4 | tune | 0.001: +0.200 (1), 0.003: +0.500 (1) | 0.003 |' $md
    check lr_choice_pgrpo grep -qF '| personas | pgrpo/truth | 4 | tune | 0.001: +0.500 (1), 0.003: +0.200 (1) | 0.001 |' $md
    check minority_named grep -qF 'Minority groups: 1: small (5.0%).' $md
    # the same code path regenerates the same bytes
    cp $md $CASE_DIR/first.md; $STUDY $CASE_DIR/study.h5 --out $CASE_DIR/again >/dev/null 2>&1
    check synthetic_regen_identical cmp $CASE_DIR/first.md $CASE_DIR/again/study.md
}

case_missing_split_and_baseline() {  # a study with no tune split and no GRPO arm still reports, with notes
    $PY - $CASE_DIR/study.h5 <<'EOF'
import sys, numpy as np
sys.path.insert(0, "postproc")
import study
cells = {}
for i, (seed, status) in enumerate(((1, "done"), (2, "done"), (3, "running"))):
    cid = f"recsys-pgrpo-truth-G2-lr0.001-s{seed}-eval"
    c = dict(index=i, id=cid, task="recsys", estimator="pgrpo", groups="truth", G=2, lr=0.001, seed=seed,
             split="eval", status=status)
    cells[cid] = {"json": c, "problem": "" if status == "done" else "status running", "ari": np.nan, "ari_source": ""}
    if status == "done":
        cells[cid]["metrics"] = {"step": np.arange(5), "reward": np.full(5, 0.1 * seed), "kl": np.zeros(5),
                                 "worst": np.zeros(5), "group_names": []}
        cells[cid]["eval"] = (np.array([[10, 0.1, 0, 1, 0.55, 5, 1, 1], [10, 0.1, 0, 1, 0.55, 5, 1, 1]]), 2.0, 1.9)
study.write_study_h5(cells, sys.argv[1])
EOF
    $STUDY $CASE_DIR/study.h5 >$CASE_DIR/log 2>&1 || { nok partial_report "$(tail -3 $CASE_DIR/log)"; return; }
    local md=$CASE_DIR/study.md
    check partial_note_no_tune grep -qF -- '- no tune split in the study: learning rates were not tuned on separate seeds.' $md
    check partial_note_no_baseline grep -qF -- '- recsys G=2: no grpo/truth baseline on the eval split; paired differences skipped.' $md
    check partial_running_listed grep -qF '| 2 | recsys-pgrpo-truth-G2-lr0.001-s3-eval | running |' $md
    check partial_heldout_row grep -qF '| pgrpo/truth | 0.001 | 2 | +0.100 ± 0.000 |' $md
    check partial_no_traj_note grep -qF 'recsys, G = 2: no trajectories.h5 summary in study.h5.' $md
}

# bad input: one line on stderr naming the file, non-zero exit
one_line_error() {  # name, expected-substring, expected-rc, command...
    local name=$1 want=$2 wrc=$3; shift 3
    "$@" >$CASE_DIR/$name.out 2>$CASE_DIR/$name.err; local rc=$?
    if [ $rc -eq "$wrc" ] && [ "$(wc -l <$CASE_DIR/$name.err)" -eq 1 ] && grep -qF -- "$want" $CASE_DIR/$name.err &&
       grep -q 'HINT' $CASE_DIR/$name.err; then ok "$name"; else nok "$name" "rc=$rc" "$(head -3 $CASE_DIR/$name.err)"; fi
}
case_bad_input() {
    mkdir -p $CASE_DIR/empty
    one_line_error empty_dir "$CASE_DIR/empty: no cell.json" 2 $STUDY $CASE_DIR/empty
    one_line_error no_such_path "$CASE_DIR/nope: no such file" 2 $STUDY $CASE_DIR/nope
    mkdir -p $CASE_DIR/bad/cells/x
    echo '{"index": 0, "id": "x", "task": "personas", "estimator": "grpo", "groups": "truth", "G": 4, "seed": 1, "split": "eval", "status": "done"}' >$CASE_DIR/bad/cells/x/cell.json
    one_line_error cell_json_missing_key "$CASE_DIR/bad/cells/x/cell.json: cell.json has no key 'lr'" 3 $STUDY $CASE_DIR/bad
    echo '{"index": 0, "id": "x", "task": "personas", "estimator": "grpo", "groups": "truth", "G": 4, "lr": NaN, "seed": 1, "split": "eval", "status": "done"}' >$CASE_DIR/bad/cells/x/cell.json
    one_line_error cell_json_nan_lr "$CASE_DIR/bad/cells/x/cell.json: cell.json key 'lr'" 3 $STUDY $CASE_DIR/bad
    echo '{"index": 0, "id": ' >$CASE_DIR/bad/cells/x/cell.json
    one_line_error cell_json_truncated "$CASE_DIR/bad/cells/x/cell.json: cannot read cell.json" 3 $STUDY $CASE_DIR/bad
    echo 'not hdf5' >$CASE_DIR/bogus.h5
    one_line_error not_a_study_h5 "$CASE_DIR/bogus.h5: cannot open as HDF5" 3 $STUDY $CASE_DIR/bogus.h5
}

run_cases "$@"
