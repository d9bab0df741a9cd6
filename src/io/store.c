// store.c — the checksummed container (writer: temp file + fsync + rename; reader: verifies the frame, then each
// dataset as it is read) and the HDF5 helpers the other store_*.c files share. See store.h for the file contract.
#define _GNU_SOURCE   // sync_file_range: start a big file's writeback while the next dataset is written
#include "store_impl.h"
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------------------------
// CRC-32 (the zlib/IEEE polynomial, reflected). Checkpoints are GBs and every byte is summed twice on a write and
// twice on a read, so on x86-64 with PCLMULQDQ the bulk is folded 64 bytes at a time with carry-less multiplies
// (Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", Intel 2009; the constants are
// zlib/Chromium's crc32_sse42_simd_); the same value as the table code, which does the rest and other CPUs.

// Slicing-by-8. The tables are rebuilt per call (8 KiB, ~2k operations) rather than cached in a static,
// because the project keeps no global mutable state; that cost is noise next to any dataset read.
static uint32_t crc32_tables(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t t[8][256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[0][i] = c;
    }
    for (int s = 1; s < 8; s++)
        for (int i = 0; i < 256; i++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    crc = ~crc;
    while (n >= 8) {
        uint32_t a = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^
              t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC_FOLD_MIN 64

// state: the running CRC register (the complement of a CRC value); n >= 64, a multiple of 16. Returns the
// register after the n bytes.
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_fold(uint32_t state, const unsigned char *p,
                                                                      size_t n) {
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4), k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124), poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32)), x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
    p += 64; n -= 64;
    for (; n >= 64; p += 64, n -= 64) { // four independent 128-bit lanes, each folded 512 bits ahead
        __m128i x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00), x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
        __m128i x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00), x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11); x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
        x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11); x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)p));
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    __m128i lanes[3] = {x2, x3, x4}; // fold the four lanes into one, then 16 bytes at a time
    for (int i = 0; i < 3; i++) {
        __m128i lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), lanes[i]), lo);
    }
    for (; n >= 16; p += 16, n -= 16) {
        __m128i lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_loadu_si128((const __m128i *)p)),
                           lo);
    }
    // 128 -> 64 bits, then Barrett reduction to 32
    const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
    __m128i x2r = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
    x2r = _mm_srli_si128(x1, 4);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), x2r);
    x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, mask32), poly, 0x00);
    x1 = _mm_xor_si128(x1, x2r);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

uint32_t store_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
#if defined(__x86_64__) && defined(__GNUC__)
    if (n >= CRC_FOLD_MIN && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")) {
        size_t bulk = n & ~(size_t)15;
        crc = ~crc32_fold(~crc, p, bulk);
        p += bulk;
        n -= bulk;
    }
#endif
    return crc32_tables(crc, p, n);
}

// ---------------------------------------------------------------------------------------------------------------
// shared helpers

// Large datasets are written through one small reused buffer and read in slabs of the same size (store_put, the
// dataset scans, store_get): see slab_io. 256 KiB: it stays in L2, where the kernel's copy into the page cache runs
// at memory speed (dd bs=256K wrote 1.1 GB to the page cache in 0.15 s here, bs=4M in 1.4 s).
#define BOUNCE_BYTES ((size_t)256 << 10)

StoreQuiet store_quiet_begin(void) {
    StoreQuiet q = {0};
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

void store_quiet_end(StoreQuiet q) { H5Eset_auto2(H5E_DEFAULT, q.fn, q.data); }

typedef struct { char *buf; size_t n; int got; } ErrWalk;

static herr_t errwalk_cb(unsigned nth, const H5E_error2_t *e, void *ud) {
    (void)nth;
    ErrWalk *w = ud;
    if (!w->got && e->desc && *e->desc) { snprintf(w->buf, w->n, "%s", e->desc); w->got = 1; }
    return 0;
}

void store_h5_errtext(char *buf, size_t n) {
    if (!n) return;
    buf[0] = 0;
    ErrWalk w = {buf, n, 0};
    // Upward starts at the innermost frame, where HDF5 says what it actually found wrong.
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, errwalk_cb, &w);
}

void store_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

hid_t store_h5_file_type(StoreType t) {
    switch (t) {
    case STORE_F32: return H5T_IEEE_F32LE;
    case STORE_F64: return H5T_IEEE_F64LE;
    case STORE_I32: return H5T_STD_I32LE;
    case STORE_I64: return H5T_STD_I64LE;
    case STORE_U64: return H5T_STD_U64LE;
    case STORE_U8: return H5T_STD_U8LE;
    }
    return -1;
}

hid_t store_h5_mem_type(StoreType t) {
    switch (t) {
    case STORE_F32: return H5T_NATIVE_FLOAT;
    case STORE_F64: return H5T_NATIVE_DOUBLE;
    case STORE_I32: return H5T_NATIVE_INT32;
    case STORE_I64: return H5T_NATIVE_INT64;
    case STORE_U64: return H5T_NATIVE_UINT64;
    case STORE_U8: return H5T_NATIVE_UINT8;
    }
    return -1;
}

size_t store_type_size(StoreType t) {
    static const size_t sz[] = {4, 8, 4, 8, 8, 1};
    return (unsigned)t < 6 ? sz[t] : 0;
}

const char *store_type_name(StoreType t) {
    static const char *const nm[] = {"float32", "float64", "int32", "int64", "uint64", "uint8"};
    return (unsigned)t < 6 ? nm[t] : "?";
}

int store_h5_type_of(hid_t dtype, StoreType *out) {
    H5T_class_t c = H5Tget_class(dtype);
    size_t sz = H5Tget_size(dtype);
    if (c == H5T_FLOAT) {
        if (sz == 4) { *out = STORE_F32; return 0; }
        if (sz == 8) { *out = STORE_F64; return 0; }
    } else if (c == H5T_INTEGER) {
        int sgn = H5Tget_sign(dtype) == H5T_SGN_2;
        if (sz == 4 && sgn) { *out = STORE_I32; return 0; }
        if (sz == 8 && sgn) { *out = STORE_I64; return 0; }
        if (sz == 8 && !sgn) { *out = STORE_U64; return 0; }
        if (sz == 1 && !sgn) { *out = STORE_U8; return 0; }
    }
    return -1;
}

static hid_t attr_recreate(hid_t obj, const char *key, hid_t type, hid_t space) {
    if (H5Aexists(obj, key) > 0) H5Adelete(obj, key);
    return H5Acreate2(obj, key, type, space, H5P_DEFAULT, H5P_DEFAULT);
}

// Variable-length UTF-8 so h5py returns str (not bytes) and the deck has no size limit in the object header.
int store_h5_attr_set_str(hid_t obj, const char *key, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = attr_recreate(obj, key, t, s);
    const char *v = value ? value : "";
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int attr_set_scalar(hid_t obj, const char *key, hid_t ftype, hid_t mtype, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = attr_recreate(obj, key, ftype, s);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc < 0 ? -1 : 0;
}

int store_h5_attr_set_int(hid_t obj, const char *key, long value) {
    int64_t v = value;
    return attr_set_scalar(obj, key, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int store_h5_attr_set_double(hid_t obj, const char *key, double value) {
    return attr_set_scalar(obj, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

char *store_h5_attr_get_str(hid_t obj, const char *key) {
    if (H5Aexists(obj, key) <= 0) return NULL;
    hid_t a = H5Aopen(obj, key, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    char *res = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(ft));   // HDF5 refuses ASCII<->UTF-8 conversion
        if (H5Tis_variable_str(ft) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                res = strdup(v);
                H5free_memory(v);
            }
        } else {
            size_t sz = H5Tget_size(ft);
            H5Tset_size(mt, sz + 1);   // room for the terminator HDF5 adds with NULLTERM
            res = xcalloc(sz + 2, 1);
            if (H5Aread(a, mt, res) < 0) { free(res); res = NULL; }
        }
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return res;
}

int store_h5_attr_get_int(hid_t obj, const char *key, long *out) {
    if (H5Aexists(obj, key) <= 0) return -1;
    hid_t a = H5Aopen(obj, key, H5P_DEFAULT);
    if (a < 0) return -1;
    int64_t v = 0;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    if (rc < 0) return -1;
    *out = (long)v;
    return 0;
}

int store_h5_attr_get_double(hid_t obj, const char *key, double *out) {
    if (H5Aexists(obj, key) <= 0) return -1;
    hid_t a = H5Aopen(obj, key, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, out);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

void store_h5_bound_caches(hid_t fapl) {
    H5AC_cache_config_t c;
    memset(&c, 0, sizeof c);
    c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(fapl, &c) < 0) return;
    c.set_initial_size = 1;
    c.initial_size = STORE_MDC_BYTES / 2;
    c.min_size = STORE_MDC_BYTES / 4;
    c.max_size = STORE_MDC_BYTES;
    H5Pset_mdc_config(fapl, &c);
}

int store_h5_root_attrs(hid_t file, const char *kind, const char *deck_text) {
    char schema[128], creator[128], created[64];
    snprintf(schema, sizeof schema, "pgrpo/%s", kind);
    snprintf(creator, sizeof creator, "pgrpo %s", PGRPO_VERSION);
    // SOURCE_DATE_EPOCH (reproducible-builds convention) pins the time for byte-comparable test files.
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    int rc = 0;
    rc |= store_h5_attr_set_str(file, "schema", schema);
    int series = !strcmp(kind, STORE_KIND_METRICS) || !strcmp(kind, STORE_KIND_TRAJ);
    rc |= store_h5_attr_set_int(file, "schema_version", series ? STORE_SERIES_VERSION : STORE_SCHEMA_VERSION);
    rc |= store_h5_attr_set_str(file, "creator", creator);
    rc |= store_h5_attr_set_str(file, "deck", deck_text ? deck_text : "");
    rc |= store_h5_attr_set_str(file, "created", created);
    return rc ? -1 : 0;
}

int store_h5_check_schema(hid_t file, const char *path, const char *kind, char *kind_out, size_t kn,
                          char *err, size_t errlen) {
    char *schema = store_h5_attr_get_str(file, "schema");
    if (!schema || strncmp(schema, "pgrpo/", 6) != 0) {
        store_seterr(err, errlen, "%s is an HDF5 file but not one pgrpo wrote (no 'schema' = \"pgrpo/...\" root "
                     "attribute)", path);
        free(schema);
        return -1;
    }
    const char *k = schema + 6;
    if (kind && strcmp(k, kind) != 0) {
        store_seterr(err, errlen, "%s holds a pgrpo %s file, expected a %s file", path, k, kind);
        free(schema);
        return -1;
    }
    if (kind_out) snprintf(kind_out, kn, "%s", k);
    free(schema);
    long ver = 0;
    if (store_h5_attr_get_int(file, "schema_version", &ver) != 0) {
        store_seterr(err, errlen, "%s has no schema_version attribute", path);
        return -1;
    }
    if (ver < 1 || ver > STORE_SCHEMA_VERSION) {
        store_seterr(err, errlen, "%s has schema_version %ld; this pgrpo reads versions 1..%d (a newer pgrpo "
                     "wrote it?)", path, ver, STORE_SCHEMA_VERSION);
        return -1;
    }
    return 0;
}

int store_h5_path_exists(hid_t loc, const char *path) {
    char buf[STORE_PATHLEN];
    snprintf(buf, sizeof buf, "%s", path);
    char *start = buf + (buf[0] == '/');
    if (!*start) return 1;   // the root
    for (char *p = start; ; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
        if (!c) return 1;
        *p = c;
    }
}

int store_h5_scan_dataset(hid_t d, uint32_t *crc, char *why, size_t whylen) {
    hid_t ft = H5Dget_type(d), fs = H5Dget_space(d);
    StoreType st;
    int rc = -1;
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    *crc = 0;
    if (store_h5_type_of(ft, &st) != 0 || nd < 0) {
        store_seterr(why, whylen, "unsupported element type or shape");
        goto out;
    }
    size_t es = store_type_size(st), row = es;   // bytes per index of the leading axis
    for (int i = 1; i < nd; i++) row *= dims[i];
    hsize_t nrows = nd ? dims[0] : 1;
    if (row == 0 || nrows == 0) { rc = 0; goto out; }
    // Blocks of BOUNCE_BYTES along the leading axis: bounded memory for multi-GB trajectory files, and one small
    // buffer the kernel's copies stay hot in.
    hsize_t per = (hsize_t)(BOUNCE_BYTES / row);
    if (per < 1) per = 1;
    unsigned char *buf = xmalloc((size_t)(per < nrows ? per : nrows) * row);
    rc = 0;
    for (hsize_t r0 = 0; r0 < nrows && !rc; r0 += per) {
        hsize_t k = nrows - r0 < per ? nrows - r0 : per;
        hsize_t off[H5S_MAX_RANK] = {0}, cnt[H5S_MAX_RANK];
        hid_t ms;
        if (nd) {
            for (int i = 0; i < nd; i++) cnt[i] = dims[i];
            off[0] = r0;
            cnt[0] = k;
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
            ms = H5Screate_simple(nd, cnt, NULL);
        } else {
            ms = H5Screate(H5S_SCALAR);
        }
        // Read as little-endian whatever the host, so the checksum is of the bytes the writer hashed.
        if (H5Dread(d, store_h5_file_type(st), ms, fs, H5P_DEFAULT, buf) < 0) {
            char h5[256];
            store_h5_errtext(h5, sizeof h5);
            store_seterr(why, whylen, "data unreadable (%s)", h5[0] ? h5 : "HDF5 read failed");
            rc = -1;
        } else {
            *crc = store_crc32(*crc, buf, (size_t)k * row);
        }
        H5Sclose(ms);
    }
    free(buf);
out:
    H5Sclose(fs);
    H5Tclose(ft);
    return rc;
}

int store_h5_verify_dataset(hid_t d, char *why, size_t whylen) {
    long want = 0;
    if (store_h5_attr_get_int(d, "checksum", &want) != 0) {
        store_seterr(why, whylen, "no checksum attribute");
        return -1;
    }
    uint32_t got;
    if (store_h5_scan_dataset(d, &got, why, whylen) != 0) return -1;
    if (got != (uint32_t)want) {
        store_seterr(why, whylen, "checksum mismatch (stored %08x, data %08x)", (uint32_t)want, got);
        return -1;
    }
    return 0;
}

static void names_push(StoreNames *s, const char *name) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        char **v = realloc(s->v, (size_t)s->cap * sizeof *v);
        CHECK(v, "out of memory listing datasets");
        s->v = v;
    }
    size_t l = strlen(name);
    s->v[s->n] = xmalloc(l + 2);
    s->v[s->n][0] = '/';
    memcpy(s->v[s->n] + 1, name, l + 1);
    s->n++;
}

static herr_t list_cb(hid_t obj, const char *name, const H5O_info_t *info, void *ud) {
    (void)obj;
    if (info->type == H5O_TYPE_DATASET) names_push(ud, name);
    return 0;
}

int store_h5_list_datasets(hid_t file, StoreNames *out) {
    memset(out, 0, sizeof *out);
    // Name order, so reports and verification are stable whatever the creation order was.
    return H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, list_cb, out, H5O_INFO_BASIC) < 0 ? -1 : 0;
}

void store_names_free(StoreNames *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------------------------------------------------------
// writer

struct StoreWriter {
    hid_t file;
    char final_path[STORE_PATHLEN];
    char tmp_path[STORE_PATHLEN + 32];
    char err[STORE_ERRLEN];
    int gzip_level;
    size_t gzip_min_bytes;
    StoreSkips skip;     // large contiguous datasets' data, left out of the frame's CRC (store_frame.c)
};

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

StoreWriter *store_writer_create(const char *final_path, const char *kind, const char *deck_text,
                                 char *err, size_t errlen) {
    // Checksums are of little-endian bytes and computed on the caller's array as is.
    CHECK(host_is_little_endian(), "the store assumes a little-endian host");
    if (strlen(final_path) >= STORE_PATHLEN) {
        store_seterr(err, errlen, "path too long: %s", final_path);
        return NULL;
    }
    StoreWriter *w = xcalloc(1, sizeof *w);
    snprintf(w->final_path, sizeof w->final_path, "%s", final_path);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", final_path, (long)getpid());
    // Create the file ourselves first: HDF5 does not report errno, and "No such file or directory" is what
    // tells the user which part of the path to fix.
    int fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        store_seterr(err, errlen, "cannot create %s: %s", w->tmp_path, strerror(errno));
        free(w);
        return NULL;
    }
    close(fd);
    StoreQuiet q = store_quiet_begin();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    H5Pset_userblock(fcpl, STORE_FRAME_BYTES);   // room for the frame store_commit writes
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (w->file < 0 || store_h5_root_attrs(w->file, kind, deck_text) != 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        store_seterr(err, errlen, "cannot create HDF5 file %s (%s)", w->tmp_path, h5);
        if (w->file >= 0) H5Fclose(w->file);
        unlink(w->tmp_path);
        free(w);
        store_quiet_end(q);
        return NULL;
    }
    store_quiet_end(q);
    return w;
}

void store_writer_set_gzip(StoreWriter *w, int level, size_t min_bytes) {
    w->gzip_level = level < 0 ? 0 : level > 9 ? 9 : level;
    w->gzip_min_bytes = min_bytes;
}

const char *store_writer_error(const StoreWriter *w) { return w->err[0] ? w->err : NULL; }

// Chunks of about 1 MiB along the leading axes: big enough for gzip to work, small enough to read piecewise.
static void chunk_dims(int ndims, const hsize_t *dims, size_t esize, hsize_t *chunk) {
    const double target = 1 << 20;
    for (int i = 0; i < ndims; i++) chunk[i] = dims[i] ? dims[i] : 1;
    for (int i = 0; i < ndims; i++) {
        double bytes = (double)esize;
        for (int j = 0; j < ndims; j++) bytes *= (double)chunk[j];
        if (bytes <= target) break;
        double c = (double)chunk[i] * target / bytes;
        chunk[i] = c < 1 ? 1 : (hsize_t)c;
    }
}

static int put_checksum(hid_t d, uint32_t crc) {
    return attr_set_scalar(d, "checksum", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc);
}

// Large contiguous datasets move through a small reused buffer, in slabs along the first dimension. On a
// para-virtualised guest (this project's machines) the kernel's copy out of a large user array that it has not
// touched before costs a page-table fault per 4 KiB page: writing a 1.1 GB checkpoint straight from the arrays ran
// at 180 MB/s where dd bs=1M reached 1.2 GB/s. Through a hot buffer in L2 the copies run at memory speed, as dd's
// do. The file's bytes are the same as one whole-array write. Every WRITEBACK_BYTES the file's writeback is
// started (sync_file_range), so the disk works during the copies and the commit's fsync has little left.

// Writes (to_buf 1: data copied into the buffer first) or reads (to_buf 0: straight into data) a dataset slab by
// slab of rows [r0, r0+nr). *crc (may be NULL) accumulates the CRC-32 of the data in order.
#define WRITEBACK_BYTES ((size_t)8 << 20)
// Starts the writeback of what has been written so far, without waiting: the disk works while the next dataset is
// copied, and the fsync at store_commit has less left to do.
static void start_writeback(hid_t file) {
#ifdef SYNC_FILE_RANGE_WRITE
    int *fd = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) >= 0 && fd) sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)file;
#endif
}

// progress (may be NULL): set to the bytes of data in place after each slab read (release order), for a thread
// checksumming behind the reads.
static int slab_io(hid_t d, hid_t mt, int ndims, const hsize_t *hd, size_t esize, unsigned char *data, int to_buf,
                   uint32_t *crc, _Atomic size_t *progress) {
    size_t row = esize;
    for (int i = 1; i < ndims; i++) row *= hd[i];
    hsize_t per = BOUNCE_BYTES / row > 0 ? BOUNCE_BYTES / row : 1, start[STORE_MAX_DIMS] = {0}, cnt[STORE_MAX_DIMS];
    for (int i = 0; i < ndims; i++) cnt[i] = hd[i];
    unsigned char *buf = to_buf ? malloc((size_t)per * row) : NULL;
    hid_t fs = H5Dget_space(d);
    int rc = (buf || !to_buf) && fs >= 0 ? 0 : -1;
    for (hsize_t r0 = 0; rc == 0 && r0 < hd[0]; r0 += per) {
        cnt[0] = hd[0] - r0 < per ? hd[0] - r0 : per;
        start[0] = r0;
        size_t bytes = (size_t)cnt[0] * row;
        hid_t ms = H5Screate_simple(ndims, cnt, NULL);
        // Reads land straight in the caller's array (its pages are touched either way); the CRC follows each
        // slab while it is still in cache.
        unsigned char *io = to_buf ? buf : data + (size_t)r0 * row;
        if (to_buf) memcpy(buf, data + (size_t)r0 * row, bytes);
        rc = ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
                     (to_buf ? H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, io) : H5Dread(d, mt, ms, fs, H5P_DEFAULT, io)) >= 0
                 ? 0 : -1;
        if (rc == 0 && to_buf && ((r0 + cnt[0]) * row) / WRITEBACK_BYTES != (r0 * row) / WRITEBACK_BYTES) {
            hid_t f = H5Iget_file_id(d);
            start_writeback(f);
            H5Fclose(f);
        }
        if (rc == 0 && crc) *crc = store_crc32(*crc, io, bytes);
        if (rc == 0 && progress) atomic_store_explicit(progress, (size_t)(r0 + cnt[0]) * row, memory_order_release);
        if (ms >= 0) H5Sclose(ms);
    }
    if (fs >= 0) H5Sclose(fs);
    free(buf);
    return rc;
}

// Records a large contiguous dataset's raw data as a range the frame's CRC may skip (its own checksum covers it).
// Kept in file order; beyond STORE_FRAME_MAX_SKIP ranges the rest simply stay under the frame's CRC.
static void note_skip(StoreSkips *s, hid_t d, size_t nb) {
    haddr_t off = H5Dget_offset(d);   // from the start of the file, user block included
    if (nb < STORE_FRAME_SKIP_MIN || off == HADDR_UNDEF || H5Dget_storage_size(d) != nb ||
        s->n == STORE_FRAME_MAX_SKIP || off < STORE_FRAME_BYTES)
        return;
    int i = s->n;
    while (i > 0 && s->r[i - 1].off > off) { s->r[i] = s->r[i - 1]; i--; }
    s->r[i].off = off;
    s->r[i].len = nb;
    s->n++;
}

int store_put(StoreWriter *w, const char *name, StoreType type, const void *data, int ndims, const size_t *dims) {
    if (w->err[0]) return -1;
    if (ndims < 0 || ndims > STORE_MAX_DIMS || (unsigned)type > STORE_U8) {
        store_seterr(w->err, sizeof w->err, "%s: dataset %s: bad rank %d or type", w->final_path, name, ndims);
        return -1;
    }
    hsize_t hd[STORE_MAX_DIMS], ch[STORE_MAX_DIMS];
    size_t ne = 1;
    for (int i = 0; i < ndims; i++) { hd[i] = dims[i]; ne *= dims[i]; }
    size_t nb = ne * store_type_size(type);
    StoreQuiet q = store_quiet_begin();
    hid_t sp = ndims ? H5Screate_simple(ndims, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);   // no mtime in the object header: same data, same bytes
    int chunked = w->gzip_level > 0 && ndims > 0 && ne > 0 && nb >= w->gzip_min_bytes;
    if (chunked) {
        chunk_dims(ndims, hd, store_type_size(type), ch);
        H5Pset_chunk(dcpl, ndims, ch);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)w->gzip_level);
    }
    int rc = -1;
    if (store_h5_path_exists(w->file, name)) {
        store_seterr(w->err, sizeof w->err, "%s: dataset %s written twice", w->final_path, name);
    } else {
        hid_t d = H5Dcreate2(w->file, name, store_h5_file_type(type), sp, lcpl, dcpl, H5P_DEFAULT);
        if (d >= 0 && !chunked && ndims > 0 && nb > BOUNCE_BYTES) {
            uint32_t crc = 0;
            if (slab_io(d, store_h5_mem_type(type), ndims, hd, store_type_size(type), (unsigned char *)data, 1,
                        &crc, NULL) == 0 && put_checksum(d, crc) == 0)
                rc = 0;
            if (rc == 0) note_skip(&w->skip, d, nb);
        } else if (d >= 0 && (ne == 0 || H5Dwrite(d, store_h5_mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) &&
                   put_checksum(d, store_crc32(0, data, nb)) == 0)
            rc = 0;
        if (rc) {
            char h5[256];
            store_h5_errtext(h5, sizeof h5);
            store_seterr(w->err, sizeof w->err, "%s: cannot write dataset %s (%s)", w->tmp_path, name, h5);
        }
        if (d >= 0) H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(sp);
    store_quiet_end(q);
    return rc;
}

typedef enum { ATTR_STR, ATTR_INT, ATTR_DBL } AttrKind;

static int put_attr(StoreWriter *w, const char *obj, const char *key, AttrKind k, const char *s, long i, double d) {
    if (w->err[0]) return -1;
    StoreQuiet q = store_quiet_begin();
    hid_t o = H5Oopen(w->file, obj, H5P_DEFAULT);
    int rc = -1;
    if (o >= 0) {
        rc = k == ATTR_STR ? store_h5_attr_set_str(o, key, s)
           : k == ATTR_INT ? store_h5_attr_set_int(o, key, i) : store_h5_attr_set_double(o, key, d);
        H5Oclose(o);
    }
    if (rc) store_seterr(w->err, sizeof w->err, "%s: cannot set attribute %s on %s", w->tmp_path, key, obj);
    store_quiet_end(q);
    return rc;
}

int store_put_attr_str(StoreWriter *w, const char *obj, const char *key, const char *value) {
    return put_attr(w, obj, key, ATTR_STR, value, 0, 0);
}
int store_put_attr_int(StoreWriter *w, const char *obj, const char *key, long value) {
    return put_attr(w, obj, key, ATTR_INT, NULL, value, 0);
}
int store_put_attr_double(StoreWriter *w, const char *obj, const char *key, double value) {
    return put_attr(w, obj, key, ATTR_DBL, NULL, 0, value);
}

static int fsync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static void dir_of(const char *path, char *out, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, n, ".");
    else if (slash == path) snprintf(out, n, "/");
    else snprintf(out, n, "%.*s", (int)(slash - path), path);
}

// The payload's fsync, run beside the CRC pass: the disk flushes while the CPU reads the bytes back.
typedef struct { int fd, rc, err; } SyncJob;
static void *sync_job(void *arg) {
    SyncJob *j = arg;
    j->rc = fsync(j->fd);
    j->err = errno;
    return NULL;
}

// Fills the 512-byte user block with the frame: the payload (the HDF5 file proper) less the skipped ranges is read
// back and checksummed, so the CRC covers the metadata bytes on disk, not what we meant to write (the skipped data's
// checksums were taken from the caller's arrays). For a large file the bulk fsync overlaps that pass, and the final
// fsync after the header write then has one page left to flush. A small file (under BULK_SYNC_MIN: the RL bench's
// checkpoints are 3 MB) gets the final fsync alone: a second fsync cost about 1-2.5 ms each on this machine's disk
// (strace -T), as much as the first, and a checkpoint's whole I/O is held to 5% of a step.
#define BULK_SYNC_MIN (64u << 20)
static int write_frame(const char *path, StoreSkips *skip, char *err, size_t errlen) {
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        store_seterr(err, errlen, "cannot reopen %s to seal it: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    uint32_t crc = 0;
    char why[256];
    int rc = -1;
    if (fstat(fd, &st) != 0 || st.st_size < STORE_FRAME_BYTES) {
        store_seterr(err, errlen, "cannot seal %s: HDF5 left %lld bytes", path, (long long)st.st_size);
        close(fd);
        return -1;
    }
    SyncJob job = {fd, 0, 0};
    pthread_t th;
    int threaded = (uint64_t)st.st_size >= BULK_SYNC_MIN &&
                   pthread_create(&th, NULL, sync_job, &job) == 0;   // else: the fsync below does it all
    uint64_t payload = (uint64_t)st.st_size - STORE_FRAME_BYTES;
    int kept = 0;   // only ranges a reader will accept: sorted, disjoint, inside the payload
    for (int i = 0; i < skip->n; i++) {
        uint64_t prev_end = kept ? skip->r[kept - 1].off + skip->r[kept - 1].len : STORE_FRAME_BYTES;
        if (skip->r[i].off >= prev_end && skip->r[i].len <= (uint64_t)st.st_size - skip->r[i].off)
            skip->r[kept++] = skip->r[i];
    }
    skip->n = kept;
    int crc_rc = store_frame_crc_payload(fd, payload, skip, &crc, why, sizeof why);
    if (threaded) pthread_join(th, NULL);
    unsigned char hdr[STORE_FRAME_BYTES];
    store_frame_header(hdr, STORE_MAGIC_CTR, payload, crc, skip);
    if (crc_rc != 0) store_seterr(err, errlen, "cannot seal %s: %s", path, why);
    else if (job.rc != 0) store_seterr(err, errlen, "cannot fsync %s: %s", path, strerror(job.err));
    else if (pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        store_seterr(err, errlen, "cannot write the header of %s: %s", path, strerror(errno));
    else if (fsync(fd) != 0) store_seterr(err, errlen, "cannot fsync %s: %s", path, strerror(errno));
    else rc = 0;
    close(fd);
    return rc;
}

int store_rename_durable(const char *tmp, const char *final, char *err, size_t errlen) {
    char dir[STORE_PATHLEN];
    dir_of(final, dir, sizeof dir);
    if (rename(tmp, final) != 0) {
        store_seterr(err, errlen, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        return -1;
    }
    if (fsync_path(dir, 1) != 0) {
        // The file is complete and in place; only its durability across a power loss is unconfirmed.
        store_seterr(err, errlen, "wrote %s but cannot fsync its directory %s: %s", final, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int store_commit(StoreWriter *w, char *err, size_t errlen) {
    int rc = -1;
    StoreQuiet q = store_quiet_begin();
    herr_t closed = H5Fclose(w->file);
    store_quiet_end(q);
    w->file = -1;
    if (w->err[0]) store_seterr(err, errlen, "%s", w->err);
    else if (closed < 0) store_seterr(err, errlen, "cannot finish writing %s (HDF5 close failed; disk full?)",
                                      w->tmp_path);
    else if (write_frame(w->tmp_path, &w->skip, err, errlen) == 0 &&
             store_rename_durable(w->tmp_path, w->final_path, err, errlen) == 0)
        rc = 0;
    if (rc) unlink(w->tmp_path);
    free(w);
    return rc;
}

void store_abort(StoreWriter *w) {
    if (!w) return;
    StoreQuiet q = store_quiet_begin();
    if (w->file >= 0) H5Fclose(w->file);
    store_quiet_end(q);
    unlink(w->tmp_path);
    free(w);
}

// ---------------------------------------------------------------------------------------------------------------
// reader

struct StoreReader {
    hid_t file;
    char path[STORE_PATHLEN];
    char kind[64];
    char err[STORE_ERRLEN];
};

StoreReader *store_open(const char *path, const char *kind, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        store_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    fstat(fd, &st);
    char why[STORE_ERRLEN];
    int fr = store_frame_verify_fd(fd, STORE_MAGIC_CTR, NULL, why, sizeof why);
    close(fd);
    if (fr == 1) {
        store_seterr(err, errlen, "%s is not a pgrpo file of this version (%lld bytes, no pgrpo header: another "
                     "program or a pgrpo before schema 2 wrote it; regenerate it with this pgrpo)", path,
                     (long long)st.st_size);
        return NULL;
    }
    if (fr != 0) {
        store_seterr(err, errlen, "%s is corrupt: %s", path, why);
        return NULL;
    }
    StoreQuiet q = store_quiet_begin();
    StoreReader *r = NULL;
    hid_t f = -1;
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        store_seterr(err, errlen, "%s is truncated or damaged (%s)", path, h5[0] ? h5 : "HDF5 cannot open it");
        goto done;
    }
    char k[64];
    if (store_h5_check_schema(f, path, kind, k, sizeof k, err, errlen) != 0) goto done;
    // Every dataset's own checksum is checked by store_get as it reads it (one pass over the bytes, not two);
    // the frame above already proved every byte is the one written at commit.
    r = xcalloc(1, sizeof *r);
    r->file = f;
    f = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->kind, sizeof r->kind, "%s", k);
done:
    if (f >= 0) H5Fclose(f);
    store_quiet_end(q);
    return r;
}

const char *store_reader_error(const StoreReader *r) { return r->err[0] ? r->err : NULL; }
const char *store_reader_kind(const StoreReader *r) { return r->kind; }

int store_has(StoreReader *r, const char *name) {
    StoreQuiet q = store_quiet_begin();
    int e = strcmp(name, "/") == 0 || store_h5_path_exists(r->file, name);
    store_quiet_end(q);
    return e;
}

int store_dims(StoreReader *r, const char *name, int *ndims, size_t dims[STORE_MAX_DIMS]) {
    if (!store_has(r, name)) return -1;
    StoreQuiet q = store_quiet_begin();
    int rc = -1;
    hid_t d = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        hsize_t hd[H5S_MAX_RANK];
        int nd = H5Sget_simple_extent_dims(sp, hd, NULL);
        if (nd >= 0 && nd <= STORE_MAX_DIMS) {
            *ndims = nd;
            for (int i = 0; i < nd; i++) dims[i] = (size_t)hd[i];
            rc = 0;
        }
        H5Sclose(sp);
        H5Dclose(d);
    }
    store_quiet_end(q);
    return rc;
}

// The checksum of a large dataset being read runs in a second thread that trails the slabs as they land in the
// caller's array (in order, so the CRC is the same): on a core to spare it costs no time (1.1 GB: 0.09 s of CRC).
#define FOLLOW_MIN_BYTES ((size_t)16 << 20)
typedef struct {
    const unsigned char *data;
    _Atomic size_t ready;   // bytes of data in place (slab_io's progress)
    size_t total;
    uint32_t crc;
    _Atomic int stop;       // the read failed: give up
} CrcFollower;

static void *crc_follow(void *arg) {
    CrcFollower *f = arg;
    size_t done = 0;
    while (done < f->total && !atomic_load(&f->stop)) {
        size_t ready = atomic_load_explicit(&f->ready, memory_order_acquire);
        if (ready > done) {
            size_t n = ready - done < FOLLOW_MIN_BYTES / 4 ? ready - done : FOLLOW_MIN_BYTES / 4;
            f->crc = store_crc32(f->crc, f->data + done, n);
            done += n;
        } else {
            struct timespec ts = {0, 20000};   // a slab is ~50 us of reading: poll at a fraction of that
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

// Asks the kernel to start reading a contiguous dataset's bytes now: the disk then works while the slabs already
// in memory are copied and checksummed (the default readahead, 128 KiB here, leaves each slab waiting on the disk).
static void read_ahead(hid_t d, size_t nb) {
    haddr_t off = H5Dget_offset(d);
    int *fd = NULL;
    hid_t f = H5Iget_file_id(d);
    if (off != HADDR_UNDEF && f >= 0 && H5Fget_vfd_handle(f, H5P_DEFAULT, (void **)&fd) >= 0 && fd)
        posix_fadvise(*fd, (off_t)off, (off_t)nb, POSIX_FADV_WILLNEED);
    if (f >= 0) H5Fclose(f);
}

// The whole dataset d (space sp) into out; a large one in slabs, read straight into out and read ahead. *crc: the
// CRC-32 of the bytes read (host = file byte order, asserted at store_writer_create), summed while they are hot
// (by a follower thread for a large one).
static int get_data(hid_t d, hid_t sp, StoreType type, void *out, uint32_t *crc) {
    hsize_t hd[STORE_MAX_DIMS];
    int ndims = H5Sget_simple_extent_ndims(sp);
    size_t nb = (size_t)H5Sget_simple_extent_npoints(sp) * store_type_size(type);
    *crc = 0;
    if (ndims >= 1 && ndims <= STORE_MAX_DIMS && nb > BOUNCE_BYTES && H5Sget_simple_extent_dims(sp, hd, NULL) == ndims) {
        read_ahead(d, nb);
        CrcFollower f = {out, 0, nb, 0, 0};
        pthread_t th;
        if (nb < FOLLOW_MIN_BYTES || pthread_create(&th, NULL, crc_follow, &f) != 0)
            return slab_io(d, store_h5_mem_type(type), ndims, hd, store_type_size(type), out, 0, crc, NULL);
        int rc = slab_io(d, store_h5_mem_type(type), ndims, hd, store_type_size(type), out, 0, NULL, &f.ready);
        if (rc) atomic_store(&f.stop, 1);
        pthread_join(th, NULL);
        *crc = f.crc;
        return rc;
    }
    if (H5Dread(d, store_h5_mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) return -1;
    *crc = store_crc32(0, out, nb);
    return 0;
}

// 0 if the dataset's "checksum" attribute equals crc; else the reason in why.
static int check_sum(hid_t d, uint32_t crc, char *why, size_t whylen) {
    long want = 0;
    if (store_h5_attr_get_int(d, "checksum", &want) != 0) return check_errf(why, whylen, "no checksum attribute");
    if ((uint32_t)want != crc)
        return check_errf(why, whylen, "checksum mismatch (stored %08x, data %08x)", (uint32_t)want, crc);
    return 0;
}

int store_get(StoreReader *r, const char *name, StoreType type, void *out, size_t n_elems) {
    if (!store_has(r, name)) {
        store_seterr(r->err, sizeof r->err, "%s: no dataset %s", r->path, name);
        return -1;
    }
    StoreQuiet q = store_quiet_begin();
    int rc = -1;
    hid_t d = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (d < 0) {
        store_seterr(r->err, sizeof r->err, "%s: %s is not a dataset", r->path, name);
        store_quiet_end(q);
        return -1;
    }
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    StoreType have;
    hssize_t ne = H5Sget_simple_extent_npoints(sp);
    uint32_t crc = 0;
    char why[STORE_ERRLEN];
    // Strict: a silent float64->float32 conversion while loading a checkpoint would hide a layout change.
    if (store_h5_type_of(ft, &have) != 0 || have != type)
        store_seterr(r->err, sizeof r->err, "%s: dataset %s is %s, expected %s", r->path, name,
                     store_h5_type_of(ft, &have) == 0 ? store_type_name(have) : "unsupported", store_type_name(type));
    else if ((size_t)ne != n_elems)
        store_seterr(r->err, sizeof r->err, "%s: dataset %s has %lld elements, expected %zu", r->path, name,
                     (long long)ne, n_elems);
    else if (ne > 0 && get_data(d, sp, type, out, &crc) != 0)
        store_seterr(r->err, sizeof r->err, "%s: cannot read dataset %s", r->path, name);
    else if (check_sum(d, ne > 0 ? crc : 0, why, sizeof why) != 0)
        store_seterr(r->err, sizeof r->err, "%s is corrupt: dataset %s: %s", r->path, name, why);
    else rc = 0;
    H5Sclose(sp);
    H5Tclose(ft);
    H5Dclose(d);
    store_quiet_end(q);
    return rc;
}

int store_check_datasets(StoreReader *r) {
    StoreQuiet q = store_quiet_begin();
    StoreNames names = {0};
    int rc = store_h5_list_datasets(r->file, &names) == 0 ? 0 : -1;
    if (rc) store_seterr(r->err, sizeof r->err, "%s: cannot list its datasets", r->path);
    for (int i = 0; rc == 0 && i < names.n; i++) {
        char why[STORE_ERRLEN];
        hid_t d = H5Dopen2(r->file, names.v[i], H5P_DEFAULT);
        if (d < 0 || store_h5_verify_dataset(d, why, sizeof why) != 0) {
            store_seterr(r->err, sizeof r->err, "%s is corrupt: dataset %s: %s", r->path, names.v[i],
                         d < 0 ? "cannot open it" : why);
            rc = -1;
        }
        if (d >= 0) H5Dclose(d);
    }
    store_names_free(&names);
    store_quiet_end(q);
    return rc;
}

static hid_t open_obj(StoreReader *r, const char *obj) {
    if (!store_has(r, obj)) return -1;
    return H5Oopen(r->file, obj, H5P_DEFAULT);
}

char *store_get_attr_strdup(StoreReader *r, const char *obj, const char *key) {
    StoreQuiet q = store_quiet_begin();
    hid_t o = open_obj(r, obj);
    char *s = o >= 0 ? store_h5_attr_get_str(o, key) : NULL;
    if (o >= 0) H5Oclose(o);
    store_quiet_end(q);
    return s;
}

int store_get_attr_str(StoreReader *r, const char *obj, const char *key, char *out, size_t n) {
    char *s = store_get_attr_strdup(r, obj, key);
    if (!s) {
        store_seterr(r->err, sizeof r->err, "%s: no string attribute %s on %s", r->path, key, obj);
        return -1;
    }
    int fits = strlen(s) < n;
    if (n) snprintf(out, n, "%s", s);
    if (!fits) store_seterr(r->err, sizeof r->err, "%s: attribute %s on %s longer than %zu", r->path, key, obj, n);
    free(s);
    return fits ? 0 : -1;
}

static int get_num_attr(StoreReader *r, const char *obj, const char *key, long *li, double *d) {
    StoreQuiet q = store_quiet_begin();
    hid_t o = open_obj(r, obj);
    int rc = o < 0 ? -1 : li ? store_h5_attr_get_int(o, key, li) : store_h5_attr_get_double(o, key, d);
    if (o >= 0) H5Oclose(o);
    store_quiet_end(q);
    if (rc) store_seterr(r->err, sizeof r->err, "%s: no numeric attribute %s on %s", r->path, key, obj);
    return rc;
}

int store_get_attr_int(StoreReader *r, const char *obj, const char *key, long *out) {
    return get_num_attr(r, obj, key, out, NULL);
}
int store_get_attr_double(StoreReader *r, const char *obj, const char *key, double *out) {
    return get_num_attr(r, obj, key, NULL, out);
}

void store_close(StoreReader *r) {
    if (!r) return;
    StoreQuiet q = store_quiet_begin();
    H5Fclose(r->file);
    store_quiet_end(q);
    free(r);
}
