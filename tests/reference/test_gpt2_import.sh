#!/usr/bin/env bash
# GPT-2 checkpoints in and out (README "Your own model"): tiny random GPT-2s written by gpt2_write.py in every
# variant (HF with/without prefix and buffers, F16, BF16, sharded, unaligned; llm.c v3/v5) are imported, and
# pgrpo's logits (tests/tools/gpt2_logits.c) must match gpt2_forward.py's float64 forward from the HF layout to
# 1e-5 relative; import -> export -> import is bit-identical. Malformed inputs: tests/cli/test_import_errors.sh.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
if ! $PY -c "import torch, numpy" 2>/dev/null; then echo "ok - gpt2_import # SKIP python3-torch/numpy not installed"; exit 0; fi
[ -x build/tests/gpt2_logits ] || make -s build/tests/gpt2_logits >/dev/null 2>&1
FX=$SCRATCH/fx
OUTD=$SCRATCH/out
mkdir -p "$OUTD"
check gpt2_fixtures_written $PY tests/reference/gpt2_write.py "$FX"

# ---- every variant imports; logits vs the float64 HF-layout forward ----
SEQ32=$($PY -c "import random; random.seed(7); print(','.join(str(random.randrange(300)) for _ in range(32)))")
SEQ7="5,299,17,0,123,42,250"
MAN=$SCRATCH/manifest.txt
: >"$MAN"
import_variant() {   # $1 variant, $2 output, $3... extra args
    local v=$1 out=$2; shift 2
    case $v in
        llmc_*) $PGRPO import llmc "$FX/$v/model.bin" --tokenizer "$FX/$v" --out "$out" "$@" ;;
        *) $PGRPO import hf "$FX/$v" --out "$out" "$@" ;;
    esac
}
logits() {   # $1 label, $2 policy, $3 variant (its ref.npz), $4 tokens (comma-separated)
    build/tests/gpt2_logits "$2" "$SCRATCH/$1.f32" $(echo "$4" | tr , ' ') && echo "$1 $FX/$3/ref.npz $SCRATCH/$1.f32 $4" >>"$MAN"
}
for v in hf_plain hf_prefix hf_f16 hf_bf16 hf_sharded hf_unaligned llmc_v3 llmc_v5; do
    if import_variant $v "$OUTD/$v.h5" >"$SCRATCH/$v.log" 2>&1; then
        ok "gpt2_import_$v"
        logits ${v}_T32 "$OUTD/$v.h5" $v "$SEQ32"
        logits ${v}_T7 "$OUTD/$v.h5" $v "$SEQ7"
    else
        nok "gpt2_import_$v" "$(tail -1 "$SCRATCH/$v.log")"
    fi
done
# context below n_positions: wpe keeps its first rows
for v in hf_plain llmc_v5; do
    if import_variant $v "$OUTD/${v}_ctx16.h5" --context 16 >"$SCRATCH/${v}_ctx.log" 2>&1; then
        logits ${v}_ctx16 "$OUTD/${v}_ctx16.h5" $v "$(echo "$SEQ32" | cut -d, -f1-16)"
        check "gpt2_context16_${v}_shape" grep -q "context=16 (checkpoint n_positions 32)" "$SCRATCH/${v}_ctx.log"
    else
        nok "gpt2_import_${v}_ctx16" "$(tail -1 "$SCRATCH/${v}_ctx.log")"
    fi
done
$PY tests/reference/gpt2_forward.py check "$MAN"

# ---- every F16 and BF16 bit pattern converts exactly (subnormals, infinities; NaN stays NaN) ----
$PY - "$SCRATCH/dtypes.safetensors" <<'EOF'
import json, struct, sys
import numpy as np
bits = np.arange(65536, dtype="<u2").tobytes()
h = json.dumps({"f16": {"dtype": "F16", "shape": [65536], "data_offsets": [0, 131072]},
                "bf16": {"dtype": "BF16", "shape": [65536], "data_offsets": [131072, 262144]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + bits + bits)
EOF
build/tests/gpt2_logits --tensor "$SCRATCH/dtypes.safetensors" f16 "$SCRATCH/f16.f32" &&
build/tests/gpt2_logits --tensor "$SCRATCH/dtypes.safetensors" bf16 "$SCRATCH/bf16.f32"
check gpt2_f16_bf16_all_bit_patterns $PY -c "
import sys, numpy as np
u = np.arange(65536, dtype=np.uint16)
want = {'f16': u.view(np.float16).astype(np.float32), 'bf16': (u.astype(np.uint32) << 16).view(np.float32)}
bad = 0
for k, w in want.items():
    got = np.fromfile('$SCRATCH/' + k + '.f32', dtype='<f4')
    nan = np.isnan(w)
    bad += got.size != w.size or not (np.isnan(got) == nan).all() or not (got[~nan].view(np.uint32) == w[~nan].view(np.uint32)).all()
sys.exit(bad)"

# ---- the same weights through different doors give the same block, bit for bit ----
dump() { build/tests/gpt2_logits --dump "$1" "$2"; }
dump "$OUTD/hf_plain.h5" "$SCRATCH/plain.bin"
for v in hf_prefix hf_sharded hf_unaligned llmc_v3; do
    dump "$OUTD/$v.h5" "$SCRATCH/$v.bin"
    check "gpt2_same_block_hf_plain_vs_$v" cmp -s "$SCRATCH/plain.bin" "$SCRATCH/$v.bin"
done

# ---- import -> export -> import is bit-identical (weights and tokenizer tables) ----
for v in hf_plain llmc_v5 hf_bf16; do
    if $PGRPO export hf "$OUTD/$v.h5" --out "$SCRATCH/exp_$v" >"$SCRATCH/exp_$v.log" 2>&1 &&
       $PGRPO import hf "$SCRATCH/exp_$v" --out "$OUTD/re_$v.h5" >>"$SCRATCH/exp_$v.log" 2>&1; then
        dump "$OUTD/$v.h5" "$SCRATCH/a_$v.bin"; dump "$OUTD/re_$v.h5" "$SCRATCH/b_$v.bin"
        check "gpt2_roundtrip_bit_identical_$v" cmp -s "$SCRATCH/a_$v.bin" "$SCRATCH/b_$v.bin"
    else
        nok "gpt2_roundtrip_$v" "$(tail -1 "$SCRATCH/exp_$v.log")"
    fi
done
check gpt2_export_files test -s "$SCRATCH/exp_hf_plain/model.safetensors" -a -s "$SCRATCH/exp_hf_plain/config.json" \
    -a -s "$SCRATCH/exp_hf_plain/vocab.json" -a -s "$SCRATCH/exp_hf_plain/merges.txt"
check gpt2_export_header_8_aligned $PY -c "
import struct, sys; b = open('$SCRATCH/exp_hf_plain/model.safetensors', 'rb').read(8)
sys.exit(struct.unpack('<Q', b)[0] % 8)"
# the exported file read by Python (not by pgrpo): hub names, HF (in,out) layout, values bit-equal to the fixture's
check gpt2_export_read_by_python $PY -c "
import json, struct, sys, numpy as np
b = open('$SCRATCH/exp_hf_plain/model.safetensors', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); meta = h.pop('__metadata__')
ref = np.load('$FX/hf_plain/ref.npz')
ok = meta == {'format': 'pt'} and set(h) == set(ref.files)
for k in ref.files:
    a = np.frombuffer(b[8 + n + h[k]['data_offsets'][0]:8 + n + h[k]['data_offsets'][1]], '<f4').reshape(h[k]['shape'])
    ok = ok and h[k]['dtype'] == 'F32' and a.shape == ref[k].shape and (a.astype(np.float64) == ref[k]).all()
c = json.load(open('$SCRATCH/exp_hf_plain/config.json'))
ok = ok and c['model_type'] == 'gpt2' and c['n_layer'] == 2 and c['n_embd'] == 64 and c['n_head'] == 4 and \
     c['vocab_size'] == 300 and c['n_positions'] == 32 and c['activation_function'] == 'gelu_new' and c['n_inner'] is None
sys.exit(not ok)"
# the exported tokenizer files are the originals' content (HF re-serialises JSON: compare parsed)
check gpt2_export_tokenizer_same $PY -c "
import json, sys
a = json.load(open('$FX/hf_plain/vocab.json')); b = json.load(open('$SCRATCH/exp_hf_plain/vocab.json'))
m1 = open('$FX/hf_plain/merges.txt').read().split('\n')[1:]; m2 = open('$SCRATCH/exp_hf_plain/merges.txt').read().split('\n')[1:]
sys.exit(not (a == b and m1 == m2))"
out=$($PGRPO export hf "$OUTD/hf_plain.h5" --out "$SCRATCH/exp_hf_plain" 2>&1); rc=$?
check gpt2_export_refuses_existing_out test $rc -eq 2 -a -n "$(echo "$out" | grep "already exists")"
out=$($PGRPO export hf "$SCRATCH/a_hf_plain.bin" --out "$SCRATCH/exp_bad" 2>&1); rc=$?
check gpt2_export_bad_input_leaves_nothing test $rc -eq 3 -a ! -e "$SCRATCH/exp_bad" -a \
    -z "$(ls "$SCRATCH" | grep 'exp_bad.tmp')"

# the tokenizer may come from another folder (--tokenizer)
mkdir -p "$SCRATCH/notok" && cp "$FX/hf_plain/config.json" "$FX/hf_plain/model.safetensors" "$SCRATCH/notok/"
out=$($PGRPO import hf "$SCRATCH/notok" --tokenizer "$FX/hf_prefix" --out "$SCRATCH/x.h5" 2>&1); rc=$?
check gpt2_hf_tokenizer_from_other_folder test $rc -eq 0 -a -s "$SCRATCH/x.h5"

# ---- a BPE policy on a built-in task (word vocabulary) is refused by name ----
out=$($PGRPO eval "$TINY" --set model.n_layer=2 --set model.n_head=4 --set model.d_model=64 --set model.context=32 \
      --checkpoint "$OUTD/hf_plain.h5" --set run.out_dir="$SCRATCH/run" --quiet 2>&1); rc=$?
check gpt2_bpe_policy_on_word_task_refused test $rc -eq 2 -a -n "$(echo "$out" | grep "vocabulary mismatch")"
