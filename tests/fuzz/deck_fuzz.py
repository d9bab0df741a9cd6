#!/usr/bin/env python3
"""deck_fuzz.py — mutates the shipped decks and checks the deck reader + typed config on each mutant.

usage: deck_fuzz.py TOOL [--asan TOOL_ASAN] [-n N] [--seed S] [--workdir DIR] DECK...

TOOL is build/tests/deck_check (deck_parse + config_from_deck, no training). Per mutant:
  no crash (exit 0, 2 or 4 only; no signal, no sanitizer report), no hang (5 s timeout),
  a refusal (exit 2) is exactly one printable-ASCII line on stderr naming file:line, --set or a deck key,
  an acceptance (exit 0) is silent and its typed config holds the invariants (deck_check exits 4 otherwise),
  and mutants that must be refused (NUL, over-long line, binary, invisible character, duplicate key, > 1 MiB)
  or accepted (a BOM at the start, CRLF line ends, of a valid deck, with the same resolved deck) are.
Prints TAP lines and '# ' summary lines with the counts per mutation kind.
"""
import argparse, collections, os, random, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schema_keys():
    src = open(os.path.join(ROOT, "src/base/deck.c"), encoding="utf-8").read()
    return re.findall(r'\{"([a-z_]+\.[a-z_]+)", T_', src)


KEYS = schema_keys()


def schema_specs():
    """key -> (type, lo, hi, choices) from deck.c's SCHEMA table."""
    src = open(os.path.join(ROOT, "src/base/deck.c"), encoding="utf-8").read()
    specs = {}
    for m in re.finditer(r'\{"([a-z_]+\.[a-z_]+)", (T_\w+), "[^"]*", ([^,]+), ([^,]+), ("[^"]*"|0),', src):
        num = lambda t: 1e18 if t.strip() == "BIG" else float(t)
        specs[m.group(1)] = (m.group(2), num(m.group(3)), num(m.group(4)), m.group(5).strip('"'))
    return specs


SPECS = schema_specs()


def valid_value(key, rng):
    """A value inside key's own range (cross-key rules may still refuse it)."""
    t, lo, hi, choices = SPECS[key]
    if t == "T_INT":
        return str(rng.randint(int(lo), int(min(hi, lo + rng.choice([1, 10, 1000])))))
    if t == "T_FLOAT":
        return repr(rng.uniform(lo, min(hi, rng.choice([lo + 1e-3, 1.0, 100.0]))))
    if t == "T_BOOL":
        return rng.choice(["true", "false", "yes", "no", "on", "off", "1", "0"])
    if t == "T_ENUM":
        return rng.choice(choices.split("|"))
    return rng.choice(["runs/fuzz", "x.h5", "0.5,0.5", "0.2,0.3,0.5", ""])
VALUES = ["0", "1", "-1", "2", "1e-3", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "infinity", "1e18", "4e18",
          "9223372036854775807", "9223372036854775808", "-9223372036854775809", "0x10", "0.5", "-0", "+3", "1.",
          ".5", "", " ", "true", "false", "yes", "maybe", "grpo", "pgrpo", "ema", "window", "file", "cosine",
          "/", "//", "/etc", "/tmp", "runs/x", "a,b", "0.5,0.5", "0.5,,0.5", "1e-320", "3.4e38", "1e39",
          "\u00e9t\u00e9", "\u200b", "x" * 300, "1" * 40, "=", "#", "[train]", "0.99999999999999999", "1e-7"]
INVISIBLE = ["\u200b", "\u200e", "\u202e", "\u00a0", "\ufeff", "\u2060", "\u00ad"]


def mutate(base: bytes, rng: random.Random, sets: list):
    """Returns (kind, mutant bytes, expectation) with expectation 'refuse', 'accept_same' or None (either)."""
    lines = base.split(b"\n")
    kind = rng.choice(["valid_value", "valid_value", "valid_value", "valid_set", "valid_set", "flip", "flip", "delete_line", "dup_line", "random_kv", "random_kv", "replace_value",
                       "replace_value", "huge_line", "nul", "bom_start", "bom_middle", "binary", "truncate",
                       "section", "set", "set", "crlf", "invisible", "big_file", "swap_lines"])
    b = bytearray(base)
    if kind == "flip":
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return kind, bytes(b), None
    if kind == "delete_line":
        del lines[rng.randrange(len(lines))]
        return kind, b"\n".join(lines), None
    if kind == "dup_line":
        kv = [i for i, l in enumerate(lines) if b"=" in l.split(b"#")[0]]
        i = rng.choice(kv)
        lines.insert(rng.randint(i + 1, len(lines)), lines[i])
        # Still under the same section only if no header lies between: then it must be refused.
        return kind, b"\n".join(lines), None
    if kind == "valid_value":   # a key the deck does not set yet, appended with an in-range value
        present = {l.split(b"=")[0].strip().decode(errors="replace") for l in lines if b"=" in l}
        free = [k for k in KEYS if k.split(".", 1)[1] not in present]
        key = rng.choice(free or KEYS)
        sec, name = key.split(".", 1)
        return kind, base + f"\n[{sec}]\n{name} = {valid_value(key, rng)}\n".encode(), None
    if kind == "valid_set":
        for _ in range(rng.randint(1, 4)):
            key = rng.choice(KEYS)
            sets.append(f"{key}={valid_value(key, rng)}")
        return kind, base, None
    if kind == "random_kv":
        key = rng.choice(KEYS) if rng.random() < 0.8 else rng.choice(["train.lrr", "x.y", "run.", ".seed", "pgrpo.Decay"])
        sec, name = key.split(".", 1)
        line = f"[{sec}]\n{name} = {rng.choice(VALUES)}".encode()
        if rng.random() < 0.5:
            lines.insert(rng.randint(0, len(lines)), line)
        else:
            lines.append(line)
        return kind, b"\n".join(lines), None
    if kind == "replace_value":
        kv = [i for i, l in enumerate(lines) if b"=" in l.split(b"#")[0]]
        i = rng.choice(kv)
        k = lines[i].split(b"=", 1)[0]
        lines[i] = k + b"= " + rng.choice(VALUES).encode()
        return kind, b"\n".join(lines), None
    if kind == "huge_line":
        n = rng.choice([4096, 5000, 70000, 300000])
        lines.insert(rng.randint(0, len(lines)), b"# " + b"x" * n)
        return kind, b"\n".join(lines), "refuse"
    if kind == "nul":
        i = rng.randrange(len(b) + 1)
        b[i:i] = b"\0"
        return kind, bytes(b), "refuse"
    if kind == "bom_start":
        return kind, b"\xef\xbb\xbf" + base, "accept_same"
    if kind == "bom_middle":
        i = rng.randint(1, len(b))
        b[i:i] = b"\xef\xbb\xbf"
        return kind, bytes(b), "refuse"
    if kind == "binary":
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(8, 400)))
        blob = blob.replace(b"\n", b"\xff") + b"\xff"   # at least one byte that is never UTF-8
        i = rng.randint(0, len(b))
        b[i:i] = blob
        return kind, bytes(b), "refuse"
    if kind == "truncate":
        return kind, base[:rng.randrange(len(base))], None
    if kind == "section":
        lines.insert(rng.randint(0, len(lines)), rng.choice([b"[", b"[]", b"[train", b"[[train]]", b"[nope]", b"[ train ]", b"]"]))
        return kind, b"\n".join(lines), None
    if kind == "set":
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(KEYS)
            sets.append(rng.choice([f"{key}={rng.choice(VALUES)}", key, f"{key}=\x01", f" {key} = {rng.choice(VALUES)} "]))
        return kind, base, None
    if kind == "crlf":
        return kind, base.replace(b"\n", b"\r\n"), "accept_same"
    if kind == "invisible":
        i = rng.randint(0, len(b))
        b[i:i] = rng.choice(INVISIBLE).encode()
        return kind, bytes(b), "refuse"
    if kind == "big_file":
        return kind, base + (b"# filler\n" * (1 << 17)), "refuse"   # 1.1 MiB
    # swap_lines
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return kind, b"\n".join(lines), None


MSG = re.compile(r"^pgrpo: error: [\x20-\x7e]+\n$")
WHERE = re.compile(r"(:\d+: |--set|deck ')")


def run(tool, path, sets, text=False):
    cmd = [tool] + (["--text"] if text else []) + [path]
    for s in sets:
        cmd += ["--set", s]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=5,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                                    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, b"", b""


def strip_source(text: bytes) -> bytes:
    return text.split(b"\n", 1)[1] if b"\n" in text else text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("decks", nargs="+")
    ap.add_argument("--asan", default="")
    ap.add_argument("--asan-every", type=int, default=4)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp")
    a = ap.parse_args()
    bases = {d: open(d, "rb").read() for d in a.decks}
    ref_text = {}
    for d in a.decks:
        rc, out, err = run(a.tool, d, [], text=True)
        if rc != 0:
            print(f"not ok - deck_fuzz_base_decks_accepted\n#   {d}: rc {rc}: {err.decode(errors='replace')}")
            return 1
        ref_text[d] = strip_source(out)
    counts = collections.Counter()
    failures = collections.defaultdict(list)
    for k in range(a.n):
        rng = random.Random(a.seed * 1000003 + k)
        base_name = rng.choice(a.decks)
        sets = []
        kind, data, expect = mutate(bases[base_name], rng, sets)
        path = os.path.join(a.workdir, f"m{k % 8}.deck")
        with open(path, "wb") as f:
            f.write(data)
        tools = [a.tool] + ([a.asan] if a.asan and k % a.asan_every == 0 else [])
        for tool in tools:
            rc, out, err = run(tool, path, sets, text=(expect == "accept_same"))
            tag = f"case {k} ({kind}, {os.path.basename(base_name)}, sets {sets!r}, {os.path.basename(tool)})"
            counts["runs"] += 1
            if rc is None:
                failures["no_hang"].append(tag)
                continue
            if rc < 0 or rc not in (0, 2, 4) or b"Sanitizer" in err or b"runtime error" in err:
                failures["no_crash"].append(f"{tag}: rc {rc}: {err[-300:]!r}")
                continue
            if rc == 4:
                failures["accepted_config_valid"].append(f"{tag}: {err!r}")
                continue
            if rc == 2:
                counts[f"refused {kind}"] += 1
                counts["refused"] += 1
                s = err.decode("ascii", errors="replace")
                if not MSG.match(s) or not (WHERE.search(s) or any(key in s for key in KEYS)):
                    failures["one_line_error_naming_key"].append(f"{tag}: {err[:400]!r}")
                if expect == "accept_same":
                    failures["oracle"].append(f"{tag}: refused a valid deck: {s.strip()}")
            else:
                counts[f"accepted {kind}"] += 1
                counts["accepted"] += 1
                if err:
                    failures["accepted_silently"].append(f"{tag}: {err[:300]!r}")
                if expect == "refuse":
                    failures["oracle"].append(f"{tag}: accepted")
                if expect == "accept_same" and strip_source(out) != ref_text[base_name]:
                    failures["oracle"].append(f"{tag}: resolved deck differs")
    for name in ["no_crash", "no_hang", "one_line_error_naming_key", "accepted_silently", "accepted_config_valid", "oracle"]:
        if failures[name]:
            print(f"not ok - deck_fuzz_{name}")
            for l in failures[name][:10]:
                print(f"#   {l}")
            print(f"#   ({len(failures[name])} cases)")
        else:
            print(f"ok - deck_fuzz_{name}")
    print(f"# {a.n} mutants, {counts['runs']} runs: {counts['accepted']} accepted, {counts['refused']} refused, "
          f"{sum(len(v) for v in failures.values())} failures")
    kinds = sorted({k.split(' ', 1)[1] for k in counts if ' ' in k and k.split(' ', 1)[0] in ('accepted', 'refused')})
    for kd in kinds:
        print(f"#   {kd:14s} accepted {counts['accepted ' + kd]:5d} refused {counts['refused ' + kd]:5d}")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
