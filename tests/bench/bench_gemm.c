// bench_gemm.c — pgrpo's packed-weight GEMM (src/nn/gemm.h) against OpenBLAS's cblas_sgemm on the model's
// weight-product shapes, one thread, in the same run: out (M,N) += X (M,K) W^T with W (N,K), the forward of a
// Linear layer. OpenBLAS is timed as the model would call it (W repacked by OpenBLAS inside every call); the own
// kernel with W packed once (as the sampler packs per call and the learner per forward), and with the packing
// included in every call ("+pack"). Prints `shape gflops` lines and the ratios; run with OPENBLAS_NUM_THREADS=1.
// usage: bench_gemm [reps]
#include <stdio.h>
#include <stdlib.h>
#include <cblas.h>
#include "../../src/nn/gemm.h"
#include "best_time.h"

enum { OPENBLAS, PACKED, PACKED_EACH_CALL };

typedef struct { int how, M, N, K; const float *x, *w; float *wp, *out; } GemmCall;

static void gemm_call(void *ctx, int i) {
    (void)i;
    const GemmCall *g = ctx;
    int M = g->M, N = g->N, K = g->K;
    if (g->how == OPENBLAS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, g->x, K, g->w, K, 1.0f, g->out, N);
        return;
    }
    if (g->how == PACKED_EACH_CALL) gemm_pack(g->wp, g->w, K, N, K);
    gemm_packed(g->out, N, g->x, K, 0, g->wp, M, K, 0, N, NULL);
}

// Best-of-reps seconds per call (each rep enough calls to last ~5 ms).
static double time_calls(int how, int M, int N, int K, const float *x, const float *w, float *wp, float *out,
                         int reps) {
    GemmCall g = {how, M, N, K, x, w, wp, out};
    return best_seconds_per_call(gemm_call, &g, reps, 5e-3);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    // (M, N, K): decode steps (16 and 64 rows) and a learner/prefill batch (1024 rows) of the d256 model's qkv
    // and MLP projections, and the GPT-2-small MLP at 32 rows (its decode).
    int shapes[][3] = {{16, 768, 256}, {64, 768, 256}, {64, 256, 1024}, {1024, 768, 256}, {1024, 256, 1024},
                       {32, 3072, 768}};
    printf("gemm_isa %s\n", GEMM_NR == 32 ? "AVX-512" : GEMM_NR == 16 ? "AVX2" : "plain");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
        float *wp = malloc(sizeof(float) * gemm_packed_floats(N, K)), *out = calloc((size_t)M * N, sizeof(float));
        for (size_t i = 0; i < (size_t)M * K; i++) x[i] = (float)(i % 13) * 0.01f - 0.06f;
        for (size_t i = 0; i < (size_t)N * K; i++) w[i] = (float)(i % 7) * 0.02f - 0.06f;
        gemm_pack(wp, w, K, N, K);
        double f = 2.0 * M * N * K * 1e-9;
        double tb = time_calls(OPENBLAS, M, N, K, x, w, wp, out, reps);
        double tp = time_calls(PACKED, M, N, K, x, w, wp, out, reps);
        double te = time_calls(PACKED_EACH_CALL, M, N, K, x, w, wp, out, reps);
        printf("m%d_n%d_k%d.openblas_gflops %.1f\n", M, N, K, f / tb);
        printf("m%d_n%d_k%d.packed_gflops %.1f\n", M, N, K, f / tp);
        printf("m%d_n%d_k%d.packed_each_call_gflops %.1f\n", M, N, K, f / te);
        printf("m%d_n%d_k%d.packed_vs_openblas %.2f\n", M, N, K, tb / tp);
        free(x); free(w); free(wp); free(out);
    }
    return 0;
}
