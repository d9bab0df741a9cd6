// kmeans.c — k-means++ seeding and Lloyd stages (see kmeans.h for the distributed protocol), and the serial
// driver built from them.
#include "kmeans.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline double sqdist(const double *x, const double *c, int d) {
    double s = 0.0;
    for (int t = 0; t < d; t++) { double v = x[t] - c[t]; s += v * v; }
    return s;
}

void kmeans_rng(Rng *r, uint64_t seed, int init) {
    rng_seed(r, seed, RNG_GROUPS, 0, KMEANS_RNG_STEP + (uint64_t)init);
}

void kmeans_pp_init(double *d2, int64_t n_local) {
    for (int64_t i = 0; i < n_local; i++) d2[i] = INFINITY;
}

double kmeans_pp_update(const double *X, int64_t n_local, int d, const double *c, double *d2) {
    double s = 0.0;
    for (int64_t i = 0; i < n_local; i++) {
        double v = sqdist(X + i * d, c, d);
        if (v < d2[i]) d2[i] = v;
        s += d2[i];
    }
    return s;
}

int64_t kmeans_pick_uniform(double u, int64_t n_global) {
    int64_t g = (int64_t)(u * (double)n_global);
    if (g >= n_global) g = n_global - 1;
    return g < 0 ? 0 : g;
}

int kmeans_pp_pick_rank(const double *rank_sums, int nranks, double u, double *residual) {
    double total = 0.0, acc = 0.0;
    for (int r = 0; r < nranks; r++) total += rank_sums[r];
    if (!(total > 0.0)) return -1;
    double target = u * total;
    int last = -1;
    for (int r = 0; r < nranks; r++) {
        if (!(rank_sums[r] > 0.0)) continue;
        last = r;
        if (target < acc + rank_sums[r]) { *residual = target - acc; return r; }
        acc += rank_sums[r];
    }
    if (last < 0) return -1;
    *residual = rank_sums[last];   // rounding put the target past the end: the last row with mass
    return last;
}

int64_t kmeans_pp_select(const double *d2, int64_t n_local, double residual) {
    double acc = 0.0;
    int64_t last = -1;
    for (int64_t i = 0; i < n_local; i++) {
        if (!(d2[i] > 0.0)) continue;
        acc += d2[i]; last = i;
        if (residual < acc) return i;
    }
    return last < 0 ? 0 : last;
}

// Keeps far[0..*nf) sorted by distance descending (ties: earlier row first, as rows arrive in order); during the
// scan slot 1 holds the LOCAL row index, made global (and the row copied) once the scan ends.
static void far_insert(double *far, int *nf, int cap, int d, double dist, int64_t i) {
    size_t st = (size_t)d + 2;
    if (*nf == cap && !(dist > far[(size_t)(cap - 1) * st])) return;
    int p = *nf < cap ? *nf : cap - 1;
    while (p > 0 && far[(size_t)(p - 1) * st] < dist) {
        far[(size_t)p * st] = far[(size_t)(p - 1) * st];
        far[(size_t)p * st + 1] = far[(size_t)(p - 1) * st + 1];
        p--;
    }
    far[(size_t)p * st] = dist; far[(size_t)p * st + 1] = (double)i;
    if (*nf < cap) (*nf)++;
}

void kmeans_assign(const double *X, int64_t n_local, int d, int64_t row0, const double *C, int k, int *labels,
                   double *partials, double *far) {
    double *sums = partials, *counts = partials + (size_t)k * d;
    memset(partials, 0, sizeof *partials * KMEANS_PARTIALS_LEN(k, d));
    double inertia = 0.0, changed = 0.0;
    size_t st = (size_t)d + 2;
    int nf = 0, cap = n_local < k ? (int)n_local : k;
    if (far) for (int j = 0; j < k; j++) { far[j * st] = -1.0; far[j * st + 1] = -1.0; memset(far + j * st + 2, 0, sizeof *far * (size_t)d); }
    for (int64_t i = 0; i < n_local; i++) {
        const double *x = X + i * d;
        int best = 0;
        double bd = sqdist(x, C, d);
        for (int j = 1; j < k; j++) {
            double v = sqdist(x, C + (size_t)j * d, d);
            if (v < bd) { bd = v; best = j; }
        }
        if (labels[i] != best) changed += 1.0;
        labels[i] = best;
        double *s = sums + (size_t)best * d;
        for (int t = 0; t < d; t++) s[t] += x[t];
        counts[best] += 1.0;
        inertia += bd;
        if (far) far_insert(far, &nf, cap, d, bd, i);
    }
    partials[(size_t)k * d + k] = inertia;
    partials[(size_t)k * d + k + 1] = changed;
    if (far)
        for (int p = 0; p < nf; p++) {
            int64_t li = (int64_t)far[p * st + 1];
            far[p * st + 1] = (double)(row0 + li);
            memcpy(far + p * st + 2, X + li * d, sizeof *far * (size_t)d);
        }
}

// Candidate a comes before b: larger distance, then lower global row index.
static int far_before(const double *a, const double *b) {
    return a[0] > b[0] || (a[0] == b[0] && a[1] < b[1]);
}

// The first candidate (in far_before order) after `prev` (NULL: the very first); NULL when none is left.
static const double *far_next(const double *far_all, int n_far, int d, const double *prev) {
    const double *best = NULL;
    for (int c = 0; c < n_far; c++) {
        const double *r = far_all + (size_t)c * ((size_t)d + 2);
        if (r[0] < 0.0 || (prev && !far_before(prev, r))) continue;
        if (!best || far_before(r, best)) best = r;
    }
    return best;
}

double kmeans_update(const double *partials, const double *far_all, int n_far, int k, int d, double *C) {
    const double *sums = partials, *counts = partials + (size_t)k * d, *prev = NULL;
    double shift = 0.0;
    for (int j = 0; j < k; j++) {
        double *c = C + (size_t)j * d;
        const double *src = NULL;
        if (counts[j] > 0.0) src = sums + (size_t)j * d;
        else if (far_all) { prev = far_next(far_all, n_far, d, prev); if (prev) src = prev + 2; }
        if (!src) continue;   // no candidate left (cannot happen with k <= n rows): the centre stays
        for (int t = 0; t < d; t++) {
            double v = counts[j] > 0.0 ? src[t] / counts[j] : src[t];
            shift += (v - c[t]) * (v - c[t]);
            c[t] = v;
        }
    }
    return shift;
}

void kmeans_moments(const double *X, int64_t n_local, int d, double *m) {
    memset(m, 0, sizeof *m * 2 * (size_t)d);
    for (int64_t i = 0; i < n_local; i++)
        for (int t = 0; t < d; t++) { double v = X[i * d + t]; m[t] += v; m[d + t] += v * v; }
}

double kmeans_tol_abs(const double *m, int64_t n_global, int d, double tol) {
    double var = 0.0;
    for (int t = 0; t < d; t++) {
        double mean = m[t] / (double)n_global, v = m[d + t] / (double)n_global - mean * mean;
        var += v > 0.0 ? v : 0.0;
    }
    return tol * var / d;
}

// ---- serial driver ----
typedef struct { double *d2, *C, *partials, *far; int *lab; } KmWork;

// k-means++ on all rows (one "rank"): one draw per centre, exactly as the distributed protocol.
static void seed_serial(const double *X, int64_t n, int d, int k, Rng *r, double *d2, double *C) {
    kmeans_pp_init(d2, n);
    int64_t g = kmeans_pick_uniform(rng_uniform(r), n);
    memcpy(C, X + g * d, sizeof *C * (size_t)d);
    double s = kmeans_pp_update(X, n, d, C, d2);
    for (int j = 1; j < k; j++) {
        double u = rng_uniform(r), res = 0.0;
        int owner = kmeans_pp_pick_rank(&s, 1, u, &res);
        g = owner < 0 ? kmeans_pick_uniform(u, n) : kmeans_pp_select(d2, n, res);
        memcpy(C + (size_t)j * d, X + g * d, sizeof *C * (size_t)d);
        s = kmeans_pp_update(X, n, d, C + (size_t)j * d, d2);
    }
}

// Lloyd from the centres in w->C; returns the inertia of the final labels w->lab against the final w->C.
static double lloyd_serial(const double *X, int64_t n, int d, int k, int max_iter, double tol_abs, KmWork *w) {
    for (int64_t i = 0; i < n; i++) w->lab[i] = -1;
    double shift = INFINITY;
    for (int it = 0;; it++) {
        kmeans_assign(X, n, d, 0, w->C, k, w->lab, w->partials, w->far);
        double changed = w->partials[(size_t)k * d + k + 1];
        if (changed == 0.0 || shift <= tol_abs || it == max_iter) break;
        shift = kmeans_update(w->partials, w->far, k, k, d, w->C);
    }
    return w->partials[(size_t)k * d + k];
}

int kmeans_fit_serial(const double *X, int64_t n, int d, int k, int n_init, int max_iter, double tol,
                      uint64_t seed, int *labels, double *centroids, double *inertia, char *err, size_t errlen) {
    if (d < 1 || k < 1 || n < 1 || k > n || n_init < 1 || max_iter < 0 || !(tol >= 0.0)) {
        snprintf(err, errlen, "kmeans: bad arguments n=%lld d=%d k=%d n_init=%d max_iter=%d tol=%g "
                 "(HINT: need 1 <= k <= n, d >= 1, n_init >= 1, max_iter >= 0, tol >= 0)",
                 (long long)n, d, k, n_init, max_iter, tol);
        return -1;
    }
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(X[i])) {
            snprintf(err, errlen, "kmeans: row %lld column %d is not finite (%g)", (long long)(i / d), (int)(i % d), X[i]);
            return -1;
        }
    KmWork w = { malloc(sizeof(double) * (size_t)n), malloc(sizeof(double) * (size_t)k * d),
                 malloc(sizeof(double) * KMEANS_PARTIALS_LEN(k, d)), malloc(sizeof(double) * KMEANS_FAR_LEN(k, d)),
                 malloc(sizeof(int) * (size_t)n) };
    double *mom = malloc(sizeof(double) * 2 * (size_t)d);
    int rc = 0;
    if (!w.d2 || !w.C || !w.partials || !w.far || !w.lab || !mom) {
        snprintf(err, errlen, "kmeans: out of memory for n=%lld d=%d k=%d", (long long)n, d, k);
        rc = -1;
    } else {
        kmeans_moments(X, n, d, mom);
        double tol_abs = kmeans_tol_abs(mom, n, d, tol), best = INFINITY;
        for (int init = 0; init < n_init; init++) {
            Rng r;
            kmeans_rng(&r, seed, init);
            seed_serial(X, n, d, k, &r, w.d2, w.C);
            double in = lloyd_serial(X, n, d, k, max_iter, tol_abs, &w);
            if (init == 0 || in < best) {
                best = in;
                memcpy(labels, w.lab, sizeof *labels * (size_t)n);
                memcpy(centroids, w.C, sizeof *centroids * (size_t)k * d);
            }
        }
        *inertia = best;
    }
    free(w.d2); free(w.C); free(w.partials); free(w.far); free(w.lab); free(mom);
    return rc;
}
