// test_gemm.c — gemm_packed (src/nn/gemm.h) against a plain loop that does the same arithmetic: on FMA
// builds one fmaf chain per element over k in order, which the kernel must match bit for bit, whatever M, the
// column range, the row and k blocking (K past one 256 block), the leading dimensions, the edge panels, X
// given transposed or not and B packed from W or from W^T (gemm_pack, gemm_pack_t).
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

// How a case gives its operands: X (M,K) or X^T stored (K,M); B (N,K) as W (N,K) or as W^T, W (K,N).
enum { X_ROWS = 0, X_TRANS = 1, B_ROWS = 0, B_TRANS = 2 };

// Where a case's chains start (gemm.h GemmStart): out itself, add + bias, add, bias, zero.
enum { START_OUT, START_ADD_BIAS, START_ADD, START_BIAS, START_ZERO, N_STARTS };

// One case: out (M,ldo) starts random; columns [n0,n1) get start + op(X) B^T. Returns the number of differing
// floats (columns outside [n0,n1) and the padding past N must stay as they were). ldx: X's leading dimension
// (>= K, or >= M when transposed); add (M, ldo + 1) and bias (ldo) random.
static int check_case_from(int M, int N, int K, int n0, int n1, int ldx, int ldo, int how, int start, Rng *r) {
    int xt = how & X_TRANS, bt = how & B_TRANS;
    size_t nx = xt ? (size_t)K * ldx : (size_t)M * ldx;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * N * K);
    float *wp = malloc(sizeof(float) * gemm_packed_floats(N, K));
    float *out = malloc(sizeof(float) * M * ldo), *want = malloc(sizeof(float) * M * ldo);
    float *add = malloc(sizeof(float) * M * (ldo + 1)), *bias = malloc(sizeof(float) * ldo);
    fill(x, nx, r);
    fill(w, (size_t)N * K, r);
    fill(out, (size_t)M * ldo, r);
    fill(add, (size_t)M * (ldo + 1), r);
    fill(bias, (size_t)ldo, r);
    memcpy(want, out, sizeof(float) * M * ldo);
    GemmStart st = {start == START_ADD_BIAS || start == START_ADD ? add : NULL, ldo + 1,
                    start == START_ADD_BIAS || start == START_BIAS ? bias : NULL};
    for (int i = 0; i < M; i++)
        for (int j = n0; j < n1; j++) {
            float a = add[(size_t)i * (ldo + 1) + j], acc = start == START_OUT ? want[(size_t)i * ldo + j]
                                                   : start == START_ADD_BIAS ? a + bias[j]
                                                   : start == START_ADD ? a
                                                   : start == START_BIAS ? bias[j] : 0.0f;
            for (int k = 0; k < K; k++) {
                float xv = xt ? x[(size_t)k * ldx + i] : x[(size_t)i * ldx + k];
                float bv = bt ? w[(size_t)k * N + j] : w[(size_t)j * K + k];
                acc = MULADD(xv, bv, acc);
            }
            want[(size_t)i * ldo + j] = acc;
        }
    if (bt) gemm_pack_t(wp, w, N, N, K);
    else gemm_pack(wp, w, K, N, K);
    gemm_packed(out, ldo, x, ldx, xt, wp, M, K, n0, n1, start == START_OUT ? NULL : &st);
    int bad = 0;
    for (size_t i = 0; i < (size_t)M * ldo; i++) bad += memcmp(&out[i], &want[i], sizeof(float)) != 0;
    free(x); free(w); free(wp); free(out); free(want); free(add); free(bias);
    return bad;
}

static int check_case(int M, int N, int K, int n0, int n1, int ldx, int ldo, int how, Rng *r) {
    return check_case_from(M, N, K, n0, n1, ldx, ldo, how, START_OUT, r);
}

static void test_shapes_bit_exact(void) {
    Rng r;
    rng_seed(&r, 7, RNG_TEST, 0, 0);
    // (M, N, K): decode-like, prefill-like, edge rows (every remainder of the row tile), N not a multiple of
    // the panel, K = 1 and K past the 256 k block, a single row; M past GEMM_ROWS_OUTER (the row-tile-outer order),
    // with N past two of its 256-column passes (GEMM_NC).
    int shapes[][3] = {{64, 96, 32}, {1, 40, 17}, {13, 37, 300}, {7, 16, 1}, {300, 64, 64}, {9, 100, 513},
                       {5, 8, 8}, {33, 3 * GEMM_NR + 5, 70}, {100, 2 * GEMM_NR + 3, 600}, {50, 600, 40}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int how = 0; how < 4; how++) {
            int ldx = how & X_TRANS ? M : K;
            int bad = check_case(M, N, K, 0, N, ldx, N, how, &r);
            T_ASSERT(bad == 0, "M=%d N=%d K=%d how=%d: %d floats differ from the fmaf chain", M, N, K, how, bad);
            bad = check_case(M, N, K, 0, N, ldx + 3, N + 5, how, &r); // leading dimensions wider than the rows
            T_ASSERT(bad == 0, "M=%d N=%d K=%d how=%d, ldx+3, ldo=N+5: %d floats differ", M, N, K, how, bad);
        }
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
        int bad = check_case(11, N, 45, ranges[k][0], ranges[k][1], 45, N, X_ROWS | B_ROWS, &r);
        T_ASSERT(bad == 0, "columns [%d,%d): %d floats differ", ranges[k][0], ranges[k][1], bad);
    }
}

// The padding of the last panel is zero, the packed size is whole panels, and packing W^T from W (K,N) with a
// leading dimension gives the panels of the transpose.
static void test_pack_layout(void) {
    int N = GEMM_NR + 3, K = 5;
    T_ASSERT(gemm_packed_floats(N, K) == (size_t)2 * GEMM_NR * K, "packed size %zu", gemm_packed_floats(N, K));
    float w[(GEMM_NR + 3) * 5], wp[2 * GEMM_NR * 5];
    for (int i = 0; i < N * K; i++) w[i] = (float)(i + 1);
    gemm_pack(wp, w, K, N, K);
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < GEMM_NR; j++) {
                int n = p * GEMM_NR + j;
                float want = n < N ? w[n * K + k] : 0.0f;
                T_ASSERT(wp[(p * K + k) * GEMM_NR + j] == want, "panel %d k %d col %d", p, k, j);
            }
    float wt[5 * (GEMM_NR + 4)], wpt[2 * GEMM_NR * 5]; // W^T stored (K, N+1): leading dimension N+1
    for (int k = 0; k < K; k++)
        for (int n = 0; n <= N; n++) wt[k * (N + 1) + n] = n < N ? w[n * K + k] : -1.0f;
    gemm_pack_t(wpt, wt, N + 1, N, K);
    T_ASSERT(memcmp(wp, wpt, sizeof wpt) == 0, "gemm_pack_t of W^T differs from gemm_pack of W");
}

// gemm_packed_prefix: panels packed with kp rows, the product over the first K of them (causal attention's
// row blocks), against gemm_packed on B packed with exactly K: the same bits; kp = K is gemm_packed itself.
static void test_prefix(void) {
    Rng r;
    rng_seed(&r, 9, RNG_TEST, 0, 0);
    int M = 13, N = 2 * GEMM_NR + 7, kp = 70;
    float x[13 * 70], w[(2 * GEMM_NR + 7) * 70], out[13 * (2 * GEMM_NR + 7)], want[13 * (2 * GEMM_NR + 7)];
    float *wp = malloc(sizeof(float) * gemm_packed_floats(N, kp));
    float *wk = malloc(sizeof(float) * gemm_packed_floats(N, kp));
    fill(x, sizeof x / sizeof x[0], &r);
    fill(w, sizeof w / sizeof w[0], &r);
    gemm_pack_t(wp, w, N, N, kp);          // W (kp, N): B = W^T, panels of kp rows
    for (int K = 1; K <= kp; K += 23) {
        fill(out, sizeof out / sizeof out[0], &r);
        memcpy(want, out, sizeof out);
        gemm_pack_t(wk, w, N, N, K);       // the first K rows of W only
        gemm_packed(want, N, x, kp, 0, wk, M, K, 0, N, NULL);
        gemm_packed_prefix(out, N, x, kp, 0, wp, kp, M, K, 0, N, NULL);
        T_ASSERT(memcmp(out, want, sizeof out) == 0, "K=%d of kp=%d: the prefix product differs", K, kp);
    }
    free(wp); free(wk);
}

// Each start (gemm.h GemmStart) on every edge the kernel has: full and partial panels, row tile remainders, K
// past one k block (the start enters the first block only), a column range, K = 0 (out = the start); both tile
// orders (M under and past gemm.c's GEMM_ROWS_OUTER).
static void test_starts(void) {
    Rng r;
    rng_seed(&r, 10, RNG_TEST, 0, 0);
    int shapes[][5] = {{13, 2 * GEMM_NR + 5, 300, 0, 2 * GEMM_NR + 5}, {7, GEMM_NR, 1, 0, GEMM_NR},
                       {9, 3 * GEMM_NR + 3, 40, GEMM_NR, 3 * GEMM_NR + 3}, {5, 11, 0, 0, 11},
                       {61, 2 * GEMM_NR + 5, 300, 0, 2 * GEMM_NR + 5}, {50, 3 * GEMM_NR + 3, 40, GEMM_NR, 3 * GEMM_NR + 3}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int start = 0; start < N_STARTS; start++)
            for (int how = 0; how < 4; how++) {
                int M = shapes[c][0], N = shapes[c][1], K = shapes[c][2], ldx = how & X_TRANS ? M : K;
                int bad = check_case_from(M, N, K, shapes[c][3], shapes[c][4], ldx ? ldx : 1, N + 2, how, start, &r);
                T_ASSERT(bad == 0, "M=%d N=%d K=%d columns [%d,%d) how=%d start=%d: %d floats differ", M, N, K,
                         shapes[c][3], shapes[c][4], how, start, bad);
            }
}

int main(void) {
    T_RUN(test_shapes_bit_exact);
    T_RUN(test_starts);
    T_RUN(test_prefix);
    T_RUN(test_column_ranges);
    T_RUN(test_pack_layout);
    T_EXIT();
}
