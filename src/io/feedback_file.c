// feedback_file.c — feedback.h5 (format in feedback_file.h). Reading: the metadata checks run in a bounded child
// (store_bounded_run), as for a groups file, because the file is the user's; the row reads then select hyperslabs of
// the datasets the checks vetted. Writing: parallel HDF5 over comm, every rank writing its rows collectively into a
// temp file that rank 0 renames once the file is closed everywhere.
#include "feedback_file.h"
#include "feedback.h"
#include "store_impl.h"
#include "comm.h"
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FB_VALUE "feedback/value"
#define FB_MASK "feedback/mask"
#define FB_USER_ID "feedback/user_id"
#define FB_TRUTH "feedback/truth"
#define FB_READ_BLOCK 65536   // elements per block when an integer dataset is read through an int64 buffer

// ---------------------------------------------------------------------------------------------------------------
// checking the layout (feedback_file_info)

typedef struct {
    const char *path;
    int rc;
    FeedbackFileInfo info;
    char err[STORE_ERRLEN];
} InfoJob;

static const char *fb_type_word(hid_t t) {
    switch (H5Tget_class(t)) {
    case H5T_INTEGER: return "an integer type";
    case H5T_FLOAT: return H5Tget_size(t) == 4 ? "float32" : H5Tget_size(t) == 8 ? "float64" : "a float type";
    case H5T_STRING: return "a string type";
    case H5T_COMPOUND: return "a compound type";
    case H5T_ENUM: return "an enum (h5py bool) type";
    default: return "an unsupported type";
    }
}

static void fb_shape_str(int nd, const hsize_t *dims, char *s, size_t n) {
    snprintf(s, n, "(");
    for (int i = 0; i < nd && i < 6; i++)
        snprintf(s + strlen(s), n - strlen(s), "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    snprintf(s + strlen(s), n - strlen(s), "%s)", nd > 6 ? ", ..." : nd == 1 ? "," : "");
}

// Opens dataset `name` when present: 1 opened (*d), 0 absent, -1 present but not a dataset (err set).
static int fb_open(hid_t f, const char *name, hid_t *d, InfoJob *j) {
    *d = -1;
    if (!store_h5_path_exists(f, name)) return 0;
    H5O_info_t oi;
    if (H5Oget_info_by_name(f, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET ||
        (*d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
        snprintf(j->err, sizeof j->err, "%s: /%s is not a readable dataset (HINT: write it with h5py as a numpy "
                 "array)", j->path, name);
        return -1;
    }
    return 1;
}

// Checks dataset `name` (opened as d): class (H5T_FLOAT or H5T_INTEGER), rank and, when want != NULL, dims.
static int fb_check_dset(hid_t d, const char *name, H5T_class_t cls, int rank, const hsize_t *want, hsize_t *dims,
                         InfoJob *j) {
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp), ok = 0;
    hsize_t got[H5S_MAX_RANK] = {0};
    if (nd >= 0) H5Sget_simple_extent_dims(sp, got, NULL);
    char have[96], need[96];
    fb_shape_str(nd, got, have, sizeof have);
    fb_shape_str(rank, want ? want : got, need, sizeof need);
    int size_ok = cls != H5T_FLOAT || H5Tget_size(t) == 4 || H5Tget_size(t) == 8;
    if (H5Tget_class(t) != cls || !size_ok)
        snprintf(j->err, sizeof j->err, "%s: /%s is %s; it must be %s (HINT: numpy %s)", j->path, name,
                 fb_type_word(t), cls == H5T_FLOAT ? "float32 or float64" : "an integer type",
                 cls == H5T_FLOAT ? ".astype(np.float32)" : ".astype(np.uint8) / np.int64");
    else if (nd != rank)
        snprintf(j->err, sizeof j->err, "%s: /%s has shape %s; it must be %d-D%s (HINT: see README \"Groups\" for "
                 "the feedback.h5 format)", j->path, name, have, rank,
                 rank == 2 ? " (users, probes)" : " (one entry per user)");
    else if (want && memcmp(got, want, sizeof *got * (size_t)rank))
        snprintf(j->err, sizeof j->err, "%s: /%s has shape %s; it must be %s like /%s (HINT: one %s per user%s)",
                 j->path, name, have, need, FB_VALUE, rank == 2 ? "row" : "entry",
                 rank == 2 ? ", one column per probe" : "");
    else if (!want && (got[0] < 1 || got[1] < 1))
        snprintf(j->err, sizeof j->err, "%s: /%s has shape %s; it needs at least one user and one probe (HINT: "
                 "is it the right file?)", j->path, name, have);
    else ok = 1;
    if (ok && dims) memcpy(dims, got, sizeof *got * (size_t)rank);
    H5Sclose(sp);
    H5Tclose(t);
    return ok ? 0 : -1;
}

// The optional datasets: integer, same shape as value (mask) or 1-D of length n.
static int fb_check_optional(hid_t f, InfoJob *j, const hsize_t *vdims) {
    static const char *names[3] = {FB_MASK, FB_USER_ID, FB_TRUTH};
    int *has[3] = {&j->info.has_mask, &j->info.has_user_id, &j->info.has_truth};
    for (int k = 0; k < 3; k++) {
        hid_t d;
        int o = fb_open(f, names[k], &d, j);
        if (o < 0) return -1;
        *has[k] = o;
        int bad = o && fb_check_dset(d, names[k], H5T_INTEGER, k ? 1 : 2, vdims, NULL, j) != 0;
        if (d >= 0) H5Dclose(d);
        if (bad) return -1;
    }
    return 0;
}

static int fb_info_child(void *arg) {
    InfoJob *j = arg;
    j->rc = -1;
    StoreQuiet q = store_quiet_begin();
    hid_t f = -1, d = -1;
    hsize_t dims[2];
    if (access(j->path, R_OK) != 0)
        snprintf(j->err, sizeof j->err, "cannot open feedback file %s: %s (HINT: check the path)", j->path,
                 strerror(errno));
    else if (H5Fis_hdf5(j->path) <= 0)
        snprintf(j->err, sizeof j->err, "%s is not an HDF5 file (HINT: feedback files are HDF5 with "
                 "/feedback/value; see README \"Groups\")", j->path);
    else if ((f = H5Fopen(j->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        snprintf(j->err, sizeof j->err, "%s is truncated or damaged (%s; HINT: write it again)", j->path,
                 h5[0] ? h5 : "HDF5 cannot open it");
    } else {
        int o = fb_open(f, FB_VALUE, &d, j);
        if (o == 0)
            snprintf(j->err, sizeof j->err, "%s has no dataset /%s (HINT: the users x probes feedback matrix, float32 "
                     "or float64)", j->path, FB_VALUE);
        else if (o > 0 && fb_check_dset(d, FB_VALUE, H5T_FLOAT, 2, NULL, dims, j) == 0) {
            hid_t t = H5Dget_type(d);
            j->info.n = (long)dims[0];
            j->info.d = (int)dims[1];
            j->info.value_f64 = H5Tget_size(t) == 8;
            H5Tclose(t);
            if (dims[1] > 0x7fffffff)
                snprintf(j->err, sizeof j->err, "%s: /%s has %llu probes; at most 2^31-1", j->path, FB_VALUE,
                         (unsigned long long)dims[1]);
            else if (fb_check_optional(f, j, dims) == 0) j->rc = 0;
        }
    }
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    store_quiet_end(q);
    return 0;
}

int feedback_file_info(const char *path, FeedbackFileInfo *info, char *err, size_t errlen) {
    InfoJob *j = mmap(NULL, sizeof *j, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (j == MAP_FAILED) {
        store_seterr(err, errlen, "cannot read %s: out of memory (%s)", path, strerror(errno));
        return -1;
    }
    memset(j, 0, sizeof *j);
    j->path = path;
    j->rc = -1;
    snprintf(j->err, sizeof j->err, "%s: the reader process ended without a result", path);
    char why[512];
    int rc = store_bounded_run(fb_info_child, j, store_watchdog_s(), why, sizeof why);
    if (rc != 0) store_seterr(err, errlen, "%s: %s", path, rc < 0 ? why : "the reader process failed");
    else if (j->rc != 0) store_seterr(err, errlen, "%s", j->err);
    else *info = j->info;
    int out = rc == 0 && j->rc == 0 ? 0 : -1;
    munmap(j, sizeof *j);
    return out;
}

// ---------------------------------------------------------------------------------------------------------------
// reading rows

// Reads rows [row0, row0 + n) x cols of dataset `name` (rank 1 when cols == 0) into buf as mem type mt.
static int fb_read_slab(hid_t f, const char *path, const char *name, hid_t mt, long row0, long n, int cols, void *buf,
                        char *err, size_t errlen) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t off[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)n, (hsize_t)cols};
    int rank = cols ? 2 : 1;
    hid_t ms = H5Screate_simple(rank, cnt, NULL);
    int ok = fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL) >= 0 &&
             H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (!ok) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        store_seterr(err, errlen, "%s: cannot read rows %ld..%ld of /%s (%s)", path, row0, row0 + n - 1, name,
                     h5[0] ? h5 : "damaged?");
    }
    H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
    return ok ? 0 : -1;
}

// An integer dataset through an int64 block buffer (so no HDF5 clipping can hide a bad value), range-checked and
// narrowed: mask to uint8 in {0, 1}, truth to int32 in [0, INT32_MAX], user_id kept as int64.
static int fb_read_ints(hid_t f, const char *path, const char *name, long row0, long n, int cols, void *out,
                        char *err, size_t errlen) {
    long w = cols ? cols : 1, rows_per = FB_READ_BLOCK / w > 0 ? FB_READ_BLOCK / w : 1;
    int64_t *buf = xmalloc(sizeof *buf * (size_t)(rows_per * w));
    int rc = 0;
    for (long r = 0; r < n && !rc; r += rows_per) {
        long m = n - r < rows_per ? n - r : rows_per;
        if ((rc = fb_read_slab(f, path, name, H5T_NATIVE_INT64, row0 + r, m, cols, buf, err, errlen))) break;
        for (long e = 0; e < m * w && !rc; e++) {
            long row = row0 + r + e / w;
            int64_t v = buf[e];
            if (!strcmp(name, FB_MASK)) {
                if (v != 0 && v != 1) {
                    store_seterr(err, errlen, "%s: /%s[%ld, %ld] = %lld; mask entries must be 1 (observed) or 0 "
                                 "(not observed) (HINT: fix the mask, e.g. (mask != 0).astype(np.uint8))", path,
                                 name, row, e % w, (long long)v);
                    rc = -1;
                } else ((uint8_t *)out)[(r * w) + e] = (uint8_t)v;
            } else if (!strcmp(name, FB_TRUTH)) {
                if (v < 0 || v > 0x7fffffff) {
                    store_seterr(err, errlen, "%s: /%s[%ld] = %lld; true group ids must be >= 0 (HINT: leave "
                                 "/feedback/truth out when groups are unknown)", path, name, row,
                                 (long long)v);
                    rc = -1;
                } else ((int32_t *)out)[r + e] = (int32_t)v;
            } else ((int64_t *)out)[r + e] = v;
        }
    }
    free(buf);
    return rc;
}

// The mask: a uint8 file (what pgrpo and most users write) straight into the output, then checked; any other
// integer type through fb_read_ints (a direct read would clip -1 to 0 or 256 to 255 and hide the bad value).
static int fb_read_mask(hid_t f, const char *path, long row0, long n, int d, uint8_t *mask, char *err, size_t errlen) {
    hid_t ds = H5Dopen2(f, FB_MASK, H5P_DEFAULT), t = ds >= 0 ? H5Dget_type(ds) : -1;
    int direct = t >= 0 && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    if (!direct) return fb_read_ints(f, path, FB_MASK, row0, n, d, mask, err, errlen);
    if (fb_read_slab(f, path, FB_MASK, H5T_NATIVE_UCHAR, row0, n, d, mask, err, errlen)) return -1;
    for (long e = 0; e < n * d; e++)
        if (mask[e] > 1) {
            store_seterr(err, errlen, "%s: /%s[%ld, %ld] = %d; mask entries must be 1 (observed) or 0 (not observed) "
                         "(HINT: fix the mask, e.g. (mask != 0).astype(np.uint8))", path, FB_MASK, row0 + e / d,
                         e % d, mask[e]);
            return -1;
        }
    return 0;
}

int feedback_file_read_rows(const char *path, const FeedbackFileInfo *info, int type, long row0, long n_rows,
                            void *values, uint8_t *mask, int64_t *user_id, int32_t *truth, char *err, size_t errlen) {
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > info->n) {
        store_seterr(err, errlen, "%s: rows %ld..%ld asked of %ld (a pgrpo bug)", path, row0, row0 + n_rows - 1,
                     info->n);
        return -1;
    }
    const char *missing = mask && !info->has_mask ? FB_MASK : user_id && !info->has_user_id ? FB_USER_ID
                        : truth && !info->has_truth ? FB_TRUTH : NULL;
    if (missing) {
        store_seterr(err, errlen, "%s has no dataset /%s", path, missing);
        return -1;
    }
    if (n_rows == 0) return 0;
    StoreQuiet q = store_quiet_begin();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) {
        store_seterr(err, errlen, "cannot open %s to read rows %ld..%ld", path, row0, row0 + n_rows - 1);
        rc = -1;
    }
    hid_t vt = type == FEEDBACK_F64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    if (!rc && values) rc = fb_read_slab(f, path, FB_VALUE, vt, row0, n_rows, info->d, values, err, errlen);
    if (!rc && mask) rc = fb_read_mask(f, path, row0, n_rows, info->d, mask, err, errlen);
    if (!rc && user_id) rc = fb_read_ints(f, path, FB_USER_ID, row0, n_rows, 0, user_id, err, errlen);
    if (!rc && truth) rc = fb_read_ints(f, path, FB_TRUTH, row0, n_rows, 0, truth, err, errlen);
    if (f >= 0) H5Fclose(f);
    store_quiet_end(q);
    return rc;
}

// ---------------------------------------------------------------------------------------------------------------
// writing (collective)

// Every rank learns whether all are ok; on failure every rank gets the message of the lowest failing rank.
static int fb_agree(MPI_Comm comm, int ok, char *err, size_t errlen) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int worst = comm_max_int(ok ? -1 : size - 1 - rank, comm);
    if (worst < 0) return 1;
    char msg[STORE_ERRLEN];
    snprintf(msg, sizeof msg, "%s", ok || !errlen ? "" : err);
    comm_bcast(msg, sizeof msg, size - 1 - worst, comm);
    if (errlen) snprintf(err, errlen, "%s", msg);
    return 0;
}

// The arguments agree over ranks (n, d, which datasets) and the row ranges tile [0, n).
static int fb_check_layout(MPI_Comm comm, long n, int d, long row0, long n_rows, int flags, const char *path,
                           char *err, size_t errlen) {
    int size;
    MPI_Comm_size(comm, &size);
    long mine[5] = {n, d, row0, n_rows, flags};
    long *all = xmalloc(sizeof *all * 5 * (size_t)size);
    comm_allgather(mine, sizeof mine, all, comm);
    long covered = 0;
    int ok = n >= 1 && d >= 1;
    for (int r = 0; r < size && ok; r++) {
        const long *a = all + 5 * r;
        ok = a[0] == n && a[1] == d && a[4] == flags && a[2] >= 0 && a[3] >= 0 && a[2] + a[3] <= n;
        for (int s = 0; s < r && ok; s++) {   // no two non-empty ranges overlap
            const long *b = all + 5 * s;
            ok = !a[3] || !b[3] || a[2] + a[3] <= b[2] || b[2] + b[3] <= a[2];
        }
        covered += a[3];
    }
    free(all);
    if (ok && covered == n) return 0;
    store_seterr(err, errlen, "%s: the ranks' rows do not tile [0, %ld) with d = %d and the same datasets (this "
                 "rank: rows %ld..+%ld)", path, n, d, row0, n_rows);
    return -1;
}

// Creates dataset name (n, d) or (n) of file type ft and writes this rank's rows collectively (none when n_rows is
// 0). buf in the file type's native equivalent mt.
static int fb_write_dset(hid_t g, const char *name, hid_t ft, hid_t mt, long n, int d, long row0, long n_rows,
                         const void *buf, hid_t xfer) {
    int rank = d ? 2 : 1;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)d}, off[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)n_rows, (hsize_t)d};
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(g, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    int ok = ds >= 0;
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(rank, n_rows ? cnt : &one, NULL);
    if (n_rows) H5Sselect_hyperslab(sp, H5S_SELECT_SET, off, NULL, cnt, NULL);
    else { H5Sselect_none(sp); H5Sselect_none(ms); }
    static const char zero[8];
    if (ok) ok = H5Dwrite(ds, mt, ms, sp, xfer, n_rows ? buf : zero) >= 0;
    H5Sclose(ms);
    H5Sclose(sp);
    if (ds >= 0 && H5Dclose(ds) < 0) ok = 0;
    return ok;
}

// The root attributes and the datasets into the open temp file, then a flush (every rank, the same calls: the ranks
// agree after each step, so one rank's failure stops every rank at the same point). 1 ok; else err is set (the same
// line on every rank).
static int fb_write_contents(MPI_Comm comm, hid_t file, const char *tmp, const char *deck_text, long n, int d,
                             long row0, long n_rows, const float *values, const uint8_t *mask, const int32_t *truth,
                             int write_user_id, char *err, size_t errlen) {
    char creator[64], h5[256] = "";
    snprintf(creator, sizeof creator, "pgrpo %s", PGRPO_VERSION);
    int ok = store_h5_attr_set_str(file, "schema", FEEDBACK_FILE_SCHEMA) == 0 &&
             store_h5_attr_set_str(file, "creator", creator) == 0 &&
             (!deck_text || store_h5_attr_set_str(file, "deck", deck_text) == 0);
    hid_t g = ok ? H5Gcreate2(file, "feedback", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = ok && g >= 0;
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    int64_t *ids = write_user_id ? xmalloc(sizeof *ids * (size_t)(n_rows ? n_rows : 1)) : NULL;
    for (long i = 0; ids && i < n_rows; i++) ids[i] = row0 + i;
    // Memory type = file type (little-endian; feedback_file_write checks the host is): no conversion, so the write
    // stays collective.
    hid_t f32 = store_h5_file_type(STORE_F32), u8 = store_h5_file_type(STORE_U8);
    hid_t i32 = store_h5_file_type(STORE_I32), i64 = store_h5_file_type(STORE_I64);
    const char *names[4] = {"value", "mask", "truth", "user_id"};
    const void *bufs[4] = {values, mask, truth, ids};
    hid_t types[4] = {f32, u8, i32, i64};
    for (int k = 0; k < 4; k++) {
        if (!ok || !bufs[k] || (k == 0 && !values && n_rows)) continue;   // value is always written
        ok = fb_write_dset(g, names[k], types[k], types[k], n, k < 2 ? d : 0, row0, n_rows, bufs[k], xfer);
        if (!ok) store_h5_errtext(h5, sizeof h5);
        ok = fb_agree(comm, ok, h5, sizeof h5);   // the first failing rank's HDF5 words, on every rank
    }
    free(ids);
    H5Pclose(xfer);
    if (g >= 0 && H5Gclose(g) < 0) ok = 0;
    // Flushing before the close finds a full disk while the file can still be closed cleanly (see the caller).
    if (ok && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) { ok = 0; store_h5_errtext(h5, sizeof h5); }
    if (!ok) store_seterr(err, errlen, "cannot write %s (%s; disk full?)", tmp, h5[0] ? h5 : "HDF5 write failed");
    return fb_agree(comm, ok, err, errlen);
}

// Rank 0: fsync the complete temp file and rename it onto path. 1 ok.
static int fb_publish(const char *tmp, const char *path, char *err, size_t errlen) {
    int fd = open(tmp, O_RDONLY);
    int ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    if (!ok) store_seterr(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
    return ok && store_rename_durable(tmp, path, err, errlen) == 0;
}

int feedback_file_write(MPI_Comm comm, const char *path, const char *deck_text, long n, int d, long row0,
                        long n_rows, const float *values, const uint8_t *mask, const int32_t *truth,
                        int write_user_id, char *err, size_t errlen) {
    const uint16_t one = 1;
    CHECK(*(const unsigned char *)&one == 1, "the store assumes a little-endian host");
    int rank;
    MPI_Comm_rank(comm, &rank);
    int flags = (mask != NULL) | (truth != NULL) << 1 | (write_user_id != 0) << 2;
    int ok = fb_check_layout(comm, n, d, row0, n_rows, flags, path, err, errlen) == 0;
    if (!fb_agree(comm, ok, err, errlen)) return -1;
    long pid = (long)getpid();
    comm_bcast(&pid, sizeof pid, 0, comm);
    char tmp[STORE_PATHLEN], h5[256] = "";
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, pid);
    StoreQuiet q = store_quiet_begin();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0) {
        store_h5_errtext(h5, sizeof h5);
        store_seterr(err, errlen, "cannot create %s (%s%sHINT: does the folder exist, is it writable?)", tmp, h5,
                     h5[0] ? "; " : "");
    }
    ok = fb_agree(comm, file >= 0, err, errlen);
    if (ok) {
        ok = fb_write_contents(comm, file, tmp, deck_text, n, d, row0, n_rows, values, mask, truth, write_user_id,
                               err, errlen);
        // After a failed write (a full disk) the close would flush into the same wall and leave HDF5 holding a
        // half-closed file that crashes MPI_Finalize: emptying the doomed temp file first frees the space.
        if (!ok && rank == 0 && truncate(tmp, 0) != 0) { /* the close may then fail too; reported below */ }
        if (!ok) comm_barrier(comm);
        if (H5Fclose(file) < 0 && ok) {
            ok = 0;
            store_seterr(err, errlen, "cannot finish writing %s (HDF5 close failed; disk full?)", tmp);
        }
        if (fb_agree(comm, ok, err, errlen) && rank == 0)   // only now is the file complete on every rank
            ok = fb_publish(tmp, path, err, errlen);
    } else if (file >= 0) H5Fclose(file);
    store_quiet_end(q);
    ok = fb_agree(comm, ok, err, errlen);
    if (!ok && rank == 0) unlink(tmp);
    return ok ? 0 : -1;
}
