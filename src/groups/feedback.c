// feedback.c — validation, column statistics (corrected two-pass, see feedback.h) and mean-imputed
// standardisation of a feedback block.
#include "feedback.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Element k of the block, widened to double.
static inline double fb_value(const FeedbackBlock *b, size_t k) {
    return b->type == FEEDBACK_F32 ? (double)((const float *)b->values)[k] : ((const double *)b->values)[k];
}

static inline int fb_observed(const FeedbackBlock *b, size_t k) { return b->mask == NULL || b->mask[k] != 0; }

// The first bad entry of row i (global index g), or 0; one message, entries scanned by column.
static int check_row(const FeedbackBlock *b, int64_t i, int64_t g, char *err, size_t errlen) {
    size_t base = (size_t)i * (size_t)b->d;
    int seen = 0;
    for (int j = 0; j < b->d; j++) {
        size_t k = base + (size_t)j;
        if (b->mask && b->mask[k] > 1) {
            snprintf(err, errlen, "feedback: mask at row %lld, column %d is %u (must be 0 = unobserved or 1 = observed)",
                     (long long)g, j, (unsigned)b->mask[k]);
            return -1;
        }
        if (!fb_observed(b, k)) continue;
        double v = fb_value(b, k);
        if (!isfinite(v)) {
            snprintf(err, errlen, "feedback: value at row %lld, column %d is %s (an observed entry must be finite; "
                     "HINT: fix it or mark it unobserved in the mask)", (long long)g, j, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
            return -1;
        }
        seen = 1;
    }
    if (!seen) {
        snprintf(err, errlen, "feedback: row %lld has no observed entry (the mask hides the whole row; "
                 "HINT: drop that user or give it at least one observed value)", (long long)g);
        return -1;
    }
    return 0;
}

// Row i passes every check (branch-free scan: with a random mask a branch per entry mispredicts half the time);
// only a row that fails is scanned again by check_row for the message.
static int row_clean(const FeedbackBlock *b, int64_t i) {
    size_t base = (size_t)i * (size_t)b->d;
    const uint8_t *m = b->mask ? b->mask + base : NULL;
    int bad = 0, seen = !m;
    for (int j = 0; j < b->d; j++) {
        int obs = m ? m[j] : 1;
        double v = fb_value(b, base + (size_t)j);
        bad |= (obs > 1) | (obs & !isfinite(v));
        seen |= obs;
    }
    return !bad && seen;
}

int feedback_check(const FeedbackBlock *b, int64_t row0, char *err, size_t errlen) {
    if (!b || b->n_local < 0 || b->d < 1 || (b->n_local > 0 && !b->values) ||
        (b->type != FEEDBACK_F32 && b->type != FEEDBACK_F64)) {
        snprintf(err, errlen, "feedback: bad block (rows %lld, columns %d; need rows >= 0, columns >= 1, values)",
                 b ? (long long)b->n_local : -1LL, b ? b->d : -1);
        return -1;
    }
    for (int64_t i = 0; i < b->n_local; i++)
        if (!row_clean(b, i) && check_row(b, i, row0 + i, err, errlen)) return -1;
    return 0;
}

// One row's contribution to the partials, branch-free: an unobserved entry adds exact zeros (x + 0.0 == x), so the
// sums are the same bits as skipping it. m[j] is 0 or 1 (feedback_check), c the centre.
#define PARTIALS_ROW(T)                                                                                       \
    static void partials_row_##T(const T *x, const uint8_t *m, const double *c, int d, double *cnt, double *s1, \
                                 double *s2) {                                                                \
        for (int j = 0; j < d; j++) {                                                                         \
            double v = m[j] ? (double)x[j] - c[j] : 0.0;                                                      \
            cnt[j] += (double)m[j];                                                                           \
            s1[j] += v;                                                                                       \
            s2[j] += v * v;                                                                                   \
        }                                                                                                     \
    }
PARTIALS_ROW(float)
PARTIALS_ROW(double)

void feedback_col_partials(const FeedbackBlock *b, const double *centre, double *partials) {
    int d = b->d;
    double *cnt = partials, *s1 = partials + d, *s2 = partials + 2 * (size_t)d;
    memset(partials, 0, sizeof *partials * FEEDBACK_PARTIALS_LEN(d));
    uint8_t *ones = b->mask ? NULL : malloc((size_t)d);   // once per call: the kernels always read a mask
    double *zero = centre ? NULL : calloc((size_t)d, sizeof *zero);
    if (ones) memset(ones, 1, (size_t)d);
    const double *c = centre ? centre : zero;
    for (int64_t i = 0; i < b->n_local; i++) {
        size_t base = (size_t)i * (size_t)d;
        const uint8_t *m = b->mask ? b->mask + base : ones;
        if (b->type == FEEDBACK_F32) partials_row_float((const float *)b->values + base, m, c, d, cnt, s1, s2);
        else partials_row_double((const double *)b->values + base, m, c, d, cnt, s1, s2);
    }
    partials[3 * (size_t)d] = (double)b->n_local;
    free(ones);
    free(zero);
}

int feedback_col_mean(const double *partials_global, int d, double *mean, char *err, size_t errlen) {
    if (!(partials_global[3 * (size_t)d] >= 1.0)) {
        snprintf(err, errlen, "feedback: no rows (zero users; HINT: the feedback matrix needs at least one user)");
        return -1;
    }
    for (int j = 0; j < d; j++) {
        double n = partials_global[j];
        if (!(n >= 1.0)) {
            snprintf(err, errlen, "feedback: column %d has no observed entry (HINT: drop that probe or observe it "
                     "for at least two users with different values)", j);
            return -1;
        }
        mean[j] = partials_global[d + j] / n;
        if (!isfinite(mean[j])) {
            snprintf(err, errlen, "feedback: column %d: mean is not finite (values too large; HINT: rescale them)", j);
            return -1;
        }
    }
    return 0;
}

int feedback_col_stats(const double *partials_global, int d, double *mean, double *std, char *err, size_t errlen) {
    if (feedback_col_mean(partials_global, d, std, err, errlen)) return -1;   // std[] as scratch: counts checked
    double rows = partials_global[3 * (size_t)d];
    for (int j = 0; j < d; j++) {
        double n = partials_global[j], s1 = partials_global[d + j], s2 = partials_global[2 * (size_t)d + j];
        double var = (s2 - s1 * s1 / n) / rows;
        if (var < 0.0) var = 0.0;   // rounding when every deviation is (nearly) equal
        mean[j] += s1 / n;
        std[j] = sqrt(var);
        if (!isfinite(std[j]) || !isfinite(mean[j])) {
            snprintf(err, errlen, "feedback: column %d: variance is not finite (values too large; HINT: rescale them)", j);
            return -1;
        }
        if (std[j] <= FEEDBACK_CONST_RTOL * fabs(mean[j])) {
            snprintf(err, errlen, "feedback: column %d is constant (value %.9g on every observed entry, std %.3g <= "
                     "%g x |mean|; HINT: drop that probe, it cannot separate users)", j, mean[j], std[j], FEEDBACK_CONST_RTOL);
            return -1;
        }
    }
    return 0;
}

#define STANDARDISE_ROW(T)                                                                                    \
    static void standardise_row_##T(const T *x, const uint8_t *m, const double *mean, const double *std, int d,  \
                                    double *out) {                                                            \
        for (int j = 0; j < d; j++) out[j] = !m || m[j] ? ((double)x[j] - mean[j]) / std[j] : 0.0;              \
    }
STANDARDISE_ROW(float)
STANDARDISE_ROW(double)

void feedback_standardise(const FeedbackBlock *b, const double *mean, const double *std, double *X_out) {
    int d = b->d;
    for (int64_t i = 0; i < b->n_local; i++) {
        size_t base = (size_t)i * (size_t)d;
        const uint8_t *m = b->mask ? b->mask + base : NULL;
        if (b->type == FEEDBACK_F32) standardise_row_float((const float *)b->values + base, m, mean, std, d, X_out + base);
        else standardise_row_double((const double *)b->values + base, m, mean, std, d, X_out + base);
    }
}
