// snapshot.c — framed, verified copies of output files (see snapshot.h; frame layout in store_frame.c).
#include "snapshot.h"
#include "store_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_CHUNK (1 << 20)

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

// Streams n bytes from in (at its current offset) to out, returning their CRC-32 in *crc.
// Returns 0, or -1 with why ("read error ...", "write error ...", "ended early").
static int copy_crc(int in, int out, uint64_t n, uint32_t *crc, char *why, size_t wn) {
    unsigned char *buf = malloc(SNAP_CHUNK);
    if (!buf) { snprintf(why, wn, "out of memory"); return -1; }
    uint32_t c = 0;
    int rc = 0;
    while (n > 0) {
        size_t want = n < SNAP_CHUNK ? (size_t)n : SNAP_CHUNK;
        ssize_t got = read(in, buf, want);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(why, wn, got < 0 ? "read error: %s" : "ended early%s", got < 0 ? strerror(errno) : "");
            rc = -1;
            break;
        }
        c = store_crc32(c, buf, (size_t)got);
        if (write_all(out, buf, (size_t)got) != 0) {
            snprintf(why, wn, "write error: %s", strerror(errno));
            rc = -1;
            break;
        }
        n -= (uint64_t)got;
    }
    free(buf);
    *crc = c;
    return rc;
}

static int open_tmp(const char *final, char *tmp, size_t n, char *err, size_t errlen) {
    snprintf(tmp, n, "%s.tmp.%ld", final, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) store_seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return fd;
}

int snapshot_save(const char *src, const char *snap_path, char *err, size_t errlen) {
    int in = open(src, O_RDONLY);
    if (in < 0) {
        store_seterr(err, errlen, "cannot snapshot %s: %s", src, strerror(errno));
        return -1;
    }
    struct stat st;
    char tmp[STORE_PATHLEN + 32], why[256];
    if (fstat(in, &st) != 0) {
        store_seterr(err, errlen, "cannot stat %s: %s", src, strerror(errno));
        close(in);
        return -1;
    }
    int out = open_tmp(snap_path, tmp, sizeof tmp, err, errlen);
    if (out < 0) {
        close(in);
        return -1;
    }
    unsigned char hdr[STORE_FRAME_BYTES] = {0};
    uint32_t crc = 0;
    uint64_t n = (uint64_t)st.st_size;
    int rc = -1;
    if (write_all(out, hdr, sizeof hdr) != 0)
        store_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    else if (copy_crc(in, out, n, &crc, why, sizeof why) != 0)
        store_seterr(err, errlen, "cannot snapshot %s into %s: %s", src, tmp, why);
    else {
        store_frame_header(hdr, STORE_MAGIC_SNP, n, crc, NULL);
        if (pwrite(out, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || fsync(out) != 0)
            store_seterr(err, errlen, "cannot finish %s: %s", tmp, strerror(errno));
        else if (store_frame_verify_fd(out, STORE_MAGIC_SNP, NULL, why, sizeof why) != 0)   // read back
            store_seterr(err, errlen, "snapshot %s did not verify after writing: %s", tmp, why);
        else rc = 0;
    }
    close(in);
    close(out);
    if (rc == 0) rc = store_rename_durable(tmp, snap_path, err, errlen);
    if (rc) unlink(tmp);
    return rc;
}

// Opens snap_path and checks its header and size; returns the fd positioned at the payload, or -1 with err.
static int open_checked(const char *snap_path, uint64_t *payload, uint32_t *crc, char *err, size_t errlen) {
    int fd = open(snap_path, O_RDONLY);
    if (fd < 0) {
        store_seterr(err, errlen, "cannot open snapshot %s: %s", snap_path, strerror(errno));
        return -1;
    }
    char magic[9], why[256];
    struct stat st;
    int h = store_frame_read_header(fd, magic, payload, crc, NULL, why, sizeof why);
    if (h == 1 || (h == 0 && strcmp(magic, STORE_MAGIC_SNP) != 0))
        store_seterr(err, errlen, "%s is not a pgrpo snapshot (%s)", snap_path,
                     h == 1 ? "no pgrpo header; a pgrpo before schema 2 or a plain copy wrote it" : "a container");
    else if (h < 0) store_seterr(err, errlen, "%s is corrupt: %s", snap_path, why);
    else if (fstat(fd, &st) != 0) store_seterr(err, errlen, "cannot stat %s: %s", snap_path, strerror(errno));
    else if ((uint64_t)st.st_size != STORE_FRAME_BYTES + *payload)
        store_seterr(err, errlen, "%s is corrupt: %s (%lld bytes, its header says %llu)", snap_path,
                     (uint64_t)st.st_size < STORE_FRAME_BYTES + *payload ? "truncated" : "extra bytes at the end",
                     (long long)st.st_size, (unsigned long long)(STORE_FRAME_BYTES + *payload));
    else if (lseek(fd, STORE_FRAME_BYTES, SEEK_SET) != STORE_FRAME_BYTES)
        store_seterr(err, errlen, "cannot seek in %s: %s", snap_path, strerror(errno));
    else return fd;
    close(fd);
    return -1;
}

int snapshot_restore(const char *snap_path, const char *dst, char *err, size_t errlen) {
    uint64_t n;
    uint32_t want, got = 0;
    int in = open_checked(snap_path, &n, &want, err, errlen);
    if (in < 0) return -1;
    char tmp[STORE_PATHLEN + 32], why[256];
    int out = open_tmp(dst, tmp, sizeof tmp, err, errlen);
    if (out < 0) { close(in); return -1; }
    int rc = -1;
    if (copy_crc(in, out, n, &got, why, sizeof why) != 0)
        store_seterr(err, errlen, "cannot restore %s from %s: %s", dst, snap_path, why);
    else if (got != want)
        store_seterr(err, errlen, "%s is corrupt: checksum mismatch (header %08x, contents %08x); %s left as it was",
                     snap_path, want, got, dst);
    else if (fsync(out) != 0) store_seterr(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
    else rc = 0;
    close(in);
    close(out);
    if (rc == 0) rc = store_rename_durable(tmp, dst, err, errlen);
    if (rc) unlink(tmp);
    return rc;
}

int snapshot_verify(const char *snap_path, char *err, size_t errlen) {
    uint64_t n;
    uint32_t want, got = 0;
    int in = open_checked(snap_path, &n, &want, err, errlen);
    if (in < 0) return -1;
    char why[256];
    int rc = store_frame_crc_range(in, STORE_FRAME_BYTES, n, &got, why, sizeof why);
    close(in);
    if (rc != 0) store_seterr(err, errlen, "cannot read %s: %s", snap_path, why);
    else if (got != want) {
        store_seterr(err, errlen, "%s is corrupt: checksum mismatch (header %08x, contents %08x)", snap_path, want, got);
        rc = -1;
    }
    return rc;
}
