// cluster_metrics.c — contingency table, ARI and NMI (see cluster_metrics.h; formulas mirror scikit-learn 1.2
// operation by operation so the results agree to rounding).
#include "cluster_metrics.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_dims(int ka, int kb, char *err, size_t errlen) {
    if (ka < 1 || kb < 1) { snprintf(err, errlen, "cluster metrics: cluster counts %d x %d (need >= 1 each)", ka, kb); return -1; }
    if ((int64_t)ka * kb > CLUSTER_MAX_CELLS) {
        snprintf(err, errlen, "cluster metrics: contingency table %d x %d exceeds %lld cells (HINT: fewer clusters)",
                 ka, kb, (long long)CLUSTER_MAX_CELLS);
        return -1;
    }
    return 0;
}

int cluster_contingency(const int *la, const int *lb, int64_t n, int ka, int kb, int64_t *table,
                        char *err, size_t errlen) {
    if (check_dims(ka, kb, err, errlen)) return -1;
    if (n <= 0) { snprintf(err, errlen, "cluster metrics: %lld items (need at least 1)", (long long)n); return -1; }
    for (int64_t c = 0; c < (int64_t)ka * kb; c++) table[c] = 0;
    for (int64_t i = 0; i < n; i++) {
        if (la[i] < 0 || la[i] >= ka || lb[i] < 0 || lb[i] >= kb) {
            snprintf(err, errlen, "cluster metrics: item %lld has labels (%d, %d) outside [0,%d) x [0,%d)",
                     (long long)i, la[i], lb[i], ka, kb);
            return -1;
        }
        table[(int64_t)la[i] * kb + lb[i]]++;
    }
    return 0;
}

// Row sums (ni[ka]) and column sums (nj[kb]) of a table; total in *n. Rejects negative cells and an empty table.
static int margins(const int64_t *t, int ka, int kb, int64_t *ni, int64_t *nj, int64_t *n, char *err, size_t errlen) {
    if (check_dims(ka, kb, err, errlen)) return -1;
    *n = 0;
    for (int b = 0; b < kb; b++) nj[b] = 0;
    for (int a = 0; a < ka; a++) {
        ni[a] = 0;
        for (int b = 0; b < kb; b++) {
            int64_t v = t[(int64_t)a * kb + b];
            if (v < 0) { snprintf(err, errlen, "cluster metrics: contingency cell (%d, %d) is %lld (negative)", a, b, (long long)v); return -1; }
            ni[a] += v; nj[b] += v;
        }
        *n += ni[a];
    }
    if (*n <= 0) { snprintf(err, errlen, "cluster metrics: contingency table is empty (0 items)"); return -1; }
    return 0;
}

#ifdef __SIZEOF_INT128__
typedef __int128 Wide;       // exact: pair counts are < n^2, their products < n^4 < 2^124 for n < 2^31
#else
typedef long double Wide;    // fallback: rounding in the last bits only
#endif

int cluster_ari_table(const int64_t *t, int ka, int kb, double *ari, char *err, size_t errlen) {
    int64_t *ni = malloc(sizeof *ni * ((size_t)ka + (size_t)kb)), n;
    if (!ni) { snprintf(err, errlen, "cluster metrics: out of memory"); return -1; }
    int64_t *nj = ni + ka;
    if (margins(t, ka, kb, ni, nj, &n, err, errlen)) { free(ni); return -1; }
    // sklearn's pair_confusion_matrix (ordered pairs): tp = sum n_ab^2 - n, fp/fn from the margins.
    int64_t sq = 0, dot_j = 0, dot_i = 0;
    for (int a = 0; a < ka; a++)
        for (int b = 0; b < kb; b++) {
            int64_t v = t[(int64_t)a * kb + b];
            sq += v * v; dot_j += v * nj[b]; dot_i += v * ni[a];
        }
    free(ni);
    int64_t tp = sq - n, fp = dot_j - sq, fn = dot_i - sq, tn = n * n - fp - fn - sq;
    if (fn == 0 && fp == 0) { *ari = 1.0; return 0; }   // full agreement (sklearn's special case)
    Wide num = (Wide)tp * tn - (Wide)fn * fp;
    Wide den = (Wide)(tp + fn) * (fn + tn) + (Wide)(tp + fp) * (fp + tn);   // > 0 once fn or fp > 0
    *ari = 2.0 * (double)num / (double)den;
    return 0;
}

// H = -sum p/s (log p - log s) over the non-zero counts; 0 for a single occupied cluster (sklearn's entropy).
static double entropy(const int64_t *cnt, int k, double s) {
    int occ = 0;
    for (int c = 0; c < k; c++) occ += cnt[c] > 0;
    if (occ == 1) return 0.0;
    double h = 0.0, ls = log(s);
    for (int c = 0; c < k; c++)
        if (cnt[c] > 0) h += ((double)cnt[c] / s) * (log((double)cnt[c]) - ls);
    return -h;
}

int cluster_nmi_table(const int64_t *t, int ka, int kb, double *nmi, char *err, size_t errlen) {
    int64_t *ni = malloc(sizeof *ni * ((size_t)ka + (size_t)kb)), n;
    if (!ni) { snprintf(err, errlen, "cluster metrics: out of memory"); return -1; }
    int64_t *nj = ni + ka;
    if (margins(t, ka, kb, ni, nj, &n, err, errlen)) { free(ni); return -1; }
    int ra = 0, rb = 0;
    for (int a = 0; a < ka; a++) ra += ni[a] > 0;
    for (int b = 0; b < kb; b++) rb += nj[b] > 0;
    if (ra == 1 && rb == 1) { free(ni); *nmi = 1.0; return 0; }   // no split on either side: a perfect match
    double mi = 0.0;
    if (ra > 1 && rb > 1) {   // a single cluster on one side has zero entropy, so MI = 0
        double s = (double)n, ls = log(s);
        for (int a = 0; a < ka; a++)
            for (int b = 0; b < kb; b++) {
                int64_t v = t[(int64_t)a * kb + b];
                if (v == 0) continue;
                double pv = (double)v / s, log_outer = -log((double)(ni[a] * nj[b])) + ls + ls;
                double term = pv * (log((double)v) - ls) + pv * log_outer;
                if (fabs(term) >= DBL_EPSILON) mi += term;   // sklearn zeroes terms below eps
            }
        if (mi < 0.0) mi = 0.0;
    }
    if (mi == 0.0) { free(ni); *nmi = 0.0; return 0; }
    double ha = entropy(ni, ka, (double)n), hb = entropy(nj, kb, (double)n);
    free(ni);
    *nmi = mi / ((ha + hb) / 2.0);
    return 0;
}

typedef int (*TableScore)(const int64_t *, int, int, double *, char *, size_t);

static int score_labels(TableScore f, const int *la, const int *lb, int64_t n, int ka, int kb, double *out,
                        char *err, size_t errlen) {
    if (check_dims(ka, kb, err, errlen)) return -1;
    int64_t *t = malloc(sizeof *t * (size_t)ka * (size_t)kb);
    if (!t) { snprintf(err, errlen, "cluster metrics: out of memory"); return -1; }
    int rc = cluster_contingency(la, lb, n, ka, kb, t, err, errlen);
    if (rc == 0) rc = f(t, ka, kb, out, err, errlen);
    free(t);
    return rc;
}

int cluster_ari(const int *la, const int *lb, int64_t n, int ka, int kb, double *ari, char *err, size_t errlen) {
    return score_labels(cluster_ari_table, la, lb, n, ka, kb, ari, err, errlen);
}

int cluster_nmi(const int *la, const int *lb, int64_t n, int ka, int kb, double *nmi, char *err, size_t errlen) {
    return score_labels(cluster_nmi_table, la, lb, n, ka, kb, nmi, err, errlen);
}
