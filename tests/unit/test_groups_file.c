// test_groups_file.c — groups_file_read: a plain HDF5 /user_group of every integer type is accepted and
// range-checked; float types (NaN), wrong shapes, out-of-range ids and bad n_groups are refused in one line; pgrpo's
// own framed files are accepted and verified; a damaged file never hangs or crashes the caller.
#include "groups_file.h"
#include "store.h"
#include "test.h"
#include "../../src/io/store_impl.h"
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NU 10
static char dir[128];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }
static int one_line(const char *s) { return s[0] && !strchr(s, '\n'); }

// A plain HDF5 file (no pgrpo frame or schema): /user_group of file type ftype from int64 values (converted by
// HDF5), or float64 values when fvals is given; dims as given; optional n_groups attribute of type atype.
static void write_plain(const char *p, hid_t ftype, const long long *vals, const double *fvals, int nd,
                        const hsize_t *dims, hid_t atype, double n_groups) {
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t d = H5Dcreate2(f, "user_group", ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    // uint64 files take the bit pattern as is (HDF5 would clip a negative int64 to 0).
    hid_t mt = fvals ? H5T_NATIVE_DOUBLE : H5Tget_sign(ftype) == H5T_SGN_NONE ? H5T_NATIVE_ULLONG : H5T_NATIVE_LLONG;
    H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT,
             fvals ? (const void *)fvals : (const void *)vals);
    H5Dclose(d);
    H5Sclose(sp);
    if (atype >= 0) {
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "n_groups", atype, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_DOUBLE, &n_groups);
        H5Aclose(a);
        H5Sclose(as);
    }
    H5Fclose(f);
}

static const long long good[NU] = {0, 1, 2, 3, 0, 1, 2, 3, 3, 2};

static void test_integer_types(void) {
    hid_t types[] = {H5T_STD_I8LE, H5T_STD_I16BE, H5T_STD_I32LE, H5T_STD_I64LE, H5T_STD_U8LE, H5T_STD_U16LE,
                     H5T_STD_U32BE, H5T_STD_U64LE};
    const char *names[] = {"int8", "int16be", "int32", "int64", "uint8", "uint16", "uint32be", "uint64"};
    hsize_t n = NU;
    char p[256], err[1024];
    for (int t = 0; t < 8; t++) {
        path_in(p, sizeof p, names[t]);
        write_plain(p, types[t], good, NULL, 1, &n, t % 2 ? H5T_STD_I64LE : -1, 4);
        int ug[NU] = {0}, ng = -1;
        err[0] = 0;
        T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == 0, "%s refused: %s", names[t], err);
        int same = 1;
        for (int u = 0; u < NU; u++) same &= ug[u] == good[u];
        T_ASSERT(same && ng == 4, "%s: values or n_groups %d wrong", names[t], ng);
    }
    // n_groups larger than max+1 is kept (a group may be empty); absent gives max+1.
    path_in(p, sizeof p, "ng6");
    write_plain(p, H5T_STD_I32LE, good, NULL, 1, &n, H5T_STD_U8LE, 6);
    int ug[NU], ng = 0;
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == 0 && ng == 6, "ng6: %d %s", ng, err);
}

// Each case must be refused with one line naming the file and containing `want`.
static void refuse(const char *name, const char *want, hid_t ftype, const long long *vals, const double *fv,
                   int nd, const hsize_t *dims, hid_t atype, double ngv) {
    char p[256], err[1024] = "";
    path_in(p, sizeof p, name);
    write_plain(p, ftype, vals, fv, nd, dims, atype, ngv);
    int ug[NU], keep = 12345, ng = keep;
    for (int u = 0; u < NU; u++) ug[u] = keep;
    int rc = groups_file_read(p, NU, ug, &ng, err, sizeof err);
    T_ASSERT(rc == -1 && one_line(err) && strstr(err, p) && strstr(err, want), "%s: rc=%d err='%s'", name, rc, err);
    T_ASSERT(ng == keep && ug[0] == keep, "%s: outputs written on failure", name);
    printf("#   %s: %s\n", name, err);
}

static void test_refusals(void) {
    hsize_t n = NU, wrong = NU - 1, two[2] = {NU, 1};
    double fv[NU] = {0, 1, 2, 3, 0, 1, 2, 3, 3, 2};
    refuse("float64", "float64", H5T_IEEE_F64LE, NULL, fv, 1, &n, -1, 0);
    fv[3] = NAN;
    refuse("float32_nan", "float32", H5T_IEEE_F32LE, NULL, fv, 1, &n, -1, 0);
    refuse("two_d", "shape (10, 1)", H5T_STD_I32LE, good, NULL, 2, two, -1, 0);
    refuse("short", "shape (9,)", H5T_STD_I32LE, good, NULL, 1, &wrong, -1, 0);
    long long neg[NU], big[NU], huge[NU];
    for (int u = 0; u < NU; u++) { neg[u] = good[u]; big[u] = good[u]; huge[u] = good[u]; }
    neg[5] = -1;
    big[7] = 16;
    huge[2] = -1;   // as uint64: 2^64-1, must not wrap into range
    refuse("negative", "/user_group[5] = -1", H5T_STD_I64LE, neg, NULL, 1, &n, -1, 0);
    refuse("too_many_groups", "/user_group[7] = 16", H5T_STD_I16LE, big, NULL, 1, &n, -1, 0);
    refuse("uint64_huge", "/user_group[2] = 18446744073709551615", H5T_STD_U64LE, huge, NULL, 1, &n, -1, 0);
    refuse("ng_float", "n_groups must be one integer", H5T_STD_I32LE, good, NULL, 1, &n, H5T_IEEE_F64LE, 4);
    refuse("ng_small", "n_groups is 3", H5T_STD_I32LE, good, NULL, 1, &n, H5T_STD_I32LE, 3);
    refuse("ng_17", "n_groups must be one integer in 1..16", H5T_STD_I32LE, good, NULL, 1, &n, H5T_STD_I32LE, 17);
    // No dataset; not HDF5; missing.
    char p[256], err[1024];
    int ug[NU], ng;
    path_in(p, sizeof p, "empty.h5");
    H5Fclose(H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == -1 && strstr(err, "no dataset /user_group"),
             "empty: %s", err);
    path_in(p, sizeof p, "text");
    FILE *f = fopen(p, "w");
    fputs("0 1 2\n", f);
    fclose(f);
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == -1 && strstr(err, "not an HDF5 file"), "text: %s",
             err);
    path_in(p, sizeof p, "absent");
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == -1 && strstr(err, "No such file"), "absent: %s",
             err);
}

// pgrpo's own files: a framed container with /groups/user_group (as in a checkpoint) or /user_group is accepted;
// a damaged one is refused by its frame.
static void test_pgrpo_files(void) {
    char p[256], err[1024];
    path_in(p, sizeof p, "ckpt.h5");
    StoreWriter *w = store_writer_create(p, STORE_KIND_CKPT, "[run]\n", err, sizeof err);
    int32_t g32[NU];
    for (int u = 0; u < NU; u++) g32[u] = (int32_t)good[u];
    size_t n = NU;
    store_put(w, "groups/user_group", STORE_I32, g32, 1, &n);
    T_ASSERT(store_commit(w, err, sizeof err) == 0, "commit: %s", err);
    int ug[NU], ng = 0;
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == 0 && ng == 4 && ug[9] == 2, "ckpt: %s", err);
    int fd = open(p, O_RDWR);
    unsigned char b = 0;
    if (pread(fd, &b, 1, 2000) == 1) { b ^= 4; if (pwrite(fd, &b, 1, 2000) != 1) printf("#   pwrite\n"); }
    close(fd);
    T_ASSERT(groups_file_read(p, NU, ug, &ng, err, sizeof err) == -1 && strstr(err, "checksum mismatch") &&
             one_line(err), "flipped ckpt: %s", err);
}

// postproc/groups_file.py's layout: int32 /user_group with a uint32 `checksum` attribute; verified when present.
static void test_checksum_attribute(void) {
    char p[256], err[1024];
    int32_t g32[NU];
    for (int u = 0; u < NU; u++) g32[u] = (int32_t)good[u];
    for (int wrong = 0; wrong < 2; wrong++) {
        path_in(p, sizeof p, wrong ? "summed_bad.h5" : "summed.h5");
        hsize_t n = NU;
        hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hid_t sp = H5Screate_simple(1, &n, NULL), as = H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(f, "user_group", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, g32);
        uint32_t crc = store_crc32(0, g32, sizeof g32) ^ (uint32_t)wrong;
        hid_t a = H5Acreate2(d, "checksum", H5T_STD_U32LE, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_UINT32, &crc);
        H5Aclose(a); H5Dclose(d); H5Sclose(as); H5Sclose(sp); H5Fclose(f);
        int ug[NU], ng = 0;
        int rc = groups_file_read(p, NU, ug, &ng, err, sizeof err);
        if (wrong) T_ASSERT(rc == -1 && strstr(err, "checksum mismatch") && one_line(err), "bad sum: %s", err);
        else T_ASSERT(rc == 0 && ng == 4, "good sum refused: %s", err);
    }
}

static int sleeper(void *arg) { (void)arg; for (;;) pause(); return 0; }
static int crasher(void *arg) { (void)arg; raise(SIGSEGV); return 0; }
static int seven(void *arg) { (void)arg; return 7; }

// The watchdog itself: a child that never returns is stopped at its deadline, a crash is reported, not inherited.
static void test_bounded_run(void) {
    char why[256] = "";
    time_t t0 = time(NULL);
    T_ASSERT(store_bounded_run(sleeper, NULL, 1, why, sizeof why) == -1 && strstr(why, "within 1 s"), "%s", why);
    T_ASSERT(time(NULL) - t0 <= 4, "took %ld s", (long)(time(NULL) - t0));
    T_ASSERT(store_bounded_run(crasher, NULL, 5, why, sizeof why) == -1 && strstr(why, "crashed"), "%s", why);
    T_ASSERT(store_bounded_run(seven, NULL, 5, why, sizeof why) == 7, "exit code");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/pgrpo_test_groups.XXXXXX");
    if (!mkdtemp(dir)) { printf("not ok - mkdtemp\n"); return 1; }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    T_RUN(test_integer_types);
    T_RUN(test_refusals);
    T_RUN(test_pgrpo_files);
    T_RUN(test_checksum_attribute);
    T_RUN(test_bounded_run);
    if (!test_total_failed_) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) printf("#   could not remove %s\n", dir);
    } else printf("# files kept in %s\n", dir);
    T_EXIT();
}
