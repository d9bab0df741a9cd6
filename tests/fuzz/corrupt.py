#!/usr/bin/python3
"""Corruption harness driver (issue 8 A2/A3/A5): damaged variants of real pgrpo files, each opened by
`pgrpo inspect` and by the reader pgrpo uses for that kind (build/tests/open_file), under `timeout`.

  corrupt.py N SEED WORKDIR PGRPO OPEN_FILE kind:path[:n_users] ...
  kinds: policy, checkpoint (framed containers), snapshot (framed raw copy), groups (plain HDF5 user file),
         plain (any unframed pgrpo output, e.g. metrics.h5: inspect only)

Mutations: random bit flips, zeroed 512-byte blocks (one at offset 3267, the issue's reproduction), truncations,
appended bytes, and h5py rewrites (a dataset's type or shape changed). Verdict per variant and reader:
  crash   exit >= 128 (not the timeout's 124/137) or a sanitizer report
  hang    the 20 s timeout fired
  silent  accepted although the content changed: any byte of a framed file, or a groups file read with other
          values / a rewrite that must be refused. (A plain groups file has no checksum: a flipped group id that
          stays in range cannot be detected by anyone; those are counted as `undetectable`, not silent.)
  noisy   refused without exactly one error line
Prints TAP lines and the counts; exit 0 when crashes, hangs, silent acceptances and noisy errors are all 0.
"""
import os
import random
import shutil
import subprocess
import sys
import zlib

import h5py
import numpy as np

TIMEOUT = 20


def frame(payload):
    """The pgrpo snapshot frame, written independently of the C code (layout: src/io/store_frame.c)."""
    import struct
    h = bytearray(512)
    struct.pack_into("<8sIIQI", h, 0, b"PGRPOSNP", 1, 512, len(payload), zlib.crc32(payload))
    struct.pack_into("<I", h, 508, zlib.crc32(bytes(h[:508])))
    return bytes(h) + payload


def run(cmd, env):
    try:
        p = subprocess.run(["timeout", "-k", "5", str(TIMEOUT)] + cmd, capture_output=True, text=True, env=env,
                           errors="replace")
        return p.returncode, p.stdout, p.stderr
    except OSError as e:
        return 127, "", str(e)


def mutate_bytes(rng, data, rnd_kind):
    b = bytearray(data)
    if rnd_kind == "flip":
        k = rng.choice([1, 1, 1, 2, 4, 8])
        for _ in range(k):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), "flip x%d" % k
    if rnd_kind == "zero":
        at = rng.randrange(max(1, len(b) - 512))
        b[at:at + 512] = bytes(len(b[at:at + 512]))
        return bytes(b), "zero 512 at %d" % at
    if rnd_kind == "zero3267":
        b[3267:3267 + 512] = bytes(len(b[3267:3267 + 512]))
        return bytes(b), "zero 512 at 3267"
    if rnd_kind == "trunc":
        n = rng.randrange(len(b))
        return bytes(b[:n]), "truncate to %d" % n
    if rnd_kind == "append":
        return bytes(b) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))), "append"
    raise ValueError(rnd_kind)


def datasets(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


# h5py rewrites of the groups file: (description, function of the int array, must_accept)
GROUP_REWRITES = [
    ("float64 values", lambda a: a.astype(np.float64), False),
    ("float32 with NaN", lambda a: np.where(np.arange(a.size) == 3, np.nan, a).astype(np.float32), False),
    ("2-D (n,1)", lambda a: a.reshape(-1, 1), False),
    ("one short", lambda a: a[:-1], False),
    ("one long", lambda a: np.concatenate([a, a[:1]]), False),
    ("negative id", lambda a: np.where(np.arange(a.size) == 5, -1, a), False),
    ("id 16", lambda a: np.where(np.arange(a.size) == 7, 16, a), False),
    ("uint64 2^64-1", lambda a: np.where(np.arange(a.size) == 2, np.uint64(2**64 - 1), a.astype(np.uint64)), False),
    ("strings", lambda a: np.array([str(x).encode() for x in a]), False),
    ("scalar", lambda a: np.int64(a[0]), False),
    ("uint8 same ids", lambda a: a.astype(np.uint8), True),
    ("int16 big-endian same ids", lambda a: a.astype(">i2"), True),
    ("int32 same ids", lambda a: a.astype(np.int32), True),
]


def rewrite(rng, kind, src, dst):
    """h5py rewrite of one dataset; returns (description, must_accept: bool or None for 'any refusal')."""
    shutil.copyfile(src, dst)
    if kind == "groups":
        desc, fn, must = GROUP_REWRITES[rng.randrange(len(GROUP_REWRITES))]
        with h5py.File(dst, "r+") as f:
            a = f["user_group"][...]
            del f["user_group"]
            f["user_group"] = fn(a)
        return "h5py " + desc, must
    names = [n for n in datasets(src)]
    name = names[rng.randrange(len(names))]
    with h5py.File(dst, "r+") as f:
        d = f[name]
        a = d[...]
        attrs = dict(d.attrs)
        del f[name]
        change = rng.choice(["float64", "int8", "shape", "drop"])
        if change == "float64": a = np.asarray(a, dtype=np.float64)
        elif change == "int8": a = np.asarray(a).astype(np.int8)
        elif change == "shape" and np.ndim(a) >= 1: a = np.asarray(a).reshape(-1)[: max(1, np.size(a) - 1)]
        if change != "drop":
            f[name] = a
            for k, v in attrs.items(): f[name].attrs[k] = v
    return "h5py %s %s" % (change, name), False


def main():
    n, seed, work, pgrpo, opener = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    bases = []
    for spec in sys.argv[6:]:
        parts = spec.split(":")
        bases.append((parts[0], parts[1], int(parts[2]) if len(parts) > 2 else 0))
    env = dict(os.environ)
    env.setdefault("PGRPO_WATCHDOG_S", "5")
    env["ASAN_OPTIONS"] = "detect_leaks=0:exitcode=99"
    rng = random.Random(seed)
    os.makedirs(work, exist_ok=True)
    counts = dict(variants=0, runs=0, refused=0, accepted_unchanged=0, undetectable=0, crash=0, hang=0, silent=0,
                  noisy=0, watchdog=0, hdf5_crash_contained=0, sanitizer_in_reader_child=0)
    bad = []
    groups_ref = {}
    for kind, path, nu in bases:
        if kind == "groups":
            rc, out, err = run([opener, "groups", path, str(nu)], env)
            assert rc == 0, "the intact groups file must be accepted: " + err
            groups_ref[path] = out.strip()
        elif kind in ("policy", "checkpoint"):
            rc, out, err = run([opener, "container", kind, path], env)
            assert rc == 0, "the intact %s must be accepted: %s" % (kind, err)
    mut_kinds = ["flip"] * 5 + ["zero"] * 2 + ["trunc"] * 2 + ["append"] + ["h5py"] * 2
    for i in range(n):
        kind, path, nu = bases[i % len(bases)]
        orig = open(path, "rb").read()
        v = os.path.join(work, "v%04d_%s%s" % (i, kind, ".snap" if kind == "snapshot" else ".h5"))
        mk = "zero3267" if i < len(bases) else rng.choice(mut_kinds)
        must_accept = None
        if mk == "h5py" and kind in ("snapshot", "plain"):
            mk = "flip"
        if mk == "h5py":
            desc, must_accept = rewrite(rng, kind, path, v)
            data = open(v, "rb").read()
        else:
            data, desc = mutate_bytes(rng, orig, mk)
            open(v, "wb").write(data)
        changed = data != orig
        counts["variants"] += 1
        readers = [("inspect", [pgrpo, "inspect", v])]
        if kind in ("policy", "checkpoint"): readers.append(("store_open", [opener, "container", kind, v]))
        if kind == "snapshot": readers.append(("snapshot_restore", [opener, "snapshot", v, v + ".out"]))
        if kind == "groups": readers.append(("groups_file_read", [opener, "groups", v, str(nu)]))
        nbad = len(bad)
        for rname, cmd in readers:
            rc, out, err = run(cmd, env)
            counts["runs"] += 1
            lines = [l for l in err.splitlines() if l.strip()]
            what = "%s %s (%s): %s rc=%d" % (os.path.basename(v), rname, kind, desc, rc)
            sanitizer = "AddressSanitizer" in err or "runtime error:" in err or rc == 99
            if rc in (124, 137):
                counts["hang"] += 1; bad.append("HANG " + what)
            elif rc >= 128 or rc < 0 or sanitizer:
                counts["crash"] += 1; bad.append("CRASH " + what + " " + " | ".join(lines[-3:]))
            elif rc == 0:
                plain_ok = kind == "plain" or (kind == "groups" and rname == "inspect")
                if not changed or plain_ok:
                    counts["accepted_unchanged"] += 1
                elif kind == "groups":
                    same = out.strip() == groups_ref[path]
                    if must_accept is True and same: counts["accepted_unchanged"] += 1
                    elif must_accept is False: counts["silent"] += 1; bad.append("SILENT " + what)
                    elif same: counts["accepted_unchanged"] += 1
                    else: counts["undetectable"] += 1
                else:
                    counts["silent"] += 1; bad.append("SILENT " + what)
            else:
                counts["refused"] += 1
                counts["watchdog"] += "did not finish reading" in err
                counts["hdf5_crash_contained"] += "HDF5 crashed reading" in err
                # ASan (exitcode 99) caught a memory error inside libhdf5 in the disposable reader child: the
                # parent refused cleanly. Listed for a look, not counted as a pgrpo crash.
                if "exit status 99" in err:
                    counts["sanitizer_in_reader_child"] += 1
                    bad.append("NOTE sanitizer in reader child " + what)
                if must_accept is True:
                    counts["noisy"] += 1; bad.append("WRONGLY REFUSED " + what + ": " + " | ".join(lines))
                elif rc not in (2, 3) or len(lines) != 1 or (rname == "inspect" and not lines[0].startswith("pgrpo: error: ")):
                    counts["noisy"] += 1; bad.append("NOISY " + what + ": " + " | ".join(lines[:4]))
        if len(bad) == nbad:   # keep only the variants that failed, for a look afterwards
            for f in (v, v + ".out"):
                if os.path.exists(f): os.remove(f)
    def tap(name, cond):
        print(("ok - " if cond else "not ok - ") + name)
    tap("corrupt_no_crash # %d" % counts["crash"], counts["crash"] == 0)
    tap("corrupt_no_hang # %d" % counts["hang"], counts["hang"] == 0)
    tap("corrupt_no_silent_acceptance # %d" % counts["silent"], counts["silent"] == 0)
    tap("corrupt_errors_one_line # %d noisy" % counts["noisy"], counts["noisy"] == 0)
    print("# counts: " + ", ".join("%s %d" % kv for kv in counts.items()))
    for b in bad[:30]: print("#   " + b)
    bad = [b for b in bad if not b.startswith("NOTE")]
    return 0 if counts["crash"] + counts["hang"] + counts["silent"] + counts["noisy"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
