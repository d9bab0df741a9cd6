// discover.c — the group-discovery pipeline: the stages of discover.h with the reductions between them. Every
// decision (an error, the chosen K) is taken from data that is identical on every rank after a collective, so all
// ranks run the same sequence of collectives and none is left waiting in one.
#include "discover.h"
#include "comm.h"
#include "kmeans_mpi.h"
#include "kselect.h"
#include "pca.h"
#include "rng.h"
#include "spectral.h"

_Static_assert((int)SOLVER_KRYLOV == (int)SPECTRAL_SOLVER_KRYLOV && (int)SOLVER_DENSE == (int)SPECTRAL_SOLVER_DENSE &&
               (int)SOLVER_SHIFT_INVERT == (int)SPECTRAL_SOLVER_SHIFT_INVERT, "groups.spectral_solver maps onto spectral.h");
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TIMER_NAMES[DT_N] = {"stats", "pca", "spectral", "kmeans", "criteria"};
const char *discover_timer_name(DiscoverTimer t) { return (unsigned)t < DT_N ? TIMER_NAMES[t] : "?"; }

// The pipeline's working state on one rank.
typedef struct {
    MPI_Comm comm;
    int rank, size;
    long n, n_local, row0;
    const DiscoverParams *p;
    DiscoverResult *res;
    const FeedbackBlock *b;   // this rank's feedback rows
    double *Y;          // (n_local, dims) reduced coordinates
    double *U;          // spectral: (n_local, n_eig) eigenvector rows
    double *Z;          // the clustering space of the current K: Y (PCA) or normalised U columns (spectral)
    int *lab;           // (n_local) labels of the K being fitted
    long *sample;       // (n_sample) global rows of the silhouette sample, ascending
    long n_sample;
    double *scratch;    // rank 0: size * max partial length, for the ordered sums
} Disc;

// Makes a per-rank failure everyone's: 0 when every rank has rc == 0; else -1 on every rank with the message of the
// lowest failing rank in err.
static int agree(MPI_Comm comm, int rc, char *err, size_t errlen) {
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    int lowest = size - comm_max_int(rc ? size - rank : 0, comm);   // size - 0 = nobody failed
    if (lowest == size) return 0;
    comm_bcast(err, errlen, lowest, comm);
    err[errlen - 1] = 0;
    return -1;
}

static double *alloc_doubles(size_t n) { return malloc(sizeof(double) * (n ? n : 1)); }

// Stage 1: check the rows, then the two-pass column statistics (sums in rank order). The standardised matrix is
// never stored: the PCA asks for it a block of rows at a time (standardise_rows).
static int stage_stats(Disc *s, char *err, size_t errlen) {
    const FeedbackBlock *b = s->b;
    int d = b->d;
    int rc = feedback_check(b, s->row0, err, errlen);
    if (agree(s->comm, rc, err, errlen)) return -1;
    size_t np = FEEDBACK_PARTIALS_LEN(d);
    double *part = alloc_doubles(np);
    s->res->mean = alloc_doubles((size_t)d);
    s->res->std = alloc_doubles((size_t)d);
    s->scratch = s->rank == 0 ? alloc_doubles((size_t)s->size * np) : NULL;
    feedback_col_partials(b, NULL, part);
    comm_sum_doubles_ordered(part, (int)np, s->scratch, s->comm);
    rc = feedback_col_mean(part, d, s->res->mean, err, errlen);   // identical on every rank: no agreement needed
    if (!rc) {
        feedback_col_partials(b, s->res->mean, part);
        comm_sum_doubles_ordered(part, (int)np, s->scratch, s->comm);
        rc = feedback_col_stats(part, d, s->res->mean, s->res->std, err, errlen);
    }
    free(part);
    return rc;
}

// The PCA's row source (PcaRowFn): rows [i0, i0 + cnt) of the feedback, imputed and standardised.
static void standardise_rows(void *ctx, long i0, long cnt, double *out) {
    const Disc *s = ctx;
    const FeedbackBlock *b = s->b;
    size_t off = (size_t)i0 * (size_t)b->d, val = b->type == FEEDBACK_F32 ? sizeof(float) : sizeof(double);
    FeedbackBlock rows = {.type = b->type, .values = (const char *)b->values + off * val,
                          .mask = b->mask ? b->mask + off : NULL, .n_local = cnt, .d = b->d};
    feedback_standardise(&rows, s->res->mean, s->res->std, out);
}

// Stage 2: the top `dims` principal components (ScaLAPACK), optionally whitened.
static int stage_pca(Disc *s, char *err, size_t errlen) {
    int r = s->p->dims, d = s->b->d;
    DiscoverResult *res = s->res;
    res->sv = alloc_doubles((size_t)r);
    res->components = alloc_doubles((size_t)d * (size_t)r);
    s->Y = alloc_doubles((size_t)s->n_local * (size_t)r);
    int rc = pca_top_rows(s->comm, standardise_rows, s, s->n_local, s->n, d, r, s->p->block, 0, PCA_GRAM_AUTO, res->sv,
                          res->components, s->Y, err, errlen);
    if (agree(s->comm, rc, err, errlen)) return -1;
    if (s->p->whiten)   // every direction kept weighs the same: a dominant one (e.g. leniency) cannot swamp the rest
        for (long i = 0; i < s->n_local; i++)
            for (int j = 0; j < r; j++)
                s->Y[(size_t)i * (size_t)r + (size_t)j] *= res->sv[j] > 0 ? sqrt((double)(s->n - 1)) / res->sv[j] : 0.0;
    return 0;
}

// Stage 3 (spectral): the NJW embedding's leading eigenpairs; enough of them for every K tried plus the eigengap.
static int stage_spectral(Disc *s, char *err, size_t errlen) {
    DiscoverResult *res = s->res;
    res->n_eig = (s->p->k ? s->p->k : s->p->k_max) + 1;
    if (res->n_eig > s->n) res->n_eig = (int)s->n;
    res->eig = alloc_doubles((size_t)res->n_eig);
    s->U = alloc_doubles((size_t)s->n_local * (size_t)res->n_eig);
    int rc = spectral_embed_solver(s->comm, s->Y, s->n_local, s->n, s->p->dims, s->p->gamma, res->n_eig, s->p->block,
                                   0, (int)s->p->solver, res->eig, s->U, &res->gamma, err, errlen);
    return agree(s->comm, rc, err, errlen);
}

// The silhouette sample: the same global rows on every rank (a seeded choice; all rows when n <= sample).
static void choose_sample(Disc *s) {
    s->n_sample = s->n < s->p->sample ? s->n : s->p->sample;
    s->sample = malloc(sizeof(long) * (size_t)s->n_sample);
    Rng r;
    rng_seed(&r, s->p->seed, RNG_GROUPS, 0, KSELECT_RNG_STEP);
    kselect_sample_rows(rng_next(&r), s->n, s->n_sample, s->sample);
}

// Silhouette of the sample in the clustering space Z (e columns) with the current labels: the sample's rows are
// gathered at rank 0 in rank (= global row) order, scored there and the value broadcast.
static double sample_silhouette(Disc *s, int e, int k) {
    long lo = 0, hi = 0;   // this rank's sample entries: sample[lo, hi)
    while (lo < s->n_sample && s->sample[lo] < s->row0) lo++;
    for (hi = lo; hi < s->n_sample && s->sample[hi] < s->row0 + s->n_local; hi++) {}
    int cnt = (int)(hi - lo), *counts = s->rank == 0 ? malloc(sizeof(int) * (size_t)s->size) : NULL;
    double *mine = alloc_doubles((size_t)cnt * (size_t)(e + 1)), *all = NULL;
    for (long i = lo; i < hi; i++) {
        long row = s->sample[i] - s->row0;
        memcpy(mine + (size_t)(i - lo) * (size_t)(e + 1), s->Z + (size_t)row * (size_t)e, sizeof(double) * (size_t)e);
        mine[(size_t)(i - lo) * (size_t)(e + 1) + (size_t)e] = s->lab[row];
    }
    comm_gather_ints(&cnt, 1, counts, s->comm);
    double sil = 0;
    if (s->rank == 0) all = alloc_doubles((size_t)s->n_sample * (size_t)(e + 1));
    comm_gatherv(mine, cnt, sizeof(double) * (size_t)(e + 1), all, counts, s->comm);
    if (s->rank == 0) {
        double *X = alloc_doubles((size_t)s->n_sample * (size_t)e);
        int *lab = malloc(sizeof(int) * (size_t)s->n_sample);
        for (long i = 0; i < s->n_sample; i++) {
            memcpy(X + (size_t)i * (size_t)e, all + (size_t)i * (size_t)(e + 1), sizeof(double) * (size_t)e);
            lab[i] = (int)all[(size_t)i * (size_t)(e + 1) + (size_t)e];
        }
        double *scr = alloc_doubles(KSELECT_SILHOUETTE_SCRATCH(s->n_sample, k));
        sil = kselect_silhouette(X, lab, s->n_sample, e, k, scr);
        free(scr); free(X); free(lab);
    }
    comm_bcast(&sil, sizeof sil, 0, s->comm);
    free(mine); free(all); free(counts);
    return sil;
}

// The clustering space for K: the PCA coordinates, or the first K eigenvector columns with unit rows (NJW).
static int space_for(Disc *s, int k) {
    if (s->p->method == DISCOVER_PCA) { s->Z = s->Y; return s->p->dims; }
    spectral_normalise_rows(s->U, s->n_local, s->res->n_eig, k, s->Z);
    return k;
}

// Group sizes of the current labels, identical on every rank.
static void group_sizes(Disc *s, int k, long *sizes) {
    double cnt[DISCOVER_MAX_K] = {0};
    for (long i = 0; i < s->n_local; i++) cnt[s->lab[i]] += 1;
    comm_sum_doubles_ordered(cnt, k, s->scratch, s->comm);
    for (int j = 0; j < k; j++) sizes[j] = (long)cnt[j];
}

// Fits K clusters in its space and records the criteria for K. centroids: (k, e) out.
static int fit_k(Disc *s, int k, double *centroids, long *sizes, char *err, size_t errlen) {
    const DiscoverParams *p = s->p;
    DiscoverResult *res = s->res;
    int e = space_for(s, k);
    double t0 = comm_now(), inertia = 0;
    int rc = kmeans_fit_mpi(s->comm, s->Z, s->n_local, s->n, e, k, p->n_init, p->max_iter, p->tol, p->seed, s->lab,
                            centroids, &inertia, err, errlen);
    res->time[DT_KMEANS] += comm_now() - t0;
    if (rc) return -1;   // kmeans_fit_mpi fails on every rank alike
    t0 = comm_now();
    group_sizes(s, k, sizes);
    res->inertia[k] = inertia;
    res->bic[k] = kselect_bic(s->n, e, k, sizes, inertia);
    res->silhouette[k] = sample_silhouette(s, e, k);
    res->time[DT_CRITERIA] += comm_now() - t0;
    return 0;
}

// The eigengap's K for every K in range: PCA on centred data gives K groups K - 1 leading directions, the normalised
// affinity K leading eigenvalues near 1. Fills res->gap[K] and returns the K it picks (0 when it cannot).
static int eigengap_k(const Disc *s, int k_lo, int k_hi) {
    DiscoverResult *res = s->res;
    int pca = s->p->method == DISCOVER_PCA, m = pca ? s->p->dims : res->n_eig;
    double lam[DISCOVER_MAX_K + 2], gap[DISCOVER_MAX_K + 2];
    int off = pca ? 1 : 0, lo = k_lo - off, hi = k_hi - off;
    if (m > DISCOVER_MAX_K + 1) m = DISCOVER_MAX_K + 1;
    if (hi >= m) hi = m - 1;
    if (lo < 1 || hi < lo) return 0;
    for (int j = 0; j < m; j++) lam[j] = pca ? res->sv[j] * res->sv[j] : res->eig[j];
    int j = kselect_eigengap(lam, m, lo, hi, gap);   // -1: a spectrum it cannot rank (e.g. a negative eigenvalue)
    if (j < 0) return 0;
    for (int q = lo; q <= hi; q++) res->gap[q + off] = gap[q];
    return j + off;
}

// The criterion's value for K (larger is better) or NaN; eigengap ranks only its own pick.
static double score(const DiscoverResult *r, KCriterion c, int k, int k_gap) {
    if (c == KCRIT_SILHOUETTE) return r->silhouette[k];
    if (c == KCRIT_BIC) return r->bic[k];
    return k == k_gap ? 1.0 : 0.0;
}

// The K a criterion picks over [k_lo, k_hi]: the largest score, the smallest K on a tie; 0 when all are NaN.
static int argbest(const DiscoverResult *r, KCriterion c, int k_gap) {
    int best = 0;
    for (int k = r->k_lo; k <= r->k_hi; k++) {
        double v = score(r, c, k, k_gap);
        if (!isnan(v) && (!best || v > score(r, c, best, k_gap))) best = k;
    }
    return best;
}

// Stage 4: k-means for the fixed K, or for every K in [2, k_max] keeping the labels of the criterion's pick.
static int stage_cluster(Disc *s, int *labels_local, char *err, size_t errlen) {
    const DiscoverParams *p = s->p;
    DiscoverResult *res = s->res;
    res->k_lo = p->k ? p->k : 2;
    res->k_hi = p->k ? p->k : (p->k_max < s->n ? p->k_max : (int)s->n);
    int k_gap = eigengap_k(s, res->k_lo, res->k_hi);
    int e_max = p->method == DISCOVER_PCA ? p->dims : res->k_hi;
    double *C = alloc_doubles((size_t)res->k_hi * (size_t)e_max);
    res->centroids = alloc_doubles((size_t)res->k_hi * (size_t)e_max);
    if (p->method == DISCOVER_SPECTRAL) s->Z = alloc_doubles((size_t)s->n_local * (size_t)res->k_hi);
    int rc = 0;
    res->k = 0;
    for (int k = res->k_lo; k <= res->k_hi && !rc; k++) {
        long sizes[DISCOVER_MAX_K];
        if ((rc = fit_k(s, k, C, sizes, err, errlen))) break;
        double v = score(res, p->criterion, k, k_gap);
        if (p->k || (!isnan(v) && (!res->k || v > score(res, p->criterion, res->k, k_gap)))) {
            res->k = k;
            res->e = p->method == DISCOVER_PCA ? p->dims : k;
            memcpy(labels_local, s->lab, sizeof(int) * (size_t)s->n_local);
            memcpy(res->centroids, C, sizeof(double) * (size_t)k * (size_t)res->e);
            memcpy(res->sizes, sizes, sizeof sizes);
        }
    }
    free(C);
    if (!rc && !res->k) {
        snprintf(err, errlen, "groups.criterion = %s could not rank any K in [%d, %d] (HINT: set groups.k, or use "
                 "groups.criterion = silhouette)", config_criterion_name(p->criterion), res->k_lo, res->k_hi);
        rc = -2;
    }
    if (!p->k)
        for (int c = 0; c < 3; c++) res->k_by[c] = argbest(res, (KCriterion)c, k_gap);
    return rc;
}

// Rules that need the data's size, identical on every rank (n and the params are).
static int check_sizes(const Disc *s, int d, char *err, size_t errlen) {
    const DiscoverParams *p = s->p;
    if (s->n < 2) {
        snprintf(err, errlen, "the feedback has %ld user%s; discovery needs at least 2 (HINT: give more users' rows)",
                 s->n, s->n == 1 ? "" : "s");
        return -1;
    }
    if (p->dims > d || p->dims >= s->n)
        snprintf(err, errlen, "groups.dims = %d needs at most %d probes and more than %d users, the feedback has %d "
                 "probes and %ld users (HINT: lower groups.dims)", p->dims, p->dims, p->dims, d, s->n);
    else if (p->k > s->n)
        snprintf(err, errlen, "groups.k = %d is more groups than the %ld users (HINT: lower groups.k)", p->k, s->n);
    else if (p->k > DISCOVER_MAX_K || p->k_max > DISCOVER_MAX_K || p->k_max < 2 || p->k < 0)
        snprintf(err, errlen, "groups.k = %d / groups.k_max = %d outside [0 or 2, %d] (HINT: see `pgrpo --help-deck`)",
                 p->k, p->k_max, DISCOVER_MAX_K);
    else
        return 0;
    return -2;
}

static void result_init(DiscoverResult *res, int d, int dims, long n) {
    memset(res, 0, sizeof *res);
    for (int k = 0; k <= DISCOVER_MAX_K; k++) res->inertia[k] = res->silhouette[k] = res->bic[k] = res->gap[k] = NAN;
    res->d = d, res->dims = dims, res->n = n;
}

int discover_run(MPI_Comm comm, const FeedbackBlock *b, long row0, long n, const DiscoverParams *p, int *labels_local,
                 DiscoverResult *res, char *err, size_t errlen) {
    result_init(res, b->d, p->dims, n);
    Disc s = {.comm = comm, .n = n, .n_local = (long)b->n_local, .row0 = row0, .p = p, .res = res, .b = b};
    MPI_Comm_rank(comm, &s.rank);
    MPI_Comm_size(comm, &s.size);
    int bad = check_sizes(&s, b->d, err, errlen);
    if (bad) return bad;
    s.lab = malloc(sizeof(int) * (size_t)(s.n_local ? s.n_local : 1));
    double t0 = comm_now();
    int rc = stage_stats(&s, err, errlen);
    res->time[DT_STATS] = comm_now() - t0, t0 = comm_now();
    if (!rc) rc = stage_pca(&s, err, errlen);
    res->time[DT_PCA] = comm_now() - t0, t0 = comm_now();
    if (!rc && p->method == DISCOVER_SPECTRAL) rc = stage_spectral(&s, err, errlen);
    res->time[DT_SPECTRAL] = comm_now() - t0;
    if (!rc) {
        choose_sample(&s);
        rc = stage_cluster(&s, labels_local, err, errlen);
    }
    if (s.Z != s.Y) free(s.Z);
    free(s.Y); free(s.U); free(s.lab); free(s.sample); free(s.scratch);
    return rc;
}

void discover_result_free(DiscoverResult *r) {
    free(r->mean); free(r->std); free(r->sv); free(r->components); free(r->eig); free(r->centroids);
    memset(r, 0, sizeof *r);
}
