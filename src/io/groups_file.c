// groups_file.c — the user's groups file (format in groups_file.h). The HDF5 work runs in a bounded child
// (store_bounded_run); results come back through one MAP_SHARED block, so the caller's memory and HDF5 state
// are never touched by a parse of an untrusted file.
#include "groups_file.h"
#include "store_impl.h"
#include "task.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    const char *path;
    int n_users;
    // Shared with the child:
    int rc;
    int n_groups;
    char err[STORE_ERRLEN];
    int ug[];   // n_users
} GroupsJob;

// The dataset: /user_group, else a checkpoint's /groups/user_group. -1 with err if neither.
static hid_t open_user_group(hid_t f, GroupsJob *j) {
    const char *name = store_h5_path_exists(f, "user_group") ? "user_group"
                     : store_h5_path_exists(f, "groups/user_group") ? "groups/user_group" : NULL;
    H5O_info_t info;
    if (!name || H5Oget_info_by_name(f, name, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET) {
        snprintf(j->err, sizeof j->err, "%s has no dataset /user_group", j->path);
        return -1;
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) snprintf(j->err, sizeof j->err, "%s: cannot open /%s (damaged?)", j->path, name);
    return d;
}

static const char *type_word(hid_t t) {
    switch (H5Tget_class(t)) {
    case H5T_FLOAT: return H5Tget_size(t) == 4 ? "float32" : H5Tget_size(t) == 8 ? "float64" : "a float type";
    case H5T_STRING: return "a string type";
    case H5T_COMPOUND: return "a compound type";
    case H5T_ENUM: return "an enum type";
    default: return "a non-integer type";
    }
}

// Reads the values as int64 (signed) or uint64 (unsigned, so 2^63.. cannot wrap into range) and range-checks.
static int read_values(hid_t d, GroupsJob *j, long long *v, int *maxg) {
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL), rc = -1;
    char shape[96] = "(";
    for (int i = 0; i < nd && i < 6; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", i ? ", " : "",
                 (unsigned long long)dims[i]);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s)", nd > 6 ? ", ..." : nd == 1 ? "," : "");
    if (H5Tget_class(t) != H5T_INTEGER)
        snprintf(j->err, sizeof j->err, "%s: /user_group is %s; it must be an integer type (int8..int64, "
                 "uint8..uint64)", j->path, type_word(t));
    else if (nd != 1 || dims[0] != (hsize_t)j->n_users)
        snprintf(j->err, sizeof j->err, "%s: /user_group has shape %s; it must be 1-D of length %d (one group id "
                 "per training user)", j->path, nd < 0 ? "(unreadable)" : shape, j->n_users);
    else {
        int is_unsigned = H5Tget_sign(t) == H5T_SGN_NONE;
        if (H5Dread(d, is_unsigned ? H5T_NATIVE_ULLONG : H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            snprintf(j->err, sizeof j->err, "%s: cannot read /user_group (damaged?)", j->path);
        else {
            rc = 0;
            *maxg = -1;
            for (int u = 0; u < j->n_users && !rc; u++) {
                int bad = is_unsigned ? (unsigned long long)v[u] >= TASK_MAX_GROUPS : v[u] < 0 || v[u] >= TASK_MAX_GROUPS;
                if (bad) {
                    snprintf(j->err, sizeof j->err, "%s: /user_group[%d] = %s%llu; group ids must be in [0, %d)",
                             j->path, u, !is_unsigned && v[u] < 0 ? "-" : "",
                             !is_unsigned && v[u] < 0 ? 0ULL - (unsigned long long)v[u] : (unsigned long long)v[u],
                             TASK_MAX_GROUPS);
                    rc = -1;
                } else if (v[u] > *maxg) *maxg = (int)v[u];
            }
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

// Root attribute n_groups: 0 = absent; integer scalar in 1..TASK_MAX_GROUPS, else -1 with err.
static int read_n_groups(hid_t f, GroupsJob *j, int *ng) {
    *ng = 0;
    if (H5Aexists(f, "n_groups") <= 0) return 0;
    hid_t a = H5Aopen(f, "n_groups", H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    long long v = 0;
    int ok = a >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(sp) == 1 &&
             H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0 && v >= 1 && v <= TASK_MAX_GROUPS;
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (!ok) {
        snprintf(j->err, sizeof j->err, "%s: root attribute n_groups must be one integer in 1..%d", j->path,
                 TASK_MAX_GROUPS);
        return -1;
    }
    *ng = (int)v;
    return 0;
}

// A `checksum` attribute (pgrpo's CRC-32 of the little-endian bytes, as postproc/groups_file.py writes) is
// checked when present and the type is one pgrpo checksums; a plain file without one is taken as it is.
static int verify_if_summed(hid_t d, GroupsJob *j) {
    hid_t t = H5Dget_type(d);
    StoreType st;
    int summable = store_h5_type_of(t, &st) == 0;
    H5Tclose(t);
    if (!summable || H5Aexists(d, "checksum") <= 0) return 0;
    char why[512];
    if (store_h5_verify_dataset(d, why, sizeof why) == 0) return 0;
    snprintf(j->err, sizeof j->err, "%s is corrupt: /user_group: %s", j->path, why);
    return -1;
}

static int check_frame(GroupsJob *j) {
    int fd = open(j->path, O_RDONLY);
    if (fd < 0) {
        snprintf(j->err, sizeof j->err, "cannot open %s: %s", j->path, strerror(errno));
        return -1;
    }
    char why[512];
    int fr = store_frame_verify_fd(fd, STORE_MAGIC_CTR, NULL, why, sizeof why);
    close(fd);
    if (fr < 0) snprintf(j->err, sizeof j->err, "%s is corrupt: %s", j->path, why);
    return fr < 0 ? -1 : 0;   // 1 (no frame) is a plain user file: fine
}

static int read_child(void *arg) {
    GroupsJob *j = arg;
    j->rc = -1;
    if (check_frame(j) != 0) return 0;
    StoreQuiet q = store_quiet_begin();
    hid_t f = -1, d = -1;
    long long *v = malloc(sizeof *v * (size_t)j->n_users);
    int maxg = -1, ng = 0;
    if (H5Fis_hdf5(j->path) <= 0) snprintf(j->err, sizeof j->err, "%s is not an HDF5 file", j->path);
    else if ((f = H5Fopen(j->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        snprintf(j->err, sizeof j->err, "%s is truncated or damaged (%s)", j->path, h5[0] ? h5 : "HDF5 cannot open it");
    } else if ((d = open_user_group(f, j)) >= 0 && v && verify_if_summed(d, j) == 0 &&
               read_values(d, j, v, &maxg) == 0 && read_n_groups(f, j, &ng) == 0) {
        if (ng == 0) ng = maxg + 1;
        if (maxg >= ng)
            snprintf(j->err, sizeof j->err, "%s: /user_group holds group %d but the root attribute n_groups is %d",
                     j->path, maxg, ng);
        else {
            for (int u = 0; u < j->n_users; u++) j->ug[u] = (int)v[u];
            j->n_groups = ng;
            j->rc = 0;
        }
    }
    free(v);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    store_quiet_end(q);
    return 0;
}

int groups_file_read(const char *path, int n_users, int *user_group, int *n_groups, char *err, size_t errlen) {
    if (n_users <= 0) {
        store_seterr(err, errlen, "groups file %s: no training users to assign", path);
        return -1;
    }
    size_t bytes = sizeof(GroupsJob) + sizeof(int) * (size_t)n_users;
    GroupsJob *j = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (j == MAP_FAILED) {
        store_seterr(err, errlen, "cannot read %s: out of memory (%s)", path, strerror(errno));
        return -1;
    }
    memset(j, 0, sizeof *j);
    j->path = path;
    j->n_users = n_users;
    j->rc = -1;
    snprintf(j->err, sizeof j->err, "%s: the reader process ended without a result", path);
    char why[512];
    int rc = store_bounded_run(read_child, j, store_watchdog_s(), why, sizeof why);
    if (rc != 0) store_seterr(err, errlen, "%s: %s", path, rc < 0 ? why : "the reader process failed");
    else if (j->rc != 0) store_seterr(err, errlen, "%s", j->err);
    else {
        memcpy(user_group, j->ug, sizeof(int) * (size_t)n_users);
        *n_groups = j->n_groups;
    }
    int out = rc == 0 && j->rc == 0 ? 0 : -1;
    munmap(j, bytes);
    return out;
}
