#!/bin/bash
# tests/bench/run.sh — `make bench`: speeds as ratios against peers measured side by side in this run.
# Timings are never asserted (the machine is shared and noisy); the tables print ratios against targets.
#
# Sections are shell functions named section_<name>; BENCH_SECTIONS picks and orders them
# (default: all in SECTIONS). To add one: write section_<name>() below and append <name> to SECTIONS.
# Helpers: run_to FILE CMD... runs CMD once into FILE (key value lines; name files PREFIX.<run>);
#          bench_table spec... prints the medians table over PREFIX.* files (see table_py for the row spec).
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1      # both C and PyTorch on one thread (torch.set_num_threads(1) in the script)
export OMP_NUM_THREADS=1
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-build/bench/out}
SECTIONS="model"
mkdir -p "$OUT"

# run_to FILE CMD...: runs CMD once, stdout into FILE (key value lines), stderr into FILE.err
run_to() {
    local f=$1; shift
    "$@" >"$f" 2>"$f.err" || { echo "# FAILED: $* (see $f.err)"; rm -f "$f"; return 1; }
}

# table_py: reads row specs from argv: "label|c_key|peer_key|target_ratio" (target may be empty) and
# the two file prefixes in env C_PREFIX / P_PREFIX; prints medians over the runs and C/peer ratios.
table_py='
import glob, os, statistics, sys
def medians(prefix):
    vals = {}
    for fn in sorted(glob.glob(prefix + ".[0-9]*")):
        if fn.endswith(".err"): continue
        for line in open(fn):
            p = line.split()
            if len(p) == 2:
                try: vals.setdefault(p[0], []).append(float(p[1]))
                except ValueError: pass
    return {k: statistics.median(v) for k, v in vals.items()}
c, p = medians(os.environ["C_PREFIX"]), medians(os.environ["P_PREFIX"])
cname, pname = os.environ.get("C_NAME", "C"), os.environ.get("P_NAME", "peer")
fmt = "{:<30} {:>12} {:>12} {:>8} {:>8} {:>6}"
print(fmt.format("metric", cname, pname, "ratio", "target", "met"))
for spec in sys.argv[1:]:
    label, ck, pk, tgt = spec.split("|")
    cv, pv = c.get(ck), p.get(pk)
    r = cv / pv if cv is not None and pv else None
    t = float(tgt) if tgt else None
    met = "-" if r is None or t is None else ("yes" if r >= t else "NO")
    f = lambda v: "n/a" if v is None else f"{v:.1f}"
    print(fmt.format(label, f(cv), f(pv), "n/a" if r is None else f"{r:.2f}x",
                     "" if t is None else f">={t:g}x", met))
'
bench_table() { "$PY" -c "$table_py" "$@"; }

# --- section: model (learner step and KV-cache sampling, C vs PyTorch) -------------------------------------
section_model() {
    echo "== model: C (build/bench/bench_model) vs PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), 1 thread, median of $RUNS runs"
    rm -f "$OUT"/model_c.* "$OUT"/model_torch.*
    if [ ! -x build/bench/bench_model ]; then
        echo "# build/bench/bench_model is missing (tests/bench/bench_model.c not built): PyTorch column only"
    fi
    local i
    for ((i = 1; i <= RUNS; i++)); do   # interleaved, so load changes hit both sides alike
        [ -x build/bench/bench_model ] && run_to "$OUT/model_c.$i" build/bench/bench_model
        run_to "$OUT/model_torch.$i" "$PY" tests/bench/bench_torch.py
    done
    C_PREFIX="$OUT/model_c" P_PREFIX="$OUT/model_torch" C_NAME=C P_NAME=PyTorch bench_table \
        "learner tok/s d_model=256|learner_tok_s_c256|learner_tok_s_c256|1.0" \
        "learner tok/s d_model=128|learner_tok_s_c128|learner_tok_s_c128|1.25" \
        "sample tok/s d_model=256|sample_tok_s_c256|sample_tok_s_c256|2" \
        "sample tok/s d_model=128|sample_tok_s_c128|sample_tok_s_c128|3" \
        "sgemm n=512 GFLOP/s|sgemm512_gflops|torch_sgemm512_gflops|"
    # C learner step as a fraction of single-thread sgemm (target >= 70% at d_model 256)
    C_PREFIX="$OUT/model_c" "$PY" - <<'EOF'
import glob, os, statistics
vals = {}
for fn in glob.glob(os.environ["C_PREFIX"] + ".[0-9]*"):
    for line in open(fn):
        p = line.split()
        if len(p) == 2:
            try: vals.setdefault(p[0], []).append(float(p[1]))
            except ValueError: pass
m = {k: statistics.median(v) for k, v in vals.items()}
for c, tgt in ((256, 70), (128, None)):
    g, s = m.get(f"learner_gflops_c{c}"), m.get("sgemm512_gflops")
    if g is None or not s:
        print(f"learner % of sgemm d_model={c}: n/a (bench_model did not print learner_gflops_c{c}/sgemm512_gflops)")
        continue
    pct = 100 * g / s
    t = f" (target >= {tgt}%: {'met' if pct >= tgt else 'NOT met'})" if tgt else ""
    print(f"learner % of sgemm n=512 d_model={c}: {pct:.0f}% ({g:.1f} of {s:.1f} GFLOP/s){t}")
EOF
}

rc=0
for s in ${BENCH_SECTIONS:-$SECTIONS}; do
    "section_$s" || rc=1
    echo
done
exit $rc
