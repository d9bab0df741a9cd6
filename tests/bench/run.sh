#!/bin/bash
# tests/bench/run.sh — `make bench`: speeds as ratios against peers measured side by side in this run.
# Timings are never asserted (the machine is shared and noisy); the tables print ratios against targets.
#
# Sections are shell functions named section_<name>; BENCH_SECTIONS picks and orders them
# (default: all in SECTIONS; "baseline" too when BENCH_BASELINE names another build's bench_model). To add one: write section_<name>() below and append <name> to SECTIONS, or put it in its own file
# tests/bench/section_<name>.sh (sourced below, appended to SECTIONS in file-name order).
# Helpers: run_to FILE CMD... runs CMD once into FILE (key value lines; name files PREFIX.<run>);
#          bench_table spec... prints the medians table over PREFIX.* files (see table_py for the row spec).
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1      # both C and PyTorch on one thread (torch.set_num_threads(1) in the script)
export OMP_NUM_THREADS=1
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-build/bench/out}
SECTIONS="model threads gpt2s rl groups"
# The machine, once per section header: CPU model and the widest x86 vector ISA it has.
machine() {
    local isa=SSE
    grep -qw avx2 /proc/cpuinfo && isa=AVX2
    grep -qw avx512f /proc/cpuinfo && isa=AVX-512
    local probe; probe=$(OPENBLAS_VERBOSE=2 build/bench/bench_model 0 1 none 2>&1)
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) cores, CPU $isa, pgrpo code $(echo "$probe" |
        sed -n 's/^code_isa *//p'), OpenBLAS core $(echo "$probe" | sed -n 's/^Core: *//p' | head -1)"
}
mkdir -p "$OUT"

# run_to FILE CMD...: runs CMD once, stdout into FILE (key value lines), stderr into FILE.err
run_to() {
    local f=$1; shift
    "$@" >"$f" 2>"$f.err" || { echo "# FAILED: $* (see $f.err)"; rm -f "$f"; return 1; }
}

# table_py: reads row specs from argv: "label|c_key|peer_key|target_ratio|kind" (target may be empty;
# kind "time": lower is better, ratio = peer/C; otherwise ratio = C/peer) and the two file prefixes in
# env C_PREFIX / P_PREFIX; prints medians over the runs, so ratio > 1 always means C is faster.
table_py='
import os, sys
sys.path.insert(0, "tests/bench")
from medians import medians
c, p = medians(os.environ["C_PREFIX"]), medians(os.environ["P_PREFIX"])
cname, pname = os.environ.get("C_NAME", "C"), os.environ.get("P_NAME", "peer")
fmt = "{:<30} {:>12} {:>12} {:>8} {:>8} {:>6}"
print(fmt.format("metric", cname, pname, "ratio", "target", "met"))
for spec in sys.argv[1:]:
    label, ck, pk, tgt, kind = (spec.split("|") + [""])[:5]
    cv, pv = c.get(ck), p.get(pk)
    if kind == "time":
        r = pv / cv if cv and pv is not None else None
    else:
        r = cv / pv if cv is not None and pv else None
    t = float(tgt) if tgt else None
    met = "-" if r is None or t is None else ("yes" if r >= t else "NO")
    f = lambda v: "n/a" if v is None else (f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}")
    print(fmt.format(label, f(cv), f(pv), "n/a" if r is None else f"{r:.2f}x",
                     "" if t is None else f">={t:g}x", met))
'
bench_table() { "$PY" -c "$table_py" "$@"; }

# --- section: model (learner step and KV-cache sampling, C vs PyTorch) -------------------------------------
section_model() {
    make -s build/bench/bench_model >"$OUT/build.log" 2>&1 || sed 's/^/# /' "$OUT/build.log" | tail -5
    echo "== model: C (build/bench/bench_model) vs PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), 1 thread, median of $RUNS runs"
    echo "   machine: $(machine)"
    rm -f "$OUT"/model_c.* "$OUT"/model_torch.*
    if [ ! -x build/bench/bench_model ]; then
        echo "# build/bench/bench_model is missing (tests/bench/bench_model.c not built): PyTorch column only"
    fi
    local i
    for ((i = 1; i <= RUNS; i++)); do   # interleaved, so load changes hit both sides alike
        [ -x build/bench/bench_model ] && run_to "$OUT/model_c.$i" build/bench/bench_model 5 1 c256,c128
        run_to "$OUT/model_torch.$i" "$PY" tests/bench/bench_torch.py --configs c256,c128
    done
    local rows=() c
    for c in 256 128; do
        local t_l=1.3 t_s=3
        [ $c = 256 ] && t_s=2
        rows+=("c$c learner tokens/s|c$c.learner_tokens_per_s|c$c.learner_tokens_per_s|$t_l"
               "c$c   forward ms|c$c.learner_forward_ms|c$c.learner_forward_ms||time"
               "c$c   backward ms|c$c.learner_backward_ms|c$c.learner_backward_ms||time"
               "c$c   clip+AdamW ms|c$c.learner_adamw_ms|c$c.learner_adamw_ms||time"
               "c$c sample tokens/s|c$c.sample_tokens_per_s|c$c.sample_tokens_per_s|$t_s"
               "c$c sample top-k/p tokens/s|c$c.sample_topk50_topp095_tokens_per_s|c$c.sample_topk50_topp095_tokens_per_s|")
    done
    rows+=("sgemm n=512 GFLOP/s|sgemm512_gflops|sgemm512_gflops|")
    C_PREFIX="$OUT/model_c" P_PREFIX="$OUT/model_torch" C_NAME=C P_NAME=PyTorch bench_table "${rows[@]}"
    echo "-- roofline per phase (C, 1 thread): the phase's GEMM/GEMV FLOPs per second vs its products (the packed"
    echo "   GEMM) on exactly the shapes the phase issues, each timed alone"
    echo "   in the same run (% = the roof's time / the phase's time; % OpenBLAS: the same with the products on"
    echo "   cblas_sgemm)"
    C_PREFIX="$OUT/model_c" roof_table c256 c128
    gemm_table
    token_table
}

# bench_runs PREFIX BINARY ARGS...: builds BINARY and runs it RUNS times into $OUT/PREFIX.<run> (the old runs
# removed); returns 1, with the build log's tail, when it does not build.
bench_runs() {
    local prefix=$1 bin=$2 i
    shift 2
    make -s "$bin" >"$OUT/build.log" 2>&1 || { sed 's/^/# /' "$OUT/build.log" | tail -5; return 1; }
    rm -f "$OUT/$prefix".*
    for ((i = 1; i <= RUNS; i++)); do run_to "$OUT/$prefix.$i" "$bin" "$@"; done
}

# token_table: the token draw against ranking the whole vocabulary (build/bench/bench_token_sampler), medians.
token_table() {
    bench_runs tok build/bench/bench_token_sampler 5 || return
    echo "-- token draw (us per token, 1 thread, temperature 0.8): pgrpo's (the best k in one pass) vs ranking the"
    echo "   whole vocabulary (pgrpo's draw before 2026-11-28); differ: of 128 draws with the same uniforms"
    "$PY" - "$OUT/tok" <<'EOF2'
import sys
sys.path.insert(0, "tests/bench")
from medians import medians
m = medians(sys.argv[1])
print(f"{'vocabulary, filter':<28} {'rank all':>9} {'pgrpo':>9} {'ratio':>7} {'differ':>7}")
for k in sorted({k.split('.')[0] for k in m}, key=lambda s: (int(s.split('_')[0][1:]), s)):
    V, f = k.split('_', 1)
    d = next((v for kk, v in m.items() if kk.startswith(k + '.tokens_differ')), float('nan'))
    print(f"{V[1:] + ' ' + f:<28} {m[k + '.rank_all_us']:>9.2f} {m[k + '.own_us']:>9.2f} {m[k + '.speedup']:>6.2f}x {d:>7.0f}")
EOF2
}

# gemm_table: the packed-weight GEMM against cblas_sgemm on the model's shapes (build/bench/bench_gemm), medians.
gemm_table() {
    bench_runs gemm build/bench/bench_gemm 5 || return
    echo "-- weight products (out += X W^T, 1 thread, GFLOP/s): OpenBLAS cblas_sgemm vs pgrpo's gemm_packed"
    echo "   ($(build/bench/bench_gemm 0 | awk '$1 == "gemm_isa" {print $2}') tiles), W packed once or in every call"
    "$PY" - "$OUT/gemm" <<'EOF2'
import sys
sys.path.insert(0, "tests/bench")
from medians import medians
m = medians(sys.argv[1])
print(f"{'M x N x K':<18} {'OpenBLAS':>9} {'packed':>9} {'+pack':>9} {'ratio':>7}")
for k in sorted({k.split('.')[0] for k in m if k.startswith('m')}, key=lambda s: [int(p[1:]) for p in s.split('_')]):
    M, N, K = (p[1:] for p in k.split('_'))
    print(f"{M + ' x ' + N + ' x ' + K:<18} {m[k + '.openblas_gflops']:>9.1f} {m[k + '.packed_gflops']:>9.1f} "
          f"{m[k + '.packed_each_call_gflops']:>9.1f} {m[k + '.packed_vs_openblas']:>6.2f}x")
EOF2
}

# roof_table TAG...: the per-phase roofline rows from the bench_model files $C_PREFIX.<run> (medians). The roof
# times the products as the phase runs them (pgrpo's packed GEMM); "% OpenBLAS"
# is the same phase time against the roof had those products stayed on OpenBLAS's sgemm.
roof_table() {
    "$PY" - "$@" <<'EOF2'
import os, sys
sys.path.insert(0, "tests/bench")
from medians import medians
m = medians(os.environ["C_PREFIX"])
targets = {"learner": 85, "decode": 80}
print(f"{'phase':<18} {'GFLOP/s':>9} {'roof':>9} {'% roof':>8} {'target':>8} {'met':>5} {'% OpenBLAS':>11}")
for tag in sys.argv[1:]:
    for ph in ("forward", "backward", "learner", "prefill", "decode"):
        pct = m.get(f"{tag}.{ph}_pct_of_roof")
        if pct is None: continue
        g, r = m.get(f"{tag}.{ph}_gflops"), m.get(f"{tag}.{ph}_roof_gflops")
        if ph == "learner":
            g, r = m.get(f"{tag}.learner_gflops"), None
        t = targets.get(ph)
        f = lambda v: "" if v is None else f"{v:.1f}"
        ob = m.get(f"{tag}.{ph}_pct_of_openblas_roof")
        print(f"{tag + ' ' + ph:<18} {f(g):>9} {f(r):>9} {pct:>7.0f}% {'' if t is None else '>=' + str(t) + '%':>8} "
              f"{'-' if t is None else ('yes' if pct >= t else 'NO'):>5} {'' if ob is None else f'{ob:.0f}%':>11}")
EOF2
}

# --- section: threads (ranks x threads: 1x1, 1x2, 2x1; wall clock) --------------------------------------------
# 1x2 = one bench_model on 2 threads; 2x1 = two single-thread bench_model processes side by side (what 2 ranks
# of 1 thread do), their tokens/s summed. PyTorch on 1 and 2 threads beside them. The bar (>= 1.7) is read on
# the paired figure: one process alternating a 1-thread and a 2-thread learner step / sampling call, the median
# of the rounds' ratios (BENCH_THREAD_PAIRS in bench_model.c), since on a shared machine two processes run
# minutes apart see different loads.
section_threads() {
    make -s build/bench/bench_model >"$OUT/build.log" 2>&1 || { sed 's/^/# /' "$OUT/build.log" | tail -5; return 1; }
    echo "== threads: ranks x threads per rank, wall clock, median of $RUNS runs"
    echo "   machine: $(machine)"
    rm -f "$OUT"/thr_*
    local i
    export BENCH_WALL=1
    for ((i = 1; i <= RUNS; i++)); do
        run_to "$OUT/thr_c11.$i" build/bench/bench_model 3 1 c256,c128
        run_to "$OUT/thr_c12.$i" build/bench/bench_model 3 2 c256,c128
        run_to "$OUT/thr_pair.$i" env BENCH_THREAD_PAIRS=1 build/bench/bench_model 5 2 c256,c128
        build/bench/bench_model 3 1 c256,c128 >"$OUT/thr_c21a.$i" 2>/dev/null &
        local pid=$!
        build/bench/bench_model 3 1 c256,c128 >"$OUT/thr_c21b.$i" 2>/dev/null
        wait $pid
        awk 'FNR==NR {a[$1]=$2; next} ($1 in a) && $2 ~ /^[0-9.]+$/ {print $1, a[$1] + $2}' \
            "$OUT/thr_c21a.$i" "$OUT/thr_c21b.$i" >"$OUT/thr_c21.$i"
        run_to "$OUT/thr_t1.$i" "$PY" tests/bench/bench_torch.py --reps 3 --threads 1 --configs c256,c128
        run_to "$OUT/thr_t2.$i" "$PY" tests/bench/bench_torch.py --reps 3 --threads 2 --configs c256,c128
    done
    unset BENCH_WALL
    OUT="$OUT" "$PY" - <<'EOF2'
import os, sys
sys.path.insert(0, "tests/bench")
from medians import medians
def med(prefix): return medians(f"{os.environ['OUT']}/{prefix}")
cols = {k: med(k) for k in ("thr_c11", "thr_c12", "thr_c21", "thr_t1", "thr_t2")}
pair = med("thr_pair")
print(f"{'tokens/s':<22} {'C 1x1':>9} {'C 1x2':>9} {'C 2x1':>9} {'1x2/1x1':>8} {'paired':>7} {'(>=1.7)':>7} {'torch 1':>9} {'torch 2':>9} {'C/torch@2':>9}")
for tag in ("c256", "c128"):
    for what, key in (("learner", "learner_tokens_per_s"), ("sample", "sample_tokens_per_s")):
        k = f"{tag}.{key}"
        v = [cols[c].get(k) for c in cols]
        f = lambda x: "n/a" if x is None else f"{x:.0f}"
        r = v[1] / v[0] if v[0] and v[1] else None
        rp = pair.get(f"{tag}.pair_{what}_speedup")
        rt = v[1] / v[4] if v[1] and v[4] else None
        print(f"{tag + ' ' + what:<22} {f(v[0]):>9} {f(v[1]):>9} {f(v[2]):>9} "
              f"{'n/a' if r is None else f'{r:.2f}x':>8} {'n/a' if rp is None else f'{rp:.2f}x':>7} "
              f"{'-' if rp is None else ('yes' if rp >= 1.7 else 'NO'):>7} "
              f"{f(v[3]):>9} {f(v[4]):>9} {'n/a' if rt is None else f'{rt:.2f}x':>9}")
EOF2
}

# --- section: gpt2s (GPT-2-small shape: learner, sampling, memory, checkpoint I/O vs dd) ---------------------
# One config per process, so each process's peak RSS is that model's. The checkpoint figure: params + AdamW
# moments through the store container, fsync included, against dd of the same size on the same disk.
section_gpt2s() {
    make -s build/bench/bench_model >"$OUT/build.log" 2>&1 || { sed 's/^/# /' "$OUT/build.log" | tail -5; return 1; }
    local reps=${BENCH_GPT2S_REPS:-2} i
    echo "== gpt2s: d_model 768, 12 layers, 12 heads, context 256, vocab 8192 (B=4 x T=256 learner batch; 32 sequences x 32 new tokens), 1 thread, median of $RUNS runs"
    echo "   machine: $(machine)"
    rm -f "$OUT"/g2_*
    for ((i = 1; i <= RUNS; i++)); do
        BENCH_CKPT_DIR="$OUT" run_to "$OUT/g2_c.$i" build/bench/bench_model "$reps" 1 gpt2s || continue
        local ck
        ck=$(awk '$1 == "gpt2s.ckpt_path" {print $2}' "$OUT/g2_c.$i")
        ckpt_reads "$i" "$ck"
        rm -f "$ck"
        run_to "$OUT/g2_t.$i" "$PY" tests/bench/bench_torch.py --reps "$reps" --configs gpt2s
    done
    C_PREFIX="$OUT/g2_c" P_PREFIX="$OUT/g2_t" C_NAME=C P_NAME=PyTorch bench_table \
        "learner tokens/s|gpt2s.learner_tokens_per_s|gpt2s.learner_tokens_per_s|1.3" \
        "  forward ms|gpt2s.learner_forward_ms|gpt2s.learner_forward_ms||time" \
        "  backward ms|gpt2s.learner_backward_ms|gpt2s.learner_backward_ms||time" \
        "  clip+AdamW ms|gpt2s.learner_adamw_ms|gpt2s.learner_adamw_ms||time" \
        "sample tokens/s|gpt2s.sample_tokens_per_s|gpt2s.sample_tokens_per_s|2" \
        "sample top-k/p tokens/s|gpt2s.sample_topk50_topp095_tokens_per_s|gpt2s.sample_topk50_topp095_tokens_per_s|" \
        "peak RSS MiB|peak_rss_mib|peak_rss_mib|1|time"
    echo "-- roofline per phase"
    C_PREFIX="$OUT/g2_c" roof_table gpt2s
    echo "-- checkpoint: params + AdamW moments ($(awk '$1 == "gpt2s.ckpt_mb" {print $2; exit}' "$OUT/g2_c.1" 2>/dev/null) MB), store container incl. fsync vs dd bs=1M of the same size, same disk ($OUT)"
    C_PREFIX="$OUT/g2_c" P_PREFIX="$OUT/g2_dd" C_NAME=pgrpo P_NAME=dd bench_table \
        "write MB/s (fsync)|gpt2s.ckpt_write_mb_per_s|write_mb_per_s|0.8" \
        "read MB/s|gpt2s.ckpt_read_mb_per_s|read_mb_per_s|0.8"
}

# ckpt_reads I CKPT: dd's write (bs=1M, conv=fsync) of a copy of CKPT (the checkpoint just written: the same bytes,
# not /dev/zero's zeros, which this machine's disk reads back twice as fast), twice, the faster kept (as
# bench_model keeps its faster of two), then the reads, each once its file has left the page cache: pgrpo's as a
# resume does it (a fresh process, BENCH_CKPT_READ) and dd's of the copy, twice each in the order pgrpo, dd, dd,
# pgrpo, each side's faster read kept. Why: on this para-virtualised machine memory the guest freed lately costs a
# host fault per page when touched again, and the first resume-like process after the writes (its model and
# moments freshly allocated) pays it: pgrpo's first read took 1.9-2.3 s, its second 0.27-0.44 s, and a 1.1 s dd
# read showed up between 0.2 s ones. MB/s key value lines go to g2_dd.I, pgrpo's to g2_c.I.
drop_cache() {
    "$PY" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}
dd_read() {   # (ckpt_reads' locals: mb, best_dd)
    local s e
    drop_cache "$OUT/dd_test"
    s=$(date +%s.%N)
    dd if="$OUT/dd_test" of=/dev/null bs=1M status=none
    e=$(date +%s.%N)
    best_dd=$(awk -v a="$best_dd" -v mb="$mb" -v s="$s" -v e="$e" 'BEGIN {r = mb * 1.048576 / (e - s); print (r > a ? r : a)}')
}
ckpt_reads() {
    local i=$1 ck=$2 mb t0 t1 k best_dd=0 best_c=0 best_w=0 r
    mb=$(( $(stat -c %s "$ck") / 1048576 ))
    for k in 1 2; do   # two writes, like bench_model's: the faster kept
        rm -f "$OUT/dd_test"
        t0=$(date +%s.%N)
        dd if="$ck" of="$OUT/dd_test" bs=1M count="$mb" conv=fsync status=none
        t1=$(date +%s.%N)
        best_w=$(awk -v a="${best_w:-0}" -v mb="$mb" -v s="$t0" -v e="$t1" 'BEGIN {r = mb * 1.048576 / (e - s); print (r > a ? r : a)}')
    done
    echo "write_mb_per_s $best_w" >"$OUT/g2_dd.$i"
    for k in 1 2; do   # pgrpo first, then dd first: each side takes the first read after the writes once
        [ $k = 2 ] && dd_read
        if BENCH_CKPT_READ="$ck" run_to "$OUT/g2_r.$i.$k" build/bench/bench_model 1 1 gpt2s; then
            r=$(awk '$1 == "gpt2s.ckpt_read_mb_per_s" {print $2}' "$OUT/g2_r.$i.$k")
            best_c=$(awk -v a="$best_c" -v b="${r:-0}" 'BEGIN {print (b > a ? b : a)}')
        fi
        [ $k = 1 ] && dd_read
    done
    rm -f "$OUT/dd_test"
    echo "read_mb_per_s $best_dd" >>"$OUT/g2_dd.$i"
    [ "$best_c" != 0 ] && echo "gpt2s.ckpt_read_mb_per_s $best_c" >>"$OUT/g2_c.$i"
    grep -h '^gpt2s\.ckpt_open_s\|^gpt2s\.ckpt_get_s' "$OUT/g2_r.$i.1" >>"$OUT/g2_c.$i" 2>/dev/null
    return 0
}

# --- section: rl (one RL step split by phase; synchronous vs asynchronous rollouts; HDF5 I/O share) ---------
section_rl() {
    local deck=inputs/bench_rl.deck mpirun=(mpirun -np 2 -x OPENBLAS_NUM_THREADS)
    [ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
    [ "$(nproc)" -lt 2 ] && mpirun+=(--oversubscribe)
    echo "== rl: one P-GRPO step of $deck on 2 ranks (P=32, G=8): mean over steps 5.. of a run, median of $RUNS runs"
    make -s bin/pgrpo || return 1
    [ -f build/bench/rl_sft_base.h5 ] || bin/pgrpo sft "$deck" --quiet || return 1
    local i mode
    for ((i = 1; i <= RUNS; i++)); do   # interleaved so load changes hit every mode alike
        for mode in colocated sync async; do
            local extra=()
            [ $mode = sync ] && extra=(--set train.rollout_ranks=1)
            [ $mode = async ] && extra=(--set train.rollout_ranks=1 --set train.async=true)
            "${mpirun[@]}" bin/pgrpo train "$deck" --quiet --set run.out_dir="$OUT/rl_$mode.$i" "${extra[@]}" \
                >"$OUT/rl_$mode.$i.log" 2>&1 || { echo "# FAILED: $mode run $i (see $OUT/rl_$mode.$i.log)"; return 1; }
        done
    done
    OUT="$OUT" RUNS="$RUNS" "$PY" - <<'EOF2'
import os, statistics, h5py, numpy as np
out, runs = os.environ["OUT"], int(os.environ["RUNS"])
phases = ["rollout", "reference", "reward", "transfer", "learner_fwd_bwd", "allreduce", "broadcast", "io", "checkpoint", "step"]
def med(mode):
    # Means over steps 5.. (checkpoints and buffered trajectory writes land on some steps only), median over runs.
    per = {p: [] for p in phases}
    for i in range(1, runs + 1):
        with h5py.File(f"{out}/rl_{mode}.{i}/metrics.h5", "r") as f:
            for p in phases:
                per[p].append(float(np.mean(f[f"observables/time/{p}/value"][5:])))
    return {p: statistics.median(v) for p, v in per.items()}
m = {mode: med(mode) for mode in ("colocated", "sync", "async")}
print(f"{'phase (ms per step)':<22}" + "".join(f"{k:>12}" for k in m))
for p in phases:
    print(f"{p:<22}" + "".join(f"{1e3 * m[k][p]:>12.1f}" for k in m))
r = m["sync"]["step"] / m["async"]["step"]
print(f"asynchronous vs synchronous steps/s (1 rollout + 1 learner rank): {r:.2f}x  target >= 1.5x: {'met' if r >= 1.5 else 'NOT met'}")
for k in m:
    io = (m[k]["io"] + m[k]["checkpoint"]) / (m[k]["step"] + m[k]["checkpoint"])
    print(f"HDF5 I/O share of the step ({k}: trajectories + metrics + checkpoints): {100 * io:.1f}%  target <= 5%: {'met' if io <= 0.05 else 'NOT met'}")
EOF2
    # The GPT-2-small shape: P=8, G=4 on 2 ranks (colocated), one run; the mean over steps 1.. of each phase.
    local g2=tests/bench/gpt2s_rl.deck
    echo "-- GPT-2-small shape ($g2: 12 layers, d_model 768, context 256, personas vocabulary), P=8 G=4, 2 ranks colocated, $(getconf _NPROCESSORS_ONLN) cores"
    [ -f build/bench/rl_gpt2s_base.h5 ] || bin/pgrpo sft "$g2" --quiet >"$OUT/rl_gpt2s_sft.log" 2>&1 ||
        { echo "# FAILED: sft $g2 (see $OUT/rl_gpt2s_sft.log)"; return 1; }
    rm -rf "$OUT/rl_gpt2s"
    "${mpirun[@]}" bin/pgrpo train "$g2" --quiet --set run.out_dir="$OUT/rl_gpt2s" >"$OUT/rl_gpt2s.log" 2>&1 ||
        { echo "# FAILED: train $g2 (see $OUT/rl_gpt2s.log)"; return 1; }
    OUT="$OUT" "$PY" - <<'EOF2'
import os, h5py, numpy as np
with h5py.File(f"{os.environ['OUT']}/rl_gpt2s/metrics.h5", "r") as f:
    t = f["observables/time"]
    row = {p: 1e3 * float(np.mean(t[p]["value"][1:])) for p in ("rollout", "reference", "learner_fwd_bwd", "allreduce", "step") if p in t}
print("  " + "  ".join(f"{k} {v:.0f} ms" for k, v in row.items()))
EOF2
}

# --- section: groups (preference-group discovery vs scikit-learn 1.2, README "Groups") -----------------------
# groups_kv FILE GROUPS_H5 [PEER_LABELS]: key value lines from a pgrpo groups.h5 (stage times, ARI vs truth, the
# ARI against the peer's labels, memory) into FILE.
groups_kv() {
    "$PY" - "$@" <<'EOF2'
import sys, h5py, numpy as np
from sklearn.metrics import adjusted_rand_score as ari
out, fn = sys.argv[1], sys.argv[2]
with h5py.File(fn, "r") as f:
    a = dict(f.attrs)
    t = {k[5:-2]: float(v) for k, v in a.items() if k.startswith("time_") and k.endswith("_s")}
    kv = {f"{k}_s": v for k, v in t.items()}
    kv["total_s"] = sum(v for k, v in t.items() if k != "load")
    kv["spectral_kmeans_s"] = t.get("spectral", 0) + t.get("kmeans", 0) + t.get("criteria", 0)
    kv["ari"] = float(f["eval/ari"][()]) if "eval/ari" in f else float("nan")
    kv["rss_mib"] = float(a["peak_rss_mib_max"]); kv["share_mib"] = float(a["share_mib_max"])
    if len(sys.argv) > 3:
        kv["ari_vs_peer"] = ari(np.loadtxt(sys.argv[3], dtype=int), f["user_group"][:])
with open(out, "w") as o:
    for k, v in kv.items(): print(k, v, file=o)
EOF2
}
# peer_kv FILE: the peer's JSON line (FILE.json) as key value lines.
peer_kv() {
    "$PY" -c "
import json, sys
j = json.loads(open('$1.json').read().strip().splitlines()[-1])
for k, v in j.items():
    if isinstance(v, (int, float)): print(k, v)
    elif isinstance(v, dict):
        for k2, v2 in v.items():
            if isinstance(v2, (int, float)): print(k + '_' + k2, v2)
" >"$1"
}
section_groups() {
    local deck=inputs/bench_groups.deck mpirun=(mpirun -np 2 -x OPENBLAS_NUM_THREADS) i n
    [ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
    [ "$(nproc)" -lt 2 ] && mpirun+=(--oversubscribe)
    make -s bin/pgrpo || return 1
    local sizes=${BENCH_GROUPS_SIZES:-"10000 100000 1000000"}
    echo "== groups: pgrpo groups (2 ranks, 1 BLAS thread each) vs scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)') (2 threads), median of $RUNS runs ($(lscpu | sed -n 's/^Model name: *//p'))"
    for n in 50000 5000 $sizes; do
        [ -s "$OUT/fb_$n.h5" ] || "$PY" tests/bench/groups_data.py --n $n --d 256 --k 6 --observed 0.5 --noise 1.0 \
            --seed 11 --out "$OUT/fb_$n.h5" >/dev/null || { echo "# FAILED: groups_data.py --n $n"; return 1; }
    done
    rm -rf "$OUT"/grp_* "$OUT"/grpdir_*
    local G=(bin/pgrpo groups "$deck" --quiet --set groups.k=6 --set groups.dims=16 --set groups.n_init=4)
    for ((i = 1; i <= RUNS; i++)); do   # interleaved, so load changes hit both sides alike
        "${mpirun[@]}" "${G[@]}" --set groups.feedback_file="$OUT/fb_50000.h5" --set run.out_dir="$OUT/grpdir_pca_$i" \
            >"$OUT/grp_pca.$i.log" 2>&1 || { echo "# FAILED: pgrpo groups (see $OUT/grp_pca.$i.log)"; return 1; }
        OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" tests/bench/groups_peer.py "$OUT/fb_50000.h5" --k 6 --r 16 \
            --n-init 4 --threads 2 --labels-out "$OUT/grp_peerlab.$i" >"$OUT/grp_peer.$i.json" 2>"$OUT/grp_peer.$i.err"
        peer_kv "$OUT/grp_peer.$i"
        groups_kv "$OUT/grp_pca.$i" "$OUT/grpdir_pca_$i/groups.h5" "$OUT/grp_peerlab.$i"
        "${mpirun[@]}" "${G[@]}" --set groups.method=spectral --set groups.gamma=0.05 \
            --set groups.feedback_file="$OUT/fb_5000.h5" --set run.out_dir="$OUT/grpdir_spec_$i" \
            >"$OUT/grp_spec.$i.log" 2>&1 || { echo "# FAILED: pgrpo groups spectral (see $OUT/grp_spec.$i.log)"; return 1; }
        OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" tests/bench/groups_peer.py "$OUT/fb_5000.h5" --k 6 --r 16 \
            --n-init 4 --threads 2 --spectral --gamma 0.05 --labels-out "$OUT/grp_speclab.$i" >"$OUT/grp_specpeer.$i.json" 2>"$OUT/grp_specpeer.$i.err"
        peer_kv "$OUT/grp_specpeer.$i"
        groups_kv "$OUT/grp_spec.$i" "$OUT/grpdir_spec_$i/groups.h5" "$OUT/grp_speclab.$i"
    done
    echo "-- PCA path: 50k users x 256 probes, K = 6, 16 components, n_init 4 (seconds; ratio = peer / pgrpo)"
    C_PREFIX="$OUT/grp_pca" P_PREFIX="$OUT/grp_peer" C_NAME=pgrpo P_NAME=sklearn bench_table \
        "impute+standardise|stats_s|seconds_impute_scale||time" "pca|pca_s|seconds_pca||time" \
        "kmeans (+criteria)|kmeans_s|seconds_kmeans||time" "total (no file read)|total_s|seconds_total|2|time" \
        "file read|load_s|seconds_read||time" "ARI vs truth|ari|ari_truth|" "ARI pgrpo vs sklearn labels|ari_vs_peer||" \
        "peak RSS MiB (largest rank)|rss_mib|peak_rss_mib||time"
    echo "-- spectral path: 5k users, K = 6, gamma 0.05 on 16 components"
    C_PREFIX="$OUT/grp_spec" P_PREFIX="$OUT/grp_specpeer" C_NAME=pgrpo P_NAME=sklearn bench_table \
        "pca|pca_s|seconds_pca||time" "spectral+kmeans|spectral_kmeans_s|seconds_spectral||time" \
        "total (no file read)|total_s|seconds_total|2|time" "ARI vs truth|ari|ari_truth|" \
        "ARI pgrpo vs sklearn labels|ari_vs_peer||" "peak RSS MiB (largest rank)|rss_mib|peak_rss_mib||time"
    echo "-- scale: the PCA path on 2 ranks, one run per size (memory: peak RSS of the largest rank vs its share of the float32 matrix + mask)"
    printf '%10s %10s %10s %10s %10s %12s %12s\n' users load_s stats_s pca_s kmeans_s rss_MiB share_MiB
    for n in $sizes; do
        "${mpirun[@]}" "${G[@]}" --set groups.feedback_file="$OUT/fb_$n.h5" --set run.out_dir="$OUT/grp_scale_$n.d" \
            >"$OUT/grp_scale_$n.log" 2>&1 || { echo "# FAILED: pgrpo groups n=$n (see $OUT/grp_scale_$n.log)"; continue; }
        groups_kv "$OUT/grp_scale_$n" "$OUT/grp_scale_$n.d/groups.h5"
        awk -v n=$n '{v[$1]=$2} END {printf "%10d %10.2f %10.2f %10.2f %10.2f %12.1f %12.1f\n", n, v["load_s"], v["stats_s"], v["pca_s"], v["kmeans_s"], v["rss_mib"], v["share_mib"]}' "$OUT/grp_scale_$n"
    done
}

# --- section: baseline (this build's model kernels vs another build's, e.g. before a refactor) ---------------
# BENCH_BASELINE=/path/to/bench_model (a copy of build/bench/bench_model from the other commit): both run
# interleaved on this machine, so the ratio is free of the load drift between separate sessions. Ratio > 1:
# this build is faster. Runs by default whenever BENCH_BASELINE is set.
section_baseline() {
    local base=${BENCH_BASELINE:-}
    [ -x "$base" ] || { echo "# baseline: set BENCH_BASELINE to another build's bench_model"; return 1; }
    echo "== baseline: build/bench/bench_model vs $base, 1 thread, median of $RUNS runs ($(lscpu | sed -n 's/^Model name: *//p'))"
    make -s build/bench/bench_model >"$OUT/build.log" 2>&1 || { sed 's/^/# /' "$OUT/build.log" | tail -5; return 1; }
    rm -f "$OUT"/base_this.* "$OUT"/base_other.*
    local i rows=() c
    for ((i = 1; i <= RUNS; i++)); do
        run_to "$OUT/base_other.$i" "$base"
        run_to "$OUT/base_this.$i" build/bench/bench_model
    done
    for c in 256 128; do
        rows+=("c$c learner tokens/s|c$c.learner_tokens_per_s|c$c.learner_tokens_per_s|"
               "c$c   forward ms|c$c.learner_forward_ms|c$c.learner_forward_ms||time"
               "c$c   backward ms|c$c.learner_backward_ms|c$c.learner_backward_ms||time"
               "c$c sample tokens/s|c$c.sample_tokens_per_s|c$c.sample_tokens_per_s|"
               "c$c sample top-k/p tokens/s|c$c.sample_topk50_topp095_tokens_per_s|c$c.sample_topk50_topp095_tokens_per_s|")
    done
    C_PREFIX="$OUT/base_this" P_PREFIX="$OUT/base_other" C_NAME=this P_NAME=baseline bench_table "${rows[@]}"
}
for f in tests/bench/section_*.sh; do
    [ -e "$f" ] || continue
    . "$f"
    n=${f##*/section_}; SECTIONS="$SECTIONS ${n%.sh}"
done
[ -n "${BENCH_BASELINE:-}" ] && SECTIONS="$SECTIONS baseline"

rc=0
for s in ${BENCH_SECTIONS:-$SECTIONS}; do
    "section_$s" || rc=1
    echo
done
exit $rc
