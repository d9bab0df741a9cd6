// test.h — a tiny TAP-style harness. Each test function prints "ok - name" or "not ok - name";
// tests/run.sh counts those lines across every test program and script.
#ifndef PGRPO_TEST_H
#define PGRPO_TEST_H
#include <stdio.h>
#include <math.h>

static int test_failed_;   // failures inside the running test function
static int test_total_failed_;

#define T_ASSERT(cond, ...) do { if (!(cond)) { \
    printf("#   %s:%d: assertion failed: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n"); test_failed_++; } } while (0)

#define T_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= (tol))) { \
    printf("#   %s:%d: %s = %.9g vs %s = %.9g (tol %g)\n", __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); \
    test_failed_++; } } while (0)

#define T_RUN(fn) do { test_failed_ = 0; fn(); \
    printf("%s - %s\n", test_failed_ ? "not ok" : "ok", #fn); fflush(stdout); \
    if (test_failed_) test_total_failed_++; } while (0)

#define T_EXIT() return test_total_failed_ ? 1 : 0

#endif
