// store_traj.c — trajectories.h5 written collectively with parallel HDF5 over the learner communicator.
// Rules that bite (toolchain.md): gzip datasets accept collective writes only, memory type must equal file type,
// and every rank calls every create / set_extent / attribute / write — a rank with no prompts selects none.
#include "store_impl.h"
#include "check.h"
#include <string.h>
#include <unistd.h>

#define TRAJ_GZIP_LEVEL 4
#define TRAJ_NDSETS 11
// Rows between H5Fflush calls. Parallel HDF5 keeps the metadata of every chunk written (one per step per
// dataset) in memory until the file is flushed: ~1.4 KB per step on the tiny deck, without bound when checkpoints
// are rare (issue 8 A10). A collective flush every 256 rows bounds that at a few hundred KB, for ~1 flush per 16
// batched writes.
#define TRAJ_FLUSH_ROWS 256

typedef struct {
    const char *name;
    StoreType type;
    int rank;            // dims after S: 0 (step), 1 (P), 2 (P,G) / (P,Tp), 3 (P,G,Tc)
    int inner;           // 0: none, 'p': Tp, 'g': G, 'c': G,Tc
    const char *units;
    const char *description;
} TrajSpec;

// The one table that fixes names, types, shapes and metadata; write and resume both walk it.
static const TrajSpec TRAJ_SPECS[TRAJ_NDSETS] = {
    {"step", STORE_I64, 0, 0, "step", "optimizer step of the row"},
    {"prompt_tokens", STORE_I32, 2, 'p', "token id", "prompt tokens, left-aligned; entries at or past prompt_len are padding"},
    {"prompt_len", STORE_I32, 1, 0, "tokens", "prompt length"},
    {"user", STORE_I32, 1, 0, "id", "user id of the prompt"},
    {"group", STORE_I32, 1, 0, "id", "preference group of the prompt's user"},
    {"completion_tokens", STORE_I32, 3, 'c', "token id", "sampled completion tokens; entries at or past completion_len are padding"},
    {"completion_len", STORE_I32, 2, 'g', "tokens", "completion length"},
    {"behaviour_logp", STORE_F32, 3, 'c', "nats", "log-probability of each sampled token under the behaviour policy"},
    {"reward", STORE_F32, 2, 'g', "reward", "task reward of the completion"},
    {"advantage", STORE_F32, 2, 'g', "1", "advantage used for the update (per completion)"},
    {"policy_version", STORE_I64, 1, 0, "step", "optimizer step of the weights that sampled the prompt's completions"},
};

struct TrajFile {
    MPI_Comm comm;
    int rank;
    hid_t file;
    hid_t d[TRAJ_NDSETS];
    hid_t xfer;   // collective transfer plist
    hid_t fapl;   // the file access plist (MPI-IO, bounded caches), kept for the periodic reopen
    int P, G, Tp, Tc;
    hsize_t rows;
    long last_step;
    // Rows not yet in the file (see traj_flush): this rank's slice for each buffered step, (nbuf, bnp, ...).
    int batch, nbuf, bp0, bnp;
    int64_t *bsteps;                 // (batch)
    void *buf[TRAJ_NDSETS];          // buf[k]: (batch, bnp, inner...) in dataset k's type
    char path[STORE_PATHLEN];
    char err[STORE_ERRLEN];
};

const char *traj_error(const TrajFile *t) { return t->err[0] ? t->err : NULL; }
long traj_steps(const TrajFile *t) { return (long)t->rows + t->nbuf; }

// Full dims (S, P, ...) of spec k with S = rows; returns the rank.
static int spec_dims(const TrajFile *t, int k, hsize_t rows, hsize_t *dims) {
    const TrajSpec *s = &TRAJ_SPECS[k];
    int n = 0;
    dims[n++] = rows;
    if (s->rank >= 1) dims[n++] = (hsize_t)t->P;
    if (s->inner == 'p') dims[n++] = (hsize_t)t->Tp;
    if (s->inner == 'g' || s->inner == 'c') dims[n++] = (hsize_t)t->G;
    if (s->inner == 'c') dims[n++] = (hsize_t)t->Tc;
    return n;
}

static hid_t create_dset(TrajFile *t, int k) {
    const TrajSpec *s = &TRAJ_SPECS[k];
    hsize_t dims[5], maxd[5], chunk[5];
    int n = spec_dims(t, k, 0, dims);
    for (int i = 0; i < n; i++) { maxd[i] = i ? dims[i] : H5S_UNLIMITED; chunk[i] = i ? dims[i] : 1; }
    // One step per chunk, split along P when a step's slab exceeds ~1 MiB, so a chunk never outgrows the cache.
    double bytes = (double)store_type_size(s->type);
    for (int i = 1; i < n; i++) bytes *= (double)chunk[i];
    if (n > 1 && bytes > (1 << 20)) {
        double c = (double)chunk[1] * (1 << 20) / bytes;
        chunk[1] = c < 1 ? 1 : (hsize_t)c;
    }
    // The step column too gets one row per chunk: truncating on resume then drops whole chunks only. (HDF5
    // 1.10.8 corrupts a partially cut gzip chunk that a later parallel write reads back: "inflate() failed".)
    hid_t sp = H5Screate_simple(n, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, n, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, TRAJ_GZIP_LEVEL);
    H5Pset_obj_track_times(dcpl, 0);
    // Parallel filtered datasets must allocate at creation or at the first collective write, never lazily.
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    hid_t d = H5Dcreate2(t->file, s->name, store_h5_file_type(s->type), sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (d >= 0) {
        store_h5_attr_set_str(d, "units", s->units);
        store_h5_attr_set_str(d, "description", s->description);
    }
    return d;
}

// All ranks agree on failure: any rank's error becomes every rank's, so nobody enters a collective alone.
static int all_ok(TrajFile *t, int ok) {
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, t->comm);
    return all;
}

static void free_buffers(TrajFile *t);

static void traj_free(TrajFile *t) {
    free_buffers(t);
    for (int k = 0; k < TRAJ_NDSETS; k++)
        if (t->d[k] >= 0) H5Dclose(t->d[k]);
    if (t->xfer >= 0) H5Pclose(t->xfer);
    if (t->fapl >= 0) H5Pclose(t->fapl);
    if (t->file >= 0) H5Fclose(t->file);
    free(t);
}

static int open_existing(TrajFile *t, hid_t fapl, long resume_step, char *err, size_t errlen) {
    t->file = H5Fopen(t->path, H5F_ACC_RDWR, fapl);
    if (t->file < 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        store_seterr(err, errlen, "cannot reopen %s to resume at step %ld (%s)", t->path, resume_step, h5);
        return -1;
    }
    if (store_h5_check_schema(t->file, t->path, STORE_KIND_TRAJ, NULL, 0, err, errlen) != 0) return -1;
    long have[4] = {0};
    const char *keys[4] = {"P", "G", "Tp", "Tc"};
    long want[4] = {t->P, t->G, t->Tp, t->Tc};
    for (int i = 0; i < 4; i++) {
        if (store_h5_attr_get_int(t->file, keys[i], &have[i]) != 0 || have[i] != want[i]) {
            store_seterr(err, errlen, "%s was written with %s=%ld, this run has %s=%ld (HINT: resume with the "
                         "same deck, or move the old output away)", t->path, keys[i], have[i], keys[i], want[i]);
            return -1;
        }
    }
    for (int k = 0; k < TRAJ_NDSETS; k++)
        if ((t->d[k] = H5Dopen2(t->file, TRAJ_SPECS[k].name, H5P_DEFAULT)) < 0) {
            store_seterr(err, errlen, "%s is missing dataset %s", t->path, TRAJ_SPECS[k].name);
            return -1;
        }
    hid_t sp = H5Dget_space(t->d[0]);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    // Every rank reads the small step column (collectively) and so computes the same cut.
    int64_t *steps = xmalloc((size_t)n * sizeof *steps + 1);
    if (n && H5Dread(t->d[0], H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, t->xfer, steps) < 0) {
        free(steps);
        store_seterr(err, errlen, "cannot read %s/step", t->path);
        return -1;
    }
    hsize_t keep = 0;
    while (keep < n && steps[keep] < resume_step) keep++;
    t->last_step = keep ? (long)steps[keep - 1] : -1;
    free(steps);
    for (int k = 0; k < TRAJ_NDSETS && keep < n; k++) {
        hsize_t dims[5];
        spec_dims(t, k, keep, dims);
        if (H5Dset_extent(t->d[k], dims) < 0) {
            store_seterr(err, errlen, "cannot truncate %s/%s to %llu steps", t->path, TRAJ_SPECS[k].name,
                         (unsigned long long)keep);
            return -1;
        }
    }
    t->rows = keep;
    store_h5_attr_set_int(t->file, "resumed_at_step", resume_step);
    return 0;
}

TrajFile *traj_open(MPI_Comm comm, const char *path, const char *deck_text, int P, int G, int Tp, int Tc,
                    long resume_step, char *err, size_t errlen) {
    const uint16_t one = 1;
    CHECK(*(const unsigned char *)&one == 1, "the store assumes a little-endian host");
    TrajFile *t = xcalloc(1, sizeof *t);
    t->comm = comm;
    MPI_Comm_rank(comm, &t->rank);
    t->file = t->xfer = t->fapl = -1;
    for (int k = 0; k < TRAJ_NDSETS; k++) t->d[k] = -1;
    t->P = P; t->G = G; t->Tp = Tp; t->Tc = Tc;
    t->last_step = -1;
    t->batch = 1;
    snprintf(t->path, sizeof t->path, "%s", path);
    StoreQuiet q = store_quiet_begin();
    t->xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(t->xfer, H5FD_MPIO_COLLECTIVE);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    // Metadata reads by one rank and broadcast: at hundreds of ranks this is what keeps open() fast.
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    store_h5_bound_caches(fapl);
    int exists = 0;
    if (t->rank == 0) exists = access(path, F_OK) == 0;
    MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
    int ok;
    if (P <= 0 || G <= 0 || Tp <= 0 || Tc <= 0) {
        store_seterr(err, errlen, "%s: bad trajectory shape P=%d G=%d Tp=%d Tc=%d", path, P, G, Tp, Tc);
        ok = 0;
    } else if (resume_step > 0 && exists) {
        ok = open_existing(t, fapl, resume_step, err, errlen) == 0;
    } else {
        t->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        ok = t->file >= 0;
        if (!ok) {
            char h5[256];
            store_h5_errtext(h5, sizeof h5);
            store_seterr(err, errlen, "cannot create %s (%s)", path, h5);
        } else {
            ok = store_h5_root_attrs(t->file, STORE_KIND_TRAJ, deck_text) == 0;
            ok = ok && store_h5_attr_set_int(t->file, "P", P) == 0 && store_h5_attr_set_int(t->file, "G", G) == 0 &&
                 store_h5_attr_set_int(t->file, "Tp", Tp) == 0 && store_h5_attr_set_int(t->file, "Tc", Tc) == 0;
            for (int k = 0; k < TRAJ_NDSETS && ok; k++) ok = (t->d[k] = create_dset(t, k)) >= 0;
            if (!ok) store_seterr(err, errlen, "cannot create the datasets of %s", path);
        }
    }
    t->fapl = fapl;
    if (!all_ok(t, ok)) {
        if (ok) store_seterr(err, errlen, "%s: another rank failed to open it", path);
        traj_free(t);
        store_quiet_end(q);
        return NULL;
    }
    store_quiet_end(q);
    return t;
}

static const void *local_ptr(const TrajStep *l, int k) {
    const void *p[TRAJ_NDSETS] = {NULL, l->prompt_tokens, l->prompt_len, l->user, l->group, l->completion_tokens,
                                  l->completion_len, l->behaviour_logp, l->reward, l->advantage, l->policy_version};
    return p[k];
}

static size_t per_prompt(const TrajFile *t, int k) {
    int in = TRAJ_SPECS[k].inner;
    return in == 'p' ? (size_t)t->Tp : in == 'g' ? (size_t)t->G : in == 'c' ? (size_t)t->G * t->Tc : 1;
}

// Extends dataset k to `rows` and writes this rank's part of the nbuf buffered rows (collective: every rank calls
// it, with an empty selection when it owns nothing). Returns 1 ok, 0 failed with HDF5's words in h5.
static int write_buffered_rows(TrajFile *t, int k, hsize_t rows, char *h5, size_t h5len) {
    int ok = 1;
    hsize_t dims[5], off[5] = {0}, cnts[5];
    int n = spec_dims(t, k, rows, dims);
    if (H5Dset_extent(t->d[k], dims) < 0) { ok = 0; store_h5_errtext(h5, h5len); }
    hid_t fs = H5Dget_space(t->d[k]);
    for (int i = 0; i < n; i++) cnts[i] = dims[i];
    off[0] = t->rows;
    cnts[0] = (hsize_t)t->nbuf;
    const void *buf;
    int mine;
    if (k == 0) {   // the step column: rank 0 writes it
        mine = t->rank == 0;
        buf = t->bsteps;
    } else {
        off[1] = (hsize_t)t->bp0;
        cnts[1] = (hsize_t)t->bnp;
        mine = t->bnp > 0;
        buf = t->buf[k];
    }
    hid_t ms;
    if (mine) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnts, NULL);
        ms = H5Screate_simple(n, cnts, NULL);
    } else {
        H5Sselect_none(fs);
        hsize_t one = 1;
        ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_none(ms);
    }
    // Memory type = file type (little-endian, as traj_open checks the host is): no conversion, so the
    // filtered write stays collective.
    if (H5Dwrite(t->d[k], store_h5_file_type(TRAJ_SPECS[k].type), ms, fs, t->xfer, mine ? buf : t->bsteps) < 0 && ok) {
        ok = 0;
        snprintf(h5, h5len, "%s: ", TRAJ_SPECS[k].name);
        store_h5_errtext(h5 + strlen(h5), h5len - strlen(h5));
    }
    H5Sclose(ms);
    H5Sclose(fs);
    return ok;
}

// Closes and reopens the file (collective): HDF5 keeps the chunk index of every step's chunk in memory while a
// file is open whatever the cache limits (~0.1 KB per step with the 11 datasets), and only a close lets it go.
// Every TRAJ_FLUSH_ROWS rows this bounds RSS at the cost of one open (a few ms). Returns 1 ok, 0 failed.
static int reopen(TrajFile *t) {
    StoreQuiet q = store_quiet_begin();
    int ok = 1;
    for (int k = 0; k < TRAJ_NDSETS; k++) { if (H5Dclose(t->d[k]) < 0) ok = 0; t->d[k] = -1; }
    if (H5Fclose(t->file) < 0) ok = 0;
    t->file = H5Fopen(t->path, H5F_ACC_RDWR, t->fapl);
    if (t->file < 0) ok = 0;
    for (int k = 0; k < TRAJ_NDSETS && t->file >= 0; k++)
        if ((t->d[k] = H5Dopen2(t->file, TRAJ_SPECS[k].name, H5P_DEFAULT)) < 0) ok = 0;
    store_quiet_end(q);
    return ok;
}

// Writes the nbuf buffered rows with one set_extent and one collective H5Dwrite per dataset: the filtered
// collective path of HDF5 1.10 costs milliseconds per call whatever the size, so rows are batched.
int traj_flush(TrajFile *t) {
    if (t->nbuf == 0) return t->err[0] ? -1 : 0;   // nbuf is the same on every rank
    StoreQuiet q = store_quiet_begin();
    int ok = 1;
    hsize_t rows = t->rows + (hsize_t)t->nbuf;
    char h5[256] = "", why[256];
    // No early exit on failure: every rank must make the same sequence of collective calls whatever happens.
    for (int k = 0; k < TRAJ_NDSETS; k++)
        if (!write_buffered_rows(t, k, rows, why, sizeof why) && ok) { ok = 0; snprintf(h5, sizeof h5, "%s", why); }
    store_quiet_end(q);
    if (!all_ok(t, ok)) {
        store_seterr(t->err, sizeof t->err, "%s: collective write of steps %ld..%ld failed (%s)", t->path,
                     (long)t->bsteps[0], (long)t->bsteps[t->nbuf - 1], h5[0] ? h5 : "on another rank");
        t->nbuf = 0;
        return -1;
    }
    int crossed = rows / TRAJ_FLUSH_ROWS != t->rows / TRAJ_FLUSH_ROWS;   // same on every rank
    t->rows = rows;
    t->nbuf = 0;
    if (crossed && !all_ok(t, reopen(t))) {
        store_seterr(t->err, sizeof t->err, "%s: flush after step %ld failed (disk full?)", t->path, t->last_step);
        return -1;
    }
    return 0;
}

int traj_sync(TrajFile *t) {
    int rc = traj_flush(t);
    // Collective on the file's communicator: after it, the file on disk holds every row written so far.
    StoreQuiet q = store_quiet_begin();
    if (H5Fflush(t->file, H5F_SCOPE_GLOBAL) < 0) rc = -1;
    store_quiet_end(q);
    return rc;
}

static void free_buffers(TrajFile *t) {
    for (int k = 0; k < TRAJ_NDSETS; k++) { free(t->buf[k]); t->buf[k] = NULL; }
    free(t->bsteps);
    t->bsteps = NULL;
}

int traj_set_batch(TrajFile *t, int steps) {
    int rc = traj_flush(t);
    free_buffers(t);
    t->batch = steps < 1 ? 1 : steps;
    return rc;
}

int traj_write_step(TrajFile *t, long step, int p0, int np, const TrajStep *local) {
    // Check the tiling collectively first: a bad slice on one rank must not leave the others inside H5Dwrite.
    long cnt[3] = {np, 0, 0}, tot[3];
    cnt[1] = np < 0 || p0 < 0 || p0 + np > t->P || step <= t->last_step || (np > 0 && !local);
    cnt[2] = t->nbuf > 0 && (p0 != t->bp0 || np != t->bnp);   // a new slicing: flush the old one first
    MPI_Allreduce(cnt, tot, 3, MPI_LONG, MPI_SUM, t->comm);
    if (tot[1] || tot[0] != t->P) {
        store_seterr(t->err, sizeof t->err, "%s: step %ld: prompt slices do not tile [0,%d) (sum of np = %ld, "
                     "%ld rank(s) with a bad slice or step <= %ld)", t->path, step, t->P, tot[0], tot[1],
                     t->last_step);
        return -1;
    }
    if (tot[2] && traj_flush(t) != 0) return -1;
    if (!t->bsteps || (t->nbuf == 0 && np != t->bnp)) {
        free_buffers(t);
        t->bsteps = xcalloc((size_t)t->batch, sizeof *t->bsteps);
        for (int k = 1; k < TRAJ_NDSETS; k++)
            t->buf[k] = xmalloc((size_t)t->batch * (size_t)np * per_prompt(t, k) * store_type_size(TRAJ_SPECS[k].type));
    }
    t->bp0 = p0;
    t->bnp = np;
    t->bsteps[t->nbuf] = step;
    for (int k = 1; k < TRAJ_NDSETS && np > 0; k++) {
        size_t row = (size_t)np * per_prompt(t, k) * store_type_size(TRAJ_SPECS[k].type);
        memcpy((char *)t->buf[k] + (size_t)t->nbuf * row, local_ptr(local, k), row);
    }
    t->nbuf++;
    t->last_step = step;
    return t->nbuf == t->batch ? traj_flush(t) : 0;
}

int traj_close(TrajFile *t) {
    if (!t) return 0;
    int rc = traj_flush(t);
    free_buffers(t);
    StoreQuiet q = store_quiet_begin();
    for (int k = 0; k < TRAJ_NDSETS; k++) { H5Dclose(t->d[k]); t->d[k] = -1; }
    H5Pclose(t->xfer);
    H5Pclose(t->fapl);
    t->xfer = t->fapl = -1;
    if (H5Fclose(t->file) < 0) rc = -1;
    t->file = -1;
    store_quiet_end(q);
    free(t);
    return rc;
}
