#!/usr/bin/env bash
# task.name = file: users, prompts and an SFT corpus as JSON Lines (README "Your own data"). A fixture written here:
# SFT on 2 ranks reads it, the vocabulary travels with the policy, the malformed files are refused with one line
# naming file:line, and (once the reward plugins are in: reward.plugin) train + eval with the example plugin.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3

# The fixture: 30 users in 3 groups, 120 training and 30 eval prompts, 200 SFT examples (every 10th held out).
fixture_data() {
    $PY - "$1" <<'PY'
import json, os, random, sys
d = sys.argv[1]
rng = random.Random(5)
groups = ["tea", "coffee", "cocoa"]
with open(os.path.join(d, "users.jsonl"), "w") as f:
    for u in range(30):
        f.write(json.dumps({"id": "u%d" % u if u % 2 else u, "group": groups[u % 3]}) + "\n")
topics = ["breakfast", "a rainy afternoon", "the office", "a long night", "the weekend"]
with open(os.path.join(d, "prompts.jsonl"), "w") as f:
    for i in range(150):
        u = rng.randrange(30)
        f.write(json.dumps({"text": "suggest a drink for %s" % rng.choice(topics), "user": "u%d" % u if u % 2 else u,
                            "split": "eval" if i % 5 == 4 else "train"}, ensure_ascii=False) + "\n")
drinks = ["green tea", "black coffee", "hot cocoa", "chai latte", "espresso", "mint tea"]
with open(os.path.join(d, "sft.jsonl"), "w") as f:
    for i in range(200):
        if i % 7 == 3:
            f.write(json.dumps({"text": "a drink is a good idea"}) + "\n")
        else:
            f.write(json.dumps({"prompt": "suggest a drink for %s" % rng.choice(topics),
                                "completion": "try some %s" % rng.choice(drinks)}) + "\n")
PY
}
opts() { need data || return 1; B=(--set task.name=file --set task.path=$FIX --set run.out_dir=$1 --set model.context=48); }
fixture_base() { opts "$1" || return 1; mpi 2 $PGRPO sft $TINY "${B[@]}" 2>&1 | tee "$1/sft.log"; return "${PIPESTATUS[0]}"; }

case_sft_reads_jsonl() {
    need base; local BASE=$FIX
    grep -q "task: file .*: 30 users (30 with training prompts, [0-9]* with eval prompts), 3 groups, 120 + 30 prompts, 180 + 20 SFT examples" \
        $BASE/sft.log && ok file_task_summary || nok file_task_summary "$(grep 'task:' $BASE/sft.log)"
    $PY - $BASE/sft_base.h5 <<'PY' && ok file_task_vocabulary_with_policy || nok file_task_vocabulary_with_policy
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    words = bytes(f["tokenizer/words"][...]).decode().split("\n")[:-1]
    assert words[:5] == ["<pad>", "<bos>", "<eos>", "<sep>", "<unk>"], words[:6]
    for w in ("suggest", "drink", "breakfast", "espresso", "latte", "idea"):
        assert w in words, w
    assert len(words) == f.attrs["vocab"], (len(words), f.attrs["vocab"])
PY
    local nll; nll=$(grep -o 'held-out NLL [0-9.]*' $BASE/sft.log | awk '{print $3}')
    awk -v x="${nll:-99}" 'BEGIN{exit !(x < 1.5)}' && ok "file_task_sft_learns_the_corpus # held-out NLL $nll" || nok file_task_sft_learns_the_corpus "nll=$nll"
}
# bad FILE LINE_NO NEW_LINE WANT: the fixture with line LINE_NO of FILE replaced; one error line naming FILE:LINE_NO.
t_bad() {
    local file=$1 n=$2 line=$3 want=$4 out rc D=$CASE_DIR/data
    need data; cp -r $FIX $D; chmod -R u+w $D
    $PY - "$D/$file" "$n" "$line" <<'PY'
import sys
p, n, new = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(p, encoding="utf-8").read().split("\n")
lines[n - 1] = new
open(p, "w", encoding="utf-8").write("\n".join(lines))
PY
    out=$($PGRPO sft $TINY --set task.name=file --set task.path=$D --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 3 ] && [ "$(echo "$out" | grep -c .)" -eq 1 ] && echo "$out" | grep -q "^pgrpo: error: $D/$file:$n: .*$want.*(HINT: " \
        && ok "file_task_refuses_${CASE_NAME} # $(echo "$out" | sed "s|$D/||" | cut -c1-150)" || nok "file_task_refuses_$CASE_NAME" "rc=$rc" "$out"
}
case_bad_json() { t_bad prompts.jsonl 7 '{"text": "x", "user": 1, "split": "train"' "invalid JSON"; }
case_duplicate_key() { t_bad prompts.jsonl 8 '{"text": "x", "text": "y", "user": 1, "split": "train"}' "invalid JSON: duplicate object key"; }
case_unknown_key() { t_bad users.jsonl 3 '{"id": 2, "group": "tea", "age": 40}' 'unknown key "age"'; }
case_unknown_user() { t_bad prompts.jsonl 9 '{"text": "hello", "user": "nobody", "split": "eval"}' 'user "nobody" is not in users.jsonl'; }
case_bad_split() { t_bad prompts.jsonl 10 '{"text": "hello", "user": 1, "split": "test"}' '"split" is missing or invalid'; }
case_reserved_word() { t_bad sft.jsonl 11 '{"prompt": "hi", "completion": "bye <eos> now"}' 'contains "<eos>"'; }
case_group_on_some() { t_bad users.jsonl 5 '{"id": 4}' '"group" on some users only'; }
case_blank_line() { t_bad sft.jsonl 4 '' 'invalid JSON'; }
case_long_prompt() { t_bad prompts.jsonl 2 "{\"text\": \"$(printf 'w%d ' $(seq 1 70))\", \"user\": 0, \"split\": \"train\"}" 'more than 62 words'; }
case_missing_folder() {
    local out rc
    out=$($PGRPO sft $TINY --set task.name=file --set task.path=$CASE_DIR/none --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "cannot read $CASE_DIR/none/users.jsonl" && ok file_task_missing_folder_exit_2 || nok file_task_missing_folder_exit_2 "rc=$rc $out"
    out=$($PGRPO sft $TINY --set task.name=file --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "task.path" && ok file_task_empty_path_exit_2 || nok file_task_empty_path_exit_2 "rc=$rc $out"
    out=$($PGRPO train $TINY --set task.name=file --set task.path=$CASE_DIR/none --set train.groups=discover --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "groups.feedback = task (default): task.name = file has no built-in reward" \
        && ok file_task_discover_needs_feedback_file || nok file_task_discover_needs_feedback_file "rc=$rc $out"
    out=$($PGRPO groups $TINY --set task.name=file --set task.path=$CASE_DIR/none --set run.out_dir=$CASE_DIR/out 2>&1 >/dev/null); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q "groups.feedback = task (default): task.name = file has no built-in reward" \
        && ok file_task_groups_needs_feedback_file || nok file_task_groups_needs_feedback_file "rc=$rc $out"
}
# Train + eval with the example reward plugin: only once the reward plugins are merged (reward.plugin exists).
case_train_eval_with_plugin() {
    local so=$PWD/build/plugins/reward_example.so
    if ! $PGRPO --help-deck 2>/dev/null | grep -q "reward.plugin" || [ ! -f $so ]; then
        ok "file_task_train_eval_with_plugin # SKIP reward plugins not in this build yet"; return
    fi
    need base; copy_fix out; opts $OUT
    mpi 2 $PGRPO train $TINY "${B[@]}" --set reward.plugin=$so --set train.base=$OUT/sft_base.h5 --quiet >$CASE_DIR/train.log 2>&1 \
        && ok file_task_trains_with_plugin || { nok file_task_trains_with_plugin "$(tail -3 $CASE_DIR/train.log)"; return; }
    mpi 2 $PGRPO eval $TINY "${B[@]}" --set reward.plugin=$so >$CASE_DIR/eval.log 2>&1 \
        && grep -qE '^ +(tea|coffee|cocoa) +[0-9]+ ' $CASE_DIR/eval.log && ok file_task_evals_with_plugin || nok file_task_evals_with_plugin "$(tail -4 $CASE_DIR/eval.log)"
}
run_cases "$@"
