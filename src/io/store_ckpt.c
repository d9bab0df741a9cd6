// store_ckpt.c — the checkpoint directory: naming, the `latest` pointer, rolling retention, and finding the
// newest checkpoint that verifies, frame and every dataset (skipping corrupt ones with a reason the caller can print).
#include "store_impl.h"
#include "check.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void store_ckpt_path(char *buf, size_t n, const char *dir, long step) {
    snprintf(buf, n, "%s/ckpt_%08ld.h5", dir, step);
}

// Parses "ckpt_<digits>.h5" exactly; anything else (tmp files, user copies) is not a checkpoint.
static int parse_ckpt_name(const char *name, long *step) {
    if (strncmp(name, "ckpt_", 5) != 0) return 0;
    char *end;
    errno = 0;
    long s = strtol(name + 5, &end, 10);
    if (errno || end == name + 5 || strcmp(end, ".h5") != 0 || s < 0) return 0;
    *step = s;
    return 1;
}

typedef struct { long *v; int n, cap; } Steps;

static void steps_push(Steps *s, long x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        long *v = realloc(s->v, (size_t)s->cap * sizeof *v);
        CHECK(v, "out of memory listing checkpoints");
        s->v = v;
    }
    s->v[s->n++] = x;
}

static int cmp_desc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

// Steps of every ckpt_*.h5 in dir, newest first. Returns -1 with errno if dir cannot be read.
static int list_steps(const char *dir, Steps *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    long s;
    while ((e = readdir(d)))
        if (parse_ckpt_name(e->d_name, &s)) steps_push(out, s);
    closedir(d);
    if (out->n) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_desc);
    return 0;
}

static int write_latest(const char *dir, long step, char *err, size_t errlen) {
    char path[STORE_PATHLEN], tmp[STORE_PATHLEN + 32], line[64];
    snprintf(path, sizeof path, "%s/latest", dir);
    snprintf(tmp, sizeof tmp, "%s/latest.tmp.%ld", dir, (long)getpid());
    int len = snprintf(line, sizeof line, "ckpt_%08ld.h5\n", step);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        store_seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok) {
        store_seterr(err, errlen, "cannot update %s: %s", path, strerror(e));
        unlink(tmp);
        return -1;
    }
    if (store_rename_durable(tmp, path, err, errlen) != 0) { unlink(tmp); return -1; }   // the one atomic publish
    return 0;
}

// Temp files of a process that is gone can never be committed; this process's own one might still be.
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char mine[32], path[STORE_PATHLEN];
    snprintf(mine, sizeof mine, ".tmp.%ld", (long)getpid());
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".h5.tmp.");
        int stale_ckpt = strncmp(e->d_name, "ckpt_", 5) == 0 && t && strcmp(t + 3, mine) != 0;
        int stale_latest = strncmp(e->d_name, "latest.tmp.", 11) == 0 && strcmp(e->d_name + 6, mine) != 0;
        if (stale_ckpt || stale_latest) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int store_ckpt_publish(const char *dir, long step, int keep_last, int keep_every, char *err, size_t errlen) {
    char path[STORE_PATHLEN];
    store_ckpt_path(path, sizeof path, dir, step);
    if (access(path, F_OK) != 0) {
        store_seterr(err, errlen, "cannot publish %s: %s (commit it first)", path, strerror(errno));
        return -1;
    }
    if (write_latest(dir, step, err, errlen) != 0) return -1;
    Steps s;
    if (list_steps(dir, &s) != 0) {
        store_seterr(err, errlen, "cannot list checkpoint directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int rank = 0;   // position among steps <= step, newest first; step itself is rank 0
    for (int i = 0; i < s.n; i++) {
        long x = s.v[i];
        if (x > step) continue;
        int keep = x == step || keep_last <= 0 || rank < keep_last || (keep_every > 0 && x % keep_every == 0);
        rank++;
        if (keep) continue;
        store_ckpt_path(path, sizeof path, dir, x);
        if (unlink(path) != 0 && errno != ENOENT) {
            store_seterr(err, errlen, "cannot delete old checkpoint %s: %s", path, strerror(errno));
            free(s.v);
            return -1;
        }
    }
    free(s.v);
    remove_stale_tmp(dir);
    return 0;
}

static void msg_append(char *msg, size_t msglen, const char *fmt, const char *a, const char *b) {
    if (!msg || !msglen) return;
    size_t l = strlen(msg);
    if (l + 1 < msglen) snprintf(msg + l, msglen - l, fmt, a, b);
}

int store_ckpt_find(const char *dir, char *path_out, size_t n, long *step_out, char *msg, size_t msglen) {
    if (msg && msglen) msg[0] = 0;
    Steps s;
    if (list_steps(dir, &s) != 0) {
        if (errno == ENOENT) return 1;
        store_seterr(msg, msglen, "cannot list checkpoint directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 1;
    for (int i = 0; i < s.n && rc == 1; i++) {
        char path[STORE_PATHLEN], why[STORE_ERRLEN];
        store_ckpt_path(path, sizeof path, dir, s.v[i]);
        StoreReader *r = store_open(path, STORE_KIND_CKPT, why, sizeof why);
        if (!r) {
            msg_append(msg, msglen, "skipping corrupt checkpoint %s: %s\n", path, why);
            continue;
        }
        // The frame leaves the large datasets' data to their own checksums (store_frame.c): check them here, so
        // damage there also falls back to the previous checkpoint. The resume's read then finds the file in the
        // page cache.
        if (store_check_datasets(r) != 0) {
            msg_append(msg, msglen, "skipping corrupt checkpoint %s: %s\n", path, store_reader_error(r));
            store_close(r);
            continue;
        }
        store_close(r);
        snprintf(path_out, n, "%s", path);
        if (step_out) *step_out = s.v[i];
        rc = 0;
    }
    free(s.v);
    return rc;
}
