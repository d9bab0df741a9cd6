#!/usr/bin/env bash
# The C tokenizer (src/text/bpe.c, driven by build/tests/bpe_tool) against a Python reference of openai/gpt-2's
# encoder.py (tests/reference/bpe_ref.py, Debian's python3-regex) on a vocabulary trained here: 500 byte-level
# merges learned from tests/reference/bpe_fixtures/corpus.txt, ids shuffled, written both as vocab.json +
# merges.txt and as encoder.json + vocab.bpe. Compared: the pre-token split (== regex.findall), the ids, and
# decode(encode(s)) == s, on the fixture texts (bpe_fixtures/texts.json: many scripts, whitespace runs,
# contractions, "<|endoftext|>" as text) and 2000 seeded fuzz strings; the C class of all 1,112,064 code points
# against regex; bpe_save_dir's files; invalid UTF-8 refused by the tool with one line and exit 3.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
REF=tests/reference/bpe_ref.py
FX=tests/reference/bpe_fixtures
TOOL=build/tests/bpe_tool
if ! $PY -c "import regex" 2>/dev/null; then echo "ok - bpe reference # SKIP python3-regex not installed"; exit 0; fi
[ -x $TOOL ] || make -s $TOOL >/dev/null || { nok "build $TOOL"; exit 1; }

$PY $REF train $FX/corpus.txt 500 $SCRATCH/voc --seed 3 || { nok "train the test vocabulary"; exit 1; }
check "trained vocabulary has 500 merges" test "$(grep -vc '^#version' $SCRATCH/voc/hf/merges.txt)" = 500
$PY $REF cases $FX/texts.json 2000 11 >$SCRATCH/cases.jsonl || { nok "write the test cases"; exit 1; }
for layout in hf openai; do
    $PY $REF check $SCRATCH/voc/$layout $SCRATCH/cases.jsonl $TOOL "$layout" --fixtures $FX/texts.json
done
$PY $REF classes $TOOL

# bpe_save_dir writes what it read: the same token -> id map and the same merges in the same order.
mkdir -p $SCRATCH/saved
$TOOL save $SCRATCH/voc/openai $SCRATCH/saved && check "bpe_save_dir: vocab.json + merges.txt equal to the input" $PY -c "
import json, sys
d, s = sys.argv[1], sys.argv[2]
assert json.load(open(d + '/encoder.json')) == json.load(open(s + '/vocab.json'))
assert open(d + '/vocab.bpe', encoding='utf-8').read() == open(s + '/merges.txt', encoding='utf-8').read()
" $SCRATCH/voc/openai $SCRATCH/saved
check "saved files encode the fixtures the same" test \
    "$($TOOL encode-lines $SCRATCH/saved <$SCRATCH/cases.jsonl | md5sum)" = "$($TOOL encode-lines $SCRATCH/voc/hf <$SCRATCH/cases.jsonl | md5sum)"

# Invalid UTF-8 (which a Python str cannot hold): refused with one line naming the byte, exit 3.
printf 'ok text \xff more' | $TOOL encode $SCRATCH/voc/hf >$SCRATCH/out 2>$SCRATCH/err; rc=$?
check "invalid UTF-8 refused (exit 3, one line naming byte 8)" test "$rc $(wc -l <$SCRATCH/err)" = "3 1"
check "invalid UTF-8 message" grep -q "text byte 8 (0xFF): invalid UTF-8" $SCRATCH/err
