#!/usr/bin/env bash
# Text tasks (README "Your own model", "Text tasks with a GPT-2 tokenizer"): task.name = file with task.tokenizer.
# A tiny HF GPT-2 with a 300-token byte-level BPE (tests/reference/gpt2_write.py) is imported; a file-task data set
# written here is BPE-encoded; training 3 steps on 2 ranks from the imported base with the example reward plugin,
# eval, sample (prints text), export hf -> import gives the same parameter block bit for bit and the tokenizer;
# kill -9 after a checkpoint + resume ends bit-identical; task.tokenizer is refused where it does not apply.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
SO=$PWD/build/plugins/reward_example.so
if ! $PY -c "import numpy, h5py" 2>/dev/null; then echo "ok - text_task # SKIP python3-numpy/h5py not installed"; exit 0; fi
[ -f $SO ] || make -s plugins >/dev/null 2>&1

# The imported base ($1/base.h5, $1/fx: the HF fixtures) and the data set ($1/data).
fixture_gpt2() {
    $PY tests/reference/gpt2_write.py "$1/fx" >/dev/null || return 1
    $PGRPO import hf "$1/fx/hf_plain" --out "$1/base.h5" || return 1
    mkdir -p "$1/data"
    $PY - "$1/data" <<'PY'
import json, os, random, sys
d = sys.argv[1]
rng = random.Random(3)
groups = ["dogs", "foxes"]
with open(os.path.join(d, "users.jsonl"), "w") as f:
    for u in range(12):
        f.write(json.dumps({"id": "u%d" % u, "group": groups[u % 2]}) + "\n")
subj = ["the fox", "the dog", "the lazy dog", "the quick fox", "the brown dög"]   # non-ASCII: bytes of BPE
with open(os.path.join(d, "prompts.jsonl"), "w") as f:
    for i in range(40):
        f.write(json.dumps({"text": "what does %s do?" % rng.choice(subj), "user": "u%d" % rng.randrange(12),
                            "split": "eval" if i % 4 == 3 else "train"}, ensure_ascii=False) + "\n")
verbs = ["sleeps", "runs", "jumps over the dog", "rather sleeps"]
with open(os.path.join(d, "sft.jsonl"), "w") as f:
    for i in range(30):
        if i % 6 == 5:
            f.write(json.dumps({"text": "the dog sleeps, the fox runs."}) + "\n")
        else:
            f.write(json.dumps({"prompt": "what does %s do?" % rng.choice(subj), "completion": " it %s." % rng.choice(verbs)}) + "\n")
PY
}
# opts OUT: the deck settings of a text run into B (the model keys of the imported file; prompts are <= 19 tokens).
opts() {
    need gpt2 || return 1; G=$FIX
    B=(--set task.name=file --set task.path=$G/data --set task.tokenizer=$G/base.h5 --set train.base=$G/base.h5
       --set model.n_layer=2 --set model.n_head=4 --set model.d_model=64 --set model.context=32 --set train.max_new=12
       --set run.out_dir=$1)
}
fixture_trained() { opts "$1" || return 1; mpi 2 $PGRPO train $TINY "${B[@]}" --set train.steps=3 --set reward.plugin=$SO; }

case_import_and_task_summary() {
    need trained; local R=$FIX
    need gpt2; G=$FIX
    grep -q "task: file .*: 12 users .* 300 BPE tokens (task.tokenizer)" $R.log && ok text_task_summary || nok text_task_summary "$(grep task: $R.log)"
    # the prompts are BPE ids of the text: the trajectories' prompt tokens decode to a prompt of the data set
    $PY - $R/trajectories.h5 $G/fx/hf_plain/vocab.json $G/data/prompts.jsonl <<'PY' && ok text_task_prompts_are_bpe || nok text_task_prompts_are_bpe
import json, sys, h5py
vocab = {i: t for t, i in json.load(open(sys.argv[2], encoding="utf-8")).items()}
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
u2b = {chr(c): b for b, c in zip(bs, cs)}
texts = {json.loads(l)["text"] for l in open(sys.argv[3], encoding="utf-8")}
with h5py.File(sys.argv[1], "r") as f:
    lens = f["prompt_len"][...].reshape(-1)
    toks = f["prompt_tokens"][...].reshape(len(lens), -1)
seen = 0
for row, L in zip(toks, lens):
    s = bytes(u2b[c] for i in row[:L] for c in vocab[int(i)]).decode("utf-8")
    assert s in texts, s
    seen += 1
assert seen > 0
PY
}

case_train_eval_sample_export() {
    need trained; copy_fix out; local R=$OUT
    opts $R
    check text_task_trained test -s $R/final.h5
    $PY -c "
import sys, h5py
with h5py.File('$R/final.h5', 'r') as f, h5py.File('$G/base.h5', 'r') as b:
    assert 'tokenizer/words' not in f
    for k in ('tokenizer/tokens', 'tokenizer/merges'):
        assert bytes(f[k][...]) == bytes(b[k][...]), k
    for a in ('kind', 'n_tokens', 'n_merges', 'eos_id'):
        assert f['tokenizer'].attrs[a] == b['tokenizer'].attrs[a], a
" && ok text_final_carries_bpe_tables || nok text_final_carries_bpe_tables
    mpi 2 $PGRPO eval $TINY "${B[@]}" --set reward.plugin=$SO >$CASE_DIR/eval.log 2>&1 \
        && grep -qE '^ +(dogs|foxes) +[0-9]+ ' $CASE_DIR/eval.log && ok text_eval || nok text_eval "$(tail -4 $CASE_DIR/eval.log)"
    $PGRPO sample $TINY "${B[@]}" --set reward.plugin=$SO >$CASE_DIR/sample.log 2>&1 \
        && grep -qE '^  prompt : what does the (lazy |quick |brown )?(fox|dog|dög) do\?$' $CASE_DIR/sample.log \
        && ok "text_sample_prints_text # $(grep -m1 '  prompt' $CASE_DIR/sample.log)" || nok text_sample_prints_text "$(tail -5 $CASE_DIR/sample.log)"
    # a random model's samples cut characters and emit stray bytes: the text is still valid UTF-8 (U+FFFD for them)
    $PY -c "open('$CASE_DIR/sample.log', 'rb').read().decode('utf-8')" && grep -q $'\xef\xbf\xbd' $CASE_DIR/sample.log \
        && ok text_sample_is_valid_utf8 || nok text_sample_is_valid_utf8
    $PGRPO export hf $R/final.h5 --out $R/aligned >$CASE_DIR/export.log 2>&1 && ok text_export_hf || { nok text_export_hf "$(cat $CASE_DIR/export.log)"; return; }
    check text_export_ships_tokenizer test -s $R/aligned/vocab.json -a -s $R/aligned/merges.txt
    $PGRPO import hf $R/aligned --out $R/again.h5 >$CASE_DIR/import.log 2>&1 || { nok text_reimport "$(cat $CASE_DIR/import.log)"; return; }
    [ -x build/tests/gpt2_logits ] || make -s build/tests/gpt2_logits >/dev/null 2>&1
    build/tests/gpt2_logits --dump $R/final.h5 $CASE_DIR/a.bin && build/tests/gpt2_logits --dump $R/again.h5 $CASE_DIR/b.bin
    check text_export_import_bit_identical cmp -s $CASE_DIR/a.bin $CASE_DIR/b.bin
    check text_reimport_same_tokenizer same_dataset $R/final.h5 $R/again.h5 /tokenizer/tokens
    # the re-imported export trains again as a base (its tables equal the task's)
    mpi 2 $PGRPO train $TINY "${B[@]}" --set task.tokenizer=$R/aligned --set train.base=$R/again.h5 --set train.steps=1 \
        --set reward.plugin=$SO --set run.out_dir=$CASE_DIR/again --quiet >$CASE_DIR/again.log 2>&1 \
        && ok text_trains_from_export_with_folder_tokenizer || nok text_trains_from_export_with_folder_tokenizer "$(tail -3 $CASE_DIR/again.log)"
}

# SFT on the text task: BPE(prompt) BPE(completion) EOS from scratch; the SFT base carries the tables.
case_sft_text() {
    opts $CASE_DIR/sft
    mpi 2 $PGRPO sft $TINY "${B[@]}" --set sft.steps=30 --set sft.batch=8 >$CASE_DIR/sft.log 2>&1 || { nok text_sft "$(tail -3 $CASE_DIR/sft.log)"; return; }
    local nll; nll=$(grep -o 'held-out NLL [0-9.]*' $CASE_DIR/sft.log | awk '{print $3}')
    awk -v x="${nll:-99}" 'BEGIN{exit !(x < 4.0)}' && ok "text_sft_learns # held-out NLL $nll (uniform: 5.70)" || nok text_sft_learns "nll=$nll"
    check text_sft_base_carries_bpe same_dataset $G/base.h5 $CASE_DIR/sft/sft_base.h5 /tokenizer/tokens
}

# A reward process with a reward that varies (a random model rarely ends a completion: the example plugin gives -1
# to all of them, so no gradient): the share of ASCII letters of the completion's text, in [-1, 1].
reward_proc() {
    cat >$1 <<'PY'
import sys
inp, out = sys.stdin.buffer, sys.stdout   # bytes, decoded strictly: the text pgrpo sends must be valid UTF-8
inp.readline(); out.write("ready\n"); out.flush()
for line in inp:
    n = int(line.split()[2]); ans = []
    for _ in range(n):
        c = inp.readline().decode("utf-8").rstrip("\n").split("\t")[5]
        ans.append(repr(2.0 * sum(ch.isalpha() and ch.isascii() for ch in c) / max(1, len(c)) - 1.0))
    out.write("\n".join(ans) + "\n"); out.flush()
PY
}
wait_for() { for _ in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
case_restart_bit_identical() {
    opts $CASE_DIR/ref; reward_proc $CASE_DIR/r.py
    local S=(--set train.steps=30 --set checkpoint.every=2 --set reward.command="$PY $CASE_DIR/r.py" --quiet)
    mpi 2 $PGRPO train $TINY "${B[@]}" "${S[@]}" >$CASE_DIR/ref.log 2>&1 || { nok text_restart_reference "$(tail -3 $CASE_DIR/ref.log)"; return; }
    $PY -c "
import h5py, numpy as np
with h5py.File('$CASE_DIR/ref/final.h5', 'r') as f, h5py.File('$G/base.h5', 'r') as b:
    assert not np.array_equal(f['model/params'][...], b['model/params'][...])
" && ok text_training_changes_the_weights || nok text_training_changes_the_weights
    opts $CASE_DIR/run
    bg_mpi 2 $PGRPO train $TINY "${B[@]}" "${S[@]}"
    wait_for $CASE_DIR/run/checkpoints/ckpt_00000004.h5
    job_kill9; wait $BG_PID 2>/dev/null
    if [ -e $CASE_DIR/run/final.h5 ]; then ok "text_restart_bit_identical # SKIP the run ended before the kill"; return; fi
    mpi 2 $PGRPO train $TINY "${B[@]}" "${S[@]}" --resume auto >$CASE_DIR/resume.log 2>&1 || { nok text_restart_resume "$(tail -3 $CASE_DIR/resume.log)"; return; }
    check text_restart_bit_identical same_dataset $CASE_DIR/ref/final.h5 $CASE_DIR/run/final.h5 /model/params
    check text_restart_same_tokenizer same_dataset $CASE_DIR/ref/final.h5 $CASE_DIR/run/final.h5 /tokenizer/tokens
}

# Refusals: one line, the key, exit 2.
t_refuse() {  # name, want (grep -E), exit, args...
    local name=$1 want=$2 code=$3 out rc; shift 3
    out=$("$@" 2>&1 >/dev/null); rc=$?
    [ $rc -eq $code ] && [ "$(echo "$out" | grep -c .)" -eq 1 ] && echo "$out" | grep -qE "$want" \
        && ok "text_refuses_${name} # $(echo "$out" | cut -c1-160)" || nok "text_refuses_$name" "rc=$rc" "$out"
}
case_refusals() {
    need gpt2; G=$FIX
    t_refuse tokenizer_on_builtin 'task.tokenizer.*task.name = personas has its own word vocabulary' 2 \
        $PGRPO train $TINY --set task.tokenizer=$G/base.h5 --set run.out_dir=$CASE_DIR/o
    t_refuse missing_tokenizer "task.tokenizer.*cannot read '$CASE_DIR/none'" 2 \
        $PGRPO sft $TINY --set task.name=file --set task.path=$G/data --set task.tokenizer=$CASE_DIR/none --set run.out_dir=$CASE_DIR/o
    mkdir -p $CASE_DIR/empty $CASE_DIR/badtok; cp $G/fx/hf_plain/vocab.json $CASE_DIR/badtok/; printf '#version: 0.2\nx y\n' >$CASE_DIR/badtok/merges.txt
    t_refuse empty_tokenizer_folder "task.tokenizer = $CASE_DIR/empty: .*no tokenizer files" 2 \
        $PGRPO sft $TINY --set task.name=file --set task.path=$G/data --set task.tokenizer=$CASE_DIR/empty --set run.out_dir=$CASE_DIR/o
    t_refuse bad_merges "task.tokenizer = $CASE_DIR/badtok: .*merges.txt:2: token 'xy' not in" 3 \
        $PGRPO sft $TINY --set task.name=file --set task.path=$G/data --set task.tokenizer=$CASE_DIR/badtok --set run.out_dir=$CASE_DIR/o
    # a word-vocabulary policy as the tokenizer, and as the base of a text task
    $PGRPO sft $TINY --set sft.steps=1 --set run.out_dir=$CASE_DIR/w --quiet >/dev/null 2>&1
    t_refuse word_policy_as_tokenizer 'carries the word tokenizer' 2 \
        $PGRPO sft $TINY --set task.name=file --set task.path=$G/data --set task.tokenizer=$CASE_DIR/w/sft_base.h5 --set run.out_dir=$CASE_DIR/o
    opts $CASE_DIR/o
    t_refuse word_base_on_text_task 'vocabulary mismatch: .* carries a word vocabulary but task.tokenizer' 2 \
        $PGRPO train $TINY "${B[@]}" --set train.base=$CASE_DIR/w/sft_base.h5 --set reward.plugin=$SO
    # a tokenizer with the base's tokens but one merge fewer: the base was trained with other merges
    mkdir -p $CASE_DIR/fewer; cp $G/fx/hf_plain/vocab.json $CASE_DIR/fewer/; head -n -1 $G/fx/hf_plain/merges.txt >$CASE_DIR/fewer/merges.txt
    t_refuse other_merges 'tokenizer mismatch: .* other BPE merges' 2 \
        $PGRPO train $TINY "${B[@]}" --set task.tokenizer=$CASE_DIR/fewer --set reward.plugin=$SO
    # the BPE base on a word task: refused by name
    t_refuse bpe_base_on_word_task 'vocabulary mismatch' 2 \
        $PGRPO train $TINY "${B[@]}" --set task.tokenizer= --set reward.plugin=$SO
    # a prompt longer than 64 BPE tokens: file:line
    local D=$CASE_DIR/data; cp -r $G/data $D; chmod -R u+w $D
    $PY -c "
import json
l = open('$D/prompts.jsonl').read().split('\n'); l[2] = json.dumps({'text': 'fox, ' * 70, 'user': 'u1', 'split': 'train'})
open('$D/prompts.jsonl', 'w').write('\n'.join(l))"
    t_refuse long_prompt "$D/prompts.jsonl:3: the prompt is [0-9]+ BPE tokens, more than 64 .HINT" 3 \
        $PGRPO sft $TINY "${B[@]}" --set task.path=$D
}
run_cases "$@"
