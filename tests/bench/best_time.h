// best_time.h — the micro-benchmarks' timer (bench_gemm, bench_token_sampler): best-of-reps seconds per call,
// after one calibrating round that sets how many calls make a round last at least min_s.
#ifndef PGRPO_BENCH_BEST_TIME_H
#define PGRPO_BENCH_BEST_TIME_H
#include <time.h>

static double bench_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// call(ctx, i): the i-th call of a round (i from 0).
static double best_seconds_per_call(void (*call)(void *ctx, int i), void *ctx, int reps, double min_s) {
    double best = 1e30;
    int calls = 1;
    for (int rep = -1; rep < reps; rep++) {
        double t0 = bench_now_s();
        for (int i = 0; i < calls; i++) call(ctx, i);
        double dt = bench_now_s() - t0;
        if (rep < 0) { calls = dt > min_s ? 1 : (int)(min_s / (dt > 1e-7 ? dt : 1e-7)) + 1; continue; }
        if (dt / calls < best) best = dt / calls;
    }
    return best;
}

#endif
