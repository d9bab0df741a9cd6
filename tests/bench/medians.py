"""medians.py — the bench's result files (`key value` lines, one file per run: PREFIX.1, PREFIX.2, ...) read once:
median per key over the runs. Text values (paths) and .err files are skipped. Used by tests/bench/run.sh's tables."""
import glob
import statistics


def medians(prefix):
    vals = {}
    for fn in sorted(glob.glob(prefix + ".[0-9]*")):
        if fn.endswith(".err"):
            continue
        for line in open(fn):
            p = line.split()
            if len(p) == 2:
                try:
                    v = float(p[1])
                except ValueError:   # a text value (a path): not a figure
                    continue
                vals.setdefault(p[0], []).append(v)
    return {k: statistics.median(v) for k, v in vals.items()}
