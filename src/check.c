// check.c — fatal error helpers (see check.h).
#include "check.h"
#include <stdarg.h>

void die_user(int code, const char *hint, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pgrpo: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (hint && *hint) fprintf(stderr, " (HINT: %s)", hint);
    fputc('\n', stderr);
    fflush(stderr);
    exit(code);
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "pgrpo: error: out of memory allocating %zu bytes at %s:%d "
                "(HINT: use a smaller model/batch in the deck, or more memory per rank)\n", n, file, line);
        exit(EXIT_RUNTIME);
    }
    return p;
}

void *xcalloc_at(size_t n, size_t sz, const char *file, int line) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "pgrpo: error: out of memory allocating %zu x %zu bytes at %s:%d "
                "(HINT: use a smaller model/batch in the deck, or more memory per rank)\n", n, sz, file, line);
        exit(EXIT_RUNTIME);
    }
    return p;
}
