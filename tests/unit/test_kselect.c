// test_kselect.c — K-selection criteria: silhouette on hand-computed cases, row sample, BIC, eigengap.
#include "test.h"
#include "kmeans.h"
#include "kselect.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

// Silhouette with a guard after the documented scratch size: the function must not write past it.
static double sil(const double *X, const int *lab, long S, int d, int k) {
    size_t need = KSELECT_SILHOUETTE_SCRATCH(S, k);
    double *scratch = malloc(sizeof *scratch * (need + 4));
    for (size_t i = 0; i < need + 4; i++) scratch[i] = -7.0;
    double v = kselect_silhouette(X, lab, S, d, k, scratch);
    for (size_t i = need; i < need + 4; i++) T_ASSERT(scratch[i] == -7.0, "scratch written past its size at %zu", i);
    free(scratch);
    return v;
}

static void test_silhouette_two_clusters(void) {
    // {0,1} vs {4,5}: rows 0 and 3: a = 1, b = 4.5 -> 7/9; rows 1 and 2: a = 1, b = 3.5 -> 5/7. Mean 47/63.
    double X[] = {0, 1, 4, 5};
    int lab[] = {0, 0, 1, 1};
    T_NEAR(sil(X, lab, 4, 1, 2), 47.0 / 63.0, 1e-15);
    int swapped[] = {1, 1, 0, 0};   // label names do not matter
    T_NEAR(sil(X, swapped, 4, 1, 2), 47.0 / 63.0, 1e-15);
}

static void test_silhouette_singleton_and_absent_label(void) {
    // {0,1} and singleton {10}: 0.9, 8/9, 0 -> 161/270.
    double X[] = {0, 1, 10};
    int lab[] = {0, 0, 1};
    T_NEAR(sil(X, lab, 3, 1, 2), 161.0 / 270.0, 1e-15);
    // {0,2}, {3}, {10,11}, label 3 never used (k = 4): b is the nearest PRESENT cluster.
    // rows: (3-2)/3, (1-2)/2, 0 (alone), (7-1)/7, (8-1)/8 -> mean 263/840.
    double Y[] = {0, 2, 3, 10, 11};
    int lab2[] = {0, 0, 1, 2, 2};
    T_NEAR(sil(Y, lab2, 5, 1, 4), 263.0 / 840.0, 1e-15);
}

static void test_silhouette_2d_and_degenerate(void) {
    // 2-D: {(0,0),(3,4)} vs {(6,8)}: row 0: a = 5, b = 10 -> 1/2; row 1: a = 5, b = 5 -> 0; row 2 alone -> 0.
    double X[] = {0, 0, 3, 4, 6, 8};
    int lab[] = {0, 0, 1};
    T_NEAR(sil(X, lab, 3, 2, 2), 0.5 / 3.0, 1e-15);
    // Coincident rows: a = b = 0 scores 0 (sklearn's nan_to_num), not NaN.
    double Z[] = {1, 1, 1, 1};
    int lz[] = {0, 0, 1, 1};
    T_NEAR(sil(Z, lz, 4, 1, 2), 0.0, 0.0);
    // All singletons: each 0.
    int ls[] = {0, 1, 2, 3};
    T_NEAR(sil(X, ls, 3, 2, 4), 0.0, 0.0);
    // Fewer than 2 clusters present, a bad label, S < 2: NaN.
    int one[] = {1, 1, 1};
    T_ASSERT(isnan(sil(X, one, 3, 2, 2)), "one cluster");
    int bad[] = {0, 2, 1};
    T_ASSERT(isnan(sil(X, bad, 3, 2, 2)), "label out of range");
    int neg[] = {0, -1, 1};
    T_ASSERT(isnan(sil(X, neg, 3, 2, 2)), "negative label");
    T_ASSERT(isnan(sil(X, lab, 1, 2, 2)), "S = 1");
}

static void test_silhouette_reuses_dirty_scratch(void) {
    // The scratch from a larger call (dirty) must not leak into the next result.
    double X[] = {0, 1, 4, 5};
    int lab[] = {0, 0, 1, 1};
    double scratch[64];
    for (int i = 0; i < 64; i++) scratch[i] = 1e300;
    T_NEAR(kselect_silhouette(X, lab, 4, 1, 2, scratch), 47.0 / 63.0, 1e-15);
    T_NEAR(kselect_silhouette(X, lab, 4, 1, 2, scratch), 47.0 / 63.0, 1e-15);
}

static int ascending_distinct(const long *rows, long m, long n) {
    for (long i = 0; i < m; i++)
        if (rows[i] < 0 || rows[i] >= n || (i > 0 && rows[i] <= rows[i - 1])) return 0;
    return 1;
}

static void test_sample_rows(void) {
    enum { N = 1000, S = 100 };
    long a[S], b[S], c[S];
    kselect_sample_rows(42, N, S, a);
    kselect_sample_rows(42, N, S, b);
    kselect_sample_rows(43, N, S, c);
    T_ASSERT(memcmp(a, b, sizeof a) == 0, "same seed, same sample");
    T_ASSERT(memcmp(a, c, sizeof a) != 0, "another seed, another sample");
    T_ASSERT(ascending_distinct(a, S, N), "distinct, ascending, in range");
    T_ASSERT(ascending_distinct(c, S, N), "distinct, ascending, in range (seed 43)");
    long all[5] = {-1, -1, -1, -1, -1};
    kselect_sample_rows(1, 5, 9, all);   // s >= n: every row
    for (long i = 0; i < 5; i++) T_ASSERT(all[i] == i, "all rows: rows[%ld] = %ld", i, all[i]);
    long none[1] = {-5};
    kselect_sample_rows(1, 5, 0, none);
    T_ASSERT(none[0] == -5, "s = 0 writes nothing");
    long exact[4];
    kselect_sample_rows(7, 5, 4, exact);   // s = n - 1: exactly 4 rows out (Algorithm S never stops short)
    T_ASSERT(ascending_distinct(exact, 4, 5), "s = n - 1");
}

static void test_sample_rows_uniform(void) {
    // Each row is chosen with probability s/n: 3 of 10 over 20000 seeds -> 6000 each, sd ~65.
    enum { N = 10, S = 3, SEEDS = 20000 };
    long hits[N] = {0}, rows[S];
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        kselect_sample_rows(seed, N, S, rows);
        for (int i = 0; i < S; i++) hits[rows[i]]++;
    }
    for (int i = 0; i < N; i++) T_ASSERT(labs(hits[i] - SEEDS * S / N) < 400, "row %d chosen %ld times", i, hits[i]);
}

static void test_bic_formula(void) {
    // n = 4, d = 1, k = 2, sizes 2+2, inertia 1: sigma2 = 1/2; loglik = 4 log(1/2) - 2 log(pi) - 1; p = 4.
    long sizes[] = {2, 2};
    double want = 4.0 * log(0.5) - 2.0 * log(M_PI) - 1.0 - 2.0 * log(4.0);
    T_NEAR(kselect_bic(4, 1, 2, sizes, 1.0), want, 1e-13);
    T_ASSERT(isinf(kselect_bic(4, 1, 2, sizes, 0.0)) && kselect_bic(4, 1, 2, sizes, 0.0) > 0, "perfect fit: +inf");
    T_ASSERT(isnan(kselect_bic(2, 1, 2, sizes, 1.0)), "n <= k");
    T_ASSERT(isnan(kselect_bic(5, 1, 2, sizes, 1.0)), "sizes not summing to n");
    T_ASSERT(isnan(kselect_bic(4, 1, 2, sizes, -1.0)), "negative inertia");
    T_ASSERT(isnan(kselect_bic(4, 1, 2, sizes, NAN)), "NaN inertia");
    T_ASSERT(isnan(kselect_bic(4, 0, 2, sizes, 1.0)), "d = 0");
    long neg[] = {5, -1};
    T_ASSERT(isnan(kselect_bic(4, 1, 2, neg, 1.0)), "negative size");
}

static void test_bic_prefers_true_k(void) {
    // Three tight, well-apart 3-D blobs of unequal sizes: BIC over k = 1..6 (k-means fits) peaks at 3.
    enum { N = 600, D = 3, KMAX = 6 };
    static double X[N * D], C[KMAX * D];
    static int lab[N];
    const double centre[3][D] = {{0, 0, 0}, {8, 0, 0}, {0, 8, 3}};
    Rng r;
    rng_seed(&r, 5, RNG_TEST, 0, 0);
    for (int i = 0; i < N; i++)
        for (int t = 0; t < D; t++) X[i * D + t] = centre[i < 100 ? 0 : i < 300 ? 1 : 2][t] + rng_normal(&r);
    double best = -INFINITY;
    int best_k = 0;
    char err[128];
    for (int k = 1; k <= KMAX; k++) {
        double inertia;
        long sizes[KMAX] = {0};
        T_ASSERT(kmeans_fit_serial(X, N, D, k, 4, 300, 1e-6, 1, lab, C, &inertia, err, sizeof err) == 0, "%s", err);
        for (int i = 0; i < N; i++) sizes[lab[i]]++;
        double b = kselect_bic(N, D, k, sizes, inertia);
        T_ASSERT(isfinite(b), "k = %d: BIC %g", k, b);
        if (b > best) { best = b; best_k = k; }
    }
    T_ASSERT(best_k == 3, "BIC picked k = %d", best_k);
}

static void test_eigengap(void) {
    // Unequal signal values then noise: the ratio finds the edge (j = 3: 4/1), where the absolute difference
    // would pick the drop inside the signal block (j = 1: 10 - 5 = 5 > 4 - 1 = 3).
    double lam[] = {10, 5, 4, 1, 0.9};
    double gap[6] = {-1, -1, -1, -1, -1, -1};
    T_ASSERT(kselect_eigengap(lam, 5, 1, 3, gap) == 3, "signal edge");
    T_NEAR(gap[1], 2.0, 0.0); T_NEAR(gap[2], 1.25, 0.0); T_NEAR(gap[3], 4.0, 0.0);
    T_ASSERT(gap[0] == -1 && gap[4] == -1, "gap outside [lo, hi] untouched");
    T_ASSERT(kselect_eigengap(lam, 5, 1, 2, NULL) == 1, "hi limits the range (gap NULL)");
    T_ASSERT(kselect_eigengap(lam, 5, 2, 2, NULL) == 2, "lo = hi");
    // Spectral-like: three eigenvalues ~1 then a drop; exact zeros in the tail.
    double spec[] = {1, 0.99, 0.97, 0.2, 0.0, 0.0};
    T_ASSERT(kselect_eigengap(spec, 6, 2, 5, gap) == 4, "zero after a positive value: +inf gap");
    T_ASSERT(isinf(gap[4]) && gap[5] == 1.0, "0/0 counts as no gap");
    double spec2[] = {1, 0.99, 0.97, 0.2, 0.1};
    T_ASSERT(kselect_eigengap(spec2, 5, 2, 4, NULL) == 3, "k = 3 for three ~1 eigenvalues");
    // Ties: the smallest j.
    double tie[] = {4, 2, 1};
    T_ASSERT(kselect_eigengap(tie, 3, 1, 2, NULL) == 1, "tie -> smallest j");
    // Scale and squaring do not change the choice.
    double sq[5];
    for (int i = 0; i < 5; i++) sq[i] = 1e-6 * lam[i] * lam[i];
    T_ASSERT(kselect_eigengap(sq, 5, 1, 3, NULL) == 3, "squared and scaled values: same j");
}

static void test_eigengap_rejects(void) {
    double lam[] = {3, 2, 1};
    T_ASSERT(kselect_eigengap(lam, 3, 0, 1, NULL) == -1, "lo = 0");
    T_ASSERT(kselect_eigengap(lam, 3, 1, 3, NULL) == -1, "hi = m");
    T_ASSERT(kselect_eigengap(lam, 3, 2, 1, NULL) == -1, "hi < lo");
    double up[] = {1, 2, 0.5};
    T_ASSERT(kselect_eigengap(up, 3, 1, 2, NULL) == -1, "increasing");
    double neg[] = {1, 0.5, -0.1};
    T_ASSERT(kselect_eigengap(neg, 3, 1, 2, NULL) == -1, "negative");
    double nan[] = {1, NAN, 0.1};
    T_ASSERT(kselect_eigengap(nan, 3, 1, 2, NULL) == -1, "NaN");
}

int main(void) {
    T_RUN(test_silhouette_two_clusters);
    T_RUN(test_silhouette_singleton_and_absent_label);
    T_RUN(test_silhouette_2d_and_degenerate);
    T_RUN(test_silhouette_reuses_dirty_scratch);
    T_RUN(test_sample_rows);
    T_RUN(test_sample_rows_uniform);
    T_RUN(test_bic_formula);
    T_RUN(test_bic_prefers_true_k);
    T_RUN(test_eigengap);
    T_RUN(test_eigengap_rejects);
    T_EXIT();
}
