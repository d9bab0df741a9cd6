// test_gemm.c — gemm_nt_packed (src/nn/gemm.h) against a plain loop that does the same arithmetic: on FMA
// builds one fmaf chain per element over k in order, which the kernel must match bit for bit, whatever M, the
// column range, the row and k blocking (K past one 256 block), the leading dimensions and the edge panels.
// Without FMA the kernel multiplies and adds separately; then the reference does too.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "rng.h"
#include "../../src/nn/gemm.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define MULADD(x, w, acc) fmaf(x, w, acc)
#else
#define MULADD(x, w, acc) ((acc) + (x) * (w))
#endif

static void fill(float *a, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) a[i] = (float)rng_normal(r);
}

// One case: out (M,ldo) starts random; columns [n0,n1) get += X W^T. Returns the number of differing floats
// (columns outside [n0,n1) and the padding past N must stay as they were).
static int check_case(int M, int N, int K, int n0, int n1, int ldx, int ldo, Rng *r) {
    float *x = malloc(sizeof(float) * M * ldx), *w = malloc(sizeof(float) * N * K);
    float *wp = malloc(sizeof(float) * gemm_packed_floats(N, K));
    float *out = malloc(sizeof(float) * M * ldo), *want = malloc(sizeof(float) * M * ldo);
    fill(x, (size_t)M * ldx, r);
    fill(w, (size_t)N * K, r);
    fill(out, (size_t)M * ldo, r);
    memcpy(want, out, sizeof(float) * M * ldo);
    for (int i = 0; i < M; i++)
        for (int j = n0; j < n1; j++) {
            float acc = want[(size_t)i * ldo + j];
            for (int k = 0; k < K; k++) acc = MULADD(x[(size_t)i * ldx + k], w[(size_t)j * K + k], acc);
            want[(size_t)i * ldo + j] = acc;
        }
    gemm_pack(wp, w, N, K);
    gemm_nt_packed(out, ldo, x, ldx, wp, M, K, n0, n1);
    int bad = 0;
    for (size_t i = 0; i < (size_t)M * ldo; i++) bad += memcmp(&out[i], &want[i], sizeof(float)) != 0;
    free(x); free(w); free(wp); free(out); free(want);
    return bad;
}

static void test_shapes_bit_exact(void) {
    Rng r;
    rng_seed(&r, 7, RNG_TEST, 0, 0);
    // (M, N, K): decode-like, prefill-like, edge rows (every remainder of the row tile), N not a multiple of
    // the panel, K = 1 and K past the 256 k block, a single row.
    int shapes[][3] = {{64, 96, 32}, {1, 40, 17}, {13, 37, 300}, {7, 16, 1}, {300, 64, 64}, {9, 100, 513},
                       {5, 8, 8}, {33, 3 * GEMM_NR + 5, 70}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        int bad = check_case(M, N, K, 0, N, K, N, &r);
        T_ASSERT(bad == 0, "M=%d N=%d K=%d: %d floats differ from the fmaf chain", M, N, K, bad);
        bad = check_case(M, N, K, 0, N, K + 3, N + 5, &r);   // leading dimensions wider than the rows
        T_ASSERT(bad == 0, "M=%d N=%d K=%d, ldx=K+3, ldo=N+5: %d floats differ", M, N, K, bad);
    }
}

// A column range, as a thread's share of a column split takes: the columns outside stay untouched, and the
// union of the parts equals the whole product (the split does not change the bits).
static void test_column_ranges(void) {
    Rng r;
    rng_seed(&r, 8, RNG_TEST, 0, 0);
    int N = 4 * GEMM_NR + 3;
    int ranges[][2] = {{0, GEMM_NR}, {GEMM_NR, 3 * GEMM_NR}, {3 * GEMM_NR, N}, {2 * GEMM_NR, N}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        int bad = check_case(11, N, 45, ranges[k][0], ranges[k][1], 45, N, &r);
        T_ASSERT(bad == 0, "columns [%d,%d): %d floats differ", ranges[k][0], ranges[k][1], bad);
    }
}

// The padding of the last panel is zero, and the packed size is whole panels.
static void test_pack_layout(void) {
    int N = GEMM_NR + 3, K = 5;
    T_ASSERT(gemm_packed_floats(N, K) == (size_t)2 * GEMM_NR * K, "packed size %zu", gemm_packed_floats(N, K));
    float w[(GEMM_NR + 3) * 5], wp[2 * GEMM_NR * 5];
    for (int i = 0; i < N * K; i++) w[i] = (float)(i + 1);
    gemm_pack(wp, w, N, K);
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < GEMM_NR; j++) {
                int n = p * GEMM_NR + j;
                float want = n < N ? w[n * K + k] : 0.0f;
                T_ASSERT(wp[(p * K + k) * GEMM_NR + j] == want, "panel %d k %d col %d", p, k, j);
            }
}

int main(void) {
    T_RUN(test_shapes_bit_exact);
    T_RUN(test_column_ranges);
    T_RUN(test_pack_layout);
    T_EXIT();
}
