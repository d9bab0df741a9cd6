// snapshot.h — verified copies of the output files (metrics.h5, trajectories.h5) kept beside each checkpoint, so
// a resume restores exactly the bytes that existed when the checkpoint was taken.
//
// A snapshot is the pgrpo frame (512-byte header: magic "PGRPOSNP", version, payload length, CRC-32 of the payload,
// CRC-32 of the header; layout in src/io/store_frame.c) followed by the source file's raw bytes. It is not an HDF5
// file itself; `pgrpo inspect` verifies it.
// Errors: -1 with ONE line in err naming the file and what is wrong; nothing half-written is ever left at the
// destination path (temp file "<path>.tmp.<pid>" + fsync + rename + directory fsync).
#ifndef PGRPO_SNAPSHOT_H
#define PGRPO_SNAPSHOT_H
#include <stddef.h>

// Copies src into snap_path atomically, framed. The bytes written are read back and checked against the CRC
// before the rename, so a snapshot that exists is one that verified once. src must not change meanwhile (flush
// the HDF5 file first; rank 0 is its only writer).
int snapshot_save(const char *src, const char *snap_path, char *err, size_t errlen);
// Verifies snap_path completely (header, length, CRC of every payload byte as it is copied) and only then
// atomically replaces dst with the payload. On any mismatch dst is left untouched. Messages:
// "<snap> is not a pgrpo snapshot (...)", "<snap> is corrupt: truncated / checksum mismatch / damaged header".
int snapshot_restore(const char *snap_path, const char *dst, char *err, size_t errlen);
// 0 if snap_path verifies (nothing written), else -1 with the same messages as snapshot_restore.
int snapshot_verify(const char *snap_path, char *err, size_t errlen);

#endif
