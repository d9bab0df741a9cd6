// store.h — the HDF5 store layer: checksummed containers (checkpoints, SFT bases, eval results), the H5MD-style
// metrics file, the parallel trajectories file, checkpoint-directory management and `pgrpo inspect`.
// This is the only module that includes hdf5.h; callers see opaque handles and plain arrays.
//
// Every file carries root attributes: schema = "pgrpo/<kind>", schema_version (int64), creator = "pgrpo <version>",
// deck (resolved deck text), created (ISO-8601 UTC; an attribute, so dataset bytes stay bit-identical).
// Errors: functions taking (err, errlen) write one line naming the file (and dataset) and return NULL / -1;
// handles without an err argument keep their first error, readable with *_error(), so a long sequence of
// puts can be checked once. HDF5's own error-stack printing is silenced inside the store.
#ifndef PGRPO_STORE_H
#define PGRPO_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <mpi.h>

// Version 2: containers carry the pgrpo frame (a 512-byte HDF5 user block: magic, payload length, CRC-32 of every
// byte but the raw data of large contiguous datasets, which carry their own) that store_open checks before HDF5
// parses a byte; version-1 containers (no frame) are refused.
// metrics.h5 and trajectories.h5 are written in place while training, so they have no frame and stay version 1.
#define STORE_SCHEMA_VERSION 2
#define STORE_SERIES_VERSION 1
#define STORE_MAX_DIMS 8
// Kinds used by pgrpo; any short word is accepted.
#define STORE_KIND_CKPT "checkpoint"
#define STORE_KIND_SFT "sft"
#define STORE_KIND_EVAL "eval"
#define STORE_KIND_METRICS "metrics"
#define STORE_KIND_TRAJ "trajectories"

typedef enum { STORE_F32, STORE_F64, STORE_I32, STORE_I64, STORE_U64, STORE_U8 } StoreType;
size_t store_type_size(StoreType t);
const char *store_type_name(StoreType t);   // "float32", "int64", ...

// CRC-32 (IEEE 802.3, the zlib/PNG polynomial, same as Python's zlib.crc32) over the dataset's raw
// little-endian bytes in C order. Stored as the uint32 attribute `checksum` on every container dataset.
// Chain calls by passing the previous value; start with 0.
uint32_t store_crc32(uint32_t crc, const void *data, size_t n_bytes);

// ---- checksummed container (serial; one rank writes) ----
typedef struct StoreWriter StoreWriter;
typedef struct StoreReader StoreReader;

// Writes to "<final_path>.tmp.<pid>" in the same directory; nothing appears at final_path until commit.
// The HDF5 file gets a 512-byte user block that commit fills with the pgrpo frame (see store_frame.c): magic
// "PGRPOCTR", payload length, the byte ranges of contiguous datasets of 1 MiB or more (their data, up to 12), and the
// CRC-32 of every other byte after the block. h5py and h5dump skip the block as usual.
StoreWriter *store_writer_create(const char *final_path, const char *kind, const char *deck_text,
                                 char *err, size_t errlen);
// Arrays of at least min_bytes get chunked + shuffle + gzip(level); level 0 (the default) stores contiguous.
void store_writer_set_gzip(StoreWriter *w, int level, size_t min_bytes);
// name: "model/wte" style; intermediate groups are created. ndims 0 = scalar. data: dims in C order.
int store_put(StoreWriter *w, const char *name, StoreType type, const void *data, int ndims, const size_t *dims);
// obj: "/" for the root, else a dataset or group path already put. An existing key is replaced.
int store_put_attr_str(StoreWriter *w, const char *obj, const char *key, const char *value);
int store_put_attr_int(StoreWriter *w, const char *obj, const char *key, long value);
int store_put_attr_double(StoreWriter *w, const char *obj, const char *key, double value);
const char *store_writer_error(const StoreWriter *w);   // first error, or NULL
// Closes, fsyncs the file, renames onto final_path, fsyncs the directory, frees w. Any earlier put error or
// failure here removes the temp file and returns -1 with a message naming the path and the errno text.
int store_commit(StoreWriter *w, char *err, size_t errlen);
void store_abort(StoreWriter *w);   // removes the temp file, frees w

// Before HDF5 parses anything: the frame's magic, length == file size - 512 and CRC-32 of all but the listed
// datasets' data (a damaged file is refused before HDF5 reads its metadata, never looped on; the listed data is
// checked by store_get as it is read, so a large checkpoint is read once). Then the schema kind (NULL = any pgrpo kind) and version. Errors name
// the file: "... is truncated", "... checksum mismatch", "... no pgrpo header".
StoreReader *store_open(const char *path, const char *kind, char *err, size_t errlen);
// Reads a whole dataset; the stored type must be `type` and hold exactly n_elems elements, and the bytes read must
// match the dataset's own checksum (computed on the writer's array at store_put): "... is corrupt: dataset X:
// checksum mismatch" otherwise. (store_inspect checks every dataset without reading it into the caller.)
int store_get(StoreReader *r, const char *name, StoreType type, void *out, size_t n_elems);
// Reads every dataset and checks its checksum (what store_get checks for one): -1 with the first bad one named.
int store_check_datasets(StoreReader *r);
int store_dims(StoreReader *r, const char *name, int *ndims, size_t dims[STORE_MAX_DIMS]); // -1 if absent
int store_has(StoreReader *r, const char *name);   // 1 if a dataset or group of that path exists
int store_get_attr_str(StoreReader *r, const char *obj, const char *key, char *out, size_t n);
char *store_get_attr_strdup(StoreReader *r, const char *obj, const char *key);   // malloc'd; NULL if absent
int store_get_attr_int(StoreReader *r, const char *obj, const char *key, long *out);
int store_get_attr_double(StoreReader *r, const char *obj, const char *key, double *out);
const char *store_reader_error(const StoreReader *r);   // last error, or NULL
const char *store_reader_kind(const StoreReader *r);    // "checkpoint", ...
void store_close(StoreReader *r);

// ---- checkpoint directory: dir/ckpt_<step %08ld>.h5, dir/latest ----
void store_ckpt_path(char *buf, size_t n, const char *dir, long step);
// After committing step's checkpoint: atomically points dir/latest at it (content: the file name + '\n'), then
// deletes ckpt files with step < `step` that are neither among the keep_last newest (<= 0: keep all) nor a
// multiple of keep_every (<= 0: none), and stale ckpt_*.h5.tmp.* files of other processes. Files with a step
// above `step` (from an abandoned timeline) are left alone, and `step` itself is never deleted.
int store_ckpt_publish(const char *dir, long step, int keep_last, int keep_every, char *err, size_t errlen);
// Newest checkpoint that opens and verifies. `latest` is a hint for people and scripts; every ckpt_*.h5 is a
// candidate, newest step first, so a checkpoint committed just before a crash in publish is still found.
// msg gets one line per skipped file: "skipping corrupt checkpoint <path>: <reason>\n".
// Returns 0 found, 1 none (no dir, no files, or all corrupt), -1 error (dir unreadable).
int store_ckpt_find(const char *dir, char *path_out, size_t n, long *step_out, char *msg, size_t msglen);

// ---- metrics.h5 (rank 0 only): /observables/<name>/{step int64, value float64}, H5MD style ----
typedef struct MetricsFile MetricsFile;
// resume_step <= 0 or no existing file: create (replacing any file). Otherwise open it and truncate every series
// to entries with step < resume_step, so a restarted run neither duplicates nor misses steps.
MetricsFile *metrics_open(const char *path, const char *deck_text, long resume_step, char *err, size_t errlen);
// Appends (step, values[i]) to series names[i], creating series on first use; then flushes. A step not above
// the series' last step is an error (the caller resumed wrongly).
int metrics_append(MetricsFile *m, long step, int n, const char *const *names, const double *values);
int metrics_set_meta(MetricsFile *m, const char *name, const char *units, const char *description);
int metrics_flush(MetricsFile *m);
const char *metrics_error(const MetricsFile *m);
int metrics_close(MetricsFile *m);   // 0 ok; frees m

// ---- trajectories.h5: parallel HDF5 over comm (collective; every rank of comm calls every function) ----
// Per step, one row along the leading axis S of every dataset:
//   step (S) i64, prompt_tokens (S,P,Tp) i32, prompt_len (S,P) i32, user (S,P) i32, group (S,P) i32,
//   completion_tokens (S,P,G,Tc) i32, completion_len (S,P,G) i32, behaviour_logp (S,P,G,Tc) f32,
//   reward (S,P,G) f32, advantage (S,P,G) f32, policy_version (S,P) i64.
typedef struct {   // this rank's np prompts; shapes as above without S and with np for P
    const int32_t *prompt_tokens;     // (np,Tp)
    const int32_t *prompt_len;        // (np)
    const int32_t *user;              // (np)
    const int32_t *group;             // (np)
    const int32_t *completion_tokens; // (np,G,Tc)
    const int32_t *completion_len;    // (np,G)
    const float *behaviour_logp;      // (np,G,Tc)
    const float *reward;              // (np,G)
    const float *advantage;           // (np,G)
    const int64_t *policy_version;    // (np)
} TrajStep;
typedef struct TrajFile TrajFile;
// Creates path, or (resume_step > 0 and the file exists) reopens it, checks P,G,Tp,Tc match and truncates to
// steps < resume_step. Returns NULL on every rank on failure.
TrajFile *traj_open(MPI_Comm comm, const char *path, const char *deck_text, int P, int G, int Tp, int Tc,
                    long resume_step, char *err, size_t errlen);
// Rank's prompts [p0, p0+np) of the global P; the slices of all ranks must tile [0,P). np may be 0.
int traj_write_step(TrajFile *t, long step, int p0, int np, const TrajStep *local);
// Rows are buffered and written `steps` at a time (default 1: every call writes). HDF5 1.10's collective
// gzip path costs ~3 ms per dataset per call on 2 ranks whatever the size, so batch 16 is ~10x cheaper per step.
// Same value on every rank. Call traj_flush before each checkpoint, so the file holds every step < the
// checkpoint's step (a restart truncates to those and regenerates the rest; buffered rows lost in a crash are
// exactly rows the restart rewrites).
int traj_set_batch(TrajFile *t, int steps);
int traj_flush(TrajFile *t);          // collective; writes buffered rows
// Writes buffered rows (traj_flush) and flushes HDF5's caches to disk (collective): call before a checkpoint.
int traj_sync(TrajFile *t);
const char *traj_error(const TrajFile *t);
long traj_steps(const TrajFile *t);   // rows written or buffered
int traj_close(TrajFile *t);          // flushes; 0 ok; frees t

// ---- inspect ----
// Summarises any pgrpo HDF5 file to out: schema, version, creator, step, deck sections, groups, every dataset
// (shape, type, bytes, filters) and, with verify, its checksum OK/FAILED. Returns 0 ok, EXIT_USAGE (2) when the
// file is missing, EXIT_RUNTIME (3) on corruption, after one "pgrpo: error: ..." line on stderr.
int store_inspect(const char *path, int verify, FILE *out);

#endif
