#!/usr/bin/python3
"""jobs/study_cell.py — the study grid (inputs/study/*.grid) and the runner of one cell. The only place a grid
is parsed: jobs/study.sh (one machine) and jobs/study.sbatch (one Slurm array task per cell) both call it.

usage: study_cell.py GRID --count                  number of cells
       study_cell.py GRID --list [--out DIR]       index, id, status (todo|running|done|failed) per cell
       study_cell.py GRID --check                  parse the grid only (exit 2 with one line when it is bad)
       study_cell.py GRID --indices LIST           the cells of LIST ("3,5-7", "all"), one index a line
       study_cell.py GRID --run I [--np N] [--launcher mpirun|srun] [--out DIR] [--force]

Grid file: `key = v1 v2 ...` lines, `#` comments; the cells are the cartesian product of the list keys. `[name]`
lines start blocks: each block is its own product, its keys replacing the ones above the first block (`set`
adds to them); the cells are the blocks' cells in file order (no block: one product). Keys:
  deck = FILE        base deck (one value, above the blocks; paths are relative to the repository root)
  out = DIR          cell folders go to DIR/cells/<id>, SFT bases to DIR/bases/ (default runs/study/<grid name>)
  task = personas recsys reviews                 -> task.name
  estimator = grpo drgrpo pgrpo pgrpo_ema        -> train.advantage (drgrpo also train.loss_agg = drgrpo;
                                                    pgrpo: pgrpo.history = cumulative, pgrpo_ema: ema)
  groups = truth discover random                 -> train.groups
  G = 2 4 8                                      -> train.group_size
  lr = 3e-4 1e-3 3e-3                            -> train.lr (the id keeps the spelling of the grid)
  seed = 1 2 3                                   -> run.seed; one SFT base per (task, seed, split)
  split = tune eval                              optional, default eval; tune runs in another task world:
                                                    task.seed = tune_task_seed (default 1001)
  steps = N                                      -> train.steps (one value; optional)
  set = section.key=value ...                    more --set overrides for every cell (of the block)
  tune_task_seed = N                             task.seed of split = tune (one value, above the blocks)
Order: per block, task, estimator, groups, G, lr, seed, split, the last varying fastest; index = position
(0-based) over all blocks, so `--cells 3,5-7` and SLURM_ARRAY_TASK_ID name the same cells everywhere.
Cell id: <task>-<estimator>-<groups>-G<G>-lr<lr>-s<seed>-<split>.

A cell: DIR/cells/<id>/ holds the run (metrics.h5, trajectories.h5, checkpoints/, final.h5, train.log), eval.h5,
eval.txt and cell.json (written atomically: "running" at the start, "done" or "failed" at the end; a cell stopped
by a signal stays "running" with rc_train 75 and is resumed by the next run). `pgrpo train --resume auto` makes a
preempted cell resume; a "done" cell is skipped unless --force (which starts it again from nothing). The SFT base
DIR/bases/<task>-s<seed>[-tune]/sft_base.h5 is built once under a lock by the first cell that needs it; its
base.json records the command and rank count, and a cell refuses a base built differently (reproducibility).
Exit: 0 cell done (or already done), 1 cell failed (recorded), 2 grid or usage error, 3 runtime error (e.g. the
cell is locked by another runner), 75 stopped after a checkpoint (run the same command again to resume).
"""
import fcntl
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

LIST_KEYS = ("task", "estimator", "groups", "G", "lr", "seed", "split")   # the product order, last fastest
ONE_KEYS = ("deck", "out", "steps", "tune_task_seed")
TOP_ONLY = ("deck", "out", "tune_task_seed")
KEYS = LIST_KEYS + ONE_KEYS + ("set",)
CHOICES = {"task": ("personas", "recsys", "reviews"), "estimator": ("grpo", "drgrpo", "pgrpo", "pgrpo_ema"),
           "groups": ("truth", "discover", "random"), "split": ("tune", "eval")}
REQUIRED = ("deck", "task", "estimator", "groups", "G", "lr", "seed")
# deck keys the grid sets itself: a `set` of one of them would be silently overridden (or override the grid)
RESERVED = {"run.out_dir": "out", "run.seed": "seed", "task.name": "task", "task.seed": "split",
            "train.base": "(the shared SFT base)", "sft.out": "(the shared SFT base)", "train.advantage": "estimator",
            "train.loss_agg": "estimator", "pgrpo.history": "estimator", "train.groups": "groups",
            "train.group_size": "G", "train.lr": "lr", "train.steps": "steps"}
BASE_SECTIONS = ("run.", "model.", "task.", "sft.")  # `set` entries that change the SFT base
EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_RUNTIME, EXIT_PREEMPTED = 0, 1, 2, 3, 75
PY = "study"


class GridError(Exception):
    pass


def die(msg, code=EXIT_USAGE):
    print(f"{PY}: error: {msg}", file=sys.stderr)
    sys.exit(code)


def _near(word, options):
    best = min(options, key=lambda o: _edits(word.lower(), o.lower()))
    return f"; did you mean '{best}'?" if _edits(word.lower(), best.lower()) <= 2 else ""


def _edits(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _value(path, ln, key, v):
    """One grid value checked and converted; GridError naming file:line, key and value otherwise."""
    where = f"{path}:{ln}: {key} = {v}"
    if key in CHOICES:
        if v not in CHOICES[key]:
            raise GridError(f"{where}: not one of {' '.join(CHOICES[key])}{_near(v, CHOICES[key])}")
        return v
    if key in ("G", "seed", "steps", "tune_task_seed"):
        if not re.fullmatch(r"[0-9]+", v) or (key == "G" and int(v) < 1):
            raise GridError(f"{where}: want a whole number{' >= 1' if key == 'G' else ' >= 0'}")
        return int(v)
    if key == "lr":
        try:
            x = float(v)
        except ValueError:
            x = float("nan")
        if not (math.isfinite(x) and x > 0):
            raise GridError(f"{where}: want a positive finite number such as 1e-3")
        return x
    if key == "set":
        m = re.fullmatch(r"([a-z_]+\.[a-z_0-9]+)=(\S+)", v)
        if not m:
            raise GridError(f"{where}: want section.key=value (no spaces), as for pgrpo --set")
        if m.group(1) in RESERVED:
            raise GridError(f"{where}: {m.group(1)} is set by the grid key {RESERVED[m.group(1)]}; use that key")
        return v
    return v   # deck, out: checked after parsing


def parse_grid(path):
    """GRID -> {"top": {key: (values, line)}, "blocks": [(name, line, {key: (values, line)})]}; GridError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise GridError(f"{path}: cannot read the grid ({e.__class__.__name__}: {e}); give an inputs/study/*.grid")
    top, blocks, cur = {}, [], None
    for ln, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]", line)
        if m:
            if any(b[0] == m.group(1) for b in blocks):
                raise GridError(f"{path}:{ln}: block [{m.group(1)}] given twice; give each block its own name")
            cur = {}
            blocks.append((m.group(1), ln, cur))
            continue
        if "=" not in line:
            raise GridError(f"{path}:{ln}: want 'key = values' or '[block]', got '{line[:60]}'")
        key, vals = line.split("=", 1)
        key, words = key.strip(), vals.split()
        if key not in KEYS:
            raise GridError(f"{path}:{ln}: unknown key '{key}' (keys: {' '.join(KEYS)}){_near(key, KEYS)}")
        into = top if cur is None else cur
        if key in into:
            raise GridError(f"{path}:{ln}: key '{key}' given twice (first on line {into[key][1]}); "
                            "list every value on one line")
        if cur is not None and key in TOP_ONLY:
            raise GridError(f"{path}:{ln}: key '{key}' belongs above the first [block] (one value for the grid)")
        if not words:
            raise GridError(f"{path}:{ln}: key '{key}' has no values; give at least one or drop the line")
        if key in ONE_KEYS and len(words) > 1:
            raise GridError(f"{path}:{ln}: key '{key}' takes one value, got {len(words)}")
        conv = [_value(path, ln, key, w) for w in words]
        if key != "set" and len(set(conv)) < len(conv):
            raise GridError(f"{path}:{ln}: key '{key}' lists a value twice; list each once")
        into[key] = (list(zip(words, conv)), ln)
    return {"top": top, "blocks": blocks or [("", 0, {})]}


def read_grid(path):
    """The grid's settings and its cells, in index order: (settings, [cell dict]); GridError when bad."""
    g = parse_grid(path)
    top = g["top"]
    one = lambda k, d: top[k][0][0][1] if k in top else d   # noqa: E731
    deck, stem = one("deck", None), os.path.splitext(os.path.basename(path))[0]
    settings = {"grid": path, "deck": deck, "out": one("out", os.path.join("runs", "study", stem)),
                "tune_task_seed": one("tune_task_seed", 1001)}
    if deck is None:
        raise GridError(f"{path}: key 'deck' is missing; add e.g. 'deck = inputs/demo.deck' above the blocks")
    if not os.path.isfile(deck):
        raise GridError(f"{path}:{top['deck'][1]}: deck = {deck}: no such file (paths are relative to the "
                        f"repository root, {os.getcwd()})")
    if settings["tune_task_seed"] == _deck_task_seed(deck):
        raise GridError(f"{path}:{top['tune_task_seed'][1] if 'tune_task_seed' in top else 0}: tune_task_seed = "
                        f"{settings['tune_task_seed']} is the deck's task.seed: the tune split must be another world")
    cells, seen = [], {}
    for name, bln, keys in g["blocks"]:
        merged = {k: v for k, v in top.items() if k not in TOP_ONLY}
        merged.update({k: v for k, v in keys.items() if k != "set"})
        sets = [w for w, _ in top.get("set", ([], 0))[0]] + [w for w, _ in keys.get("set", ([], 0))[0]]
        for k in REQUIRED[1:]:
            if k not in merged:
                raise GridError(f"{path}:{bln}: key '{k}' is missing{f' in block [{name}]' if name else ''}; "
                                f"give it a value list")
        merged.setdefault("split", ([("eval", "eval")], 0))
        steps = merged["steps"][0][0][1] if "steps" in merged else None
        for combo in itertools.product(*(merged[k][0] for k in LIST_KEYS)):
            c = {k: conv for k, (_, conv) in zip(LIST_KEYS, combo)}
            c["lr_text"] = combo[LIST_KEYS.index("lr")][0]
            c["id"] = "{task}-{estimator}-{groups}-G{G}-lr{lr_text}-s{seed}-{split}".format(**c)
            key = tuple(c[k] for k in LIST_KEYS)
            if key in seen:
                raise GridError(f"{path}:{bln}: cell {c['id']} is already in the grid (block {seen[key]}); "
                                "each cell once")
            seen[key] = f"[{name}]" if name else "above"
            c.update(index=len(cells), block=name, steps=steps, set=sets)
            cells.append(c)
    return settings, cells


def _deck_task_seed(deck):
    """task.seed as the deck file gives it (7 when absent): the tune split must use another world."""
    section, seed = "", 7
    with open(deck, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
            elif section == "task" and re.match(r"seed\s*=", line):
                try:
                    seed = int(line.split("=", 1)[1])
                except ValueError:
                    pass
    return seed


def parse_cells(spec, n, grid):
    """'3,5-7' or 'all' -> sorted unique indices; GridError naming the bad part."""
    if spec == "all":
        return list(range(n))
    out = set()
    for part in spec.split(","):
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part.strip())
        if not m:
            raise GridError(f"--cells {spec}: '{part}' is not N or N-M (e.g. --cells 0,3-5)")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a > b or b >= n:
            raise GridError(f"--cells {spec}: '{part}' is outside the {n} cells of {grid} (0-{n - 1}); "
                            f"see --list")
        out.update(range(a, b + 1))
    return sorted(out)


# ---- running a cell ---------------------------------------------------------------------------------------

def paths(settings, c):
    out = settings["out"]
    bid = f"{c['task']}-s{c['seed']}" + ("-tune" if c["split"] == "tune" else "")
    bdir = os.path.join(out, "bases", bid)
    return {"cells": os.path.join(out, "cells"), "cell": os.path.join(out, "cells", c["id"]), "bases_dir":
            os.path.join(out, "bases"), "base_dir": bdir, "base": os.path.join(bdir, "sft_base.h5"), "bid": bid}


def world_sets(settings, c):
    s = ["task.name=" + c["task"], f"run.seed={c['seed']}"]
    if c["split"] == "tune":
        s.append(f"task.seed={settings['tune_task_seed']}")
    return s


def base_cmd(settings, c, p):
    """pgrpo sft for the cell's base: only the `set` entries that change a base (run, model, task, sft)."""
    sets = [w for w in c["set"] if w.startswith(BASE_SECTIONS)] + world_sets(settings, c) + \
        ["run.out_dir=" + p["base_dir"], "sft.out=" + p["base"]]
    return ["pgrpo", "sft", settings["deck"]] + [a for w in sets for a in ("--set", w)] + ["--quiet"]


def cell_sets(settings, c, p):
    est = c["estimator"]
    s = list(c["set"]) + world_sets(settings, c) + [
        "run.out_dir=" + p["cell"], "train.base=" + p["base"], "sft.out=" + p["base"],
        "train.advantage=" + ("pgrpo" if est.startswith("pgrpo") else est)]
    if est == "drgrpo":
        s.append("train.loss_agg=drgrpo")
    if est.startswith("pgrpo"):
        s.append("pgrpo.history=" + ("ema" if est == "pgrpo_ema" else "cumulative"))
    s += ["train.groups=" + c["groups"], f"train.group_size={c['G']}", "train.lr=" + c["lr_text"]]
    if c["steps"] is not None:
        s.append(f"train.steps={c['steps']}")
    return [a for w in s for a in ("--set", w)]


def same_run(old, new):
    """The recorded command and rank count are the ones wanted now, the output folder aside (a study folder
    may be copied or moved: its cells' paths then change with it)."""
    moved = json.dumps(old.get("cmd")).replace(json.dumps(str(old.get("out")))[1:-1], json.dumps(new["out"])[1:-1])
    return old.get("np") == new["np"] and moved == json.dumps(new["cmd"])


def write_json(path, obj):
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        die(f"{path}: unreadable ({e}); remove it (rerun the cell with --force)", EXIT_RUNTIME)


class Launcher:
    """Runs pgrpo on N ranks (mpirun or srun) and forwards SIGUSR1/SIGTERM to it: pgrpo then finishes the
    step, checkpoints and exits 75. Open MPI's mpirun turns a SIGTERM into exit 1 (losing the ranks' 75), so the
    first TERM reaches mpirun as USR1, as in jobs/train.sbatch."""

    def __init__(self, kind, np_, binary):
        self.kind, self.np, self.binary, self.child, self.caught, self.n_term = kind, np_, binary, None, None, 0
        self.pending = None   # a signal that came while no pgrpo ran: sent to the next one at its start
        for s in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._forward)

    def _forward(self, signum, _frame):
        self.caught = signal.Signals(signum).name
        send = signum
        if signum == signal.SIGTERM:
            self.n_term += 1
            if self.kind == "mpirun" and self.n_term == 1:
                send = signal.SIGUSR1
        if signum == signal.SIGINT:   # a terminal's Ctrl-C reaches mpirun itself; stop the runner after it
            return
        if self.child and self.child.poll() is None:
            print(f"{PY}: got {self.caught}, forwarding {signal.Signals(send).name} to pgrpo "
                  "(it finishes the step and checkpoints)", file=sys.stderr, flush=True)
            self.child.send_signal(send)
        else:
            self.pending = send

    def run(self, argv, log_path):
        if self.kind == "srun":
            pre = ["srun", "--mpi=" + os.environ.get("PGRPO_SRUN_MPI", "pmix"), f"--ntasks={self.np}",
                   "--kill-on-bad-exit=0"]
        else:
            pre = ["mpirun", "-np", str(self.np), "-x", "OPENBLAS_NUM_THREADS"]
            if os.geteuid() == 0:
                pre.append("--allow-run-as-root")
            if self.np > (os.cpu_count() or 1):
                pre.append("--oversubscribe")
        if self.pending is not None:   # stopped before this step of the cell began: do not start it
            return EXIT_PREEMPTED, 0.0
        t0 = time.monotonic()
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{PY}: {' '.join(pre + argv)}\n")
            log.flush()
            try:
                self.child = subprocess.Popen(pre + [self.binary] + argv[1:], stdout=log, stderr=subprocess.STDOUT)
            except OSError as e:
                die(f"cannot start {pre[0]}: {e}; install Open MPI / run inside Slurm for srun", EXIT_RUNTIME)
            if self.pending is not None:   # the signal came while Popen was starting it
                self.child.send_signal(self.pending)
            rc = self.child.wait()
            self.child = None
            log.write(f"{PY}: exit {rc}\n")
        return (rc if rc >= 0 else 128 - rc), time.monotonic() - t0


def ensure_base(settings, c, p, launcher):
    """The cell's SFT base, built under a lock by the first cell that needs it. Returns (rc, note)."""
    os.makedirs(p["bases_dir"], exist_ok=True)
    want = {"cmd": base_cmd(settings, c, p), "np": launcher.np, "out": settings["out"]}
    with open(os.path.join(p["bases_dir"], p["bid"] + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta_path = os.path.join(p["base_dir"], "base.json")
        meta = read_json(meta_path)
        if meta and meta.get("status") == "done" and os.path.isfile(p["base"]):
            if not same_run(meta, want):
                die(f"{meta_path}: the base was built by another command or rank count ({meta.get('np')} ranks) than "
                    f"cell {c['id']} needs ({launcher.np} ranks); HINT: use another --out, the same --np, or "
                    f"remove {p['base_dir']}", EXIT_USAGE)
            return 0, "reused"
        os.makedirs(p["base_dir"], exist_ok=True)
        rc, secs = launcher.run(want["cmd"], os.path.join(p["base_dir"], "sft.log"))
        if rc == 0 and os.path.isfile(p["base"]):
            write_json(meta_path, dict(want, status="done", seconds=round(secs, 3)))
            return 0, "built"
        return rc or EXIT_RUNTIME, "failed"


def run_cell(settings, c, np_, kind, force):
    p = paths(settings, c)
    os.makedirs(p["cells"], exist_ok=True)
    lock = open(os.path.join(p["cells"], c["id"] + ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        die(f"cell {c['index']} ({c['id']}) is being run by another runner (lock {lock.name}); wait for it",
            EXIT_RUNTIME)
    jpath = os.path.join(p["cell"], "cell.json")
    if force and os.path.isdir(p["cell"]):
        shutil.rmtree(p["cell"])
    train = ["pgrpo", "train", settings["deck"], "--resume", "auto"] + cell_sets(settings, c, p)
    evalc = ["pgrpo", "eval", settings["deck"]] + cell_sets(settings, c, p) + ["--quiet"]
    old = read_json(jpath) or {}
    if old and not same_run(old, {"cmd": train, "np": np_, "out": settings["out"]}):
        die(f"{jpath}: cell {c['id']} was run ({old.get('status')}) with another command or rank count "
            f"({old.get('np')}) than the grid gives now; HINT: rerun it with --force, or use another --out", EXIT_USAGE)
    if old.get("status") == "done":
        print(f"{PY}: cell {c['index']} {c['id']}: already done, skipped")
        return EXIT_DONE
    binary = os.environ.get("PGRPO") or (os.path.abspath("bin/pgrpo") if os.path.isfile("bin/pgrpo")
                                         else shutil.which("pgrpo") or "pgrpo")
    launcher = Launcher(kind, np_, binary)
    os.makedirs(p["cell"], exist_ok=True)
    rec = {k: c[k] for k in ("index", "id", "task", "estimator", "groups", "G", "lr", "seed", "split")}
    rec.update(grid=settings["grid"], deck=settings["deck"], block=c["block"], sft_base=p["base"], np=np_,
               out=settings["out"],
               cmd=train, eval_cmd=evalc, status="running", rc_sft=None, rc_train=old.get("rc_train"),
               rc_eval=None, seconds=old.get("seconds", 0.0), attempts=old.get("attempts", 0) + 1)
    write_json(jpath, rec)
    print(f"{PY}: cell {c['index']} {c['id']}: attempt {rec['attempts']} on {np_} ranks ({kind})", flush=True)

    def finish(status, code):
        rec["status"] = status
        write_json(jpath, rec)
        print(f"{PY}: cell {c['index']} {c['id']}: {status if code != EXIT_PREEMPTED else 'stopped after a checkpoint'}"
              f" (sft {rec['rc_sft']}, train {rec['rc_train']}, eval {rec['rc_eval']}, {rec['seconds']:.1f} s)"
              + ("; run the same command again to resume" if code == EXIT_PREEMPTED else ""), flush=True)
        return code

    def stopped(rc):   # a signal (preemption, time limit, Ctrl-C) or pgrpo's own stop after a checkpoint
        return rc == EXIT_PREEMPTED or (launcher.caught is not None and rc != 0)

    rc, rec["rc_sft"] = 0, 0
    if rec["rc_train"] != 0:
        rc, note = ensure_base(settings, c, p, launcher)
        rec["rc_sft"] = rc
        if rc:
            return finish("running", EXIT_PREEMPTED) if stopped(rc) else finish("failed", EXIT_FAILED)
        rc, secs = launcher.run(train, os.path.join(p["cell"], "train.log"))
        rec["rc_train"], rec["seconds"] = rc, round(rec["seconds"] + secs, 3)
        if rc:
            return finish("running", EXIT_PREEMPTED) if stopped(rc) else finish("failed", EXIT_FAILED)
    with open(os.path.join(p["cell"], "eval.txt"), "w", encoding="utf-8"):
        pass
    rc, secs = launcher.run(evalc, os.path.join(p["cell"], "eval.txt"))
    rec["rc_eval"], rec["seconds"] = rc, round(rec["seconds"] + secs, 3)
    if rc:
        return finish("running", EXIT_PREEMPTED) if stopped(rc) else finish("failed", EXIT_FAILED)
    return finish("done", EXIT_DONE)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else EXIT_USAGE
    grid, args = argv[1], argv[2:]
    opts, i = {}, 0
    flags = {"--count", "--list", "--check", "--force"}
    valued = {"--indices", "--run", "--np", "--launcher", "--out"}
    while i < len(args):
        a = args[i]
        if a in flags:
            opts[a] = True
        elif a in valued and i + 1 < len(args):
            opts[a] = args[i + 1]
            i += 1
        else:
            die(f"option '{a}' unknown or missing its value; see jobs/study_cell.py --help")
        i += 1
    try:
        settings, cells = read_grid(grid)
    except GridError as e:
        die(str(e))
    if "--out" in opts:
        settings["out"] = opts["--out"]
    if opts.get("--count"):
        print(len(cells))
    elif opts.get("--check"):
        print(f"{grid}: {len(cells)} cells, out {settings['out']}")
    elif opts.get("--list"):
        for c in cells:
            j = read_json(os.path.join(paths(settings, c)["cell"], "cell.json")) or {}
            print(f"{c['index']:5d}  {c['id']:<48s}  {j.get('status', 'todo')}")
    elif "--indices" in opts:
        try:
            print("\n".join(map(str, parse_cells(opts["--indices"], len(cells), grid))))
        except GridError as e:
            die(str(e))
    elif "--run" in opts:
        r, np_, kind = opts["--run"], opts.get("--np", "2"), opts.get("--launcher", "mpirun")
        if not re.fullmatch(r"[0-9]+", r) or int(r) >= len(cells):
            die(f"--run {r}: no such cell: {grid} has {len(cells)} cells (0-{len(cells) - 1}); "
                f"HINT: sbatch --array=0-{len(cells) - 1}")
        if not re.fullmatch(r"[1-9][0-9]*", np_) or kind not in ("mpirun", "srun"):
            die(f"--np {np_} --launcher {kind}: want --np N >= 1 and --launcher mpirun or srun")
        return run_cell(settings, cells[int(r)], int(np_), kind, opts.get("--force", False))
    else:
        die("give one of --count, --list, --check, --indices LIST, --run I; see jobs/study_cell.py --help")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
