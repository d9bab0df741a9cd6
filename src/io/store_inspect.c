// store_inspect.c — `pgrpo inspect FILE`: a human summary of any file the store writes, and with verify a full
// read of every dataset (checksums where the file has them, readability of compressed chunks everywhere).
#include "store_impl.h"
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define INSPECT_DECK_LINES 8
#define INSPECT_MAX_GROUP_ID 64

static void print_deck(FILE *out, const char *deck) {
    if (!deck || !*deck) { fprintf(out, "deck          (none)\n"); return; }
    int lines = 0;
    for (const char *p = deck; *p; p++) lines += *p == '\n';
    fprintf(out, "deck          %d lines; sections:", lines);
    for (const char *p = deck; p && *p; ) {
        while (*p == ' ' || *p == '\t') p++;
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (*p == '[') fprintf(out, " %.*s", (int)l, p);
        p = e ? e + 1 : NULL;
    }
    fputc('\n', out);
    int shown = 0;
    for (const char *p = deck; p && *p && shown < INSPECT_DECK_LINES; ) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l && *p != '#') { fprintf(out, "  | %.*s\n", (int)l, p); shown++; }
        p = e ? e + 1 : NULL;
    }
    if (lines > shown) fprintf(out, "  | ... (h5dump -a /deck FILE shows all)\n");
}

static void shape_str(hid_t d, char *buf, size_t n, hsize_t *nelem) {
    hid_t sp = H5Dget_space(d);
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    size_t l = (size_t)snprintf(buf, n, "(");
    *nelem = 1;
    for (int i = 0; i < nd && l < n; i++) {
        l += (size_t)snprintf(buf + l, n - l, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
        *nelem *= dims[i];
    }
    if (l < n) snprintf(buf + l, n - l, ")");
}

static void filters_str(hid_t d, char *buf, size_t n) {
    hid_t dcpl = H5Dget_create_plist(d);
    int nf = H5Pget_nfilters(dcpl);
    buf[0] = 0;
    size_t l = 0;
    for (int i = 0; i < nf && l < n; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[32];
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name, NULL);
        const char *nm = f == H5Z_FILTER_DEFLATE ? "gzip" : f == H5Z_FILTER_SHUFFLE ? "shuffle" : name;
        l += (size_t)snprintf(buf + l, n - l, "%s%s", l ? "+" : "", nm);
    }
    if (!nf) snprintf(buf, n, "-");
    H5Pclose(dcpl);
}

// Last element of an integer 1-D dataset (a step column), or -1.
static long last_of(hid_t file, const char *path) {
    if (!store_h5_path_exists(file, path)) return -1;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    long v = -1;
    if (H5Sget_simple_extent_ndims(fs) == 1 && H5Sget_simple_extent_dims(fs, &n, NULL) == 1 && n > 0) {
        hsize_t off = n - 1, one = 1;
        int64_t x;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
        hid_t ms = H5Screate_simple(1, &one, NULL);
        if (H5Dread(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &x) >= 0) v = (long)x;
        H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(d);
    return v;
}

// Histogram of the ids in a `group`/`groups` integer dataset: the preference-group layout at a glance.
static void print_groups(FILE *out, hid_t file, const char *path) {
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(ft) == H5T_INTEGER && n > 0 && n <= (1 << 24)) {
        int32_t *v = xmalloc((size_t)n * sizeof *v);
        if (H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) {
            long cnt[INSPECT_MAX_GROUP_ID] = {0}, other = 0;
            int maxid = -1;
            for (hssize_t i = 0; i < n; i++) {
                if (v[i] >= 0 && v[i] < INSPECT_MAX_GROUP_ID) { cnt[v[i]]++; if (v[i] > maxid) maxid = v[i]; }
                else other++;
            }
            fprintf(out, "groups        %s: %d group ids, counts", path, maxid + 1);
            for (int g = 0; g <= maxid; g++) fprintf(out, " %d:%ld", g, cnt[g]);
            if (other) fprintf(out, " other:%ld", other);
            fputc('\n', out);
        }
        free(v);
    }
    H5Sclose(sp);
    H5Tclose(ft);
    H5Dclose(d);
}

// The HDF5 part of inspect. For a framed (verified) file it runs in this process; for any other file in a
// bounded child (store_bounded_run), since damaged HDF5 metadata can make the library loop or crash.
// The error line goes to errout when given (the bounded child hands it to the parent), else to stderr.
static int inspect_h5(const char *path, int verify, FILE *out, long long size, const char *frame_line,
                      char *errout, size_t errn) {
    StoreQuiet q = store_quiet_begin();
    int rc = 0;
    char first_err[2 * STORE_ERRLEN] = "";
    hid_t f = -1;
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(first_err, sizeof first_err, "%s is not an HDF5 file", path);
        goto done;
    }
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        char h5[256];
        store_h5_errtext(h5, sizeof h5);
        snprintf(first_err, sizeof first_err, "%s is truncated or damaged (%s)", path, h5);
        goto done;
    }
    fprintf(out, "file          %s (%lld bytes)\n", path, size);
    fprintf(out, "frame         %s\n", frame_line);
    char *schema = store_h5_attr_get_str(f, "schema"), *creator = store_h5_attr_get_str(f, "creator");
    char *created = store_h5_attr_get_str(f, "created"), *deck = store_h5_attr_get_str(f, "deck");
    long ver = -1, step = -1, resumed = -1;
    store_h5_attr_get_int(f, "schema_version", &ver);
    fprintf(out, "schema        %s (version %ld)%s\n", schema ? schema : "(none: not written by pgrpo)", ver,
            ver > STORE_SCHEMA_VERSION ? " -- newer than this pgrpo reads" : "");
    if (schema && ver >= 2 && strncmp(frame_line, "pgrpo container, checksum OK", 28) != 0 && !first_err[0])
        snprintf(first_err, sizeof first_err, "%s claims schema %ld but has no pgrpo header (damaged)", path, ver);
    fprintf(out, "creator       %s\n", creator ? creator : "(none)");
    fprintf(out, "created       %s\n", created ? created : "(none)");
    const char *step_src = "root attribute step";
    if (store_h5_attr_get_int(f, "step", &step) != 0) {
        step_src = "last row of /step";
        step = last_of(f, "/step");
    }
    StoreNames names = {0};
    store_h5_list_datasets(f, &names);
    if (step < 0 && schema && strcmp(schema, "pgrpo/metrics") == 0) {
        step_src = "newest step over all series";
        for (int i = 0; i < names.n; i++) {
            size_t l = strlen(names.v[i]);
            if (l > 5 && strcmp(names.v[i] + l - 5, "/step") == 0) {
                long s = last_of(f, names.v[i]);
                if (s > step) step = s;
            }
        }
    }
    if (step >= 0) fprintf(out, "step          %ld (%s)\n", step, step_src);
    if (store_h5_attr_get_int(f, "resumed_at_step", &resumed) == 0)
        fprintf(out, "resumed       at step %ld\n", resumed);
    print_deck(out, deck);
    for (int i = 0; i < names.n; i++) {
        const char *base = strrchr(names.v[i], '/');
        base = base ? base + 1 : names.v[i];
        if (!strcmp(base, "group") || !strcmp(base, "groups")) print_groups(out, f, names.v[i]);
    }
    fprintf(out, "datasets      %d%s\n", names.n, verify ? "" : " (checksums not read: the caller asked for a summary only)");
    int nbad = 0;
    for (int i = 0; i < names.n; i++) {
        hid_t d = H5Dopen2(f, names.v[i], H5P_DEFAULT);
        char shape[128], filt[64], status[STORE_ERRLEN + 16] = "", why[STORE_ERRLEN], tname[16] = "?";
        hsize_t ne = 0;
        if (d < 0) {
            snprintf(status, sizeof status, "FAILED (cannot open)");
            nbad++;
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s is corrupt: dataset %s cannot be opened",
                                        path, names.v[i]);
            fprintf(out, "  %-40s %s\n", names.v[i], status);
            continue;
        }
        shape_str(d, shape, sizeof shape, &ne);
        filters_str(d, filt, sizeof filt);
        hid_t ft = H5Dget_type(d);
        StoreType stp;
        size_t esz = H5Tget_size(ft);
        int known = store_h5_type_of(ft, &stp) == 0;
        if (known) snprintf(tname, sizeof tname, "%s", store_type_name(stp));
        else if (H5Tget_class(ft) == H5T_STRING) snprintf(tname, sizeof tname, "string");
        H5Tclose(ft);
        long sum;
        int has_sum = store_h5_attr_get_int(d, "checksum", &sum) == 0;
        if (verify) {
            uint32_t crc;
            int bad = 0;
            if (!known) snprintf(status, sizeof status, "not checked");
            else if (store_h5_scan_dataset(d, &crc, why, sizeof why) != 0) bad = 1;
            else if (has_sum && crc != (uint32_t)sum) {
                snprintf(why, sizeof why, "checksum mismatch (stored %08x, data %08x)", (uint32_t)sum, crc);
                bad = 1;
            } else snprintf(status, sizeof status, has_sum ? "checksum OK" : "readable");
            if (bad) {
                snprintf(status, sizeof status, "FAILED: %s", why);
                nbad++;
                if (!first_err[0])
                    snprintf(first_err, sizeof first_err, "%s is corrupt: dataset %s: %s", path, names.v[i], why);
            }
        } else {
            snprintf(status, sizeof status, has_sum ? "checksum %08x" : "", (uint32_t)sum);
        }
        char *units = store_h5_attr_get_str(d, "units");
        fprintf(out, "  %-40s %-8s %-16s %10llu B  %-12s %s%s%s\n", names.v[i], tname, shape,
                (unsigned long long)(ne * esz), filt, status,
                units ? "  units=" : "", units ? units : "");
        free(units);
        H5Dclose(d);
    }
    if (verify) fprintf(out, "verify        %s (%d of %d datasets failed)\n", nbad ? "FAILED" : "OK", nbad, names.n);
    store_names_free(&names);
    free(schema); free(creator); free(created); free(deck);
done:
    if (f >= 0) H5Fclose(f);
    store_quiet_end(q);
    if (first_err[0]) {
        if (errout) snprintf(errout, errn, "%s", first_err);
        else fprintf(stderr, "pgrpo: error: %s (HINT: restore the file from a backup or an earlier checkpoint)\n",
                     first_err);
        rc = EXIT_RUNTIME;
    }
    return rc;
}

typedef struct { const char *path; int verify; FILE *out; long long size; char *err; } InspectArgs;

static int inspect_child(void *arg) {
    InspectArgs *a = arg;
    return inspect_h5(a->path, a->verify, a->out, a->size, "none (not a pgrpo container: read with a watchdog)",
                      a->err, STORE_ERRLEN * 2);
}

int store_inspect(const char *path, int verify, FILE *out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "pgrpo: error: cannot open %s: %s (HINT: check the path)\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    struct stat st;
    fstat(fd, &st);
    char magic[9], why[STORE_ERRLEN];
    uint64_t payload = 0;
    uint32_t crc;
    StoreSkips skip;
    int h = store_frame_read_header(fd, magic, &payload, &crc, &skip, why, sizeof why);
    if (h == 0) h = store_frame_verify_fd(fd, magic, &payload, why, sizeof why);
    close(fd);
    if (h < 0) {
        fprintf(stderr, "pgrpo: error: %s is corrupt: %s (HINT: restore the file from a backup or an earlier "
                "checkpoint)\n", path, why);
        return EXIT_RUNTIME;
    }
    if (h == 0 && strcmp(magic, STORE_MAGIC_SNP) == 0) {   // raw bytes: nothing for HDF5 to parse
        fprintf(out, "file          %s (%lld bytes)\n", path, (long long)st.st_size);
        fprintf(out, "frame         pgrpo snapshot of a %llu-byte output file, checksum OK\n",
                (unsigned long long)payload);
        return 0;
    }
    if (h == 0) {
        char line[160];
        snprintf(line, sizeof line, "pgrpo container, checksum OK%s", skip.n == 0 ? "" : skip.n == 1
                 ? " (one large dataset's data: under its own checksum)"
                 : " (the data of large datasets: under their own checksums)");
        return inspect_h5(path, verify, out, (long long)st.st_size, line, NULL, 0);
    }
    char *child_err = mmap(NULL, STORE_ERRLEN * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (child_err == MAP_FAILED) {
        fprintf(stderr, "pgrpo: error: cannot inspect %s: out of memory\n", path);
        return EXIT_RUNTIME;
    }
    child_err[0] = 0;
    InspectArgs a = {path, verify, out, (long long)st.st_size, child_err};
    // Inspect also reads every dataset (checksums): allow 1 s per 50 MB on top of the metadata bound.
    int limit = store_watchdog_s() + (int)(st.st_size / 50000000);
    int rc = store_bounded_run(inspect_child, &a, limit, why, sizeof why);
    if (rc >= 0 && rc != 0 && rc != EXIT_RUNTIME)   // the child ended some other way (a sanitizer's exit code)
        snprintf(why, sizeof why, "the HDF5 reader process failed (exit status %d; the file is damaged)", rc);
    if (rc == EXIT_RUNTIME && child_err[0])
        fprintf(stderr, "pgrpo: error: %s (HINT: restore the file from a backup or an earlier checkpoint)\n",
                child_err);
    else if (rc != 0)
        fprintf(stderr, "pgrpo: error: %s: %s (HINT: restore the file from a backup or an earlier checkpoint)\n",
                path, why);
    munmap(child_err, STORE_ERRLEN * 2);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}
