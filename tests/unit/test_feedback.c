// test_feedback — validation, column statistics and standardisation of a feedback block: a hand-computed matrix
// with holes, the staged protocol over two simulated ranks vs one block, precision on a large-offset column (where
// sum(x^2)/n - mean^2 loses every digit), float input, and every bad-input error.
#include "feedback.h"
#include "rng.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

static char err[512];

// The whole staged protocol over R simulated ranks with row bounds lo[0..R]: partials summed in rank order.
static int stats_ranks(FeedbackType t, const void *vals, const uint8_t *mask, int64_t n, int d, int R,
                       const int64_t *lo, double *mean, double *std) {
    size_t PL = FEEDBACK_PARTIALS_LEN(d), es = t == FEEDBACK_F32 ? sizeof(float) : sizeof(double);
    double *p = malloc(sizeof *p * PL), *g = malloc(sizeof *g * PL);
    int rc = 0;
    (void)n;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        memset(g, 0, sizeof *g * PL);
        for (int r = 0; r < R; r++) {
            FeedbackBlock b = {t, (const char *)vals + (size_t)lo[r] * (size_t)d * es, mask ? mask + lo[r] * d : NULL,
                               lo[r + 1] - lo[r], d};
            if (pass == 0 && feedback_check(&b, lo[r], err, sizeof err)) { rc = -1; break; }
            feedback_col_partials(&b, pass ? mean : NULL, p);
            for (size_t q = 0; q < PL; q++) g[q] += p[q];
        }
        if (rc == 0) rc = pass == 0 ? feedback_col_mean(g, d, mean, err, sizeof err)
                                    : feedback_col_stats(g, d, mean, std, err, sizeof err);
    }
    free(p);
    free(g);
    return rc;
}

static int stats_one(const double *vals, const uint8_t *mask, int64_t n, int d, double *mean, double *std) {
    int64_t lo[2] = {0, n};
    return stats_ranks(FEEDBACK_F64, vals, mask, n, d, 1, lo, mean, std);
}

// 4 users x 3 probes with holes (NaN / inf / junk in the holes, which must be ignored):
//   col 0: 1, 2, 3, _   mean 2,  imputed deviations -1, 0, 1, 0 -> var 2/4
//   col 1: 10, _, 14, 12 mean 12, deviations -2, 0, 2, 0       -> var 8/4
//   col 2: _, 5, _, -1  mean 2,  deviations 0, 3, 0, -3        -> var 18/4
static const uint8_t HM[12] = {1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1};

static void hand_values(double *v) {
    double h[12] = {1, 10, INFINITY, 2, NAN, 5, 3, 14, 1e300, -7, 12, -1};
    memcpy(v, h, sizeof h);
}

static void test_hand_matrix(void) {
    double v[12], mean[3], std[3], X[12];
    hand_values(v);
    T_ASSERT(stats_one(v, HM, 4, 3, mean, std) == 0, "%s", err);
    double em[3] = {2, 12, 2}, es[3] = {sqrt(0.5), sqrt(2.0), sqrt(4.5)};
    for (int j = 0; j < 3; j++) { T_NEAR(mean[j], em[j], 1e-15); T_NEAR(std[j], es[j], 1e-15); }
    FeedbackBlock b = {FEEDBACK_F64, v, HM, 4, 3};
    feedback_standardise(&b, mean, std, X);
    double ex[12] = {-1 / es[0], -2 / es[1], 0, 0, 0, 3 / es[2], 1 / es[0], 2 / es[1], 0, 0, 0, -3 / es[2]};
    for (int k = 0; k < 12; k++) T_NEAR(X[k], ex[k], 1e-15);
    // float input: the same statistics (these values are exact in float)
    float f[12];
    for (int k = 0; k < 12; k++) f[k] = (float)v[k];
    int64_t lo[2] = {0, 4};
    double fm[3], fs[3];
    T_ASSERT(stats_ranks(FEEDBACK_F32, f, HM, 4, 3, 1, lo, fm, fs) == 0, "%s", err);
    for (int j = 0; j < 3; j++) { T_NEAR(fm[j], em[j], 1e-15); T_NEAR(fs[j], es[j], 1e-15); }
}

// n x d, column j around offset off * (j + 1) with spread scale; ~30% holes (mask 0, value NaN), >= 1 per row kept.
static void random_matrix(double *v, uint8_t *m, int n, int d, double off, double scale, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed, RNG_TEST, 0, 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            int k = i * d + j;
            m[k] = (j == i % d) || rng_uniform(&r) >= 0.3;
            v[k] = m[k] ? off * (j + 1) + scale * rng_normal(&r) : NAN;
        }
}

// Reference in long double: mean of observed entries, population std of the imputed column.
static void reference(const double *v, const uint8_t *m, int n, int d, int j, double *mean, double *std) {
    long double s = 0, c = 0, q = 0;
    for (int i = 0; i < n; i++) if (m[i * d + j]) { s += v[i * d + j]; c += 1; }
    long double mu = s / c;
    for (int i = 0; i < n; i++) if (m[i * d + j]) { long double e = v[i * d + j] - mu; q += e * e; }
    *mean = (double)mu;
    *std = (double)sqrtl(q / n);
}

static void test_two_ranks_match_one_block(void) {
    enum { N = 37, D = 5 };
    double v[N * D], m1[D], s1[D], m2[D], s2[D];
    uint8_t m[N * D];
    random_matrix(v, m, N, D, 3.0, 2.0, 11);
    int64_t lo1[2] = {0, N}, lo2[3] = {0, 17, N};
    T_ASSERT(stats_ranks(FEEDBACK_F64, v, m, N, D, 1, lo1, m1, s1) == 0, "%s", err);
    T_ASSERT(stats_ranks(FEEDBACK_F64, v, m, N, D, 2, lo2, m2, s2) == 0, "%s", err);
    for (int j = 0; j < D; j++) {
        double rm, rs;
        reference(v, m, N, D, j, &rm, &rs);
        T_NEAR(m2[j], m1[j], 1e-12 * fabs(m1[j]));
        T_NEAR(s2[j], s1[j], 1e-12 * s1[j]);
        T_NEAR(m1[j], rm, 1e-12 * fabs(rm));
        T_NEAR(s1[j], rs, 1e-12 * rs);
    }
    // a rank with no rows contributes zero partials and changes nothing
    int64_t lo3[4] = {0, 17, 17, N};
    T_ASSERT(stats_ranks(FEEDBACK_F64, v, m, N, D, 3, lo3, m2, s2) == 0, "%s", err);
    for (int j = 0; j < D; j++) { T_NEAR(m2[j], m1[j], 1e-12 * fabs(m1[j])); T_NEAR(s2[j], s1[j], 1e-12 * s1[j]); }
}

// mean 1e6 * (j+1), std 1e-3: mean^2 / var = 1e18, so sum(x^2)/n - mean^2 has no correct digit left; the
// corrected two-pass std must still match the long-double reference to 1e-9.
static void test_large_offset_precision(void) {
    enum { N = 1000, D = 3 };
    double *v = malloc(sizeof *v * N * D), mean[D], std[D];
    uint8_t *m = malloc(N * D);
    random_matrix(v, m, N, D, 1e6, 1e-3, 12);
    int64_t lo[3] = {0, 400, N};
    T_ASSERT(stats_ranks(FEEDBACK_F64, v, m, N, D, 2, lo, mean, std) == 0, "%s", err);
    for (int j = 0; j < D; j++) {
        double rm, rs;
        reference(v, m, N, D, j, &rm, &rs);
        T_NEAR(mean[j], rm, 1e-15 * fabs(rm));
        T_NEAR(std[j], rs, 1e-9 * rs);
    }
    free(v);
    free(m);
}

// feedback_col_stats refines the mean and takes the variance about the refined mean whatever centre the pass-2
// partials used: column {1, 2, 3} plus one hole, partials taken about 0 and about 1.5.
static void test_stats_any_centre(void) {
    double c0[2] = {0, 1.5}, v[3] = {1, 2, 3}, es = sqrt(2.0 / 4);
    for (int t = 0; t < 2; t++) {
        double p[4] = {3, 0, 0, 4}, mean = c0[t], std;
        for (int i = 0; i < 3; i++) { p[1] += v[i] - c0[t]; p[2] += (v[i] - c0[t]) * (v[i] - c0[t]); }
        T_ASSERT(feedback_col_stats(p, 1, &mean, &std, err, sizeof err) == 0, "%s", err);
        T_NEAR(mean, 2.0, 1e-15);
        T_NEAR(std, es, 1e-15);
    }
}

static void test_standardised_columns(void) {
    enum { N = 53, D = 4 };
    double v[N * D], X[N * D], mean[D], std[D];
    uint8_t m[N * D];
    random_matrix(v, m, N, D, -5.0, 0.7, 13);
    int64_t lo[3] = {0, 20, N};
    T_ASSERT(stats_ranks(FEEDBACK_F64, v, m, N, D, 2, lo, mean, std) == 0, "%s", err);
    for (int r = 0; r < 2; r++) {
        FeedbackBlock b = {FEEDBACK_F64, v + lo[r] * D, m + lo[r] * D, lo[r + 1] - lo[r], D};
        feedback_standardise(&b, mean, std, X + lo[r] * D);
    }
    for (int j = 0; j < D; j++) {
        double s = 0, q = 0;
        for (int i = 0; i < N; i++) {
            s += X[i * D + j];
            if (!m[i * D + j]) T_ASSERT(X[i * D + j] == 0.0, "hole (%d, %d) -> %g", i, j, X[i * D + j]);
        }
        for (int i = 0; i < N; i++) q += (X[i * D + j] - s / N) * (X[i * D + j] - s / N);
        T_NEAR(s / N, 0.0, 1e-14);
        T_NEAR(sqrt(q / N), 1.0, 1e-14);
    }
}

static int err_has(const char *a, const char *b2) { return strstr(err, a) && (!b2 || strstr(err, b2)); }

static void test_check_errors(void) {
    double v[12];
    uint8_t m[12];
    hand_values(v);
    memcpy(m, HM, sizeof m);
    FeedbackBlock b = {FEEDBACK_F64, v, m, 4, 3};
    T_ASSERT(feedback_check(&b, 100, err, sizeof err) == 0, "NaN/inf/1e300 in holes must be accepted: %s", err);
    m[3] = m[5] = 0;   // hide row 1's observed entries -> the mask hides the whole row (global row 101)
    T_ASSERT(feedback_check(&b, 100, err, sizeof err) == -1 && err_has("row 101 ", "no observed entry"), "%s", err);
    m[3] = m[5] = 1;
    m[4] = 1;   // the NaN at (1, 1) becomes observed
    T_ASSERT(feedback_check(&b, 100, err, sizeof err) == -1 && err_has("row 101, column 1 is nan", NULL), "%s", err);
    m[4] = 0;
    m[2] = 1;   // the inf at (0, 2)
    T_ASSERT(feedback_check(&b, 100, err, sizeof err) == -1 && err_has("row 100, column 2 is inf", NULL), "%s", err);
    m[2] = 0;
    m[3] = 2;   // a mask byte that is neither 0 nor 1
    T_ASSERT(feedback_check(&b, 100, err, sizeof err) == -1 && err_has("row 101, column 0", "mask"), "%s", err);
    m[3] = 1;
    FeedbackBlock nomask = {FEEDBACK_F64, v, NULL, 4, 3};   // no mask: every entry observed, the NaN is an error
    T_ASSERT(feedback_check(&nomask, 0, err, sizeof err) == -1 && err_has("row 0, column 2 is inf", NULL), "%s", err);
    float f[2] = {1.0f, -INFINITY};
    FeedbackBlock fb = {FEEDBACK_F32, f, NULL, 1, 2};
    T_ASSERT(feedback_check(&fb, 7, err, sizeof err) == -1 && err_has("row 7, column 1 is -inf", NULL), "%s", err);
    FeedbackBlock bad = {FEEDBACK_F64, v, NULL, 4, 0};
    T_ASSERT(feedback_check(&bad, 0, err, sizeof err) == -1, "d = 0 accepted");
}

static void test_stats_errors(void) {
    double v[12], mean[3], std[3];
    uint8_t m[12];
    hand_values(v);
    memcpy(m, HM, sizeof m);
    m[5] = m[11] = 0;   // column 2 has no observed entry (rows 1 and 3 keep others)
    T_ASSERT(stats_one(v, m, 4, 3, mean, std) == -1 && err_has("column 2 has no observed entry", NULL), "%s", err);
    memcpy(m, HM, sizeof m);
    v[1] = v[7] = v[10] = 0.1;   // column 1 constant (0.1 is inexact: rounding must not hide it)
    T_ASSERT(stats_one(v, m, 4, 3, mean, std) == -1 && err_has("column 1 is constant", NULL), "%s", err);
    hand_values(v);
    m[11] = 0;   // column 2 observed once -> constant after imputation
    T_ASSERT(stats_one(v, m, 4, 3, mean, std) == -1 && err_has("column 2 is constant", NULL), "%s", err);
    for (int k = 0; k < 12; k++) v[k] = 0.0;   // an all-zero column is constant too (std 0, mean 0)
    T_ASSERT(stats_one(v, NULL, 4, 3, mean, std) == -1 && err_has("column 0 is constant", NULL), "%s", err);
    hand_values(v);
    m[11] = 1;
    v[10] = 1e200;   // squares overflow: refused, not silently inf
    T_ASSERT(stats_one(v, m, 4, 3, mean, std) == -1 && err_has("column 1", "not finite"), "%s", err);
    T_ASSERT(stats_one(v, m, 0, 3, mean, std) == -1 && err_has("no rows", NULL), "%s", err);
    // a constant column over many rows and ranks (inexact value, rounding in the sums)
    enum { N = 1001 };
    static double c[N * 2];
    for (int i = 0; i < N; i++) { c[2 * i] = i; c[2 * i + 1] = 0.3; }
    int64_t lo[3] = {0, 333, N};
    T_ASSERT(stats_ranks(FEEDBACK_F64, c, NULL, N, 2, 2, lo, mean, std) == -1 && err_has("column 1 is constant", NULL),
             "%s", err);
    // constant to rounding (one ulp apart, std ~ 1e-16 |mean|): refused by the FEEDBACK_CONST_RTOL threshold...
    for (int i = 0; i < N; i++) c[2 * i + 1] = i % 2 ? nextafter(0.3, 1.0) : 0.3;
    T_ASSERT(stats_ranks(FEEDBACK_F64, c, NULL, N, 2, 2, lo, mean, std) == -1 && err_has("column 1 is constant", NULL),
             "%s", err);
    // ...while a real spread of 1e-9 relative (below float resolution, far above the threshold) is kept
    for (int i = 0; i < N; i++) c[2 * i + 1] = i % 2 ? 0.3 * (1 + 1e-9) : 0.3;
    T_ASSERT(stats_ranks(FEEDBACK_F64, c, NULL, N, 2, 2, lo, mean, std) == 0, "%s", err);
    T_NEAR(std[1], 0.15e-9, 1e-6 * 0.15e-9);
}

int main(void) {
    T_RUN(test_hand_matrix);
    T_RUN(test_two_ranks_match_one_block);
    T_RUN(test_large_offset_precision);
    T_RUN(test_stats_any_centre);
    T_RUN(test_standardised_columns);
    T_RUN(test_check_errors);
    T_RUN(test_stats_errors);
    T_EXIT();
}
