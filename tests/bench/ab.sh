#!/usr/bin/env bash
# ab.sh — A/B two builds of bench_model on this machine: runs BASE and NEW alternately ROUNDS times (so a change
# in the machine's load hits both alike) and prints, per figure matching KEYS (an ERE), the median of each side
# and new/base. Extra arguments go to both binaries; environment variables (BENCH_SAMPLE_ONLY, ...) pass through.
# Usage: bash tests/bench/ab.sh BASE NEW KEYS ROUNDS [bench_model args...]
#   e.g. cp build/bench/bench_model /tmp/base; (change, make build/bench/bench_model);
#        BENCH_SAMPLE_ONLY=1 bash tests/bench/ab.sh /tmp/base build/bench/bench_model 'decode_ms|sample_tokens' 5 5 1 c256,c128
set -euo pipefail
if [ $# -lt 4 ]; then sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
base=$1 new=$2 keys=$3 rounds=$4
shift 4
export OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= rounds; i++)); do
    "$base" "$@" | grep -E "$keys" >>"$out/base" || true
    "$new" "$@" | grep -E "$keys" >>"$out/new" || true
done
/usr/bin/python3 - "$out/base" "$out/new" <<'PY'
import statistics, sys
def load(fn):
    d = {}
    for line in open(fn):
        p = line.split()
        if len(p) == 2:
            d.setdefault(p[0], []).append(float(p[1]))
    return d
b, n = load(sys.argv[1]), load(sys.argv[2])
for k in b:
    if k in n:
        mb, mn = statistics.median(b[k]), statistics.median(n[k])
        print(f"{k:<40} base {mb:10.3f}  new {mn:10.3f}  new/base {mn / mb:.3f}")
PY
