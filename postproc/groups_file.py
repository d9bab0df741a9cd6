#!/usr/bin/python3
"""groups_file.py — write a preference-group file for `train.groups = file` (deck key train.groups_file).

usage: /usr/bin/python3 postproc/groups_file.py GROUPS.txt OUT.h5 [--n-groups K]

GROUPS.txt: one integer group id per training user, in user-id order (whitespace or comma separated; lines
starting with # are ignored). The output is a plain HDF5 file (README "Groups files"): root attributes schema = "pgrpo/groups",
schema_version = 1, creator; dataset /user_group (int32, one per user) with its CRC-32 `checksum` attribute (the
same check pgrpo applies to every file it reads), and root attribute n_groups (default: max id + 1).
"""
import argparse
import datetime
import os
import re
import sys
import zlib

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("groups")
    ap.add_argument("out")
    ap.add_argument("--n-groups", type=int, default=None)
    a = ap.parse_args()
    try:
        text = open(a.groups).read()
    except OSError as e:
        sys.exit(f"groups_file.py: error: cannot read {a.groups}: {e.strerror} (HINT: one group id per user)")
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    try:
        g = np.array([int(t) for t in re.split(r"[\s,]+", text.strip()) if t], dtype="<i4")
    except ValueError as e:
        sys.exit(f"groups_file.py: error: {a.groups}: {e} (HINT: group ids are integers)")
    k = a.n_groups if a.n_groups else int(g.max()) + 1
    if g.size == 0 or g.min() < 0 or g.max() >= k:
        sys.exit(f"groups_file.py: error: {a.groups}: group ids must be in [0, {k})")
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["schema"] = "pgrpo/groups"
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["creator"] = "pgrpo groups_file.py"
        f.attrs["deck"] = ""
        f.attrs["created"] = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        f.attrs["n_groups"] = np.int64(k)
        d = f.create_dataset("user_group", data=g)
        d.attrs["checksum"] = np.uint32(zlib.crc32(g.tobytes()))
        d.attrs["description"] = "preference group of each training user, in user-id order"
    os.replace(tmp, a.out)
    print(f"groups_file.py: wrote {a.out}: {g.size} users in {k} groups, sizes {np.bincount(g, minlength=k).tolist()}")


if __name__ == "__main__":
    main()
