// safetensors.c — safetensors reader and writer (see safetensors.h for the rules checked).
#include "check.h"
#include "safetensors.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { StTensor t; int fi; } Entry;   // fi: index into StFile.fds

struct StFile {
    Entry *e;
    int n, cap;
    char **paths;
    int *fds;
    uint64_t *data_start;   // 8 + N per file
    int n_files;
    json_t *meta;           // the first file's __metadata__ object (or NULL)
};

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

// Element size in bits of every dtype of the spec (safetensors/src/tensor.rs Dtype); 0 for an unknown name.
static unsigned dtype_bits(const char *d) {
    static const struct { const char *name; unsigned bits; } T[] = {
        {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8},
        {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16}, {"U16", 16},
        {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32}, {"C64", 64}, {"F64", 64},
        {"I64", 64}, {"U64", 64}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (!strcmp(d, T[i].name)) return T[i].bits;
    return 0;
}

int st_dtype_is_float(const char *d) {
    return !strcmp(d, "F32") || !strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "F64");
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

// A JSON integer >= 0 into *out.
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static int add_entry(StFile *f, const StTensor *t, int fi) {
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 64;
        Entry *e = realloc(f->e, (size_t)cap * sizeof *e);
        if (!e) return -1;
        f->e = e;
        f->cap = cap;
    }
    f->e[f->n].t = *t;
    f->e[f->n].fi = fi;
    f->n++;
    return 0;
}

// One header entry "name": {"dtype", "shape", "data_offsets"} -> t (name/dtype strdup'd).
static int parse_entry(const char *path, const char *name, json_t *v, StTensor *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(v)) return check_errf(err, errlen, "%s: tensor '%s': header entry is not an object", path, name);
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return check_errf(err, errlen, "%s: tensor '%s': unknown header field '%s' (expected dtype, shape, data_offsets)",
                        path, name, key);
    }
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return check_errf(err, errlen, "%s: tensor '%s': dtype missing or not a string", path, name);
    unsigned bits = dtype_bits(json_string_value(dt));
    if (!bits) return check_errf(err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, name, json_string_value(dt));
    if (!json_is_array(sh) || json_array_size(sh) > ST_MAX_DIMS)
        return check_errf(err, errlen, "%s: tensor '%s': shape missing, not an array or over %d dims", path, name, ST_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    uint64_t n = 1, nbits;
    for (int i = 0; i < t->ndim; i++) {
        if (!json_u64(json_array_get(sh, (size_t)i), &t->shape[i]))
            return check_errf(err, errlen, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, i);
        if (!mul_ok(n, t->shape[i], &n)) return check_errf(err, errlen, "%s: tensor '%s': shape overflows", path, name);
    }
    t->n_elems = n;
    if (!mul_ok(n, bits, &nbits)) return check_errf(err, errlen, "%s: tensor '%s': byte size overflows", path, name);
    if (nbits % 8) return check_errf(err, errlen, "%s: tensor '%s': %llu bits is not whole bytes", path, name, (unsigned long long)nbits);
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_u64(json_array_get(off, 0), &t->begin) ||
        !json_u64(json_array_get(off, 1), &t->end))
        return check_errf(err, errlen, "%s: tensor '%s': data_offsets must be two non-negative integers", path, name);
    if (t->end < t->begin)
        return check_errf(err, errlen, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                    (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != nbits / 8)
        return check_errf(err, errlen, "%s: tensor '%s': data_offsets span %llu bytes but dtype %s x shape needs %llu", path,
                    name, (unsigned long long)(t->end - t->begin), json_string_value(dt), (unsigned long long)(nbits / 8));
    t->name = xstrdup(name);
    t->dtype = xstrdup(json_string_value(dt));
    return t->name && t->dtype ? 0 : check_errf(err, errlen, "%s: out of memory", path);
}

static int by_offset(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->t.begin != y->t.begin) return x->t.begin < y->t.begin ? -1 : 1;
    return x->t.end < y->t.end ? -1 : x->t.end > y->t.end;
}

// Entries [first, f->n) of one file tile its buffer [0, buflen) exactly.
static int check_tiling(StFile *f, int first, const char *path, uint64_t buflen, char *err, size_t errlen) {
    qsort(f->e + first, (size_t)(f->n - first), sizeof *f->e, by_offset);
    uint64_t at = 0;
    for (int i = first; i < f->n; i++) {
        const StTensor *t = &f->e[i].t;
        if (t->begin < at)
            return check_errf(err, errlen, "%s: tensor '%s': data_offsets begin at %llu, overlapping the previous tensor (expected %llu)",
                        path, t->name, (unsigned long long)t->begin, (unsigned long long)at);
        if (t->begin > at)
            return check_errf(err, errlen, "%s: tensor '%s': data_offsets begin at %llu, leaving a hole after byte %llu (expected %llu)",
                        path, t->name, (unsigned long long)t->begin, (unsigned long long)at, (unsigned long long)at);
        at = t->end;
    }
    if (at != buflen)
        return check_errf(err, errlen, "%s: the tensors cover %llu bytes but the data section holds %llu (%s)", path,
                    (unsigned long long)at, (unsigned long long)buflen,
                    at < buflen ? "bytes after the last tensor" : "file truncated");
    return 0;
}

static int read_full(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

// Reads the 8-byte length and the header of one open file; returns the parsed root object or NULL.
static json_t *load_header(int fd, const char *path, uint64_t *n_out, uint64_t *size_out, char *err, size_t errlen) {
    struct stat st;
    if (fstat(fd, &st)) { check_errf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char len8[8];
    if (size < 8 || read_full(fd, len8, 8, 0)) {
        check_errf(err, errlen, "%s: truncated: %llu bytes, a safetensors file starts with an 8-byte header length",
             path, (unsigned long long)size);
        return NULL;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n > ST_MAX_HEADER) {
        check_errf(err, errlen, "%s: header length %llu exceeds the 100000000-byte limit", path, (unsigned long long)n);
        return NULL;
    }
    if (n > size - 8) {
        check_errf(err, errlen, "%s: header length %llu is longer than the %llu bytes after it (truncated file?)", path,
             (unsigned long long)n, (unsigned long long)(size - 8));
        return NULL;
    }
    char *h = malloc(n ? n : 1);
    if (!h || read_full(fd, h, n, 8)) { free(h); check_errf(err, errlen, "%s: cannot read the header", path); return NULL; }
    json_error_t je;
    json_t *root = json_loadb(h, n, JSON_REJECT_DUPLICATES, &je);
    free(h);
    if (!root) { check_errf(err, errlen, "%s: header is not valid JSON: %s (byte %d)", path, je.text, je.position); return NULL; }
    if (!json_is_object(root)) {
        json_decref(root);
        check_errf(err, errlen, "%s: header is not a JSON object", path);
        return NULL;
    }
    *n_out = n;
    *size_out = size;
    return root;
}

static int check_metadata(const char *path, json_t *m, char *err, size_t errlen) {
    if (!json_is_object(m)) return check_errf(err, errlen, "%s: __metadata__ is not an object of strings", path);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!json_is_string(v)) return check_errf(err, errlen, "%s: __metadata__ '%s' is not a string", path, k);
    }
    return 0;
}

// Opens path, validates it and appends its tensors to f.
static int add_file(StFile *f, const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return check_errf(err, errlen, "%s: %s", path, strerror(errno));
    char **paths = realloc(f->paths, (size_t)(f->n_files + 1) * sizeof *paths);
    if (paths) f->paths = paths;
    int *fds = realloc(f->fds, (size_t)(f->n_files + 1) * sizeof *fds);
    if (fds) f->fds = fds;
    uint64_t *ds = realloc(f->data_start, (size_t)(f->n_files + 1) * sizeof *ds);
    if (ds) f->data_start = ds;
    if (!paths || !fds || !ds) { close(fd); return check_errf(err, errlen, "%s: out of memory", path); }
    int fi = f->n_files++;
    f->fds[fi] = fd;
    f->paths[fi] = xstrdup(path);
    uint64_t n, size;
    json_t *root = load_header(fd, path, &n, &size, err, errlen);
    if (!root) return -1;
    f->data_start[fi] = 8 + n;
    int first = f->n, rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if ((rc = check_metadata(path, v, err, errlen))) break;
            if (!f->meta) f->meta = json_incref(v);
            continue;
        }
        StTensor t;
        if ((rc = parse_entry(path, key, v, &t, err, errlen))) break;
        t.file = f->paths[fi];
        if ((rc = add_entry(f, &t, fi))) { check_errf(err, errlen, "%s: out of memory", path); break; }
    }
    json_decref(root);
    return rc ? rc : check_tiling(f, first, path, size - 8 - n, err, errlen);
}

StFile *st_open(const char *path, char *err, size_t errlen) {
    StFile *f = calloc(1, sizeof *f);
    if (!f) { check_errf(err, errlen, "%s: out of memory", path); return NULL; }
    if (add_file(f, path, err, errlen)) { st_close(f); return NULL; }
    return f;
}

// Every shard tensor is in the index under its own shard, and the index names no more tensors than that.
static int check_index(StFile *f, json_t *wm, const char *index, char *err, size_t errlen) {
    for (int i = 0; i < f->n; i++) {
        const StTensor *t = &f->e[i].t;
        json_t *s = json_object_get(wm, t->name);
        const char *base = strrchr(t->file, '/') ? strrchr(t->file, '/') + 1 : t->file;
        if (!s) return check_errf(err, errlen, "%s: tensor '%s' of shard %s is not in weight_map", index, t->name, base);
        if (strcmp(json_string_value(s), base))
            return check_errf(err, errlen, "%s: tensor '%s': weight_map says %s but it is in %s", index, t->name,
                        json_string_value(s), base);
    }
    if (json_object_size(wm) != (size_t)f->n) {
        const char *k;
        json_t *v;
        json_object_foreach(wm, k, v) {
            if (!st_find(f, k))
                return check_errf(err, errlen, "%s: tensor '%s': weight_map names %s but that shard does not hold it", index, k,
                            json_string_value(v));
        }
    }
    return 0;
}

static int open_sharded(StFile *f, const char *dir, const char *index, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &je);
    if (!root) return check_errf(err, errlen, "%s: not valid JSON: %s (line %d)", index, je.text, je.line);
    json_t *wm = json_object_get(root, "weight_map");
    int rc = 0;
    if (!json_is_object(wm) || !json_object_size(wm)) rc = check_errf(err, errlen, "%s: no weight_map object", index);
    const char *k;
    json_t *v;
    char path[4096];
    json_object_foreach(wm, k, v) {   // each shard once, in order of first mention
        if (rc) break;
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, '/') || !strcmp(s, "..")) { rc = check_errf(err, errlen, "%s: tensor '%s': shard name is not a file name in the folder", index, k); break; }
        int seen = 0;
        for (int i = 0; i < f->n_files; i++) {
            const char *b = strrchr(f->paths[i], '/');
            if (!strcmp(b ? b + 1 : f->paths[i], s)) seen = 1;
        }
        if (seen) continue;
        snprintf(path, sizeof path, "%s/%s", dir, s);
        rc = add_file(f, path, err, errlen);
    }
    if (!rc) rc = check_index(f, wm, index, err, errlen);
    json_decref(root);
    return rc;
}

StFile *st_open_dir(const char *dir, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (access(path, F_OK) == 0) return st_open(path, err, errlen);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK)) {
        check_errf(err, errlen, "%s: neither model.safetensors nor model.safetensors.index.json found", dir);
        return NULL;
    }
    StFile *f = calloc(1, sizeof *f);
    if (!f) { check_errf(err, errlen, "%s: out of memory", dir); return NULL; }
    if (open_sharded(f, dir, path, err, errlen)) { st_close(f); return NULL; }
    return f;
}

void st_close(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) { free((char *)f->e[i].t.name); free((char *)f->e[i].t.dtype); }
    for (int i = 0; i < f->n_files; i++) { if (f->fds[i] >= 0) close(f->fds[i]); free(f->paths[i]); }
    free(f->e);
    free(f->paths);
    free(f->fds);
    free(f->data_start);
    if (f->meta) json_decref(f->meta);
    free(f);
}

int st_count(const StFile *f) { return f->n; }
const StTensor *st_tensor(const StFile *f, int i) { return i >= 0 && i < f->n ? &f->e[i].t : NULL; }
const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].t.name, name)) return &f->e[i].t;
    return NULL;
}
const char *st_metadata(const StFile *f, const char *key) {
    return f->meta ? json_string_value(json_object_get(f->meta, key)) : NULL;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) u = sign | 0x7f800000u | man << 13;            // inf / NaN (payload kept)
    else if (exp) u = sign | (exp + 112) << 23 | man << 13;          // normal: rebias 15 -> 127
    else if (!man) u = sign;                                         // +-0
    else {                                                           // subnormal: normalise
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        u = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    }
    float x;
    memcpy(&x, &u, 4);
    return x;
}

// t came from st_tensor/st_find: it is the first member of one of f's entries.
static const Entry *entry_of(const StFile *f, const StTensor *t) {
    (void)f;
    return (const Entry *)(const void *)t;
}

int st_read_raw(const StFile *f, const StTensor *t, void *out, char *err, size_t errlen) {
    const Entry *e = entry_of(f, t);
    if (read_full(f->fds[e->fi], out, t->end - t->begin, f->data_start[e->fi] + t->begin))
        return check_errf(err, errlen, "%s: tensor '%s': cannot read %llu bytes", t->file, t->name,
                    (unsigned long long)(t->end - t->begin));
    return 0;
}

// Converts in chunks so a large F16/BF16 tensor needs no second full-size buffer.
int st_read_f32(const StFile *f, const StTensor *t, float *out, size_t n, char *err, size_t errlen) {
    if (n != t->n_elems)
        return check_errf(err, errlen, "%s: tensor '%s': %llu elements, expected %zu", t->file, t->name,
                    (unsigned long long)t->n_elems, n);
    if (!st_dtype_is_float(t->dtype))
        return check_errf(err, errlen, "%s: tensor '%s': dtype %s, expected F32, F16, BF16 or F64", t->file, t->name, t->dtype);
    if (!strcmp(t->dtype, "F32")) return st_read_raw(f, t, out, err, errlen);
    const Entry *e = entry_of(f, t);
    size_t es = !strcmp(t->dtype, "F64") ? 8 : 2, chunk = 1 << 16;
    unsigned char *buf = malloc(chunk * es);
    if (!buf) return check_errf(err, errlen, "%s: out of memory", t->file);
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        if (read_full(f->fds[e->fi], buf, m * es, f->data_start[e->fi] + t->begin + i * es)) {
            free(buf);
            return check_errf(err, errlen, "%s: tensor '%s': cannot read its data", t->file, t->name);
        }
        for (size_t j = 0; j < m; j++) {
            if (es == 8) { double d; memcpy(&d, buf + 8 * j, 8); out[i + j] = (float)d; continue; }
            uint16_t h = (uint16_t)(buf[2 * j] | buf[2 * j + 1] << 8);
            out[i + j] = t->dtype[0] == 'B' ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
    }
    free(buf);
    return 0;
}

// The header JSON (compact, entries in the given order), padded with spaces to a multiple of 8.
static char *write_header(const StWriteTensor *t, int n, const char *const *keys, const char *const *values,
                          int n_meta, size_t *len) {
    json_t *root = json_object();
    if (n_meta > 0) {
        json_t *m = json_object();
        for (int i = 0; i < n_meta; i++) json_object_set_new(m, keys[i], json_string(values[i]));
        json_object_set_new(root, "__metadata__", m);
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        json_t *sh = json_array(), *e = json_object();
        uint64_t ne = 1;
        for (int d = 0; d < t[i].ndim; d++) { json_array_append_new(sh, json_integer((json_int_t)t[i].shape[d])); ne *= t[i].shape[d]; }
        json_object_set_new(e, "dtype", json_string("F32"));
        json_object_set_new(e, "shape", sh);
        json_t *off = json_array();
        json_array_append_new(off, json_integer((json_int_t)at));
        at += 4 * ne;
        json_array_append_new(off, json_integer((json_int_t)at));
        json_object_set_new(e, "data_offsets", off);
        json_object_set_new(root, t[i].name, e);
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s) return NULL;
    size_t k = strlen(s), padded = (k + 7) / 8 * 8;
    char *h = realloc(s, padded + 1);
    if (!h) { free(s); return NULL; }
    memset(h + k, ' ', padded - k);
    h[padded] = 0;
    *len = padded;
    return h;
}

int st_write_f32(const char *path, const StWriteTensor *t, int n, const char *const *keys,
                 const char *const *values, int n_meta, char *err, size_t errlen) {
    size_t hl;
    char *h = write_header(t, n, keys, values, n_meta, &hl);
    if (!h) return check_errf(err, errlen, "%s: cannot build the header (out of memory)", path);
    FILE *fp = fopen(path, "wb");
    if (!fp) { free(h); return check_errf(err, errlen, "%s: %s", path, strerror(errno)); }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    int bad = fwrite(len8, 1, 8, fp) != 8 || fwrite(h, 1, hl, fp) != hl;
    free(h);
    for (int i = 0; i < n && !bad; i++) {
        size_t ne = 1;
        for (int d = 0; d < t[i].ndim; d++) ne *= (size_t)t[i].shape[d];
        bad = fwrite(t[i].data, sizeof(float), ne, fp) != ne;
    }
    bad |= fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    bad |= fclose(fp) != 0;
    return bad ? check_errf(err, errlen, "%s: write failed: %s", path, strerror(errno)) : 0;
}
