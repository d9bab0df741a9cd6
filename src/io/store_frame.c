// store_frame.c — the pgrpo frame: a 512-byte header in front of a file's payload that makes the whole file
// self-verifying before any parser (HDF5) sees it, plus the bounded runner for files without one.
//
// Layout (little-endian), shared by containers (payload = the HDF5 file; the header is its HDF5 user block, so
// h5py/h5dump read the file as usual) and output snapshots (payload = the raw bytes of the copied file):
//   0   magic[8]        "PGRPOCTR" (container) or "PGRPOSNP" (snapshot)
//   8   u32 version     1 (snapshots, containers before skip ranges) or 2 (containers)
//   12  u32 header      512 (bytes before the payload)
//   16  u64 payload     payload bytes = file size - 512
//   24  u32 crc         CRC-32 of the payload, less the skipped ranges (version 2)
//   version 1: 28 note
//   version 2: 28 u32 nskip (0..STORE_FRAME_MAX_SKIP), 32 nskip x (u64 offset, u64 length): byte ranges of the
//              file, sorted, disjoint, inside the payload; 224 note
//   508 u32 header_crc  CRC-32 of bytes [0, 508), so no byte of the file goes unchecked
// Why a frame rather than HDF5's own checks: a damaged superblock or object header can make the HDF5 library loop
// forever (issue 8, A2); a CRC checked first means HDF5 only ever parses bytes pgrpo itself wrote.
// Why skip ranges: they are the raw data of large contiguous datasets (the weights and moments of a checkpoint),
// which HDF5 copies but never parses and which carry their own CRC-32 (`checksum`, checked as store_get reads them
// and by `pgrpo inspect`). Leaving them out of the frame's CRC lets a resume read a large checkpoint once, not
// twice, while every byte of HDF5 metadata is still checked before HDF5 sees it.
#include "store_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME_VERSION 2u        // what the writer of containers writes; version 1 is read too
#define FRAME_NOTE_V2 224
#define FRAME_CHUNK (256 << 10)

static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

void store_frame_header(unsigned char hdr[STORE_FRAME_BYTES], const char *magic, uint64_t payload, uint32_t crc,
                        const StoreSkips *skip) {
    memset(hdr, 0, STORE_FRAME_BYTES);
    memcpy(hdr, magic, 8);
    put_u32(hdr + 8, skip ? FRAME_VERSION : 1u);
    put_u32(hdr + 12, STORE_FRAME_BYTES);
    put_u64(hdr + 16, payload);
    put_u32(hdr + 24, crc);
    size_t at = 28;
    if (skip) {
        put_u32(hdr + 28, (uint32_t)skip->n);
        for (int i = 0; i < skip->n; i++) {
            put_u64(hdr + 32 + 16 * i, skip->r[i].off);
            put_u64(hdr + 40 + 16 * i, skip->r[i].len);
        }
        at = FRAME_NOTE_V2;
    }
    const char *note = strcmp(magic, STORE_MAGIC_CTR) == 0
        ? "\npgrpo container: an HDF5 file follows at byte 512 (its user block). Checked before HDF5 reads it: "
          "CRC-32 at 24 of bytes 512.. less the ranges listed at 28 (large datasets' data: each has its own "
          "checksum attribute); CRC-32 of bytes 0..507 at 508.\n"
        : "\npgrpo snapshot: the raw bytes of one output file follow at byte 512. CRC-32 of bytes 512.. at offset "
          "24, of bytes 0..507 at offset 508. Restore it with pgrpo (train --resume), not by hand.\n";
    size_t room = 508 - at;
    memcpy(hdr + at, note, strlen(note) < room ? strlen(note) : room);
    put_u32(hdr + 508, store_crc32(0, hdr, 508));
}

// The skip table of a version-2 header: sorted, disjoint, non-empty ranges inside the payload.
static int read_skips(const unsigned char *h, uint64_t payload, StoreSkips *skip, char *why, size_t n) {
    uint32_t k = get_u32(h + 28);
    if (k > STORE_FRAME_MAX_SKIP || (k > 0 && !skip)) {
        snprintf(why, n, "damaged pgrpo header (%u skipped ranges%s)", k, skip ? "" : " in a snapshot");
        return -1;
    }
    uint64_t prev_end = STORE_FRAME_BYTES;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t off = get_u64(h + 32 + 16 * i), len = get_u64(h + 40 + 16 * i);
        uint64_t end = STORE_FRAME_BYTES + payload;
        if (len == 0 || off < prev_end || off > end || len > end - off) {
            snprintf(why, n, "damaged pgrpo header (skipped range %u: %llu bytes at %llu)", i,
                     (unsigned long long)len, (unsigned long long)off);
            return -1;
        }
        skip->r[i].off = off;
        skip->r[i].len = len;
        prev_end = off + len;
    }
    if (skip) skip->n = (int)k;
    return 0;
}

int store_frame_read_header(int fd, char magic_out[9], uint64_t *payload, uint32_t *crc, StoreSkips *skip, char *why,
                            size_t n) {
    unsigned char h[STORE_FRAME_BYTES];
    ssize_t got = pread(fd, h, sizeof h, 0);
    if (got < 0) { snprintf(why, n, "cannot read: %s", strerror(errno)); return -1; }
    if (got < 8 || (memcmp(h, STORE_MAGIC_CTR, 8) != 0 && memcmp(h, STORE_MAGIC_SNP, 8) != 0)) {
        snprintf(why, n, "no pgrpo header");
        return 1;
    }
    memcpy(magic_out, h, 8);
    magic_out[8] = 0;
    if (got < STORE_FRAME_BYTES) { snprintf(why, n, "truncated inside its pgrpo header (%zd bytes)", got); return -1; }
    if (get_u32(h + 508) != store_crc32(0, h, 508)) { snprintf(why, n, "damaged pgrpo header (checksum mismatch)"); return -1; }
    uint32_t version = get_u32(h + 8);
    if ((version != 1 && version != FRAME_VERSION) || get_u32(h + 12) != STORE_FRAME_BYTES) {
        snprintf(why, n, "pgrpo header version %u (this pgrpo reads 1 and %u; a newer pgrpo wrote it?)", version,
                 FRAME_VERSION);
        return -1;
    }
    *payload = get_u64(h + 16);
    *crc = get_u32(h + 24);
    if (skip) skip->n = 0;
    return version == 1 ? 0 : read_skips(h, *payload, skip, why, n);
}

// *crc continued over [off, off+len) of fd, streamed; -1 with why on a read error or a short file.
int store_frame_crc_range(int fd, uint64_t off, uint64_t len, uint32_t *crc, char *why, size_t n) {
    unsigned char *buf = malloc(FRAME_CHUNK);
    if (!buf) { snprintf(why, n, "out of memory"); return -1; }
    uint32_t c = *crc;
    int rc = 0;
    while (len > 0) {
        size_t want = len < FRAME_CHUNK ? (size_t)len : FRAME_CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) {
            snprintf(why, n, got < 0 ? "read error: %s" : "unexpected end of file%s", got < 0 ? strerror(errno) : "");
            rc = -1;
            break;
        }
        c = store_crc32(c, buf, (size_t)got);
        off += (uint64_t)got;
        len -= (uint64_t)got;
    }
    free(buf);
    *crc = c;
    return rc;
}

int store_frame_crc_payload(int fd, uint64_t payload, const StoreSkips *skip, uint32_t *crc, char *why, size_t n) {
    uint64_t at = STORE_FRAME_BYTES, end = STORE_FRAME_BYTES + payload;
    uint32_t c = 0;
    for (int i = 0; i <= (skip ? skip->n : 0); i++) {
        uint64_t stop = skip && i < skip->n ? skip->r[i].off : end;
        if (stop > at && store_frame_crc_range(fd, at, stop - at, &c, why, n) != 0) return -1;
        if (skip && i < skip->n) at = skip->r[i].off + skip->r[i].len;
    }
    *crc = c;
    return 0;
}

int store_frame_verify_fd(int fd, const char *magic, uint64_t *payload_out, char *why, size_t n) {
    char m[9];
    uint64_t payload;
    uint32_t crc, have;
    StoreSkips skip;
    int h = store_frame_read_header(fd, m, &payload, &crc, strcmp(magic, STORE_MAGIC_CTR) ? NULL : &skip, why, n);
    if (h) return h;
    if (strcmp(m, magic) != 0) {
        snprintf(why, n, "a pgrpo %s, not a pgrpo %s", strcmp(m, STORE_MAGIC_SNP) ? "container" : "snapshot",
                 strcmp(magic, STORE_MAGIC_SNP) ? "container" : "snapshot");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) { snprintf(why, n, "cannot stat: %s", strerror(errno)); return -1; }
    uint64_t size = (uint64_t)st.st_size;
    if (size != STORE_FRAME_BYTES + payload) {
        snprintf(why, n, "%s (%llu bytes, its header says %llu)", size < STORE_FRAME_BYTES + payload
                 ? "truncated" : "has extra bytes at the end", (unsigned long long)size,
                 (unsigned long long)(STORE_FRAME_BYTES + payload));
        return -1;
    }
    if (store_frame_crc_payload(fd, payload, strcmp(magic, STORE_MAGIC_CTR) ? NULL : &skip, &have, why, n) != 0)
        return -1;
    if (have != crc) {
        snprintf(why, n, "checksum mismatch (header %08x, contents %08x): damaged", crc, have);
        return -1;
    }
    if (payload_out) *payload_out = payload;
    return 0;
}

int store_frame_verify(const char *path, const char *magic, char *why, size_t n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { snprintf(why, n, "cannot open: %s", strerror(errno)); return -1; }
    int rc = store_frame_verify_fd(fd, magic, NULL, why, n);
    close(fd);
    return rc;
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded run: fn(arg) in a forked child with a deadline. The child ends with _exit, never exit(): HDF5's and
// MPI's exit handlers belong to the parent (an MPI-IO file closed from a child would wait on a collective).
// Results travel back through memory the caller mapped MAP_SHARED before calling.

int store_watchdog_s(void) {
    const char *e = getenv("PGRPO_WATCHDOG_S");
    int s = e && *e ? atoi(e) : 0;
    return s >= 1 && s <= 3600 ? s : STORE_WATCHDOG_S;
}

int store_bounded_run(int (*fn)(void *), void *arg, int seconds, char *why, size_t n) {
    fflush(NULL);   // buffered output must not be written twice
    pid_t pid = fork();
    if (pid < 0) { snprintf(why, n, "cannot fork a reader process: %s", strerror(errno)); return -1; }
    if (pid == 0) {
        // Default dispositions: a crash must end the child by its signal (which the parent reports), not run a
        // handler inherited from the caller (the trainer's preemption flags, a sanitizer's SEGV report).
        int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
        // The child reports through the caller's shared memory and its own stdout; HDF5's or a failing
        // allocator's messages about a damaged file would only break the one-line error rule.
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) { dup2(devnull, 2); close(devnull); }
        alarm((unsigned)seconds);   // default action ends the child; the parent below waits a little longer
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc & 0xff);
    }
    int status = 0;
    struct timespec nap = {0, 2000000};
    long waited_ms = 0, limit_ms = 1000L * (seconds + 2);
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && waited_ms < limit_ms) {
        nanosleep(&nap, NULL);
        waited_ms += 2;
    }
    if (w == 0) {   // the child ignored its alarm: stop it the hard way
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        status = SIGALRM;   // report as a timeout
        snprintf(why, n, "HDF5 did not finish reading it within %d s (damaged metadata makes it loop)", seconds);
        return -1;
    }
    if (w < 0) { snprintf(why, n, "lost the reader process: %s", strerror(errno)); return -1; }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM || sig == SIGKILL)
            snprintf(why, n, "HDF5 did not finish reading it within %d s (damaged metadata makes it loop)", seconds);
        else snprintf(why, n, "HDF5 crashed reading it (signal %d: %s; the file is damaged)", sig, strsignal(sig));
        return -1;
    }
    return WEXITSTATUS(status);
}
