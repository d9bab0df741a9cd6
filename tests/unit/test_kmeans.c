// test_kmeans — k-means++ and Lloyd: blob recovery, monotone inertia, determinism, the empty-cluster policy,
// the k-means++ draw helpers, errors, and the staged API run as simulated ranks (rows split, partials summed in
// rank order, exactly as src/par's driver reduces them) against the serial driver.
#include "kmeans.h"
#include "cluster_metrics.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

static char err[256];

// n rows in d dims around nb <= 7 distinct centres, coordinates in {-30,...,30} step 10, N(0, sigma^2) noise.
static void blobs(double *X, int *truth, int n, int d, int nb, double sigma, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed, RNG_TEST, 0, 0);
    for (int i = 0; i < n; i++) {
        int b = i % nb;
        truth[i] = b;
        for (int t = 0; t < d; t++) X[i * d + t] = (((b * 5 + t * 3) % 7) - 3) * 10.0 + sigma * rng_normal(&r);
    }
}

// One restart (init 0) of the distributed protocol over R simulated ranks with row bounds lo[0..R]; the same
// stages and reduction order as a real driver. trace (may be NULL): the inertia of every assignment pass.
static double fit_ranks(const double *X, int64_t n, int d, int k, int R, const int64_t *lo, int max_iter, double tol,
                        uint64_t seed, int *labels, double *C, double *trace, int *n_pass) {
    Rng r;
    kmeans_rng(&r, seed, 0);
    double *d2 = malloc(sizeof *d2 * (size_t)n), rank_sums[8];
    size_t PL = KMEANS_PARTIALS_LEN(k, d), FL = KMEANS_FAR_LEN(k, d);
    double *P = malloc(sizeof *P * PL * (size_t)R), *G = malloc(sizeof *G * PL), *far = malloc(sizeof *far * FL * (size_t)R);
    for (int q = 0; q < R; q++) kmeans_pp_init(d2 + lo[q], lo[q + 1] - lo[q]);
    for (int j = 0; j < k; j++) {
        double u = rng_uniform(&r), res = 0.0;
        int owner = j == 0 ? -1 : kmeans_pp_pick_rank(rank_sums, R, u, &res);
        int64_t g = owner < 0 ? kmeans_pick_uniform(u, n)
                              : lo[owner] + kmeans_pp_select(d2 + lo[owner], lo[owner + 1] - lo[owner], res);
        memcpy(C + (size_t)j * d, X + g * d, sizeof *C * (size_t)d);   // the owner's broadcast
        for (int q = 0; q < R; q++)
            rank_sums[q] = kmeans_pp_update(X + lo[q] * d, lo[q + 1] - lo[q], d, C + (size_t)j * d, d2 + lo[q]);
    }
    double mom[2 * 16] = {0}, ml[2 * 16];
    for (int q = 0; q < R; q++) {
        kmeans_moments(X + lo[q] * d, lo[q + 1] - lo[q], d, ml);
        for (int t = 0; t < 2 * d; t++) mom[t] += ml[t];
    }
    double tol_abs = kmeans_tol_abs(mom, n, d, tol), shift = INFINITY;
    for (int64_t i = 0; i < n; i++) labels[i] = -1;
    *n_pass = 0;
    for (int it = 0;; it++) {
        for (int q = 0; q < R; q++)
            kmeans_assign(X + lo[q] * d, lo[q + 1] - lo[q], d, lo[q], C, k, labels + lo[q], P + PL * q, far + FL * q);
        memcpy(G, P, sizeof *G * PL);
        for (int q = 1; q < R; q++) for (size_t c = 0; c < PL; c++) G[c] += P[PL * q + c];
        if (trace) trace[*n_pass] = G[(size_t)k * d + k];
        (*n_pass)++;
        if (G[(size_t)k * d + k + 1] == 0.0 || shift <= tol_abs || it == max_iter) break;
        shift = kmeans_update(G, far, R * k, k, d, C);
    }
    double inertia = G[(size_t)k * d + k];
    free(d2); free(P); free(G); free(far);
    return inertia;
}

static void test_blobs_recovered(void) {
    enum { N = 600, D = 4, K = 5 };
    double *X = malloc(sizeof *X * N * D), C[K * D], inertia;
    int truth[N], lab[N];
    blobs(X, truth, N, D, K, 0.5, 1);
    T_ASSERT(kmeans_fit_serial(X, N, D, K, 4, 300, 1e-4, 42, lab, C, &inertia, err, sizeof err) == 0, "%s", err);
    double ari = 0;
    T_ASSERT(cluster_ari(truth, lab, N, K, K, &ari, err, sizeof err) == 0, "%s", err);
    T_ASSERT(ari == 1.0, "ARI vs truth %.6f", ari);
    // each centroid is its cluster's mean, and the inertia is the sum of squared distances to it
    double s = 0;
    for (int i = 0; i < N; i++) for (int t = 0; t < D; t++) { double v = X[i * D + t] - C[lab[i] * D + t]; s += v * v; }
    T_NEAR(inertia, s, 1e-9 * s);
    T_ASSERT(inertia < N * D * 0.25 * 1.3, "inertia %g too large for sigma 0.5", inertia);
    free(X);
}

static void test_inertia_monotone(void) {
    enum { N = 500, D = 3, K = 7 };   // 7 centres on 4 overlapping blobs: many Lloyd passes
    double *X = malloc(sizeof *X * N * D), C[K * D], trace[400];
    int truth[N], lab[N], passes;
    blobs(X, truth, N, D, 4, 4.0, 2);
    int64_t lo[2] = {0, N};
    fit_ranks(X, N, D, K, 1, lo, 300, 0.0, 7, lab, C, trace, &passes);
    T_ASSERT(passes >= 4, "only %d passes: the case does not exercise Lloyd", passes);
    for (int p = 1; p < passes; p++)
        T_ASSERT(trace[p] <= trace[p - 1] * (1 + 1e-12), "pass %d: inertia %.17g > %.17g", p, trace[p], trace[p - 1]);
    T_ASSERT(trace[passes - 1] < trace[0], "inertia did not decrease: %g -> %g", trace[0], trace[passes - 1]);
    free(X);
}

static void test_deterministic(void) {
    enum { N = 400, D = 3, K = 6 };
    double *X = malloc(sizeof *X * N * D), C1[K * D], C2[K * D], C3[K * D], i1, i2, i3;
    int truth[N], l1[N], l2[N], l3[N];
    blobs(X, truth, N, D, 4, 3.0, 3);
    kmeans_fit_serial(X, N, D, K, 3, 100, 1e-4, 11, l1, C1, &i1, err, sizeof err);
    kmeans_fit_serial(X, N, D, K, 3, 100, 1e-4, 11, l2, C2, &i2, err, sizeof err);
    T_ASSERT(memcmp(l1, l2, sizeof l1) == 0 && memcmp(C1, C2, sizeof C1) == 0 && i1 == i2, "same seed differs");
    // another seed draws other starting centres (the seed is really used)
    int differs = 0;
    for (uint64_t s = 12; s < 16 && !differs; s++) {
        kmeans_fit_serial(X, N, D, K, 1, 0, 0, s, l3, C3, &i3, err, sizeof err);
        kmeans_fit_serial(X, N, D, K, 1, 0, 0, 11, l2, C2, &i2, err, sizeof err);
        differs = memcmp(C2, C3, sizeof C2) != 0;
    }
    T_ASSERT(differs, "the seed does not change the k-means++ centres");
    free(X);
}

// The staged API over 1 rank is the serial driver bit for bit; over 2 ranks (uneven split) the labels are the
// same and the centroids/inertia agree to rounding (the sums are associated differently).
static void test_two_ranks_match_serial(void) {
    enum { N = 501, D = 5, K = 4 };
    double *X = malloc(sizeof *X * N * D), Cs[K * D], C1[K * D], C2[K * D], is;
    int truth[N], ls[N], l1[N], l2[N], passes;
    blobs(X, truth, N, D, 4, 2.5, 4);
    T_ASSERT(kmeans_fit_serial(X, N, D, K, 1, 300, 1e-6, 5, ls, Cs, &is, err, sizeof err) == 0, "%s", err);
    int64_t one[2] = {0, N}, two[3] = {0, 190, N};
    double i1 = fit_ranks(X, N, D, K, 1, one, 300, 1e-6, 5, l1, C1, NULL, &passes);
    T_ASSERT(memcmp(ls, l1, sizeof ls) == 0 && memcmp(Cs, C1, sizeof Cs) == 0 && i1 == is, "1 rank != serial");
    double i2 = fit_ranks(X, N, D, K, 2, two, 300, 1e-6, 5, l2, C2, NULL, &passes);
    T_ASSERT(memcmp(ls, l2, sizeof ls) == 0, "2-rank labels differ from serial");
    for (int c = 0; c < K * D; c++) T_NEAR(C2[c], Cs[c], 1e-12 * (1 + fabs(Cs[c])));
    T_NEAR(i2, is, 1e-12 * is);
    free(X);
}

// Empty cluster: centre 2 sits far from every row, so it gets none and is re-seeded at the farthest row from
// its own centre; rows 1 and 3 tie (0.01): the lower global row index (1) wins — also across simulated ranks.
static void test_empty_cluster(void) {
    double X[8] = {0, 0, 0.1, 0, 10, 0, 10.1, 0}, C[6] = {0, 0, 10, 0, 100, 100};
    int lab[4] = {-1, -1, -1, -1};
    double P[KMEANS_PARTIALS_LEN(3, 2)], G[KMEANS_PARTIALS_LEN(3, 2)], far[2 * KMEANS_FAR_LEN(3, 2)];
    kmeans_assign(X, 2, 2, 0, C, 3, lab, G, far);                                  // rank 0: rows 0-1
    kmeans_assign(X + 4, 2, 2, 2, C, 3, lab + 2, P, far + KMEANS_FAR_LEN(3, 2));   // rank 1: rows 2-3
    for (size_t c = 0; c < KMEANS_PARTIALS_LEN(3, 2); c++) G[c] += P[c];
    T_ASSERT(lab[0] == 0 && lab[1] == 0 && lab[2] == 1 && lab[3] == 1, "labels %d %d %d %d", lab[0], lab[1], lab[2], lab[3]);
    T_ASSERT(G[6 + 2] == 0.0 && G[6 + 3 + 1] == 4.0, "count of cluster 2 %g, changed %g", G[8], G[10]);
    T_NEAR(G[6 + 3], 0.02, 1e-15);   // inertia
    kmeans_update(G, far, 6, 3, 2, C);
    T_NEAR(C[0], 0.05, 1e-15); T_NEAR(C[2], 10.05, 1e-15);
    T_ASSERT(C[4] == 0.1 && C[5] == 0.0, "re-seeded at (%g, %g), want row 1 (0.1, 0)", C[4], C[5]);
}

static void test_pp_draw(void) {
    double sums[3] = {0, 2, 3}, res = -1;
    T_ASSERT(kmeans_pp_pick_rank(sums, 3, 0.5, &res) == 2 && res == 0.5, "u=.5 res %g", res);
    T_ASSERT(kmeans_pp_pick_rank(sums, 3, 0.1, &res) == 1 && res == 0.5, "u=.1 res %g", res);
    double zero[2] = {0, 0};
    T_ASSERT(kmeans_pp_pick_rank(zero, 2, 0.3, &res) == -1, "all-zero mass must ask for a uniform draw");
    double d2[5] = {0, 1, 0, 2, 1};
    T_ASSERT(kmeans_pp_select(d2, 5, 0.0) == 1 && kmeans_pp_select(d2, 5, 1.0) == 3 && kmeans_pp_select(d2, 5, 3.5) == 4
             && kmeans_pp_select(d2, 5, 9.0) == 4, "select");
    T_ASSERT(kmeans_pick_uniform(0.0, 10) == 0 && kmeans_pick_uniform(0.99999, 10) == 9, "uniform");
}

static void test_errors(void) {
    double X[6] = {0, 1, 2, 3, NAN, 5}, C[6], in;
    int lab[3];
    T_ASSERT(kmeans_fit_serial(X, 3, 2, 4, 1, 10, 0, 1, lab, C, &in, err, sizeof err) == -1 && strstr(err, "k=4"), "k>n: %s", err);
    T_ASSERT(kmeans_fit_serial(X, 3, 2, 2, 1, 10, 0, 1, lab, C, &in, err, sizeof err) == -1 && strstr(err, "row 2 column 0"), "nan: %s", err);
    T_ASSERT(kmeans_fit_serial(X, 2, 2, 2, 0, 10, 0, 1, lab, C, &in, err, sizeof err) == -1, "n_init 0");
}

int main(void) {
    T_RUN(test_blobs_recovered);
    T_RUN(test_inertia_monotone);
    T_RUN(test_deterministic);
    T_RUN(test_two_ranks_match_serial);
    T_RUN(test_empty_cluster);
    T_RUN(test_pp_draw);
    T_RUN(test_errors);
    T_EXIT();
}
