#!/usr/bin/env bash
# `pgrpo import` / `pgrpo export` on malformed and missing inputs (README "Your own model"): every item of the
# issue's list (truncated file, header past the end or over 100 MB, not JSON, duplicate key, bad or overlapping
# offsets, holes, bytes after, wrong byte count, unknown dtype, missing/extra tensor, wrong shape, untied head,
# activation, epsilon, n_inner, n_head, context, bad llm.c magic/version/size, sharded index, tokenizer size) gives
# its exit code and ONE line naming the file, the tensor or key and expected vs actual, and leaves nothing at
# --out. Fixtures: tests/reference/gpt2_write.py (numpy only). The logits checks are tests/reference/test_gpt2_import.sh.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
if ! $PY -c "import numpy" 2>/dev/null; then echo "ok - import_errors # SKIP python3-numpy not installed"; exit 0; fi
FX=$SCRATCH/fx
check import_fixtures_written $PY tests/reference/gpt2_write.py "$FX"
while IFS='|' read -r name kind args code msg; do
    [ -n "$name" ] || continue
    d=$FX/bad/$name o=$SCRATCH/bad/$name/out.h5
    mkdir -p "$SCRATCH/bad/$name"
    if [ "$kind" = llmc ]; then err=$($PGRPO import llmc "$d/model.bin" --tokenizer "$d" --out "$o" $args 2>&1 >/dev/null)
    else err=$($PGRPO import hf "$d" --out "$o" $args 2>&1 >/dev/null); fi
    rc=$?
    left=$(ls -A "$SCRATCH/bad/$name")
    if [ $rc -eq "$code" ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -qF -- "$msg" && [ -z "$left" ]; then
        ok "import_malformed_$name"
    else
        nok "import_malformed_$name" "rc=$rc (want $code), left: '$left'" "want: $msg" "got: $err"
    fi
done <"$FX/bad/cases.txt"
# usage errors and missing inputs: exit 2, nothing written
expect2() {   # NAME WORDS -- command...
    local name=$1 words=$2; shift 3
    local out rc; out=$("$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 2 ] && echo "$out" | grep -qF -- "$words" && [ ! -e "$SCRATCH/x.h5" ] && [ ! -e "$SCRATCH/xdir" ]; then ok "$name"
    else nok "$name" "rc=$rc" "want: $words" "got: $out"; fi
}
expect2 import_needs_format "import needs a format" -- $PGRPO import
expect2 import_unknown_format "import needs a format, hf or llmc (got 'onnx')" -- $PGRPO import onnx "$FX/hf_plain" --out "$SCRATCH/x.h5"
expect2 import_needs_out "import needs --out FILE" -- $PGRPO import hf "$FX/hf_plain"
expect2 import_missing_dir "does not exist" -- $PGRPO import hf "$SCRATCH/nope" --out "$SCRATCH/x.h5"
expect2 import_llmc_needs_tokenizer "import llmc needs --tokenizer DIR" -- $PGRPO import llmc "$FX/llmc_v3/model.bin" --out "$SCRATCH/x.h5"
expect2 import_bad_context "--context 'x' is not a positive integer" -- $PGRPO import hf "$FX/hf_plain" --context x --out "$SCRATCH/x.h5"
mkdir -p "$SCRATCH/notok" && cp "$FX/hf_plain/config.json" "$FX/hf_plain/model.safetensors" "$SCRATCH/notok/"
expect2 import_missing_tokenizer "neither vocab.json + merges.txt nor encoder.json + vocab.bpe" -- $PGRPO import hf "$SCRATCH/notok" --out "$SCRATCH/x.h5"
mkdir -p "$SCRATCH/noweights" && cp "$FX/hf_plain/config.json" "$FX/hf_plain/vocab.json" "$FX/hf_plain/merges.txt" "$SCRATCH/noweights/"
expect2 import_missing_weights "neither model.safetensors nor model.safetensors.index.json" -- $PGRPO import hf "$SCRATCH/noweights" --out "$SCRATCH/x.h5"
expect2 export_needs_out "export needs --out DIR" -- $PGRPO export hf "$FX/hf_plain/config.json"
expect2 export_missing_input "does not exist" -- $PGRPO export hf "$SCRATCH/nope.h5" --out "$SCRATCH/xdir"
out=$($PGRPO export hf "$FX/hf_plain/config.json" --out "$SCRATCH/xdir" 2>&1); rc=$?
check export_not_a_policy_leaves_nothing test $rc -eq 3 -a ! -e "$SCRATCH/xdir" -a -z "$(ls "$SCRATCH" | grep 'xdir.tmp')"
