// kmeans_mpi.c — the distributed k-means driver: kmeans.h's stages with the reductions between them (see
// kmeans_mpi.h). Every decision (stop, re-seed, best restart, error) is taken from data that is identical on
// every rank after a collective, so all ranks run the same sequence of collectives.
#include "kmeans_mpi.h"
#include "comm.h"
#include "kmeans.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    MPI_Comm comm;
    int rank, size, d, k;
    long n, n_local, row0;
    long *first;                 // [size + 1]: rank r owns global rows [first[r], first[r+1])
    const double *X;
    double *d2, *C, *partials, *far, *far_all, *scratch, *sums, *mom;
    int *lab;
} Km;

// What every rank passed: gathered so that a mismatch is found from the same data everywhere (no padding).
typedef struct { long long n_local, n; uint64_t seed; double tol; int d, k, n_init, max_iter; } KmArgs;
// A rank's first non-finite entry (row < 0: none).
typedef struct { long long row; double val; long long col; } KmBad;

static void set_err(char *err, size_t errlen, const char *msg) { if (err && errlen) snprintf(err, errlen, "%s", msg); }

// Gathers every rank's arguments and checks them identically on every rank; fills km->first. Returns 0 or -1
// (msg set on every rank, the same text).
static int agree_args(Km *km, const KmArgs *mine, char *msg, size_t len) {
    KmArgs *all = malloc(sizeof *all * (size_t)km->size);
    int oom = comm_max_int(!all, km->comm);
    if (oom) { free(all); snprintf(msg, len, "kmeans: out of memory gathering the arguments of %d ranks", km->size); return -1; }
    comm_allgather(mine, sizeof *mine, all, km->comm);
    const KmArgs *a0 = &all[0];
    long long total = 0;
    int rc = 0;
    km->first[0] = 0;
    for (int r = 0; r < km->size && !rc; r++) {
        const KmArgs *a = &all[r];
        if (a->n != a0->n || a->seed != a0->seed || memcmp(&a->tol, &a0->tol, sizeof a->tol) || a->d != a0->d ||
            a->k != a0->k || a->n_init != a0->n_init || a->max_iter != a0->max_iter) {
            snprintf(msg, len, "kmeans: rank %d passed different arguments from rank 0 (n, d, k, n_init, max_iter, "
                     "tol, seed) (HINT: every rank must call kmeans_fit_mpi with the same settings)", r);
            rc = -1;
        } else if (a->n_local < 0) {
            snprintf(msg, len, "kmeans: rank %d has n_local = %lld (HINT: each rank's row count must be >= 0)", r, a->n_local);
            rc = -1;
        }
        total += a->n_local;
        km->first[r + 1] = (long)total;
    }
    if (!rc && total != a0->n) {
        snprintf(msg, len, "kmeans: the ranks' n_local sum to %lld, not n = %lld (HINT: split the n rows over the "
                 "ranks, e.g. with comm_split_range)", total, a0->n);
        rc = -1;
    }
    if (!rc && (a0->d < 1 || a0->k < 1 || a0->n < 1 || a0->k > a0->n || a0->n_init < 1 || a0->max_iter < 0 ||
                !(a0->tol >= 0.0))) {
        snprintf(msg, len, "kmeans: bad arguments n=%lld d=%d k=%d n_init=%d max_iter=%d tol=%g "
                 "(HINT: need 1 <= k <= n, d >= 1, n_init >= 1, max_iter >= 0, tol >= 0)",
                 a0->n, a0->d, a0->k, a0->n_init, a0->max_iter, a0->tol);
        rc = -1;
    }
    free(all);
    return rc;
}

// Non-finite entries: each rank reports its first, every rank names the lowest global row. 0 or -1 (msg).
static int agree_finite(Km *km, char *msg, size_t len) {
    KmBad mine = { -1, 0.0, 0 };
    for (long i = 0; i < km->n_local * km->d; i++)
        if (!isfinite(km->X[i])) { mine.row = km->row0 + i / km->d; mine.col = i % km->d; mine.val = km->X[i]; break; }
    KmBad *all = malloc(sizeof *all * (size_t)km->size);
    if (comm_max_int(!all, km->comm)) { free(all); snprintf(msg, len, "kmeans: out of memory"); return -1; }
    comm_allgather(&mine, sizeof mine, all, km->comm);
    int rc = 0;
    for (int r = 0; r < km->size && !rc; r++)
        if (all[r].row >= 0) {
            snprintf(msg, len, "kmeans: row %lld column %lld is not finite (%g) (HINT: impute or drop missing "
                     "values before clustering)", all[r].row, all[r].col, all[r].val);
            rc = -1;
        }
    free(all);
    return rc;
}

// Work buffers, sized once (nothing is allocated inside the restarts). 0, or -1 on every rank.
static int alloc_work(Km *km) {
    size_t nl = km->n_local > 0 ? (size_t)km->n_local : 1, kd = (size_t)km->k * km->d;
    km->d2 = malloc(sizeof(double) * nl);
    km->lab = malloc(sizeof(int) * nl);
    km->C = malloc(sizeof(double) * kd);
    km->partials = malloc(sizeof(double) * KMEANS_PARTIALS_LEN(km->k, km->d));
    km->far = malloc(sizeof(double) * KMEANS_FAR_LEN(km->k, km->d));
    km->far_all = malloc(sizeof(double) * KMEANS_FAR_LEN(km->k, km->d) * (size_t)km->size);
    size_t slen = KMEANS_PARTIALS_LEN(km->k, km->d) > 2 * (size_t)km->d ? KMEANS_PARTIALS_LEN(km->k, km->d) : 2 * (size_t)km->d;
    km->scratch = km->rank == 0 ? malloc(sizeof(double) * slen * (size_t)km->size) : NULL;   // ordered sums' gather
    km->sums = malloc(sizeof(double) * (size_t)km->size);
    km->mom = malloc(sizeof(double) * 2 * (size_t)km->d);
    int bad = !km->d2 || !km->lab || !km->C || !km->partials || !km->far || !km->far_all || !km->sums || !km->mom ||
              (km->rank == 0 && !km->scratch);
    return comm_max_int(bad, km->comm) ? -1 : 0;
}

static void free_work(Km *km) {
    free(km->d2); free(km->lab); free(km->C); free(km->partials); free(km->far); free(km->far_all);
    free(km->scratch); free(km->sums); free(km->mom); free(km->first);
}

// Global row g becomes centre j: its owner copies it and broadcasts it.
static void take_row(Km *km, long g, int j) {
    int owner = 0;
    while (owner + 1 < km->size && g >= km->first[owner + 1]) owner++;
    double *c = km->C + (size_t)j * km->d;
    if (km->rank == owner) memcpy(c, km->X + (size_t)(g - km->row0) * km->d, sizeof *c * (size_t)km->d);
    comm_bcast(c, sizeof *c * (size_t)km->d, owner, km->comm);
}

// Centre j's local D^2 sum folded in, then every rank's sum gathered in rank order into km->sums.
static void fold_centre(Km *km, int j) {
    double s = kmeans_pp_update(km->X, km->n_local, km->d, km->C + (size_t)j * km->d, km->d2);
    comm_allgather(&s, sizeof s, km->sums, km->comm);
}

// k-means++ with one shared draw per centre (kmeans.h): the D^2 choice is made rank first, then row.
static void seed_mpi(Km *km, Rng *r) {
    kmeans_pp_init(km->d2, km->n_local);
    take_row(km, (long)kmeans_pick_uniform(rng_uniform(r), km->n), 0);
    fold_centre(km, 0);
    for (int j = 1; j < km->k; j++) {
        double u = rng_uniform(r), res = 0.0;
        int owner = kmeans_pp_pick_rank(km->sums, km->size, u, &res);
        if (owner < 0) take_row(km, (long)kmeans_pick_uniform(u, km->n), j);
        else {
            double *c = km->C + (size_t)j * km->d;
            if (km->rank == owner) {
                long li = (long)kmeans_pp_select(km->d2, km->n_local, res);
                memcpy(c, km->X + (size_t)li * km->d, sizeof *c * (size_t)km->d);
            }
            comm_bcast(c, sizeof *c * (size_t)km->d, owner, km->comm);
        }
        fold_centre(km, j);
    }
}

// Lloyd from km->C (kmeans.h's loop). The far records are gathered only when a cluster is empty: every rank
// sees the same summed counts, so all take the same branch. Returns the global inertia of km->lab vs km->C.
static double lloyd_mpi(Km *km, int max_iter, double tol_abs) {
    int k = km->k, d = km->d, plen = (int)KMEANS_PARTIALS_LEN(k, d);
    for (long i = 0; i < km->n_local; i++) km->lab[i] = -1;
    double shift = INFINITY;
    for (int it = 0;; it++) {
        kmeans_assign(km->X, km->n_local, d, km->row0, km->C, k, km->lab, km->partials, km->far);
        comm_sum_doubles_ordered(km->partials, plen, km->scratch, km->comm);
        double changed = km->partials[(size_t)k * d + k + 1];
        if (changed == 0.0 || shift <= tol_abs || it == max_iter) break;
        int empty = 0;
        for (int j = 0; j < k; j++) empty |= !(km->partials[(size_t)k * d + j] > 0.0);
        if (empty) comm_allgather(km->far, sizeof(double) * KMEANS_FAR_LEN(k, d), km->far_all, km->comm);
        shift = kmeans_update(km->partials, empty ? km->far_all : NULL, k * km->size, k, d, km->C);
    }
    return km->partials[(size_t)k * d + k];
}

// The restarts (arguments already agreed): the lowest inertia kept, ties to the earliest restart.
static void fit_restarts(Km *km, int n_init, int max_iter, double tol, uint64_t seed, int *labels_local,
                         double *centroids, double *inertia) {
    double *mom = km->mom;
    kmeans_moments(km->X, km->n_local, km->d, mom);
    comm_sum_doubles_ordered(mom, 2 * km->d, km->scratch, km->comm);
    double tol_abs = kmeans_tol_abs(mom, km->n, km->d, tol), best = INFINITY;
    for (int init = 0; init < n_init; init++) {
        Rng r;
        kmeans_rng(&r, seed, init);
        seed_mpi(km, &r);
        double in = lloyd_mpi(km, max_iter, tol_abs);
        if (init == 0 || in < best) {
            best = in;
            if (km->n_local > 0) memcpy(labels_local, km->lab, sizeof *labels_local * (size_t)km->n_local);
            memcpy(centroids, km->C, sizeof *centroids * (size_t)km->k * km->d);
        }
    }
    *inertia = best;
}

int kmeans_fit_mpi(MPI_Comm comm, const double *X_local, long n_local, long n, int d, int k, int n_init,
                   int max_iter, double tol, uint64_t seed, int *labels_local, double *centroids, double *inertia,
                   char *err, size_t errlen) {
    Km km = { .comm = comm, .X = X_local, .n = n, .n_local = n_local, .d = d, .k = k };
    char msg[512] = "";
    MPI_Comm_rank(comm, &km.rank);
    MPI_Comm_size(comm, &km.size);
    km.first = malloc(sizeof *km.first * ((size_t)km.size + 1));
    if (comm_max_int(!km.first, comm)) { free(km.first); set_err(err, errlen, "kmeans: out of memory"); return -1; }
    KmArgs mine;
    memset(&mine, 0, sizeof mine);
    mine = (KmArgs){ n_local, n, seed, tol, d, k, n_init, max_iter };
    int rc = agree_args(&km, &mine, msg, sizeof msg);
    if (!rc) { km.row0 = km.first[km.rank]; rc = agree_finite(&km, msg, sizeof msg); }
    if (!rc && alloc_work(&km)) {
        snprintf(msg, sizeof msg, "kmeans: out of memory for n=%ld d=%d k=%d on %d ranks", n, d, k, km.size);
        rc = -1;
    }
    if (!rc) fit_restarts(&km, n_init, max_iter, tol, seed, labels_local, centroids, inertia);
    else set_err(err, errlen, msg);
    free_work(&km);
    return rc;
}
