#!/usr/bin/python3
"""Reads store files with h5py (an independent reader) and prints TAP lines.

  test_store_h5py.py traj FILE P G Tp Tc NSTEPS   trajectories written by tests/tools/traj_mpi (write mode)
  test_store_h5py.py ckpt FILE                    container: every dataset's `checksum` == zlib.crc32 of its
                                                  little-endian bytes (the documented algorithm), and the pgrpo
                                                  frame in the 512-byte user block (src/io/store_frame.c)
The value pattern mirrors fill() in tests/tools/traj_mpi.c.
"""
import sys
import zlib

import h5py
import numpy as np

failed = 0


def check(name, cond, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        failed += 1
        if detail:
            print("#   " + str(detail))


def root_attrs(f, kind, version=1):
    check(kind + " schema", f.attrs.get("schema") == "pgrpo/" + kind, f.attrs.get("schema"))
    check(kind + " schema_version", int(f.attrs.get("schema_version", -1)) == version)
    check(kind + " creator", str(f.attrs.get("creator", "")).startswith("pgrpo "))
    check(kind + " deck", "[run]" in str(f.attrs.get("deck", "")))
    check(kind + " created", len(str(f.attrs.get("created", ""))) == 20)


def expected(P, G, Tp, Tc, S):
    s = np.arange(S).reshape(S, 1)
    p = np.arange(P).reshape(1, P)
    e = {}
    e["step"] = np.arange(S, dtype=np.int64)
    e["prompt_tokens"] = (s[:, :, None] * 100000 + p[:, :, None] * 100 + np.arange(Tp)).astype(np.int32)
    e["prompt_len"] = ((p + s) % Tp + 1).astype(np.int32)
    e["user"] = (p * 7 + s).astype(np.int32)
    e["group"] = np.broadcast_to(p % 4, (S, P)).astype(np.int32)
    e["policy_version"] = (s - p % 2).astype(np.int64)
    s3, p3, g3 = s[:, :, None], p[:, :, None], np.arange(G).reshape(1, 1, G)
    e["completion_len"] = ((p3 + g3 + s3) % Tc + 1).astype(np.int32)
    e["reward"] = ((p3 * G + g3).astype(np.float32) / np.float32(4) + s3.astype(np.float32)).astype(np.float32)
    e["advantage"] = np.broadcast_to((g3 - G / 2.0).astype(np.float32), (S, P, G))
    s4, p4, g4, t4 = s3[..., None], p3[..., None], g3[..., None], np.arange(Tc).reshape(1, 1, 1, Tc)
    e["completion_tokens"] = (s4 * 1000000 + p4 * 1000 + g4 * 20 + t4).astype(np.int32)
    e["behaviour_logp"] = (-((s4 * 7 + p4 * 3 + g4 * 5 + t4) % 1000).astype(np.float32) / np.float32(8)).astype(np.float32)
    return e


def test_traj(path, P, G, Tp, Tc, S):
    with h5py.File(path, "r") as f:
        root_attrs(f, "trajectories")
        check("traj P/G/Tp/Tc attrs", [int(f.attrs[k]) for k in ("P", "G", "Tp", "Tc")] == [P, G, Tp, Tc])
        e = expected(P, G, Tp, Tc, S)
        dtypes = {"step": "<i8", "policy_version": "<i8", "reward": "<f4", "advantage": "<f4", "behaviour_logp": "<f4"}
        for name, want in e.items():
            d = f[name]
            check("traj %s shape %s" % (name, want.shape), d.shape == want.shape, d.shape)
            check("traj %s dtype" % name, d.dtype == np.dtype(dtypes.get(name, "<i4")), d.dtype)
            check("traj %s gzip+shuffle" % name, d.compression == "gzip" and d.shuffle and d.chunks is not None,
                  (d.compression, d.shuffle, d.chunks))
            check("traj %s maxshape unlimited" % name, d.maxshape[0] is None)
            check("traj %s units/description" % name, "units" in d.attrs and "description" in d.attrs)
            if d.shape == want.shape:
                got = d[...]
                bad = np.argwhere(got != want)
                check("traj %s values" % name, bad.size == 0,
                      "first mismatch at %s: %s vs %s" % (bad[0], got[tuple(bad[0])], want[tuple(bad[0])])
                      if bad.size else "")
        steps = f["step"][...]
        check("traj steps cover 0..%d once each" % (S - 1), list(steps) == list(range(S)), steps)


def check_frame(path):
    """The frame, re-derived independently: magic, version, sizes, the skipped ranges (each exactly one
    contiguous dataset's data, which carries its own checksum), CRC-32 of the payload less those ranges and of
    the header."""
    import struct
    data = open(path, "rb").read()
    magic, version, header, payload, crc = struct.unpack_from("<8sIIQI", data, 0)
    check("frame magic", magic == b"PGRPOCTR", magic)
    check("frame version 2, header 512", (version, header) == (2, 512), (version, header))
    check("frame payload length == file size - 512", payload == len(data) - 512, (payload, len(data)))
    (nskip,) = struct.unpack_from("<I", data, 28)
    ranges = [struct.unpack_from("<QQ", data, 32 + 16 * i) for i in range(nskip)]
    check("frame skips at most 12 ranges, sorted and disjoint, after byte 512",
          nskip <= 12 and all(a[0] + a[1] <= b[0] for a, b in zip([(0, 512)] + ranges, ranges)), ranges)
    with h5py.File(path, "r") as f:
        data_of = {}
        f.visititems(lambda n, o: data_of.__setitem__((o.id.get_offset(), o.id.get_storage_size()), o)
                     if isinstance(o, h5py.Dataset) and o.id.get_offset() is not None else None)
        for off, ln in ranges:
            d = data_of.get((off, ln))
            check("skipped range %d+%d is a whole dataset's data, with a checksum" % (off, ln),
                  d is not None and "checksum" in d.attrs and d.compression is None and ln >= 1 << 20 and
                  data[off:off + ln] == np.ascontiguousarray(d[...]).astype(d.dtype.newbyteorder("<")).tobytes(),
                  d.name if d is not None else None)
    kept, at = bytearray(), 512
    for off, ln in ranges:
        kept += data[at:off]
        at = off + ln
    kept += data[at:]
    check("frame CRC-32 of bytes 512.. less the skipped ranges == zlib.crc32", crc == zlib.crc32(bytes(kept)))
    check("frame header CRC-32", struct.unpack_from("<I", data, 508)[0] == zlib.crc32(data[:508]))
    return ranges


def test_ckpt(path):
    ranges = check_frame(path)
    check("the 3 MiB contiguous dataset's data is skipped by the frame", len(ranges) == 1, ranges)
    with h5py.File(path, "r") as f:
        check("h5py sees the 512-byte user block", f.userblock_size == 512, f.userblock_size)
        root_attrs(f, "checkpoint", 2)
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        check("ckpt has datasets", len(names) >= 3, names)
        for n in names:
            d = f[n]
            raw = np.ascontiguousarray(d[...]).astype(d.dtype.newbyteorder("<")).tobytes()
            check("ckpt %s checksum == zlib.crc32" % n, int(d.attrs["checksum"]) == zlib.crc32(raw),
                  (int(d.attrs["checksum"]), zlib.crc32(raw)))
        check("ckpt big array gzip", f["model/w"].compression == "gzip")


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "traj":
        test_traj(sys.argv[2], *map(int, sys.argv[3:8]))
    elif len(sys.argv) == 3 and sys.argv[1] == "ckpt":
        test_ckpt(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
    sys.exit(1 if failed else 0)
