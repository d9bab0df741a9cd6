// kmeans.h — k-means++ seeding and Lloyd iterations, as stages a distributed caller reduces between.
// Pure math: no MPI here. Each rank holds its rows X (n_local x d, row-major double) with global row indices
// row0 .. row0+n_local-1; the caller sums the stage outputs over ranks (in a fixed rank order for bit-identical
// results) and feeds the global sums to the next stage. kmeans_fit_serial is the one-rank driver built from the
// same stages; src/par's driver does the same with the reductions between them.
//
// Determinism: the only randomness is uniform draws u in [0,1) from kmeans_rng (role RNG_GROUPS, rank 0, step
// KMEANS_RNG_STEP + init): every rank draws the SAME sequence (never per-rank streams), one u per centre chosen.
// Ties: distances are computed directly (sum of squared differences, no |x|^2 - 2xc + |c|^2 expansion); the
// nearest centre with the lowest index wins; the k-means++ draw and the farthest-point choice are resolved by
// global row index.
//
// Distributed Lloyd iteration (what kmeans_fit_serial does with one rank):
//   labels[] = -1 (first pass: every row counts as changed); shift = +inf
//   loop: kmeans_assign(X, C) -> local partials + far candidates
//         partials_global = sum over ranks (KMEANS_PARTIALS_LEN doubles);  far_all = allgather of the candidates
//         stop if changed == 0 || shift <= tol_abs || iterations == max_iter   (labels/inertia then match C)
//         shift = kmeans_update(partials_global, far_all, C)                    (C updated in place)
// Empty cluster policy (deterministic): a cluster with no rows is re-seeded at the row farthest from its own
// centre (largest squared distance, ties to the lowest global row index); several empty clusters take the
// farthest rows in that order, empty cluster indices ascending. Other centroids stay the plain means.
#ifndef PGRPO_KMEANS_H
#define PGRPO_KMEANS_H
#include <stddef.h>
#include <stdint.h>
#include "rng.h"

#define KMEANS_RNG_STEP 0x6B6D65616E730000ULL   // "kmeans" + init index: distinct from other RNG_GROUPS steps

// ---- randomness ----
void kmeans_rng(Rng *r, uint64_t seed, int init);  // the stream of restart `init` (same on every rank)

// ---- k-means++ seeding ----
// One centre at a time. d2[n_local]: each local row's squared distance to the nearest centre chosen so far.
void kmeans_pp_init(double *d2, int64_t n_local);   // all +inf (no centre yet)
// Folds centre c[d] into d2; returns the local sum of d2 (what the caller gathers per rank).
double kmeans_pp_update(const double *X, int64_t n_local, int d, const double *c, double *d2);
// First centre and degenerate draws: the global row index floor(u * n_global) (clamped to n_global - 1).
int64_t kmeans_pick_uniform(double u, int64_t n_global);
// Given every rank's local d2 sum (rank order) and one draw u: the rank owning the D^2-weighted choice and the
// residual mass to select within it; -1 when the total is 0 (every row sits on a centre: draw uniformly then).
int kmeans_pp_pick_rank(const double *rank_sums, int nranks, double u, double *residual);
// On the owning rank: the local row where the running sum of d2 first exceeds `residual` (the last row with
// d2 > 0 when rounding leaves none).
int64_t kmeans_pp_select(const double *d2, int64_t n_local, double residual);

// ---- Lloyd ----
// Partials layout (doubles, summed over ranks): [0, k*d): per-cluster coordinate sums (cluster-major);
// [k*d, k*d+k): per-cluster row counts; [k*d+k]: inertia (sum of squared distances to the assigned centre);
// [k*d+k+1]: rows whose label changed in this pass.
#define KMEANS_PARTIALS_LEN(k, d) ((size_t)(k) * (size_t)(d) + (size_t)(k) + 2)
// Far candidates: KMEANS_FAR_LEN(k, d) doubles per rank: k records of (d+2) doubles
//   [squared distance to own centre, global row index, the row's d coordinates], distance descending, ties by
//   row index; unused records (n_local < k) have distance -1.
#define KMEANS_FAR_LEN(k, d) ((size_t)(k) * ((size_t)(d) + 2))
// labels[n_local]: in = previous labels (-1: none), out = nearest centre. partials, far: out (far may be NULL).
void kmeans_assign(const double *X, int64_t n_local, int d, int64_t row0, const double *C, int k, int *labels,
                   double *partials, double *far);
// C[k*d]: in = the centres assign used, out = the new centres. far_all: n_far candidate records (all ranks').
// Returns the squared centre shift sum_j |C_new_j - C_old_j|^2.
double kmeans_update(const double *partials, const double *far_all, int n_far, int k, int d, double *C);
// Tolerance: moments[2d] = per-column sum and sum of squares of the local rows (the caller sums them over
// ranks); tol_abs = tol * mean column variance, as scikit-learn scales tol.
void kmeans_moments(const double *X, int64_t n_local, int d, double *moments);
double kmeans_tol_abs(const double *moments, int64_t n_global, int d, double tol);

// ---- serial driver ----
// X: n x d. n_init restarts (k-means++ then Lloyd, at most max_iter updates each), the lowest inertia kept
// (ties: the earliest restart). labels[n], centroids[k*d], *inertia: out. Returns 0, or -1 with err for
// k < 1, k > n, d < 1, n_init < 1, max_iter < 0, tol < 0, non-finite X, or out of memory.
int kmeans_fit_serial(const double *X, int64_t n, int d, int k, int n_init, int max_iter, double tol,
                      uint64_t seed, int *labels, double *centroids, double *inertia, char *err, size_t errlen);

#endif
