// check.c — fatal error helpers (see check.h).
#include "check.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// The MPI rank from the launcher's environment (mpirun, srun), without needing MPI here.
static int launcher_rank(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

// Owned by this module: set once at startup by the parallel layer (never from a signal handler).
static CheckFatalHook g_fatal_hook;

void check_set_fatal_hook(CheckFatalHook hook) { g_fatal_hook = hook; }

void check_fatal_exit(int code) {
    fflush(stdout);
    fflush(stderr);
    if (g_fatal_hook) g_fatal_hook(code);
    exit(code);
}

int check_errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void die_user(int code, const char *hint, const char *fmt, ...) {
    // A deck error is seen by every rank at once: let rank 0 say it (its fatal exit then stops the others), and
    // speak from another rank only when the error is that rank's alone.
    // The wait must survive signals: MPI_Abort's SIGTERM reaching a rank with the train signal handler installed
    // would otherwise cut a plain sleep short and let this rank print a second copy of rank 0's line.
    if (launcher_rank() > 0) {
        struct timespec left = {5, 0};
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {}
    }
    // One write of the whole line, so the launcher's own messages cannot cut into it.
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t cap = (size_t)(n > 0 ? n : 0) + strlen(hint ? hint : "") + 32;
    char *line = malloc(cap);
    if (line) {
        size_t len = (size_t)snprintf(line, cap, "pgrpo: error: ");
        va_start(ap, fmt);
        len += (size_t)vsnprintf(line + len, cap - len, fmt, ap);
        va_end(ap);
        if (hint && *hint) len += (size_t)snprintf(line + len, cap - len, " (HINT: %s)", hint);
        len += (size_t)snprintf(line + len, cap - len, "\n");
        fflush(stderr);
        ssize_t w = write(2, line, len < cap ? len : cap - 1);
        (void)w;
        free(line);
    } else {   // no memory even for the message: say it piecewise
        va_start(ap, fmt);
        fputs("pgrpo: error: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (HINT: %s)\n", hint ? hint : "");
    }
    check_fatal_exit(code);
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "pgrpo: error: out of memory allocating %zu bytes at %s:%d "
                "(HINT: use a smaller model/batch in the deck, or more memory per rank)\n", n, file, line);
        check_fatal_exit(EXIT_RUNTIME);
    }
    return p;
}

void *xcalloc_at(size_t n, size_t sz, const char *file, int line) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "pgrpo: error: out of memory allocating %zu x %zu bytes at %s:%d "
                "(HINT: use a smaller model/batch in the deck, or more memory per rank)\n", n, sz, file, line);
        check_fatal_exit(EXIT_RUNTIME);
    }
    return p;
}

#define BIG_ALIGN ((size_t)1 << 21)

void *malloc_big(size_t n) {
    if (n < BIG_ALIGN) return malloc(n ? n : 1);   // small: the ordinary heap is the better home
    void *p = NULL;
    if (posix_memalign(&p, BIG_ALIGN, n) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);   // advice only: without huge pages the memory is still correct
#endif
    return p;
}

void *xmalloc_big_at(size_t n, const char *file, int line) {
    void *p = malloc_big(n);
    if (!p) {
        fprintf(stderr, "pgrpo: error: out of memory allocating %zu bytes at %s:%d "
                "(HINT: use a smaller model/batch in the deck, or more memory per rank)\n", n, file, line);
        check_fatal_exit(EXIT_RUNTIME);
    }
    return p;
}

void *xcalloc_big_at(size_t n, size_t sz, const char *file, int line) {
    if (sz && n > SIZE_MAX / sz) return xcalloc_at(n, sz, file, line);   // overflow: calloc reports it
    void *p = xmalloc_big_at(n * sz, file, line);
    memset(p, 0, n * sz);
    return p;
}
