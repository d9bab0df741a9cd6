# tests/bench/section_gpt2.sh — `make bench` section "gpt2" (sourced by tests/bench/run.sh): a GPT-2-small-shaped
# random model (124M parameters, vocabulary 50257, 1024 positions; tests/reference/gpt2_write.py --big, ~520 MB,
# cached in $OUT/gpt2_124m) is imported with `pgrpo import hf` (wall time and peak RSS from /usr/bin/time, median of
# $RUNS runs), then loaded and sampled on 2 ranks (tests/tools/gpt2_sample.c: each rank reads the policy file,
# builds the model and samples 4 sequences of 32 new tokens after 32 prompt tokens; peak RSS per rank), then one
# training step of the model on 2 ranks with the file task on GPT-2 BPE text (gpt2_train_one_step: import with
# --context 64, task.tokenizer = the imported file, 2 prompts x 2 completions of 8 tokens, no reference model,
# the example reward plugin; the step's ms from the train log, peak RSS of the largest process from /usr/bin/time).
# Nothing is asserted: the machine is shared. Needs /usr/bin/python3 with numpy, and ~1.1 GB of disk under $OUT.
section_gpt2() {
    local dir="$OUT/gpt2_124m" i mpirun=(mpirun -np 2 -x OPENBLAS_NUM_THREADS)
    [ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
    [ "$(nproc)" -lt 2 ] && mpirun+=(--oversubscribe)
    echo "== gpt2: import + sample of a GPT-2-small-shaped model (124M, V=50257), median of $RUNS runs ($(lscpu | sed -n 's/^Model name: *//p'))"
    make -s bin/pgrpo build/tests/gpt2_sample || return 1
    if [ ! -s "$dir/model.safetensors" ]; then
        "$PY" tests/reference/gpt2_write.py --big "$dir" || { echo "# FAILED: gpt2_write.py --big"; return 1; }
    fi
    rm -f "$OUT"/gpt2_imp.*
    for ((i = 1; i <= RUNS; i++)); do
        rm -f "$OUT/gpt2_124m.h5"
        /usr/bin/time -f "import_wall_s %e\nimport_rss_mib_kb %M" bin/pgrpo import hf "$dir" --out "$OUT/gpt2_124m.h5" \
            >"$OUT/gpt2_imp.$i.log" 2>"$OUT/gpt2_imp.$i.time" || { echo "# FAILED: import (see $OUT/gpt2_imp.$i.time)"; return 1; }
        awk '$1 == "import_rss_mib_kb" {print "import_rss_mib", $2 / 1024; next} {print}' "$OUT/gpt2_imp.$i.time" >"$OUT/gpt2_imp.$i"
    done
    "${mpirun[@]}" build/tests/gpt2_sample "$OUT/gpt2_124m.h5" 4 32 32 >"$OUT/gpt2_sample.log" 2>&1 ||
        { echo "# FAILED: gpt2_sample on 2 ranks (see $OUT/gpt2_sample.log)"; return 1; }
    local params_mib
    params_mib=$(awk '{for (i = 1; i <= NF; i++) if ($i == "parameters,") print $(i-1) * 4 / 1048576}' "$OUT/gpt2_imp.1.log")
    OUT="$OUT" RUNS="$RUNS" PARAMS_MIB="$params_mib" "$PY" - <<'EOF2'
import os, statistics
out, runs = os.environ["OUT"], int(os.environ["RUNS"])
vals = {}
for i in range(1, runs + 1):
    for line in open(f"{out}/gpt2_imp.{i}"):
        k, v = line.split()
        vals.setdefault(k, []).append(float(v))
p = float(os.environ["PARAMS_MIB"] or 0)
print(f"import hf (124M, F32 safetensors 499 MiB): {statistics.median(vals['import_wall_s']):.2f} s wall, "
      f"peak RSS {statistics.median(vals['import_rss_mib']):.0f} MiB (the parameter block alone: {p:.0f} MiB)")
s = {}
for line in open(f"{out}/gpt2_sample.log"):
    p2 = line.split()
    if len(p2) == 2:
        s[p2[0]] = float(p2[1])
for r in (0, 1):
    print(f"rank {r}: read policy {s.get(f'rank{r}.read_policy_s', float('nan')):.2f} s, model_create "
          f"{s.get(f'rank{r}.model_create_s', float('nan')):.2f} s, sample 4x32 tokens {s.get(f'rank{r}.sample_s', float('nan')):.2f} s "
          f"({s.get(f'rank{r}.sample_tokens_per_s', float('nan')):.1f} tokens/s), peak RSS {s.get(f'rank{r}.rss_mib', float('nan')):.0f} MiB")
EOF2
    gpt2_train_one_step "$dir" "${mpirun[@]}"
}

# One GRPO step of the 124M model on 2 ranks, task.name = file with the imported BPE ($1: the HF folder; then the
# mpirun command).
gpt2_train_one_step() {
    local dir=$1 base="$OUT/gpt2_124m_ctx64.h5" data="$OUT/gpt2_text" run="$OUT/gpt2_train"; shift
    make -s plugins || return 1
    rm -rf "$base" "$run" "$data"
    bin/pgrpo import hf "$dir" --context 64 --out "$base" >"$OUT/gpt2_train_import.log" 2>&1 ||
        { echo "# FAILED: import --context 64 (see $OUT/gpt2_train_import.log)"; return 1; }
    mkdir -p "$data"
    "$PY" - "$data" <<'EOF2'
import json, os, sys
d = sys.argv[1]
with open(os.path.join(d, "users.jsonl"), "w") as f:
    for u in range(4): f.write(json.dumps({"id": u, "group": "ab"[u % 2]}) + "\n")
with open(os.path.join(d, "prompts.jsonl"), "w") as f:
    for i in range(8): f.write(json.dumps({"text": "Tell me about item %d, please." % i, "user": i % 4, "split": "eval" if i % 4 == 3 else "train"}) + "\n")
with open(os.path.join(d, "sft.jsonl"), "w") as f:
    for i in range(10): f.write(json.dumps({"prompt": "Item %d?" % i, "completion": " It is fine."}) + "\n")
EOF2
    /usr/bin/time -f "train_rss_kb %M" "$@" bin/pgrpo train tests/decks/tiny.deck --set run.out_dir="$run" \
        --set task.name=file --set task.path="$data" --set task.tokenizer="$base" --set train.base="$base" \
        --set model.n_layer=12 --set model.n_head=12 --set model.d_model=768 --set model.context=64 \
        --set train.steps=1 --set train.prompts=2 --set train.group_size=2 --set train.max_new=8 --set train.beta=0 \
        --set reward.plugin="$PWD/build/plugins/reward_example.so" >"$OUT/gpt2_train.log" 2>"$OUT/gpt2_train.time" ||
        { echo "# FAILED: train on 2 ranks (see $OUT/gpt2_train.log)"; return 1; }
    awk '$1 == "0" && NF >= 13 {ms = $12} END {printf "train 124M, file task on BPE, 2 ranks, 2 prompts x 2 x 8 tokens: step 0 %s ms", ms}' "$OUT/gpt2_train.log"
    awk '$1 == "train_rss_kb" {printf ", peak RSS %.0f MiB (largest process)\n", $2 / 1024}' "$OUT/gpt2_train.time"
}
