// store_impl.h — helpers shared by the store_*.c files (private; nothing outside src/store*.c includes this).
#ifndef PGRPO_STORE_IMPL_H
#define PGRPO_STORE_IMPL_H
#include <hdf5.h>
#include <stdarg.h>
#include "store.h"

#ifndef PGRPO_VERSION
#define PGRPO_VERSION "0.1.0"
#endif
#define STORE_ERRLEN 1024
#define STORE_PATHLEN 4096

// HDF5 prints its whole error stack to stderr by default; users get our one line instead. Save and restore the
// handler so a caller that wants HDF5's stack (a debugger session) still gets it outside the store.
typedef struct { H5E_auto2_t fn; void *data; } StoreQuiet;
StoreQuiet store_quiet_begin(void);
void store_quiet_end(StoreQuiet q);

// The innermost HDF5 error description on the current stack ("truncated file: eof = ..."), or "" if none.
void store_h5_errtext(char *buf, size_t n);
void store_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

hid_t store_h5_file_type(StoreType t);     // explicit little-endian file type
hid_t store_h5_mem_type(StoreType t);      // native memory type
int store_h5_type_of(hid_t dtype, StoreType *out);   // 0 if the dataset type maps onto a StoreType

int store_h5_attr_set_str(hid_t obj, const char *key, const char *value);
int store_h5_attr_set_int(hid_t obj, const char *key, long value);
int store_h5_attr_set_double(hid_t obj, const char *key, double value);
char *store_h5_attr_get_str(hid_t obj, const char *key);   // malloc'd, NULL if absent/not a string
int store_h5_attr_get_int(hid_t obj, const char *key, long *out);
int store_h5_attr_get_double(hid_t obj, const char *key, double *out);
// Metadata cache bounds for the files written every step (metrics.h5, trajectories.h5). HDF5's default lets the
// cache grow adaptively to 32 MiB per file; the appended files' working set (the last chunk index nodes and
// object headers) is far smaller, so a small fixed ceiling keeps RSS flat (issue 8 A10).
#define STORE_MDC_BYTES (1 << 20)
void store_h5_bound_caches(hid_t fapl);
// Root attributes every pgrpo file carries (schema, schema_version, creator, deck, created). The version is
// STORE_SCHEMA_VERSION for containers (framed) and STORE_SERIES_VERSION for metrics/trajectories.
int store_h5_root_attrs(hid_t file, const char *kind, const char *deck_text);
// Checks root schema/version; kind NULL = any. Writes the kind found into kind_out. Message names path.
int store_h5_check_schema(hid_t file, const char *path, const char *kind, char *kind_out, size_t kn,
                          char *err, size_t errlen);
// 1 if every component of "a/b/c" exists under loc (H5Lexists alone fails when a parent is missing).
int store_h5_path_exists(hid_t loc, const char *path);
// Reads dataset `d` whole as little-endian bytes and compares with its `checksum` attribute.
// Returns 0 ok, -1 mismatch or read error (reason in why).
// Reads dataset `d` whole (in blocks) as little-endian bytes; *crc = CRC-32 of them. -1 if unreadable.
int store_h5_scan_dataset(hid_t d, uint32_t *crc, char *why, size_t whylen);
int store_h5_verify_dataset(hid_t d, char *why, size_t whylen);

// ---- the pgrpo frame (store_frame.c): 512-byte self-verifying header before a payload ----
#define STORE_FRAME_BYTES 512
#define STORE_MAGIC_CTR "PGRPOCTR"   // container: payload = HDF5 file, header = its user block
#define STORE_MAGIC_SNP "PGRPOSNP"   // output snapshot: payload = the raw bytes of the copied file
#define STORE_WATCHDOG_S 15          // bound on HDF5 parsing a file without a frame (store_bounded_run)
// STORE_WATCHDOG_S, or PGRPO_WATCHDOG_S from the environment (1..3600; the corruption tests use a short one).
int store_watchdog_s(void);
// Byte ranges of a container that its frame's CRC leaves out (version-2 frames, store_frame.c): the raw data of
// contiguous datasets of at least STORE_FRAME_SKIP_MIN bytes, each under its own `checksum`. File offsets.
#define STORE_FRAME_MAX_SKIP 12
#define STORE_FRAME_SKIP_MIN ((uint64_t)1 << 20)
typedef struct { uint64_t off, len; } StoreRange;
typedef struct { int n; StoreRange r[STORE_FRAME_MAX_SKIP]; } StoreSkips;
// skip NULL: a version-1 header (snapshots); else version 2 with skip's ranges (sorted, disjoint, in the payload).
void store_frame_header(unsigned char hdr[STORE_FRAME_BYTES], const char *magic, uint64_t payload, uint32_t crc,
                        const StoreSkips *skip);
// 0 header valid (magic_out, payload, crc and, when skip is not NULL, the skipped ranges filled), 1 no pgrpo magic
// at all, -1 damaged (why). With skip NULL a header that lists ranges is damaged.
int store_frame_read_header(int fd, char magic_out[9], uint64_t *payload, uint32_t *crc, StoreSkips *skip, char *why,
                            size_t n);
// *crc (start with 0) continued over [off, off+len) of fd.
int store_frame_crc_range(int fd, uint64_t off, uint64_t len, uint32_t *crc, char *why, size_t n);
// The frame's CRC: the payload's bytes less the skipped ranges (skip may be NULL), in file order.
int store_frame_crc_payload(int fd, uint64_t payload, const StoreSkips *skip, uint32_t *crc, char *why, size_t n);
// Header, magic, size == 512 + payload and the payload CRC: 0 ok, 1 no pgrpo header, -1 damaged (why: no path).
int store_frame_verify_fd(int fd, const char *magic, uint64_t *payload_out, char *why, size_t n);
int store_frame_verify(const char *path, const char *magic, char *why, size_t n);
// Runs fn(arg) in a forked child that may take `seconds`: returns fn's result (0..255), or -1 with why when the
// child hung (killed) or crashed. For parsing files pgrpo did not write; results go back via MAP_SHARED memory.
int store_bounded_run(int (*fn)(void *), void *arg, int seconds, char *why, size_t n);
// Atomic replace: fsync(fd of tmp) was done by the caller; renames tmp onto final and fsyncs the directory.
int store_rename_durable(const char *tmp, const char *final, char *err, size_t errlen);

// Names of every dataset under the root, depth first ("/model/wte"). Caller frees with store_names_free.
typedef struct { char **v; int n, cap; } StoreNames;
int store_h5_list_datasets(hid_t file, StoreNames *out);
void store_names_free(StoreNames *s);

#endif
