// check.h — error reporting for users and for programmers.
// Every user-caused error ends in one line that names what was wrong and a HINT the user can act on.
#ifndef PGRPO_CHECK_H
#define PGRPO_CHECK_H
#include <stdio.h>
#include <stdlib.h>

// Exit codes are part of the CLI contract (README "Exit codes").
#define EXIT_USAGE 2        // bad deck, bad option, missing input file
#define EXIT_RUNTIME 3      // I/O failure, corrupt file, MPI failure
#define EXIT_PREEMPTED 75   // stopped cleanly on SIGTERM/SIGUSR1/max_walltime after a checkpoint (EX_TEMPFAIL)

// Fatal user error: "pgrpo: error: <msg> (HINT: <hint>)" then check_fatal_exit(code).
void die_user(int code, const char *hint, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));

// How a fatal error ends the process. Before a hook is set: exit(code). Once MPI is up, src/par sets a hook that
// ends the whole job (MPI_Abort) at once: a plain exit() would run HDF5's exit handler, which closes parallel
// files collectively and hangs while the other ranks go on. The hook must not return.
typedef void (*CheckFatalHook)(int code);
void check_set_fatal_hook(CheckFatalHook hook);
// Ends the process after a fatal error has been printed (the hook, else exit(code)).
void check_fatal_exit(int code) __attribute__((noreturn));

// The library side of "return errors with a message": formats into err (when errlen > 0) and returns -1, so a
// failing check reads `return check_errf(err, errlen, "...", ...)`.
int check_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// Internal invariant; a failure here is a pgrpo bug, reported with file:line.
#define CHECK(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "pgrpo: internal error at %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (HINT: this is a bug; please report it with the deck)\n"); \
    abort(); } } while (0)

// Allocation that cannot fail silently: names the size and the call site.
void *xmalloc_at(size_t n, const char *file, int line) __attribute__((returns_nonnull, malloc));
void *xcalloc_at(size_t n, size_t sz, const char *file, int line) __attribute__((returns_nonnull, malloc));
#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, sz) xcalloc_at((n), (sz), __FILE__, __LINE__)
// The same for the big long-lived arrays (parameters, gradients, moments, activations, caches): 2 MiB aligned and
// advised as transparent huge pages (advice only). Why: on this project's para-virtualised machines the first touch
// of a fresh 4 KiB page costs ~10 us, so touching 1 GB of new memory (loading a GPT-2-small checkpoint's moments,
// the first AdamW step) ran at ~400 MB/s; one fault per 2 MiB makes it memory speed. Freed with free().
// xcalloc_big zeroes (touching the pages), as calloc's contract requires.
void *malloc_big(size_t n);   // the same, NULL when out of memory (for libraries that report errors)
void *xmalloc_big_at(size_t n, const char *file, int line) __attribute__((returns_nonnull, malloc));
void *xcalloc_big_at(size_t n, size_t sz, const char *file, int line) __attribute__((returns_nonnull, malloc));
#define xmalloc_big(n) xmalloc_big_at((n), __FILE__, __LINE__)
#define xcalloc_big(n, sz) xcalloc_big_at((n), (sz), __FILE__, __LINE__)

#endif
