// test_snapshot.c — verified output snapshots: a good one round-trips bit-identically; every bit flip, truncation,
// zeroed block or appended byte is refused with one line naming the file, and the destination is left untouched.
#include "snapshot.h"
#include "store.h"
#include "test.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[128];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }
static int one_line(const char *s) { return s[0] && !strchr(s, '\n'); }

static unsigned char *slurp(const char *p, size_t *n) {
    struct stat st;
    if (stat(p, &st) != 0) { *n = 0; return NULL; }
    *n = (size_t)st.st_size;
    unsigned char *b = malloc(*n + 1);
    int fd = open(p, O_RDONLY);
    ssize_t got = read(fd, b, *n);
    close(fd);
    if (got != (ssize_t)*n) { free(b); *n = 0; return NULL; }
    return b;
}

static void spit(const char *p, const unsigned char *b, size_t n) {
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (n && write(fd, b, n) != (ssize_t)n) printf("#   short write %s\n", p);
    close(fd);
}

static int same_file(const char *p, const unsigned char *b, size_t n) {
    size_t m;
    unsigned char *c = slurp(p, &m);
    int same = c && m == n && (n == 0 || memcmp(b, c, n) == 0);
    free(c);
    return same;
}

static int tmp_files(void) {
    DIR *d = opendir(dir);
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) k += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return k;
}

// Pseudo-random bytes (a fixed LCG: deterministic across runs).
static unsigned char *make_bytes(size_t n, uint32_t seed) {
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++) { seed = seed * 1664525u + 1013904223u; b[i] = (unsigned char)(seed >> 24); }
    return b;
}

static void test_roundtrip(void) {
    // Empty, small, and larger than the 1 MiB copy chunk.
    size_t sizes[] = {0, 1, 4099, (size_t)(2.5 * (1 << 20))};
    char src[256], snap[256], dst[256], err[1024];
    path_in(src, sizeof src, "src.bin");
    path_in(snap, sizeof snap, "src.snapshot");
    path_in(dst, sizeof dst, "restored.bin");
    for (int i = 0; i < 4; i++) {
        unsigned char *b = make_bytes(sizes[i], 7u + (uint32_t)i);
        spit(src, b, sizes[i]);
        err[0] = 0;
        T_ASSERT(snapshot_save(src, snap, err, sizeof err) == 0, "save %zu: %s", sizes[i], err);
        T_ASSERT(snapshot_verify(snap, err, sizeof err) == 0, "verify %zu: %s", sizes[i], err);
        spit(dst, (const unsigned char *)"old", 3);
        T_ASSERT(snapshot_restore(snap, dst, err, sizeof err) == 0, "restore %zu: %s", sizes[i], err);
        T_ASSERT(same_file(dst, b, sizes[i]), "restored %zu bytes differ", sizes[i]);
        struct stat st;
        stat(snap, &st);
        T_ASSERT((size_t)st.st_size == sizes[i] + 512, "snapshot size %lld", (long long)st.st_size);
        free(b);
    }
    T_ASSERT(tmp_files() == 0, "temporary files left");
    T_ASSERT(snapshot_save("/nonexistent/x", snap, err, sizeof err) == -1 && one_line(err) &&
             strstr(err, "/nonexistent/x"), "missing source: %s", err);
    T_ASSERT(snapshot_restore(snap, "/nonexistent/dir/x", err, sizeof err) == -1 && one_line(err) &&
             strstr(err, "/nonexistent/dir/x"), "bad destination: %s", err);
}

// Restoring `bad` (a damaged copy of a good snapshot) must fail, name the file, and leave dst as it was.
static int refused(const char *what, const unsigned char *bad, size_t n) {
    char snap[256], dst[256], err[1024] = "";
    path_in(snap, sizeof snap, "bad.snapshot");
    path_in(dst, sizeof dst, "live.bin");
    spit(snap, bad, n);
    const unsigned char keep[] = "the live file before the restore";
    spit(dst, keep, sizeof keep);
    int rc = snapshot_restore(snap, dst, err, sizeof err);
    int v = snapshot_verify(snap, err + 512, sizeof err - 512);
    int ok = rc == -1 && v == -1 && one_line(err) && strstr(err, snap) && same_file(dst, keep, sizeof keep);
    if (!ok) printf("#   %s: rc=%d verify=%d err='%s'\n", what, rc, v, err);
    return ok;
}

static void test_damage_refused(void) {
    char src[256], snap[256], err[1024];
    path_in(src, sizeof src, "d.bin");
    path_in(snap, sizeof snap, "d.snapshot");
    size_t n0 = 6000;
    unsigned char *b = make_bytes(n0, 99);
    spit(src, b, n0);
    T_ASSERT(snapshot_save(src, snap, err, sizeof err) == 0, "save: %s", err);
    size_t n;
    unsigned char *good = slurp(snap, &n);
    unsigned char *bad = malloc(n + 1);
    int nfail = 0, ntry = 0;
    // Every byte of the header and every 7th of the payload, each with a different bit.
    for (size_t at = 0; at < n; at += at < 512 ? 1 : 7) {
        memcpy(bad, good, n);
        bad[at] ^= (unsigned char)(1u << (at % 8));
        char what[64];
        snprintf(what, sizeof what, "flip at %zu", at);
        ntry++;
        nfail += !refused(what, bad, n);
    }
    for (size_t at = 0; at + 512 <= n; at += 1000) {   // zeroed 512-byte blocks
        memcpy(bad, good, n);
        memset(bad + at, 0, 512);
        ntry++;
        nfail += !refused("zeroed block", bad, n);
    }
    size_t cuts[] = {0, 7, 100, 511, 512, 513, 3000, n - 1};
    for (int i = 0; i < 8; i++) { ntry++; nfail += !refused("truncated", good, cuts[i]); }
    memcpy(bad, good, n);
    bad[n] = 'x';
    ntry++;
    nfail += !refused("appended byte", bad, n + 1);
    ntry++;
    nfail += !refused("unframed plain copy", b, n0);
    T_ASSERT(nfail == 0, "%d of %d damaged snapshots were not refused", nfail, ntry);
    printf("#   %d damaged snapshots refused\n", ntry);
    snapshot_restore(snap, src, err, sizeof err);
    char bsnap[256];
    path_in(bsnap, sizeof bsnap, "bad.snapshot");
    bad[0] ^= 1;
    spit(bsnap, bad, n);
    snapshot_restore(bsnap, src, err, sizeof err);
    printf("#   message: %s\n", err);
    T_ASSERT(tmp_files() == 0, "temporary files left");
    free(b); free(good); free(bad);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/pgrpo_test_snapshot.XXXXXX");
    if (!mkdtemp(dir)) { printf("not ok - mkdtemp\n"); return 1; }
    T_RUN(test_roundtrip);
    T_RUN(test_damage_refused);
    if (!test_total_failed_) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) printf("#   could not remove %s\n", dir);
    } else printf("# files kept in %s\n", dir);
    T_EXIT();
}
