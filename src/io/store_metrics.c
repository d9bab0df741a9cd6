// store_metrics.c — metrics.h5, H5MD-style time series written by rank 0:
// /observables/<name>/step (int64, extendable) and /observables/<name>/value (float64, extendable).
// Each append extends and writes in place and then H5Fflush()es, so a crash loses at most the step in flight.
#include "store_impl.h"
#include "check.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define METRICS_CHUNK 256   // entries per chunk: one chunk covers many steps, so appends rarely allocate

typedef struct {
    char *name;
    hid_t step, value;
    hsize_t len;
    long last_step;   // LONG_MIN-like sentinel when empty
} Series;

struct MetricsFile {
    hid_t file;
    char path[STORE_PATHLEN];
    char err[STORE_ERRLEN];
    Series *s;
    int n, cap;
};

const char *metrics_error(const MetricsFile *m) { return m->err[0] ? m->err : NULL; }

static int series_find(const MetricsFile *m, const char *name, int hint) {
    // Callers pass the same names in the same order every step, so the hint almost always hits.
    if (hint >= 0 && hint < m->n && strcmp(m->s[hint].name, name) == 0) return hint;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0) return i;
    return -1;
}

static Series *series_push(MetricsFile *m, const char *name, hid_t step, hid_t value) {
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 32;
        Series *v = realloc(m->s, (size_t)m->cap * sizeof *v);
        CHECK(v, "out of memory");
        m->s = v;
    }
    Series *s = &m->s[m->n++];
    s->name = strdup(name);
    s->step = step;
    s->value = value;
    s->len = 0;
    s->last_step = -1;
    return s;
}

// HDF5 keeps every chunk a dataset has touched in that dataset's chunk cache (default 1 MiB, 521 slots) until it
// is full. Appends only ever touch the last chunk, so the default cache retained every past chunk of every series:
// ~1.1 KB per step for 71 series, growing for ~500 chunks per series (issue 8 A10). Room for one chunk bounds it.
static hid_t series_dapl(void) {
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 11, (size_t)METRICS_CHUNK * 8, 1.0);
    return dapl;
}

static hid_t create_1d(hid_t grp, const char *name, hid_t ftype, const char *units, const char *desc) {
    hsize_t zero = 0, unlim = H5S_UNLIMITED, chunk = METRICS_CHUNK;
    hid_t sp = H5Screate_simple(1, &zero, &unlim);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t dapl = series_dapl();
    hid_t d = H5Dcreate2(grp, name, ftype, sp, H5P_DEFAULT, dcpl, dapl);
    H5Pclose(dapl);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (d >= 0) {
        if (units) store_h5_attr_set_str(d, "units", units);
        if (desc) store_h5_attr_set_str(d, "description", desc);
    }
    return d;
}

static int series_create(MetricsFile *m, const char *name) {
    char gpath[STORE_PATHLEN];
    snprintf(gpath, sizeof gpath, "/observables/%s", name);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(m->file, gpath, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return -1;
    hid_t st = create_1d(g, "step", H5T_STD_I64LE, "step", "optimizer step at which value was recorded");
    hid_t va = create_1d(g, "value", H5T_IEEE_F64LE, NULL, NULL);
    H5Gclose(g);
    if (st < 0 || va < 0) {
        if (st >= 0) H5Dclose(st);
        if (va >= 0) H5Dclose(va);
        return -1;
    }
    series_push(m, name, st, va);
    return m->n - 1;
}

typedef struct { MetricsFile *m; long resume_step; int bad; } ResumeCtx;

// Visits every group holding a `step` dataset: opens the series and cuts it back to steps < resume_step.
static herr_t resume_cb(hid_t obj, const char *name, const H5O_info_t *info, void *ud) {
    ResumeCtx *c = ud;
    if (info->type != H5O_TYPE_GROUP || strncmp(name, "observables/", 12) != 0) return 0;
    if (H5Lexists(obj, name, H5P_DEFAULT) <= 0) return 0;
    hid_t g = H5Gopen2(obj, name, H5P_DEFAULT);
    if (g < 0) return 0;
    if (H5Lexists(g, "step", H5P_DEFAULT) <= 0 || H5Lexists(g, "value", H5P_DEFAULT) <= 0) {
        H5Gclose(g);
        return 0;
    }
    hid_t dapl = series_dapl();
    hid_t st = H5Dopen2(g, "step", dapl), va = H5Dopen2(g, "value", dapl);
    H5Pclose(dapl);
    H5Gclose(g);
    hid_t sp = H5Dget_space(st);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    int64_t *steps = xmalloc((size_t)n * sizeof *steps + 1);
    if (n && H5Dread(st, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps) < 0) c->bad = 1;
    hsize_t keep = 0;   // steps are increasing, so the kept entries are a prefix
    while (keep < n && steps[keep] < c->resume_step) keep++;
    Series *s = series_push(c->m, name + 12, st, va);
    s->len = keep;
    s->last_step = keep ? (long)steps[keep - 1] : -1;
    free(steps);
    if (keep < n && (H5Dset_extent(st, &keep) < 0 || H5Dset_extent(va, &keep) < 0)) c->bad = 1;
    return c->bad ? -1 : 0;
}

MetricsFile *metrics_open(const char *path, const char *deck_text, long resume_step, char *err, size_t errlen) {
    MetricsFile *m = xcalloc(1, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    StoreQuiet q = store_quiet_begin();
    int resume = resume_step > 0 && access(path, F_OK) == 0;
    if (resume) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        store_h5_bound_caches(fapl);
        m->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
        H5Pclose(fapl);
        if (m->file < 0) {
            char h5[256];
            store_h5_errtext(h5, sizeof h5);
            store_seterr(err, errlen, "cannot reopen %s to resume at step %ld (%s)", path, resume_step, h5);
            goto fail;
        }
        if (store_h5_check_schema(m->file, path, STORE_KIND_METRICS, NULL, 0, err, errlen) != 0) goto fail;
        ResumeCtx c = {m, resume_step, 0};
        if (H5Ovisit2(m->file, H5_INDEX_NAME, H5_ITER_INC, resume_cb, &c, H5O_INFO_BASIC) < 0 || c.bad) {
            store_seterr(err, errlen, "cannot truncate %s to steps < %ld", path, resume_step);
            goto fail;
        }
        store_h5_attr_set_int(m->file, "resumed_at_step", resume_step);
    } else {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
        store_h5_bound_caches(fapl);
        m->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
        if (m->file < 0) {
            store_seterr(err, errlen, "cannot create %s: %s", path, access(path, F_OK) == 0 ? "HDF5 create failed"
                         : strerror(errno));
            goto fail;
        }
        hid_t g = H5Gcreate2(m->file, "observables", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g >= 0) H5Gclose(g);
        if (g < 0 || store_h5_root_attrs(m->file, STORE_KIND_METRICS, deck_text) != 0) {
            store_seterr(err, errlen, "cannot initialise %s", path);
            goto fail;
        }
    }
    H5Fflush(m->file, H5F_SCOPE_LOCAL);
    store_quiet_end(q);
    return m;
fail:
    store_quiet_end(q);
    m->err[0] = 0;
    metrics_close(m);
    return NULL;
}

int metrics_append(MetricsFile *m, long step, int n, const char *const *names, const double *values) {
    if (m->err[0]) return -1;
    StoreQuiet q = store_quiet_begin();
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int k = series_find(m, names[i], i);
        if (k < 0 && (k = series_create(m, names[i])) < 0) {
            store_seterr(m->err, sizeof m->err, "%s: cannot create series %s", m->path, names[i]);
            rc = -1;
            break;
        }
        Series *s = &m->s[k];
        if (s->len && step <= s->last_step) {
            store_seterr(m->err, sizeof m->err, "%s: series %s already has step %ld at or after step %ld",
                         m->path, s->name, s->last_step, step);
            rc = -1;
            break;
        }
        hsize_t off = s->len, one = 1, len = s->len + 1;
        int64_t st = step;
        hid_t ms = H5Screate_simple(1, &one, NULL);
        for (int j = 0; j < 2 && !rc; j++) {
            hid_t d = j ? s->value : s->step;
            hid_t fs;
            if (H5Dset_extent(d, &len) < 0 || (fs = H5Dget_space(d)) < 0) { rc = -1; break; }
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
            if (H5Dwrite(d, j ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT,
                         j ? (const void *)&values[i] : (const void *)&st) < 0) rc = -1;
            H5Sclose(fs);
        }
        H5Sclose(ms);
        if (rc) {
            store_seterr(m->err, sizeof m->err, "%s: cannot append to series %s (disk full?)", m->path, s->name);
            break;
        }
        s->len = len;
        s->last_step = step;
    }
    if (!rc && H5Fflush(m->file, H5F_SCOPE_LOCAL) < 0) {
        store_seterr(m->err, sizeof m->err, "%s: flush failed (disk full?)", m->path);
        rc = -1;
    }
    store_quiet_end(q);
    return rc;
}

int metrics_set_meta(MetricsFile *m, const char *name, const char *units, const char *description) {
    if (m->err[0]) return -1;
    StoreQuiet q = store_quiet_begin();
    int k = series_find(m, name, -1);
    if (k < 0) k = series_create(m, name);
    int rc = k < 0 ? -1 : 0;
    if (!rc && units) rc |= store_h5_attr_set_str(m->s[k].value, "units", units);
    if (!rc && description) rc |= store_h5_attr_set_str(m->s[k].value, "description", description);
    if (rc) store_seterr(m->err, sizeof m->err, "%s: cannot set metadata of series %s", m->path, name);
    store_quiet_end(q);
    return rc;
}

int metrics_flush(MetricsFile *m) {
    StoreQuiet q = store_quiet_begin();
    int rc = H5Fflush(m->file, H5F_SCOPE_LOCAL) < 0 ? -1 : 0;
    store_quiet_end(q);
    return rc;
}

int metrics_close(MetricsFile *m) {
    if (!m) return 0;
    StoreQuiet q = store_quiet_begin();
    int rc = m->err[0] ? -1 : 0;
    for (int i = 0; i < m->n; i++) {
        H5Dclose(m->s[i].step);
        H5Dclose(m->s[i].value);
        free(m->s[i].name);
    }
    free(m->s);
    if (m->file >= 0 && H5Fclose(m->file) < 0) rc = -1;
    store_quiet_end(q);
    free(m);
    return rc;
}
