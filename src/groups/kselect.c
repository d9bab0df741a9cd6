// kselect.c — criteria for choosing K: row sample, silhouette, BIC, eigengap (see kselect.h).
#include "kselect.h"
#include "rng.h"
#include <math.h>
#include <string.h>

void kselect_sample_rows(uint64_t seed, long n, long s, long *rows) {
    if (n <= 0 || s <= 0) return;
    if (s >= n) {
        for (long i = 0; i < n; i++) rows[i] = i;
        return;
    }
    // Algorithm S: row t is taken with probability (needed) / (left); exactly s rows come out, ascending.
    Rng r;
    rng_seed(&r, seed, RNG_GROUPS, 0, KSELECT_RNG_STEP);
    long m = 0;
    for (long t = 0; t < n && m < s; t++)
        if ((double)(n - t) * rng_uniform(&r) < (double)(s - m)) rows[m++] = t;
}

static inline double dist(const double *x, const double *y, int d) {
    double s = 0.0;
    for (int t = 0; t < d; t++) { double v = x[t] - y[t]; s += v * v; }
    return sqrt(s);
}

// One row's silhouette from its per-cluster distance sums (sklearn: a over count-1, b over present clusters).
static double row_silhouette(const double *sums, const double *count, int k, int own) {
    if (count[own] <= 1.0) return 0.0;
    double a = sums[own] / (count[own] - 1.0), b = INFINITY;
    for (int c = 0; c < k; c++)
        if (c != own && count[c] > 0.0 && sums[c] / count[c] < b) b = sums[c] / count[c];
    double m = a > b ? a : b;
    return m > 0.0 ? (b - a) / m : 0.0;
}

double kselect_silhouette(const double *X, const int *labels, long S, int d, int k, double *scratch) {
    if (S < 2 || d < 1 || k < 1) return NAN;
    double *sums = scratch, *count = scratch + (size_t)S * (size_t)k;
    memset(scratch, 0, sizeof *scratch * KSELECT_SILHOUETTE_SCRATCH(S, k));
    int present = 0;
    for (long i = 0; i < S; i++) {
        if (labels[i] < 0 || labels[i] >= k) return NAN;
        if (count[labels[i]]++ == 0.0) present++;
    }
    if (present < 2) return NAN;
    // Each pair once: row i's sums receive j in ascending order (j < i from earlier outer passes, then j > i).
    for (long i = 0; i < S; i++) {
        const double *xi = X + (size_t)i * (size_t)d;
        double *si = sums + (size_t)i * (size_t)k;
        int li = labels[i];
        for (long j = i + 1; j < S; j++) {
            double v = dist(xi, X + (size_t)j * (size_t)d, d);
            si[labels[j]] += v;
            sums[(size_t)j * (size_t)k + (size_t)li] += v;
        }
    }
    double total = 0.0;
    for (long i = 0; i < S; i++) total += row_silhouette(sums + (size_t)i * (size_t)k, count, k, labels[i]);
    return total / (double)S;
}

double kselect_bic(long n, int d, int k, const long *sizes, double inertia) {
    if (n <= k || d < 1 || k < 1 || !(inertia >= 0.0) || !isfinite(inertia)) return NAN;
    long sum = 0;
    double mix = 0.0;
    for (int j = 0; j < k; j++) {
        if (sizes[j] < 0) return NAN;
        sum += sizes[j];
        if (sizes[j] > 0) mix += (double)sizes[j] * log((double)sizes[j] / (double)n);
    }
    if (sum != n) return NAN;
    if (inertia == 0.0) return INFINITY;
    double nd = (double)n, dd = (double)d;
    double sigma2 = inertia / (dd * (nd - k));
    double loglik = mix - nd * dd / 2.0 * log(2.0 * M_PI * sigma2) - dd * (nd - k) / 2.0;
    double p = (double)(k - 1) + (double)k * dd + 1.0;
    return loglik - p / 2.0 * log(nd);
}

static double ratio_gap(double hi, double lo) {
    if (lo > 0.0) return hi / lo;
    return hi > 0.0 ? INFINITY : 1.0;
}

int kselect_eigengap(const double *lam, int m, int lo, int hi, double *gap) {
    if (lo < 1 || hi < lo || hi >= m) return -1;
    for (int i = 0; i < m; i++)
        if (!isfinite(lam[i]) || lam[i] < 0.0 || (i > 0 && lam[i] > lam[i - 1])) return -1;
    int best = lo;
    double best_gap = -1.0;
    for (int j = lo; j <= hi; j++) {
        double g = ratio_gap(lam[j - 1], lam[j]);
        if (gap) gap[j] = g;
        if (g > best_gap) { best_gap = g; best = j; }
    }
    return best;
}
